"""The request path shared by every inference surface (chat, responses...).

A surface decodes its own wire format into the typed request (core/request.py), then:
`start` plans the generation; `collect_events` drives it to its end, or `stream_events`
makes the response that streams it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from modelyard.accounts.service import Accounts
from modelyard.api.errors import CLIENT_CLOSED, error_response, unexpected_error_handler
from modelyard.api.sse import KEEPALIVE, SSE_HEADERS, Departure
from modelyard.core.errors import GatewayError
from modelyard.core.events import Event, StreamError
from modelyard.core.request import InferenceRequest
from modelyard.gateway.gateway import Gateway
from modelyard.gateway.generation import Generation, Started


class StreamEncoder(Protocol):
    """Encodes one generation's events for one surface, as SSE bytes."""

    def encode(self, event: Event) -> bytes | None: ...

    def tail(self) -> bytes:
        """The closing frames after the last event."""
        ...

    def fail(self, error: StreamError) -> bytes:
        """The frames for a failure after the 200 went out but before any event."""
        ...


def app_attribution(headers: dict[bytes, bytes]) -> dict[str, str]:
    """The calling app, from OpenRouter's attribution headers."""
    app: dict[str, str] = {}
    if referer := headers.get(b"http-referer") or headers.get(b"referer"):
        app["referer"] = referer[:512].decode("latin-1")
    if title := headers.get(b"x-openrouter-title") or headers.get(b"x-title"):
        app["title"] = title[:256].decode("latin-1")
    return app


def start(request: Request, inference: InferenceRequest) -> Started:
    """Plan a typed request and prepare its generation (it runs when read)."""
    gateway: Gateway = request.app.state.gateway
    # One dict for the few headers read here (ASGI gives names lower-cased), rather than a
    # scan of the header list per name.
    headers = dict(request.scope["headers"])
    session = headers.get(b"x-session-id")
    plan = gateway.plan(inference, session.decode("latin-1") if session else None)
    generation = Generation(plan=plan, stream=inference.stream, app=app_attribution(headers))
    admit = partial(_admit, request, generation)
    return Started(generation, gateway.run(generation, admit))


async def _admit(request: Request, generation: Generation) -> Callable[[Generation], None]:
    """Let the caller's key run the generation (model allow-list, request limits, credit
    reservation: 403/429/402 surface like any failure before the first event). Returns the
    admission's end, which records and settles the generation whichever way it ends."""
    accounts: Accounts = request.app.state.accounts
    caller = getattr(request.state, "caller", None) or await accounts.authenticate(request.headers)
    admission = await accounts.admit(caller, generation.plan, generation.id)
    return admission.finish


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


def stream_events(
    started: Started,
    make_encoder: Callable[[Generation], StreamEncoder],
    keepalive: float,
    before_done: Callable[[], Awaitable[None]] | None = None,
) -> GenerationStream:
    """The SSE response of a started generation. `before_done` is awaited before the
    closing frames (the Responses API holds them until the response is stored)."""
    return GenerationStream(started, make_encoder, keepalive, before_done)


class GenerationStream:
    """Sends one generation as SSE. The first event is awaited before anything goes out,
    so that a failure before any token is still a proper HTTP error; when it takes longer
    than `keepalive` seconds, the 200 is committed and SSE comments flow until it comes
    (fallbacks may still happen behind them). The comments are sent by a task that a
    timer starts, so a quick first event costs no task and no extra loop turn."""

    def __init__(
        self,
        started: Started,
        make_encoder: Callable[[Generation], StreamEncoder],
        keepalive: float,
        before_done: Callable[[], Awaitable[None]] | None,
    ) -> None:
        self.started = started
        self.make_encoder = make_encoder
        self.keepalive = keepalive
        self.before_done = before_done
        generation_id = started.generation.id.encode()
        self.headers = [*SSE_HEADERS, (b"x-generation-id", generation_id)]
        self._send: Send | None = None
        self._pulse: asyncio.Task[None] | None = None
        self._committed = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._send = send
        started = self.started
        generation = started.generation
        departure = Departure(receive)
        try:
            try:
                event = await self._first_event()
            except GatewayError as exc:
                if not self._committed:
                    await error_response(exc, generation.id)(scope, receive, send)
                    return
                # The 200 is gone already: the error travels inside the stream.
                failure = StreamError(exc.status, exc.message, exc.metadata or {})
                await self._finish(self.make_encoder(generation).fail(failure))
                return
            except Exception as exc:
                if self._committed:
                    raise
                await (await unexpected_error_handler(Request(scope), exc))(scope, receive, send)
                return
            encoder = self.make_encoder(generation)
            frame = encoder.encode(event) if event is not None else None
            if not self._committed:
                await self._commit()
            if frame:
                await self._frame(frame)
            async for event in started.events:
                frame = encoder.encode(event)
                if frame:  # sent here, not through _frame: a call less per token
                    await send({"type": "http.response.body", "body": frame, "more_body": True})
            await self._finish(encoder.tail())
        except asyncio.CancelledError:
            if not departure.left:
                raise
            departure.forgive()  # the client left: nothing more to send
        finally:
            departure.close()
            await started.stop()

    async def _first_event(self) -> Event | None:
        """The first event; comments flow from a timer-started task while it takes long."""
        timer = asyncio.get_running_loop().call_later(self.keepalive, self._start_pulse)
        try:
            return await anext(self.started.events, None)
        finally:
            timer.cancel()
            await self._stop_pulse()

    async def _commit(self) -> None:
        assert self._send is not None
        self._committed = True
        await self._send({"type": "http.response.start", "status": 200, "headers": self.headers})

    async def _frame(self, frame: bytes) -> None:
        assert self._send is not None
        await self._send({"type": "http.response.body", "body": frame, "more_body": True})

    async def _finish(self, frame: bytes) -> None:
        if self.before_done is not None:
            await self.before_done()
        assert self._send is not None
        await self._send({"type": "http.response.body", "body": frame, "more_body": False})

    def _start_pulse(self) -> None:
        self._pulse = asyncio.ensure_future(self._keep_alive())

    async def _keep_alive(self) -> None:
        await self._commit()
        while True:
            await self._frame(KEEPALIVE)
            await asyncio.sleep(self.keepalive)

    async def _stop_pulse(self) -> None:
        if self._pulse is not None:
            self._pulse.cancel()
            await asyncio.gather(self._pulse, return_exceptions=True)
            self._pulse = None
