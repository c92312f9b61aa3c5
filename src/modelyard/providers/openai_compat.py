"""The transport to every OpenAI-compatible upstream (vLLM, SGLang, llama-server, Ollama,
and the cloud kinds built on it: OpenAI, OpenRouter, AIML API).

Connections are pooled and kept alive per upstream; streams are parsed line by line and
passed on as events without buffering. Closing the event iterator closes the upstream
response, so a client that disconnects cancels the upstream request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from importlib.metadata import version
from typing import Any

import orjson

from modelyard.core.errors import ProviderError
from modelyard.core.events import Event, Finish, StreamError
from modelyard.core.provider import (
    ProviderConfig,
    ProviderKind,
    ProviderRequest,
    ReasoningAsk,
    reasoning_effort_field,
)
from modelyard.providers.chat_decode import events_from_chunk, events_from_completion
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

    def __init__(self, config: ProviderConfig) -> None:
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

    def prepare(self, body: dict[str, Any], reasoning: ReasoningAsk, supported: bool) -> None:
        """OpenAI's dialect: reasoning as a flat `reasoning_effort`."""
        reasoning_effort_field(body, reasoning, supported)

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


KIND = ProviderKind(
    slug="openai-compatible",
    name="OpenAI-compatible",
    factory=OpenAICompatProvider,
)
