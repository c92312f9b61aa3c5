"""The request path shared by every inference surface (chat, responses...).

A surface parses its own wire format into a chat-shaped body, then: `start` plans and
starts the generation; `stream_events` or `collect_events` drive it. Streaming waits
briefly for the first event so that a failure before any token is still a proper HTTP
error; past that wait the 200 is committed and SSE keep-alive comments flow until the
first token (fallbacks may still happen behind them).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response

from modelyard.accounts.service import Accounts
from modelyard.api.errors import error_response
from modelyard.api.sse import KEEPALIVE, Departure, EventStream
from modelyard.gateway.errors import GatewayError
from modelyard.gateway.events import Event, StreamError
from modelyard.gateway.gateway import Gateway
from modelyard.gateway.generation import Generation, run_generation

# Client closed the request (nginx's convention); nobody reads it, but logs do.
CLIENT_CLOSED = 499


@dataclass(slots=True)
class Started:
    generation: Generation
    # Nothing runs until the first event is asked for; closing it stops the provider.
    events: AsyncIterator[Event]

    async def stop(self) -> None:
        """Stop a generation nobody waits for any more (frees an engine slot, closes the
        upstream request); its admission settles and records it."""
        await self.events.aclose()  # type: ignore[attr-defined]


class StreamEncoder(Protocol):
    """Encodes one generation's events for one surface, as SSE bytes."""

    def encode(self, event: Event) -> bytes | None: ...

    def tail(self) -> bytes:
        """The closing frames after the last event."""
        ...

    def fail(self, error: StreamError) -> bytes:
        """The frames for a failure after the 200 went out but before any event."""
        ...


def app_attribution(request: Request) -> dict[str, str]:
    headers = request.headers
    app: dict[str, str] = {}
    if referer := headers.get("http-referer") or headers.get("referer"):
        app["referer"] = referer[:512]
    if title := headers.get("x-openrouter-title") or headers.get("x-title"):
        app["title"] = title[:256]
    return app


def start(request: Request, raw: dict[str, Any], stream: bool) -> Started:
    """Plan a chat-shaped body and prepare its generation (it runs when read)."""
    gateway: Gateway = request.app.state.gateway
    plan = gateway.plan(raw, request.headers.get("x-session-id"))
    generation = Generation(plan=plan, stream=stream, app=app_attribution(request))
    return Started(generation, _admitted(request, generation))


async def _admitted(request: Request, generation: Generation) -> AsyncIterator[Event]:
    """The generation's events once the caller's key admits it (model allow-list, request
    limits, credit reservation: 403/429/402 surface like any failure before the first
    event); the admission records and settles it whichever way it ends."""
    accounts: Accounts = request.app.state.accounts
    caller = getattr(request.state, "caller", None) or await accounts.authenticate(request.headers)
    admission = await accounts.admit(caller, generation.plan, generation.id)
    try:
        async with aclosing(
            run_generation(request.app.state.gateway, generation, admission.finish)
        ) as events:
            async for event in events:
                yield event
    finally:
        if not admission.done:  # never started: nothing ran, release the reservation
            generation.cancelled = True
            admission.finish(generation)


async def collect_events(
    request: Request, started: Started, sink: Callable[[Event], None]
) -> Response | None:
    """Feed every event to `sink`. Returns an error response to send instead of the
    surface's own (a failure, or 499 when the client left and the generation was stopped),
    or None when the generation completed."""
    departure = Departure(request.receive)
    try:
        async for event in started.events:
            sink(event)
    except asyncio.CancelledError:
        if not departure.left:
            raise
        # The client left: stop the provider (frees an engine slot, closes the upstream).
        departure.forgive()
        await started.stop()
        return Response(status_code=CLIENT_CLOSED)
    except GatewayError as exc:
        return error_response(exc, started.generation.id)
    finally:
        departure.close()
    error = started.generation.error
    if isinstance(error, StreamError):
        failure = GatewayError(error.message, status=error.status, metadata=error.metadata)
        return error_response(failure, started.generation.id)
    return None


async def stream_events(
    request: Request, started: Started, make_encoder: Callable[[Generation], StreamEncoder]
) -> Response | EventStream:
    gateway: Gateway = request.app.state.gateway
    keepalive = gateway.settings.keepalive_seconds
    events = started.events
    # The first event is awaited in a task of its own so that keep-alive comments can flow
    # while it takes long (a cold model, fallbacks).
    first = asyncio.ensure_future(anext(events))
    generation = started.generation
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
                # Headers are gone already: the error travels inside the stream.
                yield make_encoder(generation).fail(
                    StreamError(exc.status, exc.message, exc.metadata or {})
                )
                return
            encoder = make_encoder(generation)
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
            await started.stop()

    return EventStream(body(), {"X-Generation-Id": generation.id})
