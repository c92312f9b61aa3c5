"""Request decoding in-process: a Chat Completions or Responses body becomes the typed
`InferenceRequest` the gateway plans from, or a 400 naming the field at fault."""

from __future__ import annotations

from typing import Any

import pytest

from modelyard.core.errors import BadRequest
from modelyard.core.request import InferenceRequest, MaxPrice, ProviderPreferences, SortSpec
from modelyard.wire.chat import parse_chat_request
from modelyard.wire.responses_request import input_items, parse_responses_request
from modelyard.wire.responses_to_chat import inference_request

HI = [{"role": "user", "content": "Hi"}]


def chat(**body: Any) -> InferenceRequest:
    return parse_chat_request({"messages": HI, **body})


def responses(**raw: Any) -> InferenceRequest:
    request = parse_responses_request(raw)
    return inference_request(request, raw, input_items(request))


def refused(parse: Any, body: Any) -> BadRequest:
    with pytest.raises(BadRequest) as info:
        parse(body)
    assert info.value.status == 400
    return info.value


# -- Chat Completions ---------------------------------------------------------------------


def test_models_in_order_without_repeats() -> None:
    request = chat(model="a/x", models=["b/y", "a/x", "c/z", "b/y"])
    assert request.models == ["a/x", "b/y", "c/z"] and request.model_given
    alone = chat(models=["b/y", "c/z"])
    assert alone.models == ["b/y", "c/z"] and not alone.model_given
    assert chat(model="a/x").models == ["a/x"]


def test_the_body_travels_as_given() -> None:
    raw = {"model": "a/x", "messages": HI, "vendor_knob": [1, 2], "temperature": 0.5}
    request = parse_chat_request(raw)
    assert request.body is raw and request.surface == "chat" and not request.stream
    # A legacy `prompt` string becomes the one user message.
    prompted = parse_chat_request({"model": "a/x", "prompt": "Hello"})
    assert prompted.body["messages"] == [{"role": "user", "content": "Hello"}]
    assert "prompt" not in prompted.body


def test_provider_preferences_parsed_once() -> None:
    request = chat(
        model="a/x",
        provider={
            "order": ["openai", "together"],
            "allow_fallbacks": False,
            "only": ["openai"],
            "quantizations": ["fp8"],
            "sort": {"by": "throughput", "partition": "none"},
            "max_price": {"prompt": 1, "completion": "2.5"},
            "preferred_max_latency": {"p90": 3},
        },
    )
    provider = request.provider
    assert isinstance(provider, ProviderPreferences)
    assert provider.order == ["openai", "together"] and provider.allow_fallbacks is False
    assert provider.only == ["openai"] and provider.quantizations == ["fp8"]
    assert provider.sort == SortSpec(by="throughput", partition="none")
    assert provider.max_price == MaxPrice(prompt=1, completion="2.5")
    assert provider.preferred_max_latency.p90 == 3  # type: ignore[union-attr]
    assert chat(model="a/x").provider is None
    assert chat(model="a/x", provider={"sort": "price"}).provider.sort == "price"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, None),
        ({"transforms": ["middle-out"]}, True),
        ({"transforms": []}, False),
        ({"plugins": [{"id": "context-compression"}]}, True),
        ({"plugins": [{"id": "context-compression", "engine": "middle-out"}]}, True),
        ({"plugins": [{"id": "context-compression", "enabled": False}]}, False),
        ({"plugins": [{"id": "context-compression", "engine": "summarize"}]}, False),
        ({"plugins": [{"id": "web"}]}, None),
        # The plugin, the newer form, has the last word.
        (
            {
                "transforms": ["middle-out"],
                "plugins": [{"id": "context-compression", "enabled": False}],
            },
            False,
        ),
    ],
)
def test_middle_out_from_transforms_and_plugins(extra: dict[str, Any], expected: Any) -> None:
    assert chat(model="a/x", **extra).middle_out is expected


def test_reasoning_tools_session_and_modalities() -> None:
    request = chat(
        model="a/x",
        reasoning={"effort": "high", "exclude": True},
        reasoning_effort="high",
        include_reasoning=False,
        tools=[{"type": "function", "function": {"name": "f"}}],
        session_id="conv-1",
        modalities=["image", "text"],
        stream=True,
    )
    assert request.reasoning == {"effort": "high", "exclude": True}
    assert (request.reasoning_effort, request.include_reasoning) == ("high", False)
    assert request.tools and request.session_id == "conv-1" and request.stream
    assert request.modalities == ["image", "text"]
    plain = chat(model="a/x", tools=[])
    assert not plain.tools and plain.reasoning is None and plain.reasoning_effort is None


