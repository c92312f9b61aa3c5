"""The Responses API on the embedded model, through the official SDK in strict mode."""

from __future__ import annotations

import json

import openai
import pytest
from openai import OpenAI
from pydantic import BaseModel, Field

from tests.conftest import LOCAL_MODEL, GatewayProcess
from tests.upstream_mock import MockUpstream

pytestmark = pytest.mark.engine

ADD = {
    "type": "function",
    "name": "add",
    "description": "Add two integers.",
    "parameters": {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
        "additionalProperties": False,
    },
    "strict": True,
}


def test_local_create(client: OpenAI) -> None:
    response = client.responses.create(
        model=LOCAL_MODEL, input="Say hello.", max_output_tokens=16, temperature=0
    )
    assert response.model == LOCAL_MODEL
    assert response.status in {"completed", "incomplete"}
    assert response.output_text
    usage = response.usage
    assert usage is not None and usage.input_tokens > 0 and usage.output_tokens > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert (response.model_extra or {})["provider"] == "Local"


def test_local_max_output_tokens_is_incomplete(client: OpenAI) -> None:
    events = list(
        client.responses.create(
            model=LOCAL_MODEL,
            input="Count from one to twenty in words.",
            max_output_tokens=3,
            temperature=0,
            stream=True,
        )
    )
    last = events[-1]
    assert last.type == "response.incomplete"
    assert last.response.status == "incomplete"
    assert last.response.incomplete_details is not None
    assert last.response.incomplete_details.reason == "max_output_tokens"


def test_local_stream_helper(client: OpenAI) -> None:
    with client.responses.stream(
        model=LOCAL_MODEL, input="Hi", max_output_tokens=256, temperature=0
    ) as stream:
        text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert text == final.output_text and text


class City(BaseModel):
    # Bounded fields: the grammar then bounds what a 135M model can ramble into.
    name: str = Field(max_length=24)
    is_capital: bool


def test_local_parse_with_pydantic(client: OpenAI) -> None:
    parsed = client.responses.parse(
        model=LOCAL_MODEL,
        input="Describe Paris as JSON: its name, and whether it is a capital.",
        text_format=City,
        max_output_tokens=64,
        temperature=0,
    )
    assert isinstance(parsed.output_parsed, City)
    assert parsed.text.format.type == "json_schema"


def test_local_conversation_retrieve_and_input_items(client: OpenAI) -> None:
    first = client.responses.create(
        model=LOCAL_MODEL, input="My name is Ada.", max_output_tokens=16, temperature=0
    )
    second = client.responses.create(
        model=LOCAL_MODEL,
        input="What is my name?",
        previous_response_id=first.id,
        max_output_tokens=16,
        temperature=0,
    )
    assert client.responses.retrieve(second.id).output_text == second.output_text
    items = list(client.responses.input_items.list(second.id, order="asc"))
    assert [(i.type, getattr(i, "role", None)) for i in items] == [
        ("message", "user"),
        ("message", "assistant"),
        ("message", "user"),
    ]
    assert items[1].id == first.output[0].id
    client.responses.delete(first.id)
    # The second response holds its own copy of the history.
    third = client.responses.create(
        model=LOCAL_MODEL,
        input="Thanks.",
        previous_response_id=second.id,
        max_output_tokens=8,
    )
    assert third.status in {"completed", "incomplete"}


def test_started_on_local_continues_on_upstream(client: OpenAI, upstream: MockUpstream) -> None:
    first = client.responses.create(
        model=LOCAL_MODEL, input="Say hi.", max_output_tokens=12, temperature=0
    )
    second = client.responses.create(
        model="test/normal", input="And now?", previous_response_id=first.id
    )
    assert (second.model_extra or {})["provider"] == "Mock"
    sent = upstream.received("normal")[-1]["messages"]
    assert sent == [
        {"role": "user", "content": "Say hi."},
        {"role": "assistant", "content": first.output_text},
        {"role": "user", "content": "And now?"},
    ]


def test_local_function_tool_round_trip(client: OpenAI) -> None:
    first = client.responses.create(
        model=LOCAL_MODEL,
        input="What is 2 plus 3? Use the add tool.",
        tools=[ADD],
        tool_choice="required",
        max_output_tokens=64,
        temperature=0,
    )
    calls = [item for item in first.output if item.type == "function_call"]
    assert calls and calls[0].name == "add"
    args = json.loads(calls[0].arguments)
    second = client.responses.create(
        model=LOCAL_MODEL,
        previous_response_id=first.id,
        input=[
            {
                "type": "function_call_output",
                "call_id": calls[0].call_id,
                "output": str(args["a"] + args["b"]),
            }
        ],
        tools=[ADD],
        max_output_tokens=32,
        temperature=0,
    )
    # A 135M model may answer or call again; either way the round trip went through.
    assert second.status in {"completed", "incomplete"} and second.output
    items = list(client.responses.input_items.list(second.id, order="asc"))
    assert [i.type for i in items] == ["message", "function_call", "function_call_output"]
    assert items[1].call_id == calls[0].call_id  # type: ignore[union-attr]


def test_agents_sdk_two_tool_loop(gateway: GatewayProcess) -> None:
    """openai-agents runs a two-tool loop on the embedded model to completion: the first
    turn must call a tool, the add tool's output points at multiply, and calling multiply
    ends the run (the loop is the SDK's; a 135M model only has to follow the grammar)."""
    import agents
    from openai import AsyncOpenAI

    calls: list[str] = []

    @agents.function_tool
    def add(a: int, b: int) -> str:
        """Add two integers."""
        calls.append("add")
        return f"{a + b}. Now call multiply with a={a + b} and b=4."

    @agents.function_tool
    def multiply(a: int, b: int) -> int:
        """Multiply two integers."""
        calls.append("multiply")
        return a * b

    agents.set_tracing_disabled(True)
    agent = agents.Agent(
        name="calculator",
        instructions="Use add, then multiply.",
        tools=[add, multiply],
        tool_use_behavior=agents.StopAtTools(stop_at_tool_names=["multiply"]),
        model=agents.OpenAIResponsesModel(
            model=LOCAL_MODEL,
            openai_client=AsyncOpenAI(
                base_url=f"{gateway.base}/v1",
                api_key="unused",
                max_retries=0,
                _strict_response_validation=True,
            ),
        ),
        model_settings=agents.ModelSettings(max_tokens=64, temperature=0, tool_choice="required"),
    )
    result = agents.Runner.run_sync(agent, "What is (2 + 3) * 4?", max_turns=4)
    assert calls[0] == "add" and calls[-1] == "multiply"
    assert str(result.final_output).lstrip("-").isdigit()


def test_local_bad_tool_choice_is_400(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(
            model=LOCAL_MODEL,
            input="Hi",
            tools=[ADD],
            tool_choice={"type": "function", "name": "subtract"},
        )
    assert caught.value.param == "tool_choice.name"  # type: ignore[attr-defined]
