"""A mock OpenAI-compatible upstream fast enough never to be the bottleneck.

A raw asyncio protocol on uvloop with pre-built responses: keep-alive HTTP/1.1, JSON for
`"stream": false`, SSE for `"stream": true` (configurable chunk count and gap; usage in the
final chunk). Each content chunk says when it left: " w<i>:<CLOCK_MONOTONIC ns>", so a
client on the same machine reads the upstream's own gaps, not a second run's. Loopback
only. Run: python -m bench.mock_upstream --port 9100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import uvloop


def _completion(text: str) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": "bench",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20},
        }
    ).encode()


def _chunk(delta: dict, finish: str | None = None, usage: dict | None = None) -> bytes:
    payload: dict = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "bench",
        "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage:
        payload["usage"] = usage
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def _http(body: bytes, content_type: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: "
        + content_type
        + b"\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\nConnection: keep-alive\r\n\r\n"
        + body
    )


class Upstream(asyncio.Protocol):
    def __init__(self, opts: argparse.Namespace) -> None:
        self.opts = opts
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.tasks: set[asyncio.Future[None]] = set()
        self.json_response = _http(_completion("Hello from the bench mock."), b"application/json")
        self.first = _chunk({"role": "assistant", "content": ""})
        self.closing = [_chunk({}, "stop")]
        self.closing.append(
            _chunk(
                {},
                usage={
                    "prompt_tokens": 12,
                    "completion_tokens": opts.chunks,
                    "total_tokens": 12 + opts.chunks,
                },
            )
        )
        self.closing.append(b"data: [DONE]\n\n")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].lower()
            length = 0
            start = head.find(b"content-length:")
            if start >= 0:
                line_end = head.find(b"\r\n", start)
                length = int(head[start + 15 : line_end if line_end > 0 else None])
            total = head_end + 4 + length
            if len(self.buffer) < total:
                return
            body = self.buffer[head_end + 4 : total]
            self.buffer = self.buffer[total:]
            stream = b'"stream":true' in body.replace(b" ", b"")
            if self.opts.delay_ms or stream:
                task = asyncio.ensure_future(self.respond(stream))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            else:
                assert self.transport is not None
                self.transport.write(self.json_response)

    async def respond(self, stream: bool) -> None:
        assert self.transport is not None
        if self.opts.delay_ms:
            await asyncio.sleep(self.opts.delay_ms / 1000)
        if not stream:
            self.transport.write(self.json_response)
            return
        self.transport.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
        )
        self._send(self.first)
        for i in range(self.opts.chunks):
            if self.transport.is_closing():
                return
            self._send(_chunk({"content": f" w{i}:{time.monotonic_ns()}"}))
            if self.opts.gap_ms and i < self.opts.chunks - 1:
                await asyncio.sleep(self.opts.gap_ms / 1000)
        for chunk in self.closing:
            self._send(chunk)
        self.transport.write(b"0\r\n\r\n")

    def _send(self, chunk: bytes) -> None:
        assert self.transport is not None
        self.transport.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))


async def serve(opts: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Upstream(opts), "127.0.0.1", opts.port, backlog=4096)
    print(f"mock upstream on http://127.0.0.1:{opts.port}/v1", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--delay-ms", type=float, default=0.0, help="wait before answering")
    parser.add_argument("--chunks", type=int, default=20, help="content chunks per stream")
    parser.add_argument("--gap-ms", type=float, default=0.0, help="gap between stream chunks")
    uvloop.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