@pytest.mark.parametrize(
    ("body", "param", "fragment"),
    [
        ([], None, "JSON object"),
        ({"messages": HI}, "model", "model is required"),
        ({"model": "a/x"}, "messages", "messages is required"),
        ({"model": "a/x", "messages": HI, "models": ["b/y", ""]}, "models[1]", "length"),
        ({"model": "a/x", "messages": HI, "temperature": 2.5}, "temperature", "<= 2"),
        (
            {"model": "a/x", "messages": [{"role": "robot", "content": "x"}]},
            "messages[0].role",
            "robot",
        ),
        ({"model": "a/x", "messages": HI, "provider": {"sort": "cost"}}, "provider.sort", ""),
        (
            {"model": "a/x", "messages": HI, "provider": {"only": [""]}},
            "provider.only[0]",
            "length",
        ),
        (
            {"model": "a/x", "messages": HI, "provider": {"quantizations": ["q3"]}},
            "provider.quantizations[0]",
            "q3",
        ),
        (
            {"model": "a/x", "messages": HI, "provider": {"max_price": {"prompt": []}}},
            "provider.max_price.prompt",
            "",
        ),
        (
            {"model": "a/x", "messages": HI, "provider": {"preferred_min_throughput": -1}},
            "provider.preferred_min_throughput",
            "",
        ),
        (
            {
                "model": "a/x",
                "messages": HI,
                "reasoning": {"effort": "low"},
                "reasoning_effort": "high",
            },
            "reasoning_effort",
            "conflicts",
        ),
        ({"model": "a/x", "messages": HI, "tool_choice": "auto"}, "tool_choice", "no tools"),
        ({"model": "a/x", "messages": HI, "session_id": "s" * 257}, "session_id", "length"),
    ],
)
def test_chat_400s_name_the_field(body: Any, param: str | None, fragment: str) -> None:
    error = refused(parse_chat_request, body)
    assert error.param == param and fragment in error.message


# -- Responses ------------------------------------------------------------------------------


def test_responses_models_provider_and_surface() -> None:
    request = responses(
        model="a/x",
        models=["b/y", "a/x"],
        input="Hi",
        provider={"ignore": ["together"], "sort": "latency"},
        stream=True,
    )
    assert request.models == ["a/x", "b/y"] and request.model_given and request.stream
    assert request.surface == "responses"
    assert request.provider == ProviderPreferences(ignore=["together"], sort="latency")
    # Routing fields travel in the chat-shaped body too, for the planner to strip.
    assert request.body["models"] == ["b/y", "a/x"] and "provider" in request.body
    assert not responses(models=["b/y"], input="Hi").model_given


def test_responses_body_is_chat_shaped() -> None:
    request = responses(
        model="a/x",
        instructions="Be brief.",
        input=[
            {"role": "user", "content": "Add 2 and 2."},
            {"type": "function_call", "call_id": "c1", "name": "add", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "4"},
        ],
        max_output_tokens=50,
        temperature=0.2,
        reasoning={"effort": "low", "summary": "auto"},
        tools=[{"type": "function", "name": "add", "parameters": {"type": "object"}}],
        tool_choice={"type": "function", "name": "add"},
        text={"format": {"type": "json_schema", "name": "sum", "schema": {"type": "object"}}},
    )
    body = request.body
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Add 2 and 2."},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "add", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "4"},
    ]
    assert body["max_tokens"] == 50 and body["temperature"] == 0.2
    assert body["tools"] == [
        {"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "add"}}
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "sum", "schema": {"type": "object"}},
    }
    # The summary is the Responses surface's own; the effort is what routing reads.
    assert body["reasoning"] == {"effort": "low"} and request.reasoning == {"effort": "low"}
    assert request.tools


def test_responses_allowed_tools_narrow_the_tools() -> None:
    request = responses(
        model="a/x",
        input="Hi",
        tools=[{"type": "function", "name": "a"}, {"type": "function", "name": "b"}],
        tool_choice={
            "type": "allowed_tools",
            "mode": "required",
            "tools": [{"type": "function", "name": "b"}],
        },
    )
    assert [t["function"]["name"] for t in request.body["tools"]] == ["b"]
    assert request.body["tool_choice"] == "required"
    assert not responses(model="a/x", input="Hi").tools


@pytest.mark.parametrize(
    ("raw", "param", "fragment"),
    [
        ("Hi", None, "JSON object"),
        ({"input": "Hi"}, "model", "model is required"),
        ({"model": "a/x"}, "input", "input is required"),
        (
            {"model": "a/x", "input": "Hi", "conversation": "c"},
            "conversation",
            "previous_response_id",
        ),
        (
            {"model": "a/x", "input": "Hi", "background": True, "store": False},
            "background",
            "store",
        ),
        (
            {"model": "a/x", "input": [{"type": "item_reference", "id": "x"}]},
            "input[0].type",
            "item_reference",
        ),
        (
            {"model": "a/x", "input": [{"role": "user", "content": [{"type": "input_image"}]}]},
            "input[0].content[0]",
            "image_url",
        ),
        (
            {"model": "a/x", "input": [{"role": "wizard", "content": "x"}]},
            "input[0].role",
            "wizard",
        ),
        (
            {"model": "a/x", "input": "Hi", "tools": [{"type": "function", "name": "bad name"}]},
            "tools[0].name",
            "must match",
        ),
        (
            {"model": "a/x", "input": "Hi", "tool_choice": {"type": "function", "name": "f"}},
            "tool_choice.name",
            "not among tools",
        ),
        ({"model": "a/x", "input": "Hi", "max_output_tokens": 0}, "max_output_tokens", ">= 1"),
        (
            {"model": "a/x", "input": "Hi", "reasoning": {"effort": "huge"}},
            "reasoning.effort",
            "huge",
        ),
        (
            {"model": "a/x", "input": "Hi", "provider": {"order": "openai"}},
            "provider.order",
            "array",
        ),
        ({"model": "a/x", "input": "Hi", "metadata": {"k": 1}}, "metadata[...]", "str"),
    ],
)
def test_responses_400s_name_the_field(raw: Any, param: str | None, fragment: str) -> None:
    error = refused(parse_responses_request, raw)
    assert error.param == param and fragment in error.message


def test_responses_with_nothing_to_send_is_a_400() -> None:
    request = parse_responses_request({"model": "a/x", "input": []})
    with pytest.raises(BadRequest) as info:
        inference_request(request, {"model": "a/x", "input": []}, [])
    assert info.value.param == "input"
