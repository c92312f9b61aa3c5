"""The Responses encoder on event sequences no test upstream produces (reasoning, parallel
calls, a failure after the first token), each event checked against the SDK's own types."""

from __future__ import annotations

import json
from typing import Any

from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from modelyard.core.events import (
    Event,
    Finish,
    ReasoningDelta,
    StreamError,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from modelyard.gateway.generation import Generation
from modelyard.gateway.planner import Plan
from modelyard.wire.responses_encode import ResponseDraft, ResponsesEncoder
from modelyard.wire.responses_request import parse_responses_request

EVENTS = TypeAdapter(ResponseStreamEvent)


def encode(events: list[Event]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    raw = {"model": "test/normal", "input": "Hi"}
    generation = Generation(plan=Plan(requested="test/normal", attempts=[]), stream=True)
    finals: list[dict[str, Any]] = []
    encoder = ResponsesEncoder(
        generation, ResponseDraft(parse_responses_request(raw), raw), finals.append
    )
    out = b"".join(encoder.encode(e) or b"" for e in events) + encoder.tail()
    frames = [f for f in out.decode().split("\n\n") if f and f != "data: [DONE]"]
    payloads = [json.loads(f.split("\ndata: ", 1)[1]) for f in frames]
    for payload in payloads:
        if payload["type"] != "error":
            EVENTS.validate_python(payload, strict=False)
    Response.model_validate(finals[0])
    return payloads, finals[0]


def test_reasoning_then_text() -> None:
    events, final = encode(
        [
            ReasoningDelta("Let me "),
            ReasoningDelta("think."),
            TextDelta("Hi"),
            TextDelta(" there"),
            Finish("stop"),
            Usage(prompt_tokens=5, completion_tokens=4, reasoning_tokens=2),
        ]
    )
    types = [e["type"] for e in events]
    assert types == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.reasoning_text.delta",
        "response.reasoning_text.delta",
        "response.reasoning_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    reasoning, message = final["output"]
    assert reasoning["type"] == "reasoning" and reasoning["id"].startswith("rs_")
    assert reasoning["content"] == [{"type": "reasoning_text", "text": "Let me think."}]
    assert message["content"][0]["text"] == "Hi there"
    assert [e["output_index"] for e in events if e["type"] == "response.output_item.added"] == [
        0,
        1,
    ]


def test_parallel_calls_each_get_their_item() -> None:
    events, final = encode(
        [
            ToolCallDelta(0, "call_a", "add", '{"a":'),
            ToolCallDelta(0, arguments=" 1}"),
            ToolCallDelta(1, "call_b", "mul", "{}"),
            Finish("tool_calls"),
        ]
    )
    calls = final["output"]
    assert [(c["call_id"], c["name"], c["arguments"]) for c in calls] == [
        ("call_a", "add", '{"a": 1}'),
        ("call_b", "mul", "{}"),
    ]
    assert len({c["id"] for c in calls}) == 2
    done = [e for e in events if e["type"] == "response.function_call_arguments.done"]
    assert [d["arguments"] for d in done] == ['{"a": 1}', "{}"]


def test_a_call_without_id_gets_one() -> None:
    _events, final = encode([ToolCallDelta(0, None, "f", "{}"), Finish("tool_calls")])
    assert final["output"][0]["call_id"].startswith("call_")


def test_error_after_first_token_fails_the_response() -> None:
    events, final = encode([TextDelta("Hi"), StreamError(502, "upstream broke")])
    types = [e["type"] for e in events]
    assert types[-3:] == ["response.output_item.done", "error", "response.failed"]
    assert events[-3]["item"]["status"] == "incomplete"
    assert final["status"] == "failed"
    assert final["error"] == {"code": "server_error", "message": "The provider failed mid-stream"}
    assert events[-2]["error"]["message"] == "The provider failed mid-stream"  # 5xx masked


def test_length_finish_is_incomplete() -> None:
    events, final = encode([TextDelta("Hi"), Finish("length")])
    assert events[-1]["type"] == "response.incomplete"
    assert final["incomplete_details"] == {"reason": "max_output_tokens"}
