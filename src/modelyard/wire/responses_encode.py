"""Encode the event stream as the Responses API: the Response object (its envelope in
every state) and the SSE stream that frames the output assembler's events."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from modelyard.core.events import Event, StreamError
from modelyard.core.generation import GenerationInfo
from modelyard.wire.chat_encode import DONE, error_payload, usage_payload
from modelyard.wire.responses_output import OutputAssembler
from modelyard.wire.responses_request import (
    AllowedTools,
    FunctionChoice,
    ResponsesRequest,
    item_id,
)

SERVICE_TIERS = {"auto", "default", "flex", "scale", "priority"}


def _tool_echo(request: ResponsesRequest) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
            "strict": tool.strict,
        }
        for tool in request.tools or ()
    ]


def _tool_choice_echo(request: ResponsesRequest) -> str | dict[str, Any]:
    choice = request.tool_choice
    if isinstance(choice, FunctionChoice):
        return {"type": "function", "name": choice.name}
    if isinstance(choice, AllowedTools):
        return {"type": "allowed_tools", "mode": choice.mode, "tools": choice.tools}
    return choice or "auto"


def _text_echo(raw: dict[str, Any]) -> dict[str, Any]:
    text = raw.get("text") if isinstance(raw.get("text"), dict) else {}
    return {
        "format": text.get("format") or {"type": "text"},
        "verbosity": text.get("verbosity") or "medium",
    }


def response_usage(generation: GenerationInfo) -> dict[str, Any]:
    """Chat usage (tokens and cost, computed once in chat_encode) in the Responses shape."""
    chat = usage_payload(generation)
    return {
        "input_tokens": chat["prompt_tokens"],
        "input_tokens_details": {
            "cached_tokens": chat["prompt_tokens_details"]["cached_tokens"],
            "cache_write_tokens": chat["prompt_tokens_details"]["cache_write_tokens"],
        },
        "output_tokens": chat["completion_tokens"],
        "output_tokens_details": {
            "reasoning_tokens": chat["completion_tokens_details"]["reasoning_tokens"]
        },
        "total_tokens": chat["total_tokens"],
        "cost": chat["cost"],
        "is_byok": chat["is_byok"],
        "cost_details": chat["cost_details"],
    }


class ResponseDraft:
    """Everything the Response object echoes from its request, fixed before any token."""

    def __init__(
        self,
        request: ResponsesRequest,
        raw: dict[str, Any],
        previous_response_id: str | None = None,
    ) -> None:
        self.id = item_id("resp")
        self.created_at = int(time.time())
        reasoning = request.reasoning
        tier = request.service_tier if request.service_tier in SERVICE_TIERS else None
        self.echo: dict[str, Any] = {
            "instructions": request.instructions,
            "max_output_tokens": request.max_output_tokens,
            "max_tool_calls": request.max_tool_calls,
            "parallel_tool_calls": request.parallel_tool_calls is not False,
            "previous_response_id": previous_response_id,
            "reasoning": {
                "effort": reasoning.effort if reasoning else None,
                "summary": (reasoning.summary or reasoning.generate_summary) if reasoning else None,
            },
            "store": request.store,
            "background": request.background,
            "service_tier": "default" if tier in (None, "auto") else tier,
            "temperature": request.temperature if request.temperature is not None else 1.0,
            "top_p": request.top_p if request.top_p is not None else 1.0,
            "presence_penalty": request.presence_penalty or 0.0,
            "frequency_penalty": request.frequency_penalty or 0.0,
            "top_logprobs": request.top_logprobs or 0,
            "text": _text_echo(raw),
            "tool_choice": _tool_choice_echo(request),
            "tools": _tool_echo(request),
            "truncation": request.truncation or "disabled",
            "user": request.user,
            "safety_identifier": request.safety_identifier,
            "prompt_cache_key": request.prompt_cache_key,
            "metadata": request.metadata or {},
        }
        self.requested_model = request.model or (request.models or [""])[0]

    def response(
        self,
        status: str,
        *,
        generation: GenerationInfo | None = None,
        output: list[dict[str, Any]] | None = None,
        error: dict[str, Any] | None = None,
        incomplete: str | None = None,
    ) -> dict[str, Any]:
        """The Response object in one state: every field present, typed as clients expect."""
        model = self.requested_model
        provider = None
        if generation is not None:
            model = generation.model_id
            provider = generation.provider_name or None
        terminal = status in {"completed", "incomplete", "failed", "cancelled"}
        usage = response_usage(generation) if terminal and generation is not None else None
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "completed_at": int(time.time()) if status == "completed" else None,
            "error": error,
            "incomplete_details": {"reason": incomplete} if incomplete else None,
            "model": model,
            "output": output or [],
            "usage": usage,
            "provider": provider,
            **self.echo,
        }

    def final(self, generation: GenerationInfo, assembler: OutputAssembler) -> dict[str, Any]:
        """The terminal Response for a generation that ran: completed, incomplete or failed."""
        if assembler.error is not None:
            payload = error_payload(assembler.error)
            return self.response(
                "failed",
                generation=generation,
                output=assembler.output,
                error={"code": "server_error", "message": payload["message"]},
            )
        if assembler.finish is not None and assembler.finish.reason == "length":
            return self.response(
                "incomplete",
                generation=generation,
                output=assembler.output,
                incomplete="max_output_tokens",
            )
        if assembler.finish is not None and assembler.finish.reason == "content_filter":
            return self.response(
                "incomplete",
                generation=generation,
                output=assembler.output,
                incomplete="content_filter",
            )
        return self.response("completed", generation=generation, output=assembler.output)


def _frame(payload: dict[str, Any]) -> bytes:
    """One SSE event in one buffer, LF framing, `event:` equal to the payload's `type`."""
    return b"event: " + payload["type"].encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


