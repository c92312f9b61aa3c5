"""Tool calling on the embedded model, whose chat template knows no tools: the gateway's
grammar makes every call well formed, and its arguments valid against the parameters."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import jsonschema
import openai
import pytest
from openai import OpenAI
from pydantic import BaseModel

from tests.conftest import LOCAL_MODEL, GatewayProcess
from tests.engine_cases import TOOLS, S, enum, fn, obj

pytestmark = pytest.mark.engine

MAX_TOKENS = 300
WEATHER = fn(
    "get_weather",
    "Current weather for a city",
    obj({"city": {"type": "string"}, "unit": enum("celsius", "fahrenheit")}),
)
TIME = fn("get_time", "Current time in a timezone", obj({"timezone": {"type": "string"}}))


def tool(function: S) -> S:
    return {"type": "function", "function": function}


def _calls(client: OpenAI, prompt: str, function: S) -> Any:
    completion = client.chat.completions.create(
        model=LOCAL_MODEL,
        messages=[{"role": "user", "content": prompt}],
        tools=[tool(function)],
        tool_choice="required",
        max_tokens=MAX_TOKENS,
        seed=7,
    )
    return completion.choices[0]


def test_tool_table_calls_validate(engine_client: OpenAI) -> None:
    assert len(TOOLS) >= 20
    with ThreadPoolExecutor(4) as pool:
        futures = [
            (function, pool.submit(_calls, engine_client, prompt, function))
            for prompt, function in TOOLS
        ]
        for function, future in futures:
            choice = future.result()
            assert choice.finish_reason == "tool_calls", (function["name"], choice)
            calls = choice.message.tool_calls
            assert calls, function["name"]
            for call in calls:
                assert call.id.startswith("call_")
                assert call.function.name == function["name"]
                jsonschema.validate(json.loads(call.function.arguments), function["parameters"])


def _run(call: Any) -> str:
    args = json.loads(call.function.arguments)
    if call.function.name == "get_weather":
        return json.dumps({"city": args["city"], "temperature": 21, "sky": "sunny"})
    return json.dumps({"timezone": args["timezone"], "time": "14:05"})


def test_tool_loop_with_required(engine_client: OpenAI) -> None:
    """The agent loop: calls under `required`, results sent back, then a text answer."""
    messages: list[Any] = [
        {"role": "user", "content": "What's the weather in Paris, and what time is it there?"}
    ]
    tools = [tool(WEATHER), tool(TIME)]
    specs = {"get_weather": WEATHER, "get_time": TIME}
    for _turn in range(2):
        completion = engine_client.chat.completions.create(
            model=LOCAL_MODEL,
            messages=messages,
            tools=tools,
            tool_choice="required",
            max_tokens=MAX_TOKENS,
            seed=5,
        )
        choice = completion.choices[0]
        assert choice.finish_reason == "tool_calls"
        assert choice.message.tool_calls
        messages.append(choice.message.model_dump(exclude_none=True))
        for call in choice.message.tool_calls:
            spec = specs[call.function.name]
            jsonschema.validate(json.loads(call.function.arguments), spec["parameters"])
            messages.append({"role": "tool", "tool_call_id": call.id, "content": _run(call)})
    final = engine_client.chat.completions.create(
        model=LOCAL_MODEL, messages=messages, tools=tools, tool_choice="none", max_tokens=40
    )
    assert final.choices[0].message.content
    assert not final.choices[0].message.tool_calls


class GetWeather(BaseModel):
    city: str
    unit: str


def test_streamed_calls_are_index_keyed_deltas(engine_gateway: GatewayProcess) -> None:
    """Raw chunks: id, type and name only on a call's first delta; arguments after."""
    with httpx.stream(
        "POST",
        f"{engine_gateway.base}/api/v1/chat/completions",
        json={
            "model": LOCAL_MODEL,
            "messages": [{"role": "user", "content": "Weather in Oslo and in Rome?"}],
            "tools": [tool(WEATHER)],
            "tool_choice": "required",
            "max_tokens": MAX_TOKENS,
            "seed": 2,
            "stream": True,
        },
        timeout=120,
    ) as response:
        lines = [line[6:] for line in response.iter_lines() if line.startswith("data: {")]
    chunks = [json.loads(line) for line in lines]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    calls = [call for d in deltas for call in d.get("tool_calls") or ()]
    assert calls
    seen: dict[int, dict[str, str]] = {}
    for call in calls:
        if call["index"] not in seen:
            assert call["id"].startswith("call_") and call["type"] == "function"
            seen[call["index"]] = {"name": call["function"]["name"], "arguments": ""}
        else:
            assert "id" not in call and "name" not in call["function"]
        seen[call["index"]]["arguments"] += call["function"]["arguments"]
    assert sorted(seen) == list(range(len(seen)))
    for built in seen.values():
        assert built["name"] == "get_weather"
        jsonschema.validate(json.loads(built["arguments"]), WEATHER["parameters"])
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert [f for f in finishes if f] == ["tool_calls"]


def test_sdk_stream_helper_parses_strict_tool(engine_client: OpenAI) -> None:
    with engine_client.chat.completions.stream(
        model=LOCAL_MODEL,
        messages=[{"role": "user", "content": "Weather in Lisbon?"}],
        tools=[openai.pydantic_function_tool(GetWeather)],
        tool_choice="required",
        parallel_tool_calls=False,
        max_tokens=MAX_TOKENS,
        seed=4,
    ) as stream:
        final = stream.get_final_completion()
    calls = final.choices[0].message.tool_calls
    assert calls is not None and len(calls) == 1
    assert isinstance(calls[0].function.parsed_arguments, GetWeather)


def test_named_choice_and_auto_and_none(engine_client: OpenAI) -> None:
    base: dict[str, Any] = {
        "model": LOCAL_MODEL,
        "messages": [{"role": "user", "content": "What's the weather in Paris?"}],
        "tools": [tool(WEATHER), tool(TIME)],
        "max_tokens": MAX_TOKENS,
        "seed": 9,
    }
    named = engine_client.chat.completions.create(
        **base, tool_choice={"type": "function", "function": {"name": "get_time"}}
    )
    assert [c.function.name for c in named.choices[0].message.tool_calls or ()][:1] == ["get_time"]
    assert {c.function.name for c in named.choices[0].message.tool_calls or ()} == {"get_time"}
    auto = engine_client.chat.completions.create(**base, tool_choice="auto")
    message = auto.choices[0].message
    if message.tool_calls:
        assert auto.choices[0].finish_reason == "tool_calls"
        for call in message.tool_calls:
            json.loads(call.function.arguments)
    else:
        assert message.content and not message.content.startswith("<tool_call>")
    none = engine_client.chat.completions.create(**{**base, "max_tokens": 16}, tool_choice="none")
    assert none.choices[0].message.tool_calls is None
    assert none.choices[0].message.content


def test_unenforceable_parameters_are_a_400(engine_gateway: GatewayProcess) -> None:
    bad = fn("broken", "x", {"type": "object", "properties": {"a": {"$ref": "#/nowhere"}}})
    response = httpx.post(
        f"{engine_gateway.base}/api/v1/chat/completions",
        json={
            "model": LOCAL_MODEL,
            "messages": [{"role": "user", "content": "Hi"}],
            "tools": [tool(WEATHER), tool(bad)],
            "tool_choice": "required",
        },
        timeout=60,
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "tools[1].function.parameters"
