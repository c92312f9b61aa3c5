"""Decoding in-process: upstream Chat Completions chunks and completions as spine events,
usage in every shape upstreams report it, and native finish reasons normalized."""

from __future__ import annotations

from typing import Any

import pytest

from modelyard.core.events import (
    Finish,
    Images,
    ReasoningDelta,
    ReasoningDetails,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from modelyard.providers.chat_decode import events_from_chunk, events_from_completion, usage_from


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> dict:
    choice: dict[str, Any] = {"index": 0, "delta": delta or {}, "finish_reason": finish}
    return {"object": "chat.completion.chunk", "choices": [choice], **extra}


# -- usage --------------------------------------------------------------------------------


def test_usage_openai_chat() -> None:
    raw = {
        "prompt_tokens": 1000,
        "completion_tokens": 500,
        "total_tokens": 1500,
        "cost": 99,  # the upstream's own price is never used
        "prompt_tokens_details": {"cached_tokens": 200, "cache_write_tokens": 50},
        "completion_tokens_details": {"reasoning_tokens": 120, "image_tokens": 8},
    }
    assert usage_from(raw) == Usage(1000, 500, 200, 50, 120, 8)
    assert usage_from({"prompt_tokens": 3, "prompt_tokens_details": None}) == Usage(3)


def test_usage_responses() -> None:
    raw = {
        "input_tokens": 40,
        "output_tokens": 12,
        "input_tokens_details": {"cached_tokens": 30},
        "output_tokens_details": {"reasoning_tokens": 5},
    }
    assert usage_from(raw) == Usage(40, 12, cached_tokens=30, reasoning_tokens=5)


def test_usage_anthropic_counts_cache_reads_and_writes_into_the_prompt() -> None:
    raw = {
        "input_tokens": 10,
        "output_tokens": 7,
        "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 20,
    }
    assert usage_from(raw) == Usage(130, 7, cached_tokens=100, cache_write_tokens=20)


def test_usage_gemini_counts_thoughts_as_completion() -> None:
    raw = {
        "promptTokenCount": 64,
        "candidatesTokenCount": 10,
        "thoughtsTokenCount": 30,
        "cachedContentTokenCount": 16,
        "totalTokenCount": 104,
    }
    assert usage_from(raw) == Usage(64, 40, cached_tokens=16, reasoning_tokens=30)


@pytest.mark.parametrize(
    "raw",
    [{}, {"total_tokens": 9}, {"prompt_tokens": "many", "completion_tokens": None}],
)
def test_usage_unknown_or_garbled_counts_zero(raw: dict[str, Any]) -> None:
    assert usage_from(raw) == Usage()


# -- stream chunks ------------------------------------------------------------------------


def test_text_and_role_only_chunks() -> None:
    assert events_from_chunk(chunk({"role": "assistant", "content": ""})) == []
    assert events_from_chunk(chunk({"content": "Hi"})) == [TextDelta("Hi")]
    assert events_from_chunk({"choices": []}) == []
    # Only the first choice is read.
    other = {"choices": [{"index": 1, "delta": {"content": "no"}}]}
    assert events_from_chunk(other) == []


def test_logprobs_travel_even_on_an_empty_token() -> None:
    entries = [{"token": "", "logprob": -0.1, "top_logprobs": []}]
    raw = chunk({"content": ""})
    raw["choices"][0]["logprobs"] = {"content": entries}
    assert events_from_chunk(raw) == [TextDelta("", entries)]


def test_reasoning_in_every_field_name() -> None:
    assert events_from_chunk(chunk({"reasoning": "Hmm"})) == [ReasoningDelta("Hmm")]
    assert events_from_chunk(chunk({"reasoning_content": "Hmm"})) == [ReasoningDelta("Hmm")]
    details = [
        {"type": "reasoning.text", "text": "Step 1.", "format": "anthropic-claude-v1"},
        {"type": "reasoning.encrypted", "data": "b64=="},
    ]
    # Details alone: their text is the reasoning text too, and they pass unchanged.
    assert events_from_chunk(chunk({"reasoning_details": details})) == [
        ReasoningDelta("Step 1."),
        ReasoningDetails(details),
    ]
    both = chunk({"reasoning": "Own text", "reasoning_details": details, "content": "A"})
    assert events_from_chunk(both) == [
        ReasoningDelta("Own text"),
        ReasoningDetails(details),
        TextDelta("A"),
    ]
    encrypted_only = [{"type": "reasoning.encrypted", "data": "x"}]
    assert events_from_chunk(chunk({"reasoning_details": encrypted_only})) == [
        ReasoningDetails(encrypted_only)
    ]


def test_tool_call_fragments() -> None:
    first = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    later = {"index": 0, "function": {"arguments": '{"city":'}}
    second_call = {"index": 1, "id": "call_2", "function": {"name": "f", "arguments": "{}"}}
    assert events_from_chunk(chunk({"tool_calls": [first]})) == [
        ToolCallDelta(0, "call_1", "get_weather", "")
    ]
    assert events_from_chunk(chunk({"tool_calls": [later, second_call]})) == [
        ToolCallDelta(0, None, None, '{"city":'),
        ToolCallDelta(1, "call_2", "f", "{}"),
    ]


def test_images() -> None:
    images = [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]
    assert events_from_chunk(chunk({"images": images})) == [Images(images)]


@pytest.mark.parametrize(
    ("native", "normalized"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("tool_calls", "tool_calls"),
        ("content_filter", "content_filter"),
        ("end_turn", "stop"),
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("max_output_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("function_call", "tool_calls"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("guardrail_intervened", "content_filter"),
        ("something_new", "stop"),
    ],
)
def test_finish_reasons_normalized_and_the_native_kept(native: str, normalized: str) -> None:
    assert events_from_chunk(chunk(finish=native)) == [Finish(normalized, native)]


def test_an_upstream_native_finish_reason_wins_over_its_finish_reason() -> None:
    raw = chunk(finish="stop")
    raw["choices"][0]["native_finish_reason"] = "end_turn"
    assert events_from_chunk(raw) == [Finish("stop", "end_turn")]


def test_usage_chunks_including_groq() -> None:
    usage = {"prompt_tokens": 5, "completion_tokens": 2}
    assert events_from_chunk({"choices": [], "usage": usage}) == [Usage(5, 2)]
    assert events_from_chunk({"choices": [], "usage": None}) == []
    assert events_from_chunk({"choices": [], "x_groq": {"usage": usage}}) == [Usage(5, 2)]
    last = chunk({"content": "."}, finish="stop", usage=usage)
    assert events_from_chunk(last) == [TextDelta("."), Finish("stop", "stop"), Usage(5, 2)]


# -- whole completions ------------------------------------------------------------------------


def test_a_whole_completion_in_event_order() -> None:
    body = {
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "reasoning": "Think.",
                    "reasoning_details": [{"type": "reasoning.summary", "summary": "S"}],
                    "content": "Calling.",
                    "tool_calls": [
                        {"id": "c1", "function": {"name": "a", "arguments": "{}"}},
                        {"id": "c2", "function": {"name": "b", "arguments": '{"x":1}'}},
                    ],
                    "images": [{"type": "image_url", "image_url": {"url": "data:,"}}],
                },
            }
        ],
        "usage": {"input_tokens": 3, "output_tokens": 4},
    }
    assert events_from_completion(body) == [
        ReasoningDelta("Think."),
        ReasoningDetails([{"type": "reasoning.summary", "summary": "S"}]),
        TextDelta("Calling."),
        ToolCallDelta(0, "c1", "a", "{}"),
        ToolCallDelta(1, "c2", "b", '{"x":1}'),
        Images([{"type": "image_url", "image_url": {"url": "data:,"}}]),
        Finish("tool_calls", "tool_calls"),
        Usage(3, 4),
    ]


def test_a_completion_without_finish_reason_or_content() -> None:
    body = {"choices": [{"message": {"role": "assistant", "content": None}}]}
    assert events_from_completion(body) == [Finish("stop", None)]
    native = {"choices": [{"message": {"content": "x"}, "finish_reason": "end_turn"}]}
    assert events_from_completion(native) == [TextDelta("x"), Finish("stop", "end_turn")]
    assert events_from_completion({"choices": [], "usage": {"prompt_tokens": 1}}) == [Usage(1)]
