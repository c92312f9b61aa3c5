"""Sending SSE, and noticing that a client left, for the inference surfaces."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.types import Receive, Scope, Send

# An SSE comment, ignored by conforming parsers, sent while no token has arrived yet.
KEEPALIVE = b": OPENROUTER PROCESSING\n\n"

SSE_HEADERS = {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    "x-accel-buffering": "no",
}

# A request done sooner never pays for a watcher task (most non-streamed ones): a timer
# costs a microsecond, a task and its cancellation tens of them.
WATCH_AFTER_SECONDS = 0.05


class Departure:
    """Cancels the task serving a request when its client disconnects, so the generation
    behind it stops (an engine slot freed, an upstream request closed). The server only
    says so through `receive`, so a watcher task waits on it, started after
    WATCH_AFTER_SECONDS; a client gone by then is noticed at once."""

    __slots__ = ("_receive", "_task", "_timer", "_watcher", "left")

    def __init__(self, receive: Receive) -> None:
        self.left = False
        self._receive = receive
        self._task = asyncio.current_task()
        self._watcher: asyncio.Future[None] | None = None
        self._timer = asyncio.get_running_loop().call_later(WATCH_AFTER_SECONDS, self._arm)

    def _arm(self) -> None:
        self._watcher = asyncio.ensure_future(self._watch())

    async def _watch(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass
        self.left = True
        if self._task is not None:
            self._task.cancel()

    def forgive(self) -> None:
        """The cancellation came from here and was handled: the task goes on."""
        if self._task is not None:
            self._task.uncancel()

    def close(self) -> None:
        self._timer.cancel()
        if self._watcher is not None:
            self._watcher.cancel()


class EventStream:
    """An SSE response sent one frame per write, without Starlette's per-stream task group;
    when the client leaves, the body iterator is closed, which stops the generation."""

    def __init__(self, body: AsyncIterator[bytes], headers: dict[str, str]) -> None:
        self.body_iterator = body
        self.raw_headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in {**SSE_HEADERS, **headers}.items()
        ]

    async def __call__(self, _scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        departure = Departure(receive)
        try:
            async for frame in self.body_iterator:
                await send({"type": "http.response.body", "body": frame, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not departure.left:
                raise
            departure.forgive()
        finally:
            departure.close()
            await self.body_iterator.aclose()  # type: ignore[attr-defined]
