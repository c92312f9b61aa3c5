"""Encode the event stream as the Responses API: SSE events, or one Response object.

One `OutputAssembler` turns normalized events into output items and the Responses events
that describe them (added, deltas, done); the stream encoder frames those events, the
non-stream path keeps only the items. So streamed and non-streamed responses cannot drift
apart, and the joined deltas are by construction the done text.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from modelyard.gateway.events import (
    Event,
    Finish,
    Images,
    ReasoningDelta,
    ReasoningDetails,
    StreamError,
    TextDelta,
    ToolCallDelta,
)
from modelyard.gateway.generation import Generation
from modelyard.wire.chat_encode import DONE, error_payload, usage_payload
from modelyard.wire.responses import (
    AllowedTools,
    FunctionChoice,
    ResponsesRequest,
    item_id,
)

Emit = Callable[[dict[str, Any]], None]

SERVICE_TIERS = {"auto", "default", "flex", "scale", "priority"}


def _logprobs(entries: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Chat `logprobs.content` entries in the Responses shape (bytes always present)."""
    out = []
    for entry in entries or ():
        token = str(entry.get("token", ""))
        out.append(
            {
                "token": token,
                "logprob": float(entry.get("logprob", 0.0)),
                "bytes": entry.get("bytes") or list(token.encode()),
                "top_logprobs": [
                    {
                        "token": str(top.get("token", "")),
                        "logprob": float(top.get("logprob", 0.0)),
                        "bytes": top.get("bytes") or list(str(top.get("token", "")).encode()),
                    }
                    for top in entry.get("top_logprobs") or ()
                ],
            }
        )
    return out


@dataclass(slots=True)
class _Open:
    """The output item being streamed: only one is open at a time."""

    kind: str  # message | reasoning | function_call | image_generation_call
    index: int
    item: dict[str, Any]
    parts: list[str] = field(default_factory=list)
    logprobs: list[dict[str, Any]] = field(default_factory=list)
    call_index: int = -1
    # A reasoning item: whether its reasoning_text part began, and its summary parts
    # (their texts, keyed by the upstream detail's index).
    text_started: bool = False
    summaries: dict[Any, list[str]] = field(default_factory=dict)


