"""The HTTP/1.1 client that carries every request to an upstream: pooled keep-alive
connections, httptools' parser (the one uvicorn serves with), one write per request.

aiohttp cost 165 µs of CPU per request against the bench mock, where this costs 45:
its request and response objects, header multidicts, cookie handling and a task per
body write were a third of what a whole gateway request cost. An upstream is one origin
that answers POSTs with JSON or SSE, so the client needs no more than this: TLS by the
standard library's default context (certificates verified), no redirects, no cookies,
identity encoding asked for (gzip and deflate are still undone if sent).
"""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from collections import deque
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httptools

# A body held unread past this stops the socket's reads until the reader catches up.
READ_HIGH_WATER = 1024 * 1024
# Idle pooled connections older than this are closed rather than reused (servers close
# theirs after a few seconds to minutes; a reused dead one costs a retry).
KEEPALIVE_SECONDS = 30.0


class UpstreamError(Exception):
    """The connection failed, or the upstream broke HTTP."""


class UpstreamTimeout(UpstreamError):
    """No connection in time, or the upstream was silent for the read timeout."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection and the response being read on it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        # One parser for the connection's life: it starts over after each response.
        self.parser = httptools.HttpResponseParser(self)
        self.reset()

    def reset(self) -> None:
        """Ready for the next request (the connection goes back to the pool)."""
        self.status = 0
        self.headers: dict[bytes, bytes] = {}
        self.headers_done: asyncio.Future[None] | None = None
        self.body: deque[bytes] = deque()
        self.buffered = 0
        self.received = 0  # body bytes received (read or not)
        self.complete = False
        self.keep_alive = False
        self.error: Exception | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.last = self.loop.time()  # when bytes last came
        self.paused = False
        self.timeout = 0.0
        self.timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.headers_done is None:
            # Bytes on an idle connection (a server's 408 before it closes one it timed
            # out): not an answer to anything, and the connection is not reusable.
            self.close()
            return
        self.last = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamError(f"invalid HTTP from the upstream: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.complete and self.headers_done is not None:
            if self.headers_done.done() and self._ends_at_close():
                self.on_message_complete()
                return
            self._fail(UpstreamError("the upstream closed the connection"))

    # -- httptools callbacks ----------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.lower()] = value

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        # Read here, not at the end: httptools' should_keep_alive() answered False after
        # some completed keep-alive responses, which cost a new connection each time.
        connection = self.headers.get(b"connection", b"").lower()
        if self.parser.get_http_version() == "1.1":
            self.keep_alive = b"close" not in connection
        else:
            self.keep_alive = b"keep-alive" in connection
        if self.headers_done is not None and not self.headers_done.done():
            self.headers_done.set_result(None)

    def on_body(self, data: bytes) -> None:
        self.body.append(data)
        self.buffered += len(data)
        self.received += len(data)
        if self.buffered > READ_HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        self.complete = True
        self._wake()

    # -- the upstream's silence -------------------------------------------------------
    def watch(self, timeout: float) -> None:
        """Fail the response once the upstream has sent nothing for `timeout` seconds.

        One timer per response, set again only when it fires early (a timer per packet,
        as aiohttp's read timeout was, cost 5,000 instructions a stream chunk). Bytes that
        came but wait unread (a slow client holds the reads back) count as the upstream
        speaking."""
        self.timeout = timeout
        self.last = self.loop.time()
        self.timer = self.loop.call_later(timeout, self._check_silence)

    def _check_silence(self) -> None:
        now = self.loop.time()
        if self.paused or self.buffered:
            self.last = now
        silent = now - self.last
        if silent < self.timeout:
            self.timer = self.loop.call_later(self.timeout - silent, self._check_silence)
            return
        self.timer = None
        self._fail(UpstreamTimeout("the upstream sent nothing for the read timeout"))
        self.close()

    def unwatch(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    # -- helpers ----------------------------------------------------------------------
    def _ends_at_close(self) -> bool:
        """A body with neither a length nor chunks runs until the connection closes."""
        return b"content-length" not in self.headers and b"chunked" not in self.headers.get(
            b"transfer-encoding", b""
        )

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: Exception) -> None:
        if self.error is None:
            self.error = error
        if self.headers_done is not None and not self.headers_done.done():
            self.headers_done.set_exception(error)
            self.headers_done.exception()  # retrieved: a timeout may have left nobody waiting
        self._wake()

    def take(self) -> bytes:
        """Everything received and not read yet."""
        data = self.body[0] if len(self.body) == 1 else b"".join(self.body)
        self.body.clear()
        self.buffered = 0
        if self.paused and self.transport is not None and not self.closed:
            self.paused = False
            self.transport.resume_reading()
        return data

    def reusable(self) -> bool:
        return self.complete and self.keep_alive and not self.closed and self.error is None

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class UpstreamResponse:
    """A response's status and headers; its body read whole or as it arrives. `release`
    (or the `async with`) returns the connection to the pool, or closes it when the body
    was not read to the end."""

    __slots__ = ("_client", "_conn", "_decoder", "headers", "status")

    def __init__(self, client: UpstreamClient, conn: _Connection) -> None:
        self._client = client
        self._conn = conn
        self.status = conn.status
        self.headers = conn.headers
        encoding = conn.headers.get(b"content-encoding", b"identity").lower()
        self._decoder = None
        if encoding in (b"gzip", b"deflate", b"x-gzip"):
            self._decoder = zlib.decompressobj(wbits=47)  # gzip or zlib, by its header
        elif encoding != b"identity":
            raise UpstreamError(f"unsupported content-encoding {encoding.decode('latin-1')}")

    async def __aenter__(self) -> UpstreamResponse:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release()

    async def _next(self) -> bytes | None:
        """The body bytes that have come since the last call (waiting for some), or None
        at its end."""
        conn = self._conn
        while not conn.body:
            if conn.error is not None:
                raise conn.error
            if conn.complete:
                return None
            conn.waiter = conn.loop.create_future()
            try:
                await conn.waiter
            finally:
                conn.waiter = None
        data = conn.take()
        if self._decoder is not None:
            data = self._decoder.decompress(data)
        return data

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives, in the pieces that have come by each read."""
        while (data := await self._next()) is not None:
            if data:
                yield data

    async def read(self, limit: int | None = None) -> bytes:
        """The whole body, or its first `limit` bytes (the rest is not waited for)."""
        parts: list[bytes] = []
        size = 0
        while (data := await self._next()) is not None:
            parts.append(data)
            size += len(data)
            if limit is not None and size >= limit:
                break
        body = b"".join(parts)
        return body if limit is None else body[:limit]

    def release(self) -> None:
        conn = self._conn
        conn.unwatch()
        if conn.reusable():
            self._client._put_back(conn)
        else:
            conn.close()
            self._client._forget()


class UpstreamClient:
    """POSTs to one origin over a pool of at most `max_connections` connections."""

    def __init__(
        self,
        base_url: str,
        *,
        max_connections: int,
        connect_timeout: float,
        read_timeout: float,
        headers: dict[str, str],
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"an upstream base_url must be http(s)://host...: {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl = ssl.create_default_context() if parts.scheme == "https" else None
        self.path = parts.path.rstrip("/")
        host = parts.netloc.rpartition("@")[2]  # as written: an IPv6 address keeps its []
        fixed = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        # Identity asked for: a compressed stream waits on the compressor's buffer.
        self._head = f"Host: {host}\r\nAccept-Encoding: identity\r\n{fixed}".encode("latin-1")
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._idle: deque[_Connection] = deque()
        self._slots = asyncio.Semaphore(max_connections)

    def _put_back(self, conn: _Connection) -> None:
        conn.idle_since = time.monotonic()
        conn.reset()
        self._idle.append(conn)
        self._slots.release()

    def _forget(self) -> None:
        self._slots.release()

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await loop.create_connection(
                    lambda: _Connection(loop),
                    self.host,
                    self.port,
                    ssl=self.ssl,
                    server_hostname=self.host if self.ssl else None,
                )
        except TimeoutError:
            raise UpstreamTimeout("no connection to the upstream in time") from None
        except (OSError, ssl.SSLError) as exc:
            raise UpstreamError(f"cannot connect to the upstream: {type(exc).__name__}") from exc
        return conn

    def _reuse(self) -> _Connection | None:
        oldest = time.monotonic() - KEEPALIVE_SECONDS
        while self._idle:
            conn = self._idle.pop()  # the most recently used: the likeliest still open
            if not conn.closed and conn.idle_since > oldest:
                assert conn.transport is not None
                if not conn.transport.is_closing():
                    return conn
            conn.close()
        return None

    async def post(self, path: str, body: bytes) -> UpstreamResponse:
        """Send `body` to `{base path}{path}` and wait for the response's headers (within
        the read timeout). A reused connection that turns out closed before any answer
        is retried once on a new one."""
        request = b"".join(
            (
                b"POST %s HTTP/1.1\r\n" % (self.path + path).encode("latin-1"),
                self._head,
                b"Content-Length: %d\r\n\r\n" % len(body),
                body,
            )
        )
        await self._slots.acquire()
        try:
            conn = self._reuse()
            if conn is not None:
                try:
                    return await self._exchange(conn, request)
                except UpstreamTimeout:
                    raise
                except UpstreamError:
                    if conn.status or conn.received:
                        raise
            return await self._exchange(await self._connect(), request)
        except BaseException:
            self._slots.release()
            raise

    async def _exchange(self, conn: _Connection, request: bytes) -> UpstreamResponse:
        assert conn.transport is not None
        conn.headers_done = conn.loop.create_future()
        conn.watch(self.read_timeout)
        try:
            conn.transport.write(request)
            await conn.headers_done
            return UpstreamResponse(self, conn)
        except BaseException:
            conn.unwatch()
            conn.close()
            raise

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()
