"""Responses output items, assembled from spine events.

One `OutputAssembler` turns events into output items and the Responses events that
describe them (added, deltas, done); the stream encoder frames those events, the
non-stream path keeps only the items. So streamed and non-streamed responses cannot drift
apart, and the joined deltas are by construction the done text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from modelyard.core.events import (
    Event,
    Finish,
    Images,
    ReasoningDelta,
    ReasoningDetails,
    StreamError,
    TextDelta,
    ToolCallDelta,
)
from modelyard.wire.responses_request import item_id

Emit = Callable[[dict[str, Any]], None]


def _discard(_payload: dict[str, Any]) -> None:
    """Non-streamed responses keep the items, not the events."""


def new_call_id() -> str:
    """A `call_...` id for a tool call whose provider gave none."""
    return f"call_{item_id('x')[2:26]}"


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

    def __init__(self, emit: Emit | None = None, call_ids: Callable[[], str] = new_call_id) -> None:
        self._emit = emit or _discard
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
