"""Sending SSE, and noticing that a client left, for the inference surfaces."""

from __future__ import annotations

import asyncio

from starlette.types import Receive

# An SSE comment, ignored by conforming parsers, sent while no token has arrived yet.
KEEPALIVE = b": OPENROUTER PROCESSING\n\n"

SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]

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
