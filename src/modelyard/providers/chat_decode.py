"""Chat Completions, decoded: an OpenAI-compatible upstream's chunks and completions as
spine events, and usage in any shape an upstream reports it. No I/O here: the transport
(openai_compat.py) and the embedded engine both feed it."""

from __future__ import annotations

from typing import Any

from modelyard.core.events import (
    Event,
    Finish,
    Images,
    ReasoningDelta,
    ReasoningDetails,
    TextDelta,
    ToolCallDelta,
    Usage,
    normalize_finish,
)


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def usage_from(raw: dict[str, Any]) -> Usage:
    """Usage in any shape an upstream reports it, as a Usage event.

    OpenAI chat (`prompt_tokens` and details), Responses (`input_tokens`, `output_tokens`
    and their details), Anthropic (`input_tokens` counts only uncached input: reads and
    writes come apart as `cache_read_input_tokens` / `cache_creation_input_tokens`) and
    Gemini (`promptTokenCount`...). A `cost` the upstream reports is ignored: the gateway
    prices usage with the endpoint's own prices.
    """
    if "prompt_tokens" in raw or "completion_tokens" in raw:
        prompt_details = raw.get("prompt_tokens_details") or {}
        completion_details = raw.get("completion_tokens_details") or {}
        return Usage(
            prompt_tokens=_int(raw.get("prompt_tokens")),
            completion_tokens=_int(raw.get("completion_tokens")),
            cached_tokens=_int(prompt_details.get("cached_tokens")),
            cache_write_tokens=_int(prompt_details.get("cache_write_tokens")),
            reasoning_tokens=_int(completion_details.get("reasoning_tokens")),
            image_tokens=_int(completion_details.get("image_tokens")),
        )
    if "input_tokens" in raw or "output_tokens" in raw:
        input_details = raw.get("input_tokens_details") or {}
        output_details = raw.get("output_tokens_details") or {}
        prompt = _int(raw.get("input_tokens"))
        cached = _int(input_details.get("cached_tokens"))
        written = _int(input_details.get("cache_write_tokens"))
        if "cache_read_input_tokens" in raw or "cache_creation_input_tokens" in raw:
            cached = _int(raw.get("cache_read_input_tokens"))
            written = _int(raw.get("cache_creation_input_tokens"))
            prompt += cached + written
        return Usage(
            prompt_tokens=prompt,
            completion_tokens=_int(raw.get("output_tokens")),
            cached_tokens=cached,
            cache_write_tokens=written,
            reasoning_tokens=_int(output_details.get("reasoning_tokens")),
            image_tokens=_int(output_details.get("image_tokens")),
        )
    if "promptTokenCount" in raw or "candidatesTokenCount" in raw:
        thoughts = _int(raw.get("thoughtsTokenCount"))
        return Usage(
            prompt_tokens=_int(raw.get("promptTokenCount")),
            completion_tokens=_int(raw.get("candidatesTokenCount")) + thoughts,
            cached_tokens=_int(raw.get("cachedContentTokenCount")),
            reasoning_tokens=thoughts,
        )
    return Usage()


def _reasoning_events(source: dict[str, Any], events: list[Event]) -> None:
    """`reasoning` (or `reasoning_content`) text and `reasoning_details` of a delta or a
    message. Details travel unchanged; when only details came, their text is the
    reasoning text too, as OpenRouter sends both."""
    reasoning = source.get("reasoning") or source.get("reasoning_content")
    details = source.get("reasoning_details")
    if not reasoning and details and isinstance(details, list):
        reasoning = "".join(
            d.get("text") or ""
            for d in details
            if isinstance(d, dict) and d.get("type") == "reasoning.text"
        )
    if reasoning and isinstance(reasoning, str):
        events.append(ReasoningDelta(reasoning))
    if details and isinstance(details, list):
        events.append(ReasoningDetails(details))


def events_from_chunk(chunk: dict[str, Any]) -> list[Event]:
    """The events carried by one Chat Completions stream chunk."""
    events: list[Event] = []
    for choice in chunk.get("choices") or ():
        if choice.get("index", 0) != 0:
            continue
        delta = choice.get("delta") or {}
        if "reasoning" in delta or "reasoning_content" in delta or "reasoning_details" in delta:
            _reasoning_events(delta, events)
        content = delta.get("content")
        logprobs = (choice.get("logprobs") or {}).get("content")
        if content or logprobs:
            events.append(TextDelta(content or "", logprobs or None))
        for call in delta.get("tool_calls") or ():
            function = call.get("function") or {}
            events.append(
                ToolCallDelta(
                    index=int(call.get("index", 0)),
                    id=call.get("id"),
                    name=function.get("name"),
                    arguments=function.get("arguments") or "",
                )
            )
        if images := delta.get("images"):
            events.append(Images(images))
        if finish := choice.get("finish_reason"):
            native = choice.get("native_finish_reason") or finish
            events.append(Finish(normalize_finish(finish), native))
    if usage := chunk.get("usage"):
        events.append(usage_from(usage))
    elif (groq := chunk.get("x_groq")) and groq.get("usage"):
        events.append(usage_from(groq["usage"]))
    return events


def events_from_completion(body: dict[str, Any]) -> list[Event]:
    """The events of a whole (non-streamed) chat completion."""
    events: list[Event] = []
    choices = body.get("choices") or []
    if choices:
        choice = choices[0]
        message = choice.get("message") or {}
        _reasoning_events(message, events)
        logprobs = (choice.get("logprobs") or {}).get("content")
        if message.get("content") or logprobs:
            events.append(TextDelta(message.get("content") or "", logprobs or None))
        for index, call in enumerate(message.get("tool_calls") or ()):
            function = call.get("function") or {}
            events.append(
                ToolCallDelta(
                    index=index,
                    id=call.get("id"),
                    name=function.get("name"),
                    arguments=function.get("arguments") or "",
                )
            )
        if images := message.get("images"):
            events.append(Images(images))
        finish = choice.get("finish_reason")
        events.append(
            Finish(normalize_finish(finish), choice.get("native_finish_reason") or finish)
        )
    if usage := body.get("usage"):
        events.append(usage_from(usage))
    return events