class OutputAssembler:
    """Builds `output[]` from events, emitting each Responses event through `emit`."""

    def __init__(self, emit: Emit, call_ids: Callable[[], str]) -> None:
        self._emit = emit
        self._call_ids = call_ids
        self.output: list[dict[str, Any]] = []
        self._open: _Open | None = None
        self._calls: dict[int, dict[str, Any]] = {}
        self.finish: Finish | None = None
        self.error: StreamError | None = None

    def add(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            self._text(event)
        elif isinstance(event, ReasoningDelta):
            self._reasoning(event.text)
        elif isinstance(event, ReasoningDetails):
            self._reasoning_details(event.details)
        elif isinstance(event, Images):
            self._images(event.images)
        elif isinstance(event, ToolCallDelta):
            self._tool_call(event)
        elif isinstance(event, Finish):
            self.finish = event
            self.close()
        elif isinstance(event, StreamError):
            self.error = event
            self.close("incomplete")

    # -- opening and closing items -------------------------------------------------------

    def _start(self, kind: str, item: dict[str, Any]) -> _Open:
        self.close()
        opened = _Open(kind, len(self.output), item)
        self.output.append(item)
        self._open = opened
        self._emit(
            {"type": "response.output_item.added", "output_index": opened.index, "item": dict(item)}
        )
        return opened

    def close(self, status: str = "completed") -> None:
        """Finish the open item with its done events."""
        opened, self._open = self._open, None
        if opened is None:
            return
        item, at = opened.item, {"item_id": opened.item["id"], "output_index": opened.index}
        if opened.kind == "message":
            text = "".join(opened.parts)
            part = {
                "type": "output_text",
                "text": text,
                "annotations": [],
                "logprobs": opened.logprobs,
            }
            self._emit(
                {
                    "type": "response.output_text.done",
                    **at,
                    "content_index": 0,
                    "text": text,
                    "logprobs": opened.logprobs,
                }
            )
            self._emit(
                {"type": "response.content_part.done", **at, "content_index": 0, "part": part}
            )
            item["content"] = [part]
        elif opened.kind == "reasoning":
            if opened.text_started:
                text = "".join(opened.parts)
                part = {"type": "reasoning_text", "text": text}
                self._emit(
                    {
                        "type": "response.reasoning_text.done",
                        **at,
                        "content_index": 0,
                        "text": text,
                    }
                )
                self._emit(
                    {"type": "response.content_part.done", **at, "content_index": 0, "part": part}
                )
                item["content"] = [part]
            summary = []
            for index, texts in enumerate(opened.summaries.values()):
                summary_part = {"type": "summary_text", "text": "".join(texts)}
                summary.append(summary_part)
                self._emit(
                    {
                        "type": "response.reasoning_summary_text.done",
                        **at,
                        "summary_index": index,
                        "text": summary_part["text"],
                    }
                )
                self._emit(
                    {
                        "type": "response.reasoning_summary_part.done",
                        **at,
                        "summary_index": index,
                        "part": summary_part,
                    }
                )
            item["summary"] = summary
        elif opened.kind == "function_call":
            item["arguments"] = "".join(opened.parts)
            self._emit(
                {
                    "type": "response.function_call_arguments.done",
                    **at,
                    "name": item["name"],
                    "arguments": item["arguments"],
                }
            )
        item["status"] = status
        self._emit(
            {"type": "response.output_item.done", "output_index": opened.index, "item": item}
        )

    # -- the three kinds of items --------------------------------------------------------

    def _text(self, event: TextDelta) -> None:
        opened = self._open
        if opened is None or opened.kind != "message":
            item = {
                "id": item_id("msg"),
                "type": "message",
                "role": "assistant",
                "status": "in_progress",
                "content": [],
            }
            opened = self._start("message", item)
            self._emit(
                {
                    "type": "response.content_part.added",
                    "item_id": item["id"],
                    "output_index": opened.index,
                    "content_index": 0,
                    "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []},
                }
            )
        logprobs = _logprobs(event.logprobs)
        opened.parts.append(event.text)
        opened.logprobs.extend(logprobs)
        self._emit(
            {
                "type": "response.output_text.delta",
                "item_id": opened.item["id"],
                "output_index": opened.index,
                "content_index": 0,
                "delta": event.text,
                "logprobs": logprobs,
            }
        )

    def _open_reasoning(self) -> _Open:
        opened = self._open
        if opened is None or opened.kind != "reasoning":
            item = {
                "id": item_id("rs"),
                "type": "reasoning",
                "summary": [],
                "status": "in_progress",
            }
            opened = self._start("reasoning", item)
        return opened

    def _reasoning(self, text: str) -> None:
        opened = self._open_reasoning()
        if not opened.text_started:
            opened.text_started = True
            self._emit(
                {
                    "type": "response.content_part.added",
                    "item_id": opened.item["id"],
                    "output_index": opened.index,
                    "content_index": 0,
                    "part": {"type": "reasoning_text", "text": ""},
                }
            )
        opened.parts.append(text)
        self._emit(
            {
                "type": "response.reasoning_text.delta",
                "item_id": opened.item["id"],
                "output_index": opened.index,
                "content_index": 0,
                "delta": text,
            }
        )

    def _reasoning_details(self, details: list[dict[str, Any]]) -> None:
        """Chat `reasoning_details` as the reasoning item's parts: summaries as summary
        parts, encrypted reasoning as `encrypted_content`; `reasoning.text` came already as
        reasoning text."""
        opened = self._open_reasoning()
        at = {"item_id": opened.item["id"], "output_index": opened.index}
        for detail in details:
            if not isinstance(detail, dict):
                continue
            kind = detail.get("type")
            if kind == "reasoning.encrypted" and isinstance(detail.get("data"), str):
                opened.item["encrypted_content"] = (
                    opened.item.get("encrypted_content") or ""
                ) + detail["data"]
            elif kind == "reasoning.summary" and isinstance(detail.get("summary"), str):
                key = detail.get("index", len(opened.summaries))
                texts = opened.summaries.get(key)
                if texts is not None:
                    summary_index = list(opened.summaries).index(key)
                else:
                    summary_index = len(opened.summaries)
                    texts = opened.summaries[key] = []
                    self._emit(
                        {
                            "type": "response.reasoning_summary_part.added",
                            **at,
                            "summary_index": summary_index,
                            "part": {"type": "summary_text", "text": ""},
                        }
                    )
                texts.append(detail["summary"])
                self._emit(
                    {
                        "type": "response.reasoning_summary_text.delta",
                        **at,
                        "summary_index": summary_index,
                        "delta": detail["summary"],
                    }
                )

    def _images(self, images: list[dict[str, Any]]) -> None:
        """Generated images as completed `image_generation_call` items (base64 results)."""
        for image in images:
            url = ((image or {}).get("image_url") or {}).get("url") or ""
            result = url.split(",", 1)[1] if url.startswith("data:") and "," in url else url
            item = {
                "id": item_id("ig"),
                "type": "image_generation_call",
                "status": "in_progress",
                "result": None,
            }
            self._start("image_generation_call", item)
            self._emit(
                {
                    "type": "response.image_generation_call.completed",
                    "item_id": item["id"],
                    "output_index": len(self.output) - 1,
                }
            )
            item["result"] = result
            self.close()

    def _tool_call(self, event: ToolCallDelta) -> None:
        opened = self._open
        if opened is None or opened.kind != "function_call" or opened.call_index != event.index:
            known = self._calls.get(event.index)
            if known is not None:
                # A late fragment of a call already closed (interleaved parallel calls):
                # it joins the item, which the final response carries whole.
                known["arguments"] += event.arguments
                return
            item = {
                "id": item_id("fc"),
                "type": "function_call",
                "call_id": event.id or self._call_ids(),
                "name": event.name or "",
                "arguments": "",
                "status": "in_progress",
            }
            opened = self._start("function_call", item)
            opened.call_index = event.index
            self._calls[event.index] = item
        if event.arguments:
            opened.parts.append(event.arguments)
            self._emit(
                {
                    "type": "response.function_call_arguments.delta",
                    "item_id": opened.item["id"],
                    "output_index": opened.index,
                    "delta": event.arguments,
                }
            )


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


def response_usage(generation: Generation) -> dict[str, Any]:
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
        generation: Generation | None = None,
        output: list[dict[str, Any]] | None = None,
        error: dict[str, Any] | None = None,
        incomplete: str | None = None,
    ) -> dict[str, Any]:
        """The Response object in one state: every field present, typed as clients expect."""
        model = self.requested_model
        provider = None
        if generation is not None:
            model = generation.model.id if generation.model else generation.plan.requested
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

    def final(self, generation: Generation, assembler: OutputAssembler) -> dict[str, Any]:
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
        generation: Generation,
        draft: ResponseDraft,
        on_final: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.generation = generation
        self.draft = draft
        self.on_final = on_final
        self._sequence = 0
        self._frames: list[bytes] = []
        self._started = False
        self.assembler = OutputAssembler(self._emit, new_call_id)

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


def new_call_id() -> str:
    """A `call_...` id for a tool call whose provider gave none."""
    return f"call_{item_id('x')[2:26]}"
