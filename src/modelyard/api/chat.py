"""POST /chat/completions: parse, authenticate, hand to the gateway, encode.

Streaming waits briefly for the first event so that a failure before any token is still a
proper HTTP error; past that wait, the 200 is committed and SSE keep-alive comments flow
until the first token (fallbacks may still happen behind them).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
from starlette.requests import Request
from starlette.responses import Response

from modelyard.api.body import read_json
from modelyard.api.errors import error_response
from modelyard.api.sse import KEEPALIVE, sse_response
from modelyard.gateway.errors import GatewayError
from modelyard.gateway.events import Event, StreamError
from modelyard.gateway.gateway import Gateway
from modelyard.gateway.generation import Generation, run_generation
from modelyard.wire.chat import parse_chat_request
from modelyard.wire.chat_encode import DONE, ChunkEncoder, CompletionBuilder

# Client closed the request (nginx's convention); nobody reads it, but logs do.
CLIENT_CLOSED = 499


def app_attribution(request: Request) -> dict[str, str]:
    headers = request.headers
    app: dict[str, str] = {}
    if referer := headers.get("http-referer") or headers.get("referer"):
        app["referer"] = referer[:512]
    if title := headers.get("x-openrouter-title") or headers.get("x-title"):
        app["title"] = title[:256]
    return app


async def _wait_disconnect(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def chat_completions(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    request.app.state.auth.check(request)
    raw = await read_json(request, gateway.settings.max_body_bytes)
    parsed = parse_chat_request(raw)
    plan = gateway.plan(raw)
    generation = Generation(plan=plan, stream=parsed.stream, app=app_attribution(request))
    events = run_generation(gateway, generation, request.app.state.on_generation_end)
    first = asyncio.ensure_future(anext(events))
    if parsed.stream:
        return await _stream(gateway, generation, events, first)
    return await _complete(request, generation, events, first)


async def _complete(
    request: Request,
    generation: Generation,
    events: AsyncIterator[Event],
    first: asyncio.Future[Event],
) -> Response:
    async def collect() -> CompletionBuilder:
        builder = CompletionBuilder()
        builder.add(await first)
        async for event in events:
            builder.add(event)
        return builder

    work = asyncio.ensure_future(collect())
    watcher = asyncio.ensure_future(_wait_disconnect(request))
    try:
        await asyncio.wait({work, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    headers = {"X-Generation-Id": generation.id}
    if not work.done():
        # The client left: stop the provider (frees an engine slot, closes the upstream).
        work.cancel()
        await asyncio.gather(work, return_exceptions=True)
        await events.aclose()  # type: ignore[attr-defined]
        return Response(status_code=CLIENT_CLOSED)
    try:
        builder = work.result()
    except GatewayError as exc:
        return error_response(exc, generation.id)
    if builder.error is not None:
        error = GatewayError(
            builder.error.message, status=builder.error.status, metadata=builder.error.metadata
        )
        return error_response(error, generation.id)
    return Response(
        orjson.dumps(builder.build(generation)), media_type="application/json", headers=headers
    )


async def _stream(
    gateway: Gateway,
    generation: Generation,
    events: AsyncIterator[Event],
    first: asyncio.Future[Event],
) -> Response:
    keepalive = gateway.settings.keepalive_seconds
    await asyncio.wait({first}, timeout=keepalive)
    if first.done():
        try:
            first.result()
        except GatewayError as exc:
            return error_response(exc, generation.id)

    async def body() -> AsyncIterator[bytes]:
        try:
            while not first.done():
                yield KEEPALIVE
                await asyncio.wait({first}, timeout=keepalive)
            try:
                event = first.result()
            except GatewayError as exc:
                # Headers are gone already: the error travels as the stream's last chunk.
                encoder = ChunkEncoder(generation)
                frame = encoder.encode(StreamError(exc.status, exc.message, exc.metadata or {}))
                yield (frame or b"") + DONE
                return
            encoder = ChunkEncoder(generation)
            frame = encoder.encode(event)
            if frame:
                yield frame
            async for event in events:
                frame = encoder.encode(event)
                if frame:
                    yield frame
            yield encoder.tail()
        finally:
            if not first.done():
                first.cancel()
                await asyncio.gather(first, return_exceptions=True)
            await events.aclose()  # type: ignore[attr-defined]

    return sse_response(body(), {"X-Generation-Id": generation.id})