TERMINAL = {"completed": "response.completed", "incomplete": "response.incomplete"}


class ResponsesEncoder:
    """The `StreamEncoder` for the Responses surface (see api/inference.py)."""

    def __init__(
        self,
        generation: GenerationInfo,
        draft: ResponseDraft,
        on_final: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.generation = generation
        self.draft = draft
        self.on_final = on_final
        self._sequence = 0
        self._frames: list[bytes] = []
        self._started = False
        self.assembler = OutputAssembler(self._emit)

    def _emit(self, payload: dict[str, Any]) -> None:
        payload = {"type": payload.pop("type"), "sequence_number": self._sequence, **payload}
        self._sequence += 1
        self._frames.append(_frame(payload))

    def _drain(self) -> bytes:
        out = b"".join(self._frames)
        self._frames.clear()
        return out

    def _start(self) -> None:
        if self._started:
            return
        self._started = True
        response = self.draft.response("in_progress", generation=self.generation)
        self._emit({"type": "response.created", "response": response})
        self._emit({"type": "response.in_progress", "response": response})

    def encode(self, event: Event) -> bytes | None:
        self._start()
        self.assembler.add(event)
        if isinstance(event, StreamError):
            self._emit(_error_event(event))
        return self._drain() or None

    def fail(self, error: StreamError) -> bytes:
        return (self.encode(error) or b"") + self.tail()

    def tail(self) -> bytes:
        self._start()
        self.assembler.close()
        final = self.draft.final(self.generation, self.assembler)
        self._emit({"type": TERMINAL.get(final["status"], "response.failed"), "response": final})
        if self.on_final is not None:
            self.on_final(final)
        return self._drain() + DONE


def _error_event(error: StreamError) -> dict[str, Any]:
    """The nested shape the real API sends, with the top-level fields of the SDK's model."""
    payload = error_payload(error)
    code = "rate_limit_exceeded" if error.status == 429 else "server_error"
    return {
        "type": "error",
        "code": code,
        "message": payload["message"],
        "param": None,
        "error": {"type": code, "code": code, "message": payload["message"], "param": None},
    }
