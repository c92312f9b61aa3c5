"""The upstream HTTP client against real loopback servers that misbehave on purpose."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Awaitable, Callable

import pytest

from modelyard.providers.upstream_http import UpstreamClient, UpstreamError, UpstreamTimeout

Reply = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[bool]]


def _ok(body: bytes, *extra: bytes) -> bytes:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n" % len(body)
    return head + b"".join(x + b"\r\n" for x in extra) + b"\r\n" + body


async def _request(reader: asyncio.StreamReader) -> bytes:
    """One request's body (the client always sends a Content-Length)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return await reader.readexactly(length)


class Server:
    """A loopback server whose `reply(reader, writer, request number)` answers each request
    and says whether the connection stays open; it counts connections."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.connections = 0
        self.requests = 0

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                self.requests += 1
                if not await self.reply(reader, writer, self.requests):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


def _client(base: str, read_timeout: float = 5.0, max_connections: int = 8) -> UpstreamClient:
    return UpstreamClient(
        base,
        max_connections=max_connections,
        connect_timeout=2.0,
        read_timeout=read_timeout,
        headers={"Content-Type": "application/json"},
    )


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
    writer.write(_ok(await _request(reader)))
    return True


def test_one_keep_alive_connection_carries_every_request() -> None:
    async def main() -> None:
        server = Server(_echo)
        async with server as base:
            client = _client(base)
            for i in range(5):
                async with await client.post("/chat/completions", b"body %d" % i) as response:
                    assert response.status == 200
                    assert await response.read() == b"body %d" % i
            client.close()
        assert server.connections == 1 and server.requests >= 5

    asyncio.run(main())


def test_a_pooled_connection_the_server_dropped_is_retried_on_a_new_one() -> None:
    """The server reads the second request on the first connection and closes without an
    answer, as one closing an idle connection does at that moment: the request is sent
    again on a new connection, once."""

    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        body = await _request(reader)
        if n == 2:
            return False
        writer.write(_ok(body))
        return True

    async def main() -> None:
        server = Server(reply)
        async with server as base:
            client = _client(base)
            for body in (b"first", b"second"):
                async with await client.post("/chat/completions", body) as response:
                    assert await response.read() == body
            client.close()
        assert server.connections == 2

    asyncio.run(main())


def test_a_connection_that_speaks_while_idle_is_not_reused() -> None:
    """A server that times an idle connection out may send a 408 before it closes it: that
    connection is dropped, and the next request goes on a new one."""

    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        body = await _request(reader)
        writer.write(_ok(body))
        if n == 1:
            await asyncio.sleep(0.05)
            writer.write(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")
            await asyncio.sleep(1)
            return False
        return True

    async def main() -> None:
        server = Server(reply)
        async with server as base:
            client = _client(base, read_timeout=0.5)
            for body in (b"first", b"second"):
                async with await client.post("/chat/completions", body) as response:
                    assert response.status == 200 and await response.read() == body
                await asyncio.sleep(0.2)
            client.close()
        assert server.connections == 2

    asyncio.run(main())


def test_a_gzipped_answer_is_undone() -> None:
    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        await _request(reader)
        writer.write(_ok(gzip.compress(b'{"ok": true}'), b"Content-Encoding: gzip"))
        return True

    async def main() -> None:
        async with Server(reply) as base:
            client = _client(base)
            async with await client.post("/chat/completions", b"{}") as response:
                assert await response.read() == b'{"ok": true}'

    asyncio.run(main())


def test_silence_before_the_headers_and_within_the_body_times_out() -> None:
    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        await _request(reader)
        if n == 1:
            await asyncio.sleep(5)  # no answer at all
            return False
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        await asyncio.sleep(5)  # then nothing more
        return False

    async def main() -> None:
        async with Server(reply) as base:
            client = _client(base, read_timeout=0.3)
            with pytest.raises(UpstreamTimeout):
                await client.post("/chat/completions", b"{}")
            pieces = []
            async with await client.post("/chat/completions", b"{}") as response:
                with pytest.raises(UpstreamTimeout):
                    async for piece in response.iter_chunks():
                        pieces.append(piece)
            assert pieces == [b"hello"]

    asyncio.run(main())


def test_a_body_cut_mid_way_is_an_error_and_one_ended_by_close_is_whole() -> None:
    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        await _request(reader)
        if n == 1:  # chunked, then gone before the last chunk
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
        else:  # neither a length nor chunks: the body runs to the close
            writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it")
        await writer.drain()
        return False

    async def main() -> None:
        async with Server(reply) as base:
            client = _client(base)
            async with await client.post("/chat/completions", b"{}") as response:
                with pytest.raises(UpstreamError):
                    await response.read()
            async with await client.post("/chat/completions", b"{}") as response:
                assert await response.read() == b"all of it"

    asyncio.run(main())


def test_at_most_max_connections_are_open_at_once() -> None:
    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        body = await _request(reader)
        await asyncio.sleep(0.05)
        writer.write(_ok(body))
        return True

    async def main() -> None:
        server = Server(slow)
        async with server as base:
            client = _client(base, max_connections=1)

            async def one(i: int) -> bytes:
                async with await client.post("/chat/completions", b"%d" % i) as response:
                    return await response.read()

            assert await asyncio.gather(*(one(i) for i in range(3))) == [b"0", b"1", b"2"]
            client.close()
        assert server.connections == 1

    asyncio.run(main())


def test_a_refused_connection_is_an_upstream_error() -> None:
    async def main() -> None:
        async with Server(_echo) as base:
            pass  # closed: nothing listens on its port any more
        with pytest.raises(UpstreamError, match="cannot connect"):
            await _client(base).post("/chat/completions", b"{}")

    asyncio.run(main())
