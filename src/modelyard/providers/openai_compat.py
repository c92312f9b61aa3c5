"""One adapter for every OpenAI-compatible upstream (OpenAI, OpenRouter, AIML API, vLLM...).

Connections are pooled and kept alive per upstream; streams are parsed line by line and
passed on as events without buffering. Closing the event iterator closes the upstream
response, so a client that disconnects cancels the upstream request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from importlib.metadata import version
from typing import Any

import orjson

from modelyard.config import UpstreamConfig
from modelyard.gateway.errors import ProviderError
from modelyard.gateway.events import (
    Event,
    Finish,
    Images,
    ReasoningDelta,
    ReasoningDetails,
    StreamError,
    TextDelta,
    ToolCallDelta,
    Usage,
    normalize_finish,
)
from modelyard.providers.base import ProviderRequest
from modelyard.providers.upstream_http import (
    UpstreamClient,
    UpstreamError,
    UpstreamResponse,
    UpstreamTimeout,
)

MAX_ERROR_BODY = 64 * 1024
# The longest stream line taken (a generated image arrives as one base64 line of several
# MB); a longer one ends the stream with an error instead of growing without bound.
MAX_STREAM_LINE = 64 * 1024 * 1024
# The largest whole (non-streamed) answer taken, for the same reason.
MAX_RESPONSE_BODY = MAX_STREAM_LINE
USER_AGENT = f"modelyard/{version('modelyard')}"


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


class _LineTooLong(Exception):
    pass


async def _read_lines(response: UpstreamResponse) -> AsyncIterator[list[bytes]]:
    """The stream's lines, in the batches they arrived in: one await per read rather than
    one per line, and no line-length limit but MAX_STREAM_LINE (a streamed image is one
    line of several MB)."""
    partial: list[bytes] = []  # a line not yet ended, in pieces
    size = 0
    async for data in response.iter_chunks():
        if b"\n" not in data:
            partial.append(data)
            size += len(data)
            if size > MAX_STREAM_LINE:
                raise _LineTooLong
            continue
        if partial:
            partial.append(data)
            data = b"".join(partial)
            partial.clear()
        lines = data.split(b"\n")
        rest = lines.pop()
        if rest:
            partial.append(rest)
        size = len(rest)
        yield lines
    if partial:
        yield [b"".join(partial)]


class OpenAICompatProvider:
    """Talks to `{base_url}/chat/completions` with a Bearer key."""

    def __init__(self, config: UpstreamConfig) -> None:
        self.config = config
        self.slug = config.slug
        self.name = config.name or config.slug
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        self._client = UpstreamClient(
            config.base_url,
            max_connections=config.max_connections,
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            headers=headers,
        )

    async def start(self) -> None:
        """Nothing to do: connections open on first use and stay pooled."""

    async def aclose(self) -> None:
        self._client.close()

    def _scrub(self, text: str) -> str:
        """Never let the provider secret travel back to a client or a log."""
        key = self.config.api_key
        return text.replace(key, "***") if key else text

    def _error(self, message: str, **kwargs: Any) -> ProviderError:
        return ProviderError(self._scrub(message), provider=self.name, **kwargs)

    async def _raise_for_status(self, response: UpstreamResponse) -> None:
        raw_bytes = await response.read(MAX_ERROR_BODY)
        raw_text = self._scrub(raw_bytes.decode("utf-8", "replace"))
        message = f"{self.name} returned HTTP {response.status}"
        provider_code: Any = response.status
        try:
            parsed = orjson.loads(raw_bytes)
            error = parsed.get("error") if isinstance(parsed, dict) else None
            if isinstance(error, dict):
                message = f"{self.name}: {error.get('message') or message}"
                provider_code = error.get("code") or provider_code
            elif isinstance(error, str):
                message = f"{self.name}: {error}"
        except orjson.JSONDecodeError:
            pass
        status = response.status
        if status in (401, 403):
            # The gateway's own credentials were refused: not the client's fault.
            status, error_type = 502, "provider_auth_error"
        elif status == 429:
            error_type = "rate_limit_exceeded"
        elif status >= 500:
            status, error_type = 502, "provider_unavailable"
        else:
            error_type = "provider_rejected_request"
        raise self._error(
            message,
            status=status,
            raw=raw_text,
            provider_code=provider_code,
            error_type=error_type,
            retryable=status != 400,
        )

    async def generate(self, request: ProviderRequest) -> AsyncIterator[Event]:
        body = dict(request.body)
        body["model"] = request.model
        body["stream"] = request.stream
        if request.stream:
            body["stream_options"] = {"include_usage": True}
        started = False
        try:
            async with await self._client.post("/chat/completions", orjson.dumps(body)) as response:
                if response.status >= 400:
                    await self._raise_for_status(response)
                if not request.stream:
                    raw = await response.read(MAX_RESPONSE_BODY + 1)
                    if len(raw) > MAX_RESPONSE_BODY:
                        raise self._error(
                            f"{self.name} returned a body over {MAX_RESPONSE_BODY} bytes",
                            error_type="provider_invalid_response",
                        )
                    try:
                        parsed = orjson.loads(raw)
                    except orjson.JSONDecodeError:
                        raise self._error(
                            f"{self.name} returned a body that is not JSON",
                            raw=self._scrub(raw[:2048].decode("utf-8", "replace")),
                            error_type="provider_invalid_response",
                        ) from None
                    if not isinstance(parsed, dict) or not parsed.get("choices"):
                        raise self._error(
                            f"{self.name} returned no choices",
                            raw=self._scrub(raw[:2048].decode("utf-8", "replace")),
                            error_type="provider_invalid_response",
                        )
                    for event in events_from_completion(parsed):
                        started = True
                        yield event
                    return
                finished = False
                try:
                    async for lines in _read_lines(response):
                        for line in lines:
                            events = self._line_events(line)
                            if events is None:  # [DONE]
                                return
                            for event in events:
                                started = True
                                yield event
                                if isinstance(event, StreamError):
                                    return
                                finished = finished or isinstance(event, Finish)
                except _LineTooLong:
                    yield self._stream_error("sent a stream line that is too long")
                    return
                if not finished:
                    yield self._stream_error(
                        "closed the stream before it finished", "provider_stream_cut"
                    )
        except UpstreamTimeout:
            message = f"{self.name} did not answer in time"
            if started:
                yield StreamError(408, message, {"provider_name": self.name})
                return
            raise self._error(message, status=408, error_type="timeout") from None
        except UpstreamError as exc:
            message = f"{self.name} connection failed: {exc}"
            if started:
                yield StreamError(502, message, {"provider_name": self.name})
                return
            raise self._error(message, error_type="provider_unavailable") from None

    def _stream_error(
        self, what: str, error_type: str = "provider_invalid_response"
    ) -> StreamError:
        return StreamError(
            502, f"{self.name} {what}", {"provider_name": self.name, "error_type": error_type}
        )

    def _line_events(self, line: bytes) -> list[Event] | None:
        """The events of one stream line (a StreamError alone when the upstream failed),
        or None at the end (`[DONE]`)."""
        if not line.startswith(b"data:"):
            return []  # comments, event names, blank separators
        payload = line[5:].strip()
        if payload == b"[DONE]":
            return None
        try:
            chunk = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return [self._stream_error("sent a malformed stream chunk")]
        if not isinstance(chunk, dict):
            return []
        if error := chunk.get("error"):
            message = error.get("message") if isinstance(error, dict) else str(error)
            return [
                StreamError(
                    502,
                    self._scrub(f"{self.name}: {message}"),
                    {"provider_name": self.name, "error_type": "provider_error"},
                )
            ]
        return events_from_chunk(chunk)
