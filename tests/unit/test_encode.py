"""Encoding in-process: a hand-made event sequence through the Chat Completions chunk
encoder and completion builder and through the Responses stream encoder; the bytes parse,
and the official SDK's own types accept every object."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from modelyard.core.events import (
    Event,
    Finish,
    Images,
    ReasoningDelta,
    ReasoningDetails,
    StreamError,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from modelyard.core.generation import Cost, GenerationInfo
from modelyard.wire.chat_encode import DONE, ChunkEncoder, CompletionBuilder
from modelyard.wire.responses_encode import ResponseDraft, ResponsesEncoder
from modelyard.wire.responses_request import parse_responses_request

STREAM_EVENT = TypeAdapter(ResponseStreamEvent)
DETAILS = [{"type": "reasoning.summary", "summary": "Adding.", "format": "unknown", "index": 0}]
LOGPROBS = [{"token": "4", "logprob": -0.01, "bytes": [52], "top_logprobs": []}]


@dataclass
class Facts:
    """What an encoder reads of a generation (the gateway's Generation is one)."""

    id: str = "gen-1700000000-abcdefghijklmnopqrst"
    created: int = 1_700_000_000
    provider_name: str = "Mock"
    usage: Usage | None = None
    cost: Cost | None = None
    model: str = "unit/model"

    @property
    def model_id(self) -> str:
        return self.model


def generation() -> GenerationInfo:
    return Facts(
        usage=Usage(prompt_tokens=10, completion_tokens=6, cached_tokens=4, reasoning_tokens=2),
        cost=Cost(Decimal("0.00001"), Decimal("0.000012"), Decimal(0)),
    )


EVENTS: list[Event] = [
    ReasoningDelta("Two and "),
    ReasoningDelta("two."),
    ReasoningDetails(DETAILS),
    TextDelta("4", LOGPROBS),
    TextDelta(", and a call."),
    ToolCallDelta(0, "call_add", "add", '{"a": 2,'),
    ToolCallDelta(0, arguments=' "b": 2}'),
    ToolCallDelta(1, None, "mul", "{}"),
    Finish("tool_calls", "tool_use"),
    Usage(prompt_tokens=10, completion_tokens=6),
]


def sse_payloads(stream: bytes) -> list[dict[str, Any]]:
    """Every `data:` frame of a chat stream but [DONE], which must end it."""
    assert stream.endswith(DONE)
    frames = stream.decode().split("\n\n")
    assert frames[-1] == "" and frames[-2] == "data: [DONE]"
    assert all(f.startswith("data: ") and "\n" not in f for f in frames[:-2])
    return [json.loads(f.removeprefix("data: ")) for f in frames[:-2]]


# -- Chat Completions ---------------------------------------------------------------------


def test_chunks_parse_and_validate_with_the_sdk() -> None:
    facts = generation()
    encoder = ChunkEncoder(facts)
    out = b"".join(encoder.encode(e) or b"" for e in EVENTS) + encoder.tail()
    chunks = sse_payloads(out)
    for payload in chunks:
        ChatCompletionChunk.model_validate(payload)
    assert {c["id"] for c in chunks} == {facts.id}
    assert {(c["model"], c["provider"], c["created"]) for c in chunks} == {
        ("unit/model", "Mock", facts.created)
    }
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert [d.get("role") for d in deltas] == ["assistant"] + [None] * (len(deltas) - 1)
    assert "".join(d.get("reasoning") or "" for d in deltas) == "Two and two."
    assert [d["reasoning_details"] for d in deltas if "reasoning_details" in d] == [DETAILS]
    assert "".join(d.get("content") or "" for d in deltas) == "4, and a call."
    logprobs = [c["choices"][0]["logprobs"] for c in chunks if c["choices"]]
    assert [lp for lp in logprobs if lp] == [{"content": LOGPROBS, "refusal": None}]
    calls = [call for d in deltas for call in d.get("tool_calls", ())]
    # A call's id, type and name come once, in its first fragment.
    assert calls == [
        {
            "index": 0,
            "id": "call_add",
            "type": "function",
            "function": {"name": "add", "arguments": '{"a": 2,'},
        },
        {"index": 0, "function": {"arguments": ' "b": 2}'}},
        {
            "index": 1,
            "id": f"call_{facts.id[-20:]}_1",
            "type": "function",
            "function": {"name": "mul", "arguments": "{}"},
        },
    ]
    finish = chunks[-2]["choices"][0]
    assert (finish["finish_reason"], finish["native_finish_reason"]) == ("tool_calls", "tool_use")
    assert all("native_finish_reason" in c["choices"][0] for c in chunks if c["choices"])
    usage_chunk = chunks[-1]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["prompt_tokens"] == 10
    assert usage_chunk["usage"]["total_tokens"] == 16
    assert usage_chunk["usage"]["prompt_tokens_details"]["cached_tokens"] == 4
    assert usage_chunk["usage"]["completion_tokens_details"]["reasoning_tokens"] == 2
    assert usage_chunk["usage"]["cost"] == 0.000022


def test_a_stream_without_finish_gets_one_and_errors_end_it() -> None:
    encoder = ChunkEncoder(Facts())
    chunks = sse_payloads((encoder.encode(TextDelta("Hi")) or b"") + encoder.tail())
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["cost"] == 0

    # A failure mid-stream: OpenRouter's error chunk (finish "error", outside the SDK's
    # types on purpose, so the SDK raises), the provider's 5xx message masked.
    encoder = ChunkEncoder(Facts())
    out = (encoder.encode(TextDelta("Hi")) or b"") + encoder.fail(
        StreamError(502, "upstream said: secret detail", {"provider_name": "Mock"})
    )
    error = sse_payloads(out)[-1]
    assert error["error"] == {
        "code": 502,
        "message": "The provider failed mid-stream",
        "metadata": {"provider_name": "Mock"},
    }
    assert error["choices"][0]["finish_reason"] == "error"
    encoder = ChunkEncoder(Facts())
    kept = sse_payloads(encoder.fail(StreamError(429, "slow down")))[-1]
    assert kept["error"]["message"] == "slow down"


def test_completion_builder_validates_with_the_sdk() -> None:
    builder = CompletionBuilder()
    for event in EVENTS:
        builder.add(event)
    builder.add(Images([{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]))
    completion = builder.build(generation())
    parsed = ChatCompletion.model_validate(completion)
    message = parsed.choices[0].message
    assert message.content == "4, and a call."
    assert [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or ()] == [
        ("call_add", "add", '{"a": 2, "b": 2}'),
        ("call_1", "mul", "{}"),
    ]
    extra = message.model_extra or {}
    assert extra["reasoning"] == "Two and two." and extra["reasoning_details"] == DETAILS
    assert extra["images"][0]["image_url"]["url"].startswith("data:image/png")
    assert parsed.choices[0].finish_reason == "tool_calls"
    assert completion["choices"][0]["native_finish_reason"] == "tool_use"
    assert completion["choices"][0]["logprobs"] == {"content": LOGPROBS, "refusal": None}
    assert parsed.usage is not None and parsed.usage.total_tokens == 16
    assert completion["provider"] == "Mock" and completion["usage"]["cost"] == 0.000022


def test_completion_with_only_tool_calls_has_null_content() -> None:
    builder = CompletionBuilder()
    builder.add(ToolCallDelta(0, "c", "f", "{}"))
    completion = builder.build(Facts())
    ChatCompletion.model_validate(completion)
    assert completion["choices"][0]["message"]["content"] is None
    assert completion["choices"][0]["finish_reason"] == "stop"
    assert CompletionBuilder().build(Facts())["choices"][0]["message"]["content"] == ""


# -- Responses ------------------------------------------------------------------------------


def responses_stream(events: list[Event]) -> tuple[bytes, list[dict[str, Any]]]:
    raw = {"model": "unit/model", "input": "What is 2+2?", "instructions": "Be brief."}
    finals: list[dict[str, Any]] = []
    encoder = ResponsesEncoder(
        generation(), ResponseDraft(parse_responses_request(raw), raw), finals.append
    )
    out = b"".join(encoder.encode(e) or b"" for e in events) + encoder.tail()
    return out, finals


def test_responses_frames_are_numbered_named_and_typed() -> None:
    out, finals = responses_stream(EVENTS)
    assert out.endswith(DONE)
    frames = out[: -len(DONE)].decode().split("\n\n")
    assert frames[-1] == ""
    payloads = []
    for frame in frames[:-1]:
        event_line, data_line = frame.split("\n")
        payload = json.loads(data_line.removeprefix("data: "))
        assert event_line == f"event: {payload['type']}"
        STREAM_EVENT.validate_python(payload)
        payloads.append(payload)
    assert [p["sequence_number"] for p in payloads] == list(range(len(payloads)))
    types = [p["type"] for p in payloads]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed" and types.count("response.completed") == 1
    assert payloads[0]["response"]["status"] == "in_progress"
    assert payloads[0]["response"]["usage"] is None

    # One on_final call, with the object the terminal event carries.
    assert len(finals) == 1 and finals[0] == payloads[-1]["response"]
    final = Response.model_validate(finals[0])
    assert final.status == "completed" and final.instructions == "Be brief."
    assert [item.type for item in final.output] == [
        "reasoning",
        "message",
        "function_call",
        "function_call",
    ]
    assert final.output_text == "4, and a call."
    assert final.usage is not None
    assert (final.usage.input_tokens, final.usage.output_tokens) == (10, 6)
    assert final.usage.input_tokens_details.cached_tokens == 4
    assert final.usage.output_tokens_details.reasoning_tokens == 2
    reasoning = finals[0]["output"][0]
    assert reasoning["content"] == [{"type": "reasoning_text", "text": "Two and two."}]
    assert reasoning["summary"] == [{"type": "summary_text", "text": "Adding."}]
    calls = finals[0]["output"][2:]
    assert (calls[0]["call_id"], calls[0]["arguments"]) == ("call_add", '{"a": 2, "b": 2}')
    assert calls[1]["call_id"].startswith("call_") and calls[1]["name"] == "mul"
    # Text deltas join to the done text, as the SDK's accumulator expects.
    deltas = [p["delta"] for p in payloads if p["type"] == "response.output_text.delta"]
    done = next(p for p in payloads if p["type"] == "response.output_text.done")
    assert "".join(deltas) == done["text"] == "4, and a call."
    assert done["logprobs"][0]["token"] == "4"


def test_responses_stream_failure_is_numbered_too() -> None:
    out, finals = responses_stream([TextDelta("Hi"), StreamError(500, "boom")])
    payloads = [
        json.loads(frame.split("\ndata: ", 1)[1])
        for frame in out[: -len(DONE)].decode().split("\n\n")
        if frame
    ]
    assert [p["sequence_number"] for p in payloads] == list(range(len(payloads)))
    assert [p["type"] for p in payloads][-2:] == ["error", "response.failed"]
    assert Response.model_validate(finals[0]).status == "failed"
