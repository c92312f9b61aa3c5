"""The streaming scenario's client: blocking reads on one keep-alive connection, each
stamped with the time the kernel received its bytes.

An asyncio client on a shared 2-core machine measured itself as much as the server: its
own event loop added 0.45 ms to every time to first token, and its late wake-ups alone
made 2.8 ms of the worst chunk gap, with no relay in the path. A thread blocked in
`recvmsg` wakes as soon as bytes come, and the kernel's receive stamp (SO_TIMESTAMPNS)
takes out what is left of the client's own scheduling: what is measured is when the bytes
reached the client's socket, which is what the server controls.
"""

from __future__ import annotations

import itertools
import re
import socket
import struct
import time
from urllib.parse import urlsplit

import httptools

# Linux's SO_TIMESTAMPNS (the kernel's receive time, CLOCK_REALTIME, as a timespec).
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_TIMESPEC = struct.Struct("qq")
_ANCILLARY = socket.CMSG_SPACE(_TIMESPEC.size)
# A content chunk of the bench mock: " w<i>:<the mock's CLOCK_MONOTONIC ns when it sent it>".
STAMP = re.compile(rb"w\d+:(\d+)")


class _Response:
    """httptools' callbacks for one response: SSE data lines, each with its read's stamp."""

    def __init__(self) -> None:
        self.complete = False
        self.pending = b""  # a line not yet ended
        self.received = 0  # the stamp of the read being parsed, ns
        self.read = 0  # which read it is
        self.data: list[tuple[int, int, bytes]] = []  # (received ns, read, line)

    def on_body(self, body: bytes) -> None:
        *lines, self.pending = (self.pending + body).split(b"\n")
        self.data += [(self.received, self.read, line) for line in lines if line[:6] == b"data: "]

    def on_message_complete(self) -> None:
        self.complete = True


class StreamClient:
    """POSTs streamed requests to one URL, one after the other, on one connection."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        self.address = (parts.hostname or "127.0.0.1", parts.port or 80)
        extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.head = (
            f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Type: application/json\r\n{extra}"
        ).encode()
        self.sock: socket.socket | None = None

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=60)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        return sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def stream(self, body: bytes) -> dict:
        """One stream's time to first token (the mock's first content chunk), and for
        each gap between content chunks the difference from the gap the mock made (its
        send stamps, on the same clock), in seconds. A server that closed the idle
        connection is reconnected to once."""
        request = self.head + b"Content-Length: %d\r\n\r\n" % len(body) + body
        for attempt in range(2):
            if self.sock is None:
                self.sock = self._connect()
            try:
                return self._exchange(self.sock, request)
            except ConnectionError:
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _exchange(self, sock: socket.socket, request: bytes) -> dict:
        response = _Response()
        parser = httptools.HttpResponseParser(response)
        sent = time.time_ns()
        sock.sendall(request)
        while not response.complete:
            data, ancillary, _, _ = sock.recvmsg(65536, _ANCILLARY)
            if not data:
                if response.read == 0:
                    raise ConnectionResetError("the server closed the idle connection")
                raise RuntimeError("the server closed the connection mid-response")
            response.received = time.time_ns()
            for level, kind, value in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    seconds, nanoseconds = _TIMESPEC.unpack(value[: _TIMESPEC.size])
                    response.received = seconds * 1_000_000_000 + nanoseconds
            response.read += 1
            parser.feed_data(data)
        status = parser.get_status_code()
        if status != 200:
            raise RuntimeError(f"{self.address} answered {status}")
        return _summary(sent, response.data)


def _summary(sent: int, data: list[tuple[int, int, bytes]]) -> dict:
    content = [(at, read, int(m[1])) for at, read, line in data if (m := STAMP.search(line))]
    pairs = list(itertools.pairwise(content))
    return {
        # To the first token: a relay's first data line may be a role chunk with no content.
        "ttft": (content[0][0] - sent) / 1e9 if content else 0.0,
        "gaps": [(b[0] - a[0]) / 1e9 for a, b in pairs],
        "drifts": [((b[0] - a[0]) - (b[2] - a[2])) / 1e9 for a, b in pairs],
        # Chunks read together with the next one: the client was late, and the earlier
        # one's time is its read's (the kernel stamps a read, not each chunk in it).
        "coalesced": sum(a[1] == b[1] for a, b in pairs),
        "chunks": len(content),
        "usage": any(
            b'"usage"' in line and b'"choices":[]' in line.replace(b" ", b"") for _, _, line in data
        ),
    }
