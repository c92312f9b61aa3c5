"""One adapter for every OpenAI-compatible upstream (OpenAI, OpenRouter, AIML API, vLLM...).

Connections are pooled and kept alive per upstream; streams are parsed line by line and
passed on as events without buffering. Closing the event iterator closes the upstream
response, so a client that disconnects cancels the upstream request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from modelyard.config import UpstreamConfig
from modelyard.gateway.errors import ProviderError
from modelyard.gateway.events import (
    Event,
    Finish,
    ReasoningDelta,
    StreamError,
    TextDelta,
    ToolCallDelta,
    Usage,
    normalize_finish,
)
from modelyard.providers.base import ProviderRequest

MAX_ERROR_BODY = 64 * 1024


def usage_from(raw: dict[str, Any]) -> Usage:
    """OpenAI usage (with its optional details objects) as a Usage event."""
    prompt_details = raw.get("prompt_tokens_details") or {}
    completion_details = raw.get("completion_tokens_details") or {}
    return Usage(
        prompt_tokens=int(raw.get("prompt_tokens") or 0),
        completion_tokens=int(raw.get("completion_tokens") or 0),
        cached_tokens=int(prompt_details.get("cached_tokens") or 0),
        cache_write_tokens=int(prompt_details.get("cache_write_tokens") or 0),
        reasoning_tokens=int(completion_details.get("reasoning_tokens") or 0),
    )


def events_from_chunk(chunk: dict[str, Any]) -> list[Event]:
    """The events carried by one Chat Completions stream chunk."""
    events: list[Event] = []
    for choice in chunk.get("choices") or ():
        if choice.get("index", 0) != 0:
            continue
        delta = choice.get("delta") or {}
        reasoning = delta.get("reasoning") or delta.get("reasoning_content")
        if reasoning:
            events.append(ReasoningDelta(reasoning))
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
        if finish := choice.get("finish_reason"):
            native = choice.get("native_finish_reason") or finish
            events.append(Finish(normalize_finish(finish), native))
    if usage := chunk.get("usage"):
        events.append(usage_from(usage))
    return events


def events_from_completion(body: dict[str, Any]) -> list[Event]:
    """The events of a whole (non-streamed) chat completion."""
    events: list[Event] = []
    choices = body.get("choices") or []
    if choices:
        choice = choices[0]
        message = choice.get("message") or {}
        reasoning = message.get("reasoning") or message.get("reasoning_content")
        if reasoning:
            events.append(ReasoningDelta(reasoning))
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
        finish = choice.get("finish_reason")
        events.append(
            Finish(normalize_finish(finish), choice.get("native_finish_reason") or finish)
        )
    if usage := body.get("usage"):
        events.append(usage_from(usage))
    return events


class OpenAICompatProvider:
    """Talks to `{base_url}/chat/completions` with a Bearer key."""

    def __init__(self, config: UpstreamConfig) -> None:
        self.config = config
        self.slug = config.slug
        self.name = config.name or config.slug
        self._session: aiohttp.ClientSession | None = None
        self._url = f"{config.base_url}/chat/completions"
        self._headers = {"Content-Type": "application/json"}
        if config.api_key:
            self._headers["Authorization"] = f"Bearer {config.api_key}"

    async def start(self) -> None:
        self._session_or_new()

    def _session_or_new(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self.config.max_connections, keepalive_timeout=60, ttl_dns_cache=300
            )
            timeout = aiohttp.ClientTimeout(
                total=None,
                sock_connect=self.config.connect_timeout,
                sock_read=self.config.read_timeout,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=timeout,
                json_serialize=lambda o: orjson.dumps(o).decode(),
                auto_decompress=True,
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _scrub(self, text: str) -> str:
        """Never let the provider secret travel back to a client or a log."""
        key = self.config.api_key
        return text.replace(key, "***") if key else text

    def _error(self, message: str, **kwargs: Any) -> ProviderError:
        return ProviderError(self._scrub(message), provider=self.name, **kwargs)

    async def _raise_for_status(self, response: aiohttp.ClientResponse) -> None:
        raw_bytes = await response.content.read(MAX_ERROR_BODY)
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
        session = self._session_or_new()
        started = False
        try:
            async with session.post(
                self._url, data=orjson.dumps(body), headers=self._headers
            ) as response:
                if response.status >= 400:
                    await self._raise_for_status(response)
                if not request.stream:
                    raw = await response.read()
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
                async for event in self._stream(response):
                    started = True
                    yield event
        except (TimeoutError, aiohttp.ServerTimeoutError):
            message = f"{self.name} did not answer in time"
            if started:
                yield StreamError(408, message, {"provider_name": self.name})
                return
            raise self._error(message, status=408, error_type="timeout") from None
        except aiohttp.ClientError as exc:
            message = f"{self.name} connection failed: {type(exc).__name__}"
            if started:
                yield StreamError(502, message, {"provider_name": self.name})
                return
            raise self._error(message, error_type="provider_unavailable") from None

    async def _stream(self, response: aiohttp.ClientResponse) -> AsyncIterator[Event]:
        finished = False
        async for line in response.content:
            if not line.startswith(b"data:"):
                continue  # comments, event names, blank separators
            payload = line[5:].strip()
            if payload == b"[DONE]":
                return
            try:
                chunk = orjson.loads(payload)
            except orjson.JSONDecodeError:
                yield StreamError(
                    502,
                    f"{self.name} sent a malformed stream chunk",
                    {"provider_name": self.name, "error_type": "provider_invalid_response"},
                )
                return
            if not isinstance(chunk, dict):
                continue
            if error := chunk.get("error"):
                message = error.get("message") if isinstance(error, dict) else str(error)
                yield StreamError(
                    502,
                    self._scrub(f"{self.name}: {message}"),
                    {"provider_name": self.name, "error_type": "provider_error"},
                )
                return
            for event in events_from_chunk(chunk):
                if isinstance(event, Finish):
                    finished = True
                yield event
        if not finished:
            yield StreamError(
                502,
                f"{self.name} closed the stream before it finished",
                {"provider_name": self.name, "error_type": "provider_stream_cut"},
            )
