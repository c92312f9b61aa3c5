"""The Responses API on upstreams that speak only Chat Completions (the loopback mock),
through the official SDK in strict mode."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest
from openai import OpenAI
from pydantic import BaseModel

from tests.conftest import GatewayProcess
from tests.test_chat_upstream import expected_cost
from tests.upstream_mock import MockUpstream

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def test_create_translates_to_chat_and_back(client: OpenAI, upstream: MockUpstream) -> None:
    response = client.responses.create(
        model="test/normal",
        input="Hi",
        instructions="Be brief.",
        max_output_tokens=40,
        temperature=0.5,
        metadata={"team": "yard"},
        text={"verbosity": "low"},
        reasoning={"effort": "low"},
    )
    assert response.id.startswith("resp_")
    assert response.object == "response" and response.status == "completed"
    assert response.output_text == "Hello from the mock."
    message = response.output[0]
    assert message.type == "message" and message.id.startswith("msg_")
    assert response.model == "test/normal"
    assert response.instructions == "Be brief." and response.metadata == {"team": "yard"}
    assert response.max_output_tokens == 40 and response.temperature == 0.5
    assert response.store is True and response.background is False
    usage = response.usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (1000, 500, 1500)
    assert usage.input_tokens_details.cached_tokens == 200
    assert usage.output_tokens_details.reasoning_tokens == 0
    assert (usage.model_extra or {})["cost"] == pytest.approx(expected_cost("1", "2", "0.5"))
    sent = upstream.received("normal")[-1]
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
    assert sent["max_tokens"] == 40 and sent["temperature"] == 0.5
    # The planner treats the translated body like any chat body: parameters the endpoint
    # does not list (verbosity here) are dropped, as OpenRouter does.
    assert "verbosity" not in sent
    for field in ("input", "instructions", "metadata", "store", "text", "max_output_tokens"):
        assert field not in sent


def test_stream_helper_final_response(client: OpenAI) -> None:
    with client.responses.stream(model="test/normal", input="Hi") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == "Hello from the mock."
    assert final.status == "completed" and final.usage is not None


def test_stream_create_yields_typed_events(client: OpenAI) -> None:
    events = list(client.responses.create(model="test/normal", input="Hi", stream=True))
    assert events[0].type == "response.created" and events[1].type == "response.in_progress"
    assert events[-1].type == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))


def test_function_tool_round_trip_with_previous_response_id(
    client: OpenAI, upstream: MockUpstream
) -> None:
    with client.responses.stream(
        model="test/tools", input="Weather in Paris?", tools=[WEATHER], tool_choice="auto"
    ) as stream:
        first = stream.get_final_response()
    call = first.output[0]
    assert call.type == "function_call" and call.id.startswith("fc_")
    assert call.name == "get_weather" and call.call_id == "call_1"
    assert json.loads(call.arguments) == {"city": "Paris"}
    sent_tools = upstream.received("tools")[-1]["tools"]
    assert sent_tools == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "The weather in a city.",
                "parameters": WEATHER["parameters"],
            },
        }
    ]
    # The answer comes from another model: the conversation is the stored one.
    second = client.responses.create(
        model="test/normal",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
    )
    assert second.previous_response_id == first.id
    assert second.output_text == "Hello from the mock."
    assert upstream.received("normal")[-1]["messages"] == [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    items = list(client.responses.input_items.list(second.id, order="asc"))
    assert [i.type for i in items] == ["message", "function_call", "function_call_output"]


def test_item_list_input_is_translated(client: OpenAI, upstream: MockUpstream) -> None:
    client.responses.create(
        model="test/normal",
        input=[
            {"role": "developer", "content": "Answer in French."},
            {"role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Bonjour", "annotations": []}],
            },
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "hmm"}]},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "42"},
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "And this?"},
                    {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
                ],
            },
        ],
    )
    assert upstream.received("normal")[-1]["messages"] == [
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "Hi"},
        {
            "role": "assistant",
            "content": "Bonjour",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
            # The reasoning item before the call travels as the call's reasoning_details.
            "reasoning_details": [
                {"type": "reasoning.summary", "summary": "hmm", "format": "unknown", "index": 0}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "And this?"},
                {
                    "type": "image_url",
                    "image_url": {"url": "data:image/png;base64,AAAA", "detail": "auto"},
                },
            ],
        },
    ]


def test_text_format_and_tool_choice_translation(client: OpenAI, upstream: MockUpstream) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    response = client.responses.create(
        model="test/normal",
        input="Hi",
        text={"format": {"type": "json_schema", "name": "thing", "schema": schema, "strict": True}},
        tools=[WEATHER, {**WEATHER, "name": "get_time"}],
        tool_choice={
            "type": "allowed_tools",
            "mode": "required",
            "tools": [{"type": "function", "name": "get_time"}],
        },
        parallel_tool_calls=False,
    )
    sent = upstream.received("normal")[-1]
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "thing", "schema": schema, "strict": True},
    }
    # allowed_tools is a hard constraint: only the allowed tool reaches the model.
    assert [t["function"]["name"] for t in sent["tools"]] == ["get_time"]
    assert sent["tool_choice"] == "required" and sent["parallel_tool_calls"] is False
    assert response.text.format.type == "json_schema"
    assert [t.name for t in response.tools] == ["get_weather", "get_time"]  # type: ignore[union-attr]


def test_retrieve_delete_and_input_items(client: OpenAI) -> None:
    created = client.responses.create(
        model="test/normal",
        input=[{"role": "user", "content": f"message {i}"} for i in range(5)],
    )
    fetched = client.responses.retrieve(created.id)
    assert fetched.id == created.id and fetched.output_text == created.output_text
    page = client.responses.input_items.list(created.id, limit=2)
    assert len(page.data) == 2 and page.has_more
    texts = [item.content[0].text for item in page]  # type: ignore[union-attr]  # every page
    assert texts == [f"message {i}" for i in reversed(range(5))]
    ids = [item.id for item in client.responses.input_items.list(created.id, order="asc")]
    assert len(set(ids)) == 5 and all(i.startswith("msg_") for i in ids)
    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(created.id)


def test_store_false_keeps_nothing(client: OpenAI) -> None:
    response = client.responses.create(model="test/normal", input="Hi", store=False)
    assert response.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="test/normal", input="Hi", previous_response_id=response.id)
    assert caught.value.code == "previous_response_not_found"
    assert caught.value.param == "previous_response_id"  # type: ignore[attr-defined]


def test_continues_on_another_provider(client: OpenAI, upstream2: MockUpstream) -> None:
    first = client.responses.create(model="test/normal", input="Hi")
    assert (first.model_extra or {})["provider"] == "Mock"
    # test/fallback is served by the second mock (its first endpoint always fails).
    second = client.responses.create(
        model="test/fallback", input="And again?", previous_response_id=first.id
    )
    assert (second.model_extra or {})["provider"] == "Mock Two"
    assert upstream2.received("normal")[-1]["messages"] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello from the mock."},
        {"role": "user", "content": "And again?"},
    ]


def test_failure_before_first_token_is_an_http_error(client: OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        client.responses.create(model="test/error400", input="Hi")
    assert caught.value.status_code == 400


def test_mid_stream_failure_ends_with_response_failed(gateway: GatewayProcess) -> None:
    with httpx.stream(
        "POST",
        f"{gateway.base}/api/v1/responses",
        json={"model": "test/cut", "input": "Hi", "stream": True},
        timeout=30,
    ) as response:
        body = response.read().decode()
    events = [json.loads(line[6:]) for line in body.split("\n") if line.startswith("data: {")]
    types = [e["type"] for e in events]
    assert types[-2:] == ["error", "response.failed"]
    assert events[-2]["error"]["type"] == "server_error"
    failed = events[-1]["response"]
    assert failed["status"] == "failed" and failed["error"]["code"] == "server_error"
    assert body.endswith("data: [DONE]\n\n")
    assert gateway.alive()


def test_background_response_runs_and_is_retrievable(client: OpenAI) -> None:
    queued = client.responses.create(model="test/normal", input="Hi", background=True)
    assert queued.status in {"queued", "in_progress"} and queued.background is True
    final = queued
    for _ in range(200):
        final = client.responses.retrieve(queued.id)
        if final.status not in {"queued", "in_progress"}:
            break
        time.sleep(0.05)
    assert final.status == "completed" and final.output_text == "Hello from the mock."


def test_cancel_background_response(client: OpenAI, upstream: MockUpstream) -> None:
    queued = client.responses.create(model="test/hang", input="Hi", background=True)
    cancelled = client.responses.cancel(queued.id)
    assert cancelled.status == "cancelled"
    assert client.responses.retrieve(queued.id).status == "cancelled"
    plain = client.responses.create(model="test/normal", input="Hi")
    with pytest.raises(openai.BadRequestError):
        client.responses.cancel(plain.id)


class City(BaseModel):
    name: str
    is_capital: bool


def test_parse_with_pydantic(client: OpenAI, upstream: MockUpstream) -> None:
    parsed = client.responses.parse(model="test/json", input="Paris?", text_format=City)
    assert parsed.output_parsed == City(name="Paris", is_capital=True)
    sent = upstream.received("json")[-1]["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["name"] == "City"
    assert sent["json_schema"]["strict"] is True
    with client.responses.stream(model="test/json", input="Paris?", text_format=City) as stream:
        final = stream.get_final_response()
    assert final.output_parsed == City(name="Paris", is_capital=True)


def test_non_stream_tool_round_trip_ends_in_text(client: OpenAI, upstream: MockUpstream) -> None:
    first = client.responses.create(model="test/agent", input="Weather?", tools=[WEATHER])
    call = first.output[0]
    assert call.type == "function_call" and call.status == "completed"
    assert call.call_id == "call_1" and json.loads(call.arguments) == {"city": "Paris"}
    assert first.output_text == ""
    second = client.responses.create(
        model="test/agent",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": "call_1", "output": "sunny"}],
        tools=[WEATHER],
    )
    assert second.output_text == "Hello from the mock."
    assert upstream.received("agent")[-1]["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "sunny",
    }


@pytest.mark.parametrize("streamed", [False, True])
def test_agents_sdk_tool_loop_on_chat_only_upstream(
    gateway: GatewayProcess, streamed: bool
) -> None:
    """openai-agents drives the Responses API (tool call, tool result, answer) against an
    upstream that speaks only Chat Completions, streamed and not."""
    import asyncio

    import agents
    from openai import AsyncOpenAI

    calls: list[str] = []

    @agents.function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        calls.append(city)
        return "sunny"

    @agents.function_tool
    def get_time(city: str) -> str:
        """The local time in a city."""
        return "noon"

    agents.set_tracing_disabled(True)
    agent = agents.Agent(
        name="weather",
        instructions="Answer with the weather.",
        tools=[get_weather, get_time],
        model=agents.OpenAIResponsesModel(
            model="test/agent",
            openai_client=AsyncOpenAI(
                base_url=f"{gateway.base}/v1",
                api_key="unused",
                max_retries=0,
                _strict_response_validation=True,
            ),
        ),
    )

    async def run_streamed() -> object:
        result = agents.Runner.run_streamed(agent, "Weather in Paris?", max_turns=4)
        async for _event in result.stream_events():
            pass
        return result.final_output

    if streamed:
        final = asyncio.run(run_streamed())
    else:
        final = agents.Runner.run_sync(agent, "Weather in Paris?", max_turns=4).final_output
    assert calls == ["Paris"]
    assert final == "Hello from the mock."
