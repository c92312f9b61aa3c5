"""Encode the event stream as Chat Completions: SSE chunks, or one completion object.

Chunks follow responses_wire.md §2 and OpenRouter's extras: `role` once, a tool call's id
and name only in its first delta, `provider` and `native_finish_reason` on every chunk,
usage once in a final `choices: []` chunk, then `data: [DONE]`.
"""

from __future__ import annotations

from typing import Any

import orjson

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
from modelyard.core.generation import GenerationInfo

DONE = b"data: [DONE]\n\n"
# The end of a chunk's choice with no finish and no logprobs, and of the chunk.
_PLAIN_TAIL = b',"finish_reason":null,"native_finish_reason":null,"logprobs":null}]}\n\n'


def sse(payload: dict[str, Any]) -> bytes:
    """One SSE event in one buffer: LF framing, JSON on one line."""
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def usage_payload(generation: GenerationInfo) -> dict[str, Any]:
    usage = generation.usage or Usage()
    cost = generation.cost
    total = float(cost.total) if cost else 0.0
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        "cost": total,
        "is_byok": False,
        "prompt_tokens_details": {
            "cached_tokens": usage.cached_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
            "audio_tokens": 0,
            "video_tokens": 0,
        },
        "cost_details": {
            "upstream_inference_cost": total,
            "upstream_inference_prompt_cost": float(cost.prompt) if cost else 0.0,
            "upstream_inference_completions_cost": float(cost.completion) if cost else 0.0,
        },
        "completion_tokens_details": {
            "reasoning_tokens": usage.reasoning_tokens,
            "image_tokens": usage.image_tokens,
            "audio_tokens": 0,
        },
    }


def error_payload(error: StreamError) -> dict[str, Any]:
    # 5xx messages are masked, as OpenRouter does mid-stream; the metadata says who failed.
    message = error.message if error.status < 500 else "The provider failed mid-stream"
    return {"code": error.status, "message": message, "metadata": error.metadata}


class ChunkEncoder:
    """Turns events into `chat.completion.chunk` SSE frames for one generation."""

    __slots__ = ("_base", "_head", "_role_sent", "_seen_calls", "finished", "generation")

    def __init__(self, generation: GenerationInfo) -> None:
        self.generation = generation
        self._role_sent = False
        self._seen_calls: set[int] = set()
        self.finished = False
        self._base = {
            "id": generation.id,
            "object": "chat.completion.chunk",
            "created": generation.created,
            "model": generation.model_id,
            "provider": generation.provider_name,
            "system_fingerprint": None,
        }
        # Every chunk starts with the same bytes: serialized once, not per token.
        self._head = b"data: " + orjson.dumps(self._base)[:-1] + b',"choices":[{"index":0,"delta":'

    def _chunk(self, delta: dict[str, Any], **choice: Any) -> bytes:
        if not self._role_sent:
            delta = {"role": "assistant", **delta}
            self._role_sent = True
        if not choice:
            return self._head + orjson.dumps(delta) + _PLAIN_TAIL
        tail = {
            "finish_reason": choice.get("finish_reason"),
            "native_finish_reason": choice.get("native_finish_reason"),
            "logprobs": choice.get("logprobs"),
        }
        return self._head + orjson.dumps(delta) + b"," + orjson.dumps(tail)[1:] + b"]}\n\n"

    def encode(self, event: Event) -> bytes | None:
        if isinstance(event, TextDelta):
            if not event.logprobs:
                return self._chunk({"content": event.text})
            logprobs = {"content": event.logprobs, "refusal": None}
            return self._chunk({"content": event.text}, logprobs=logprobs)
        if isinstance(event, ReasoningDelta):
            return self._chunk({"content": "", "reasoning": event.text})
        if isinstance(event, ReasoningDetails):
            return self._chunk({"content": "", "reasoning_details": event.details})
        if isinstance(event, Images):
            return self._chunk({"content": "", "images": event.images})
        if isinstance(event, ToolCallDelta):
            call: dict[str, Any] = {"index": event.index}
            if event.index not in self._seen_calls:
                self._seen_calls.add(event.index)
                call["id"] = event.id or f"call_{self.generation.id[-20:]}_{event.index}"
                call["type"] = "function"
                call["function"] = {"name": event.name or "", "arguments": event.arguments}
            else:
                call["function"] = {"arguments": event.arguments}
            delta: dict[str, Any] = {"tool_calls": [call]}
            if not self._role_sent:
                delta["content"] = None
            return self._chunk(delta)
        if isinstance(event, Finish):
            self.finished = True
            return self._chunk(
                {}, finish_reason=event.reason, native_finish_reason=event.native or event.reason
            )
        if isinstance(event, StreamError):
            self.finished = True
            payload = {
                **self._base,
                "error": error_payload(event),
                "choices": [
                    {
                        "index": 0,
                        "delta": {"content": ""},
                        "finish_reason": "error",
                        "native_finish_reason": "error",
                    }
                ],
            }
            return sse(payload)
        return None  # Usage is sent once, at the end

    def fail(self, error: StreamError) -> bytes:
        return (self.encode(error) or b"") + DONE

    def tail(self) -> bytes:
        """The closing frames: a finish if none came, the usage chunk, and [DONE]."""
        out = b""
        if not self.finished:
            out += self._chunk({}, finish_reason="stop", native_finish_reason="stop")
        usage = {**self._base, "choices": [], "usage": usage_payload(self.generation)}
        return out + sse(usage) + DONE


class CompletionBuilder:
    """Collects events into one `chat.completion` object."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.reasoning_details: list[dict[str, Any]] = []
        self.images: list[dict[str, Any]] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.logprobs: list[dict[str, Any]] = []
        self.finish: Finish | None = None
        self.error: StreamError | None = None

    def add(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            self.text.append(event.text)
            if event.logprobs:
                self.logprobs.extend(event.logprobs)
        elif isinstance(event, ReasoningDelta):
            self.reasoning.append(event.text)
        elif isinstance(event, ReasoningDetails):
            self.reasoning_details.extend(event.details)
        elif isinstance(event, Images):
            self.images.extend(event.images)
        elif isinstance(event, ToolCallDelta):
            call = self.calls.get(event.index)
            if call is None:
                self.calls[event.index] = {
                    "id": event.id or f"call_{event.index}",
                    "type": "function",
                    "function": {"name": event.name or "", "arguments": event.arguments},
                }
            else:
                call["function"]["arguments"] += event.arguments
        elif isinstance(event, Finish):
            self.finish = event
        elif isinstance(event, StreamError):
            self.error = event

    def build(self, generation: GenerationInfo) -> dict[str, Any]:
        finish = self.finish or Finish("stop", "stop")
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(self.text) if (self.text or not self.calls) else None,
            "refusal": None,
            "reasoning": "".join(self.reasoning) if self.reasoning else None,
        }
        if self.reasoning_details:
            message["reasoning_details"] = self.reasoning_details
        if self.images:
            message["images"] = self.images
        if self.calls:
            message["tool_calls"] = [self.calls[i] for i in sorted(self.calls)]
        return {
            "id": generation.id,
            "object": "chat.completion",
            "created": generation.created,
            "model": generation.model_id,
            "provider": generation.provider_name,
            "system_fingerprint": None,
            "choices": [
                {
                    "index": 0,
                    "logprobs": {"content": self.logprobs, "refusal": None}
                    if self.logprobs
                    else None,
                    "finish_reason": finish.reason,
                    "native_finish_reason": finish.native or finish.reason,
                    "message": message,
                }
            ],
            "usage": usage_payload(generation),
        }
