"""A scripted OpenAI-compatible upstream: a real aiohttp server on loopback, in a thread.

The upstream model id picks the behaviour (normal, slow, error500, badjson, cut, hang, stall...),
and every request body it receives is kept for assertions.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from typing import Any

from aiohttp import web

SECRET_ECHO = "Incorrect API key provided: {key}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
    payload = {
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


USAGE = {
    "prompt_tokens": 1000,
    "completion_tokens": 500,
    "total_tokens": 1500,
    "prompt_tokens_details": {"cached_tokens": 200},
    "completion_tokens_details": {"reasoning_tokens": 0},
}
TEXT = ["Hello", " from", " the", " mock", "."]
# What model "json" answers: a City, as tests/test_responses_upstream.py parses it.
JSON_TEXT = ['{"name": ', '"Paris", ', '"is_capital": true}']
TOOL_CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
}


# What models "reasoning" and "image" answer (tests/test_normalization.py).
REASONING_TEXT = ["Let me", " think."]
REASONING_DETAILS = [
    {
        "type": "reasoning.text",
        "text": "Let me think.",
        "signature": "sig-abc",
        "format": "anthropic-claude-v1",
        "index": 0,
    },
    {
        "type": "reasoning.encrypted",
        "data": "opaque==",
        "id": "rs_1",
        "format": "unknown",
        "index": 1,
    },
]
REASONING_SUMMARY = {"type": "reasoning.summary", "summary": "Thought briefly.", "index": 2}
REASONING_USAGE = {
    **USAGE,
    "completion_tokens_details": {"reasoning_tokens": 300},
    # An OpenRouter upstream reports its own price; the gateway must not pass it on.
    "cost": 99.0,
    "is_byok": False,
}
IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}


def large_image_url(size: int) -> str:
    """A PNG data URL of about `size` characters (what a generated image looks like)."""
    return "data:image/png;base64,iVBORw0KGgo" + "A" * size


IMAGE_USAGE = {
    "prompt_tokens": 100,
    "completion_tokens": 1300,
    "total_tokens": 1400,
    "completion_tokens_details": {"reasoning_tokens": 0, "image_tokens": 1200},
}
# Usage shapes an upstream may send, picked by the request's `mock_usage` field.
USAGE_SHAPES: dict[str, dict[str, Any]] = {
    "responses": {
        "input_tokens": 1000,
        "output_tokens": 500,
        "total_tokens": 1500,
        "input_tokens_details": {"cached_tokens": 200},
        "output_tokens_details": {"reasoning_tokens": 100},
    },
    "anthropic": {
        "input_tokens": 600,
        "output_tokens": 500,
        "cache_read_input_tokens": 300,
        "cache_creation_input_tokens": 100,
    },
}
ALIASES = {"gpt-5-image-mini": "image"}


class MockUpstream:
    """`script` maps an upstream model id to the behaviour this instance plays for it
    ("*" for every id), so one mock can fail a model another serves; `journal`, shared
    between instances, records (name, model) in arrival order."""

    def __init__(self, name: str = "mock", journal: list[tuple[str, str]] | None = None) -> None:
        self.name = name
        self.journal = journal
        self.script: dict[str, str] = {}
        self._flips: dict[str, int] = {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.cancelled: list[str] = []
        self.completed: list[str] = []
        self.abandoned: list[tuple[str, float]] = []  # (model, seconds waited) of "hang"
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> MockUpstream:
        self._thread.start()
        self._ready.wait(10)
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.handle)
        runner = web.AppRunner(app, handle_signals=False, handler_cancellation=True)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", self.port)
        self._loop.run_until_complete(site.start())
        self._ready.set()
        self._loop.run_forever()

    def received(self, model: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r.get("model") == model]

    def behaviour_for(self, model: str) -> str:
        behaviour = self.script.get(model) or self.script.get("*") or ALIASES.get(model, model)
        if behaviour == "flap":
            # Fails every other request: error, ok, error, ok...
            count = self._flips[model] = self._flips.get(model, 0) + 1
            return "error500" if count % 2 else "normal"
        return behaviour

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        model = body.get("model", "")
        if self.journal is not None:
            self.journal.append((self.name, model))
        behaviour = self.behaviour_for(model)
        stream = bool(body.get("stream"))
        key = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if behaviour == "error500":
            return web.json_response(
                {"error": {"message": SECRET_ECHO.format(key=key), "code": "boom"}}, status=500
            )
        if behaviour == "error429":
            return web.json_response({"error": {"message": "slow down"}}, status=429)
        if behaviour == "error400":
            return web.json_response({"error": {"message": "context too long"}}, status=400)
        if behaviour == "hang":
            # Never answers; notes how long its caller waited before closing the connection
            # (the handler is cancelled then).
            waited = time.monotonic()
            try:
                await asyncio.sleep(3600)
            finally:
                self.abandoned.append((model, time.monotonic() - waited))
        if behaviour == "slow":
            await asyncio.sleep(1.0)
        if behaviour == "slowfail":
            await asyncio.sleep(0.6)
            return web.json_response({"error": {"message": "overloaded"}}, status=503)
        if behaviour == "lag":
            await asyncio.sleep(0.2)
        if behaviour == "badjson":
            if stream:
                response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
                await response.prepare(request)
                await response.write(_chunk(model, {"role": "assistant", "content": "Hi"}))
                await response.write(b"data: {not json\n\n")
                return response
            return web.Response(text="<html>not json{", content_type="application/json")
        if behaviour == "agent":
            # Calls get_weather (streamed or not), then answers in text after its result.
            last = (body.get("messages") or [{}])[-1]
            behaviour = "normal" if last.get("role") == "tool" else "tools"
            if not stream and behaviour == "tools":
                behaviour = "tool_call"
        if behaviour in ("reasoning", "image"):
            return await self._rich(request, body, behaviour, model, stream)
        if not stream and behaviour in ("tool_call", "json"):
            message: dict[str, Any] = {"role": "assistant", "content": "".join(JSON_TEXT)}
            if behaviour == "tool_call":
                message = {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]}
            finish = "tool_calls" if behaviour == "tool_call" else "stop"
            return web.json_response(
                {
                    "id": "chatcmpl-mock",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                    "usage": USAGE,
                }
            )
        # A request may pick the native finish reason and the usage shape it gets back.
        finish_reason = body.get("mock_finish") or "stop"
        usage = USAGE_SHAPES.get(body.get("mock_usage") or "", USAGE)
        if not stream:
            return web.json_response(
                {
                    "id": "chatcmpl-mock",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "".join(TEXT)},
                            "finish_reason": finish_reason,
                        }
                    ],
                    "usage": usage,
                }
            )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        try:
            if behaviour == "tools":
                await response.write(
                    _chunk(
                        model,
                        {
                            "role": "assistant",
                            "content": None,
                            "tool_calls": [
                                {
                                    "index": 0,
                                    "id": "call_1",
                                    "type": "function",
                                    "function": {"name": "get_weather", "arguments": ""},
                                }
                            ],
                        },
                    )
                )
                for part in ['{"city"', ': "Paris"}']:
                    await response.write(
                        _chunk(
                            model, {"tool_calls": [{"index": 0, "function": {"arguments": part}}]}
                        )
                    )
                await response.write(_chunk(model, {}, "tool_calls"))
            else:
                pieces = TEXT * 40 if behaviour == "long" else TEXT
                if behaviour == "json":
                    pieces = JSON_TEXT
                await response.write(_chunk(model, {"role": "assistant", "content": ""}))
                for i, piece in enumerate(pieces):
                    await response.write(_chunk(model, {"content": piece}))
                    if behaviour in ("long", "trickle"):
                        await asyncio.sleep(0.02)
                    if behaviour == "cut" and i == 1:
                        # Drop the connection mid-stream, no finish, no [DONE].
                        request.transport.close()
                        return response
                    if behaviour == "stall" and i == 1:
                        # Go silent mid-stream, the connection open.
                        waited = time.monotonic()
                        try:
                            await asyncio.sleep(3600)
                        finally:
                            self.abandoned.append((model, time.monotonic() - waited))
                await response.write(_chunk(model, {}, finish_reason))
            await response.write(
                b"data: "
                + json.dumps(
                    {
                        "id": "chatcmpl-mock",
                        "object": "chat.completion.chunk",
                        "created": 0,
                        "model": model,
                        "choices": [],
                        "usage": usage,
                    }
                ).encode()
                + b"\n\n"
            )
            await response.write(b"data: [DONE]\n\n")
            self.completed.append(model)
        except (ConnectionResetError, ConnectionError, asyncio.CancelledError):
            self.cancelled.append(model)
            raise
        return response

    async def _rich(
        self, request: web.Request, body: dict[str, Any], behaviour: str, model: str, stream: bool
    ) -> web.StreamResponse:
        """Reasoning (text, signed and encrypted details, a summary) or image output, in
        OpenRouter's shapes, streamed or whole."""
        if behaviour == "reasoning":
            usage = REASONING_USAGE
            details = [*REASONING_DETAILS, REASONING_SUMMARY]
            message: dict[str, Any] = {
                "role": "assistant",
                "content": "".join(TEXT),
                "reasoning": "".join(REASONING_TEXT),
                "reasoning_details": details,
            }
            deltas: list[dict[str, Any]] = [
                {"role": "assistant", "content": "", "reasoning": REASONING_TEXT[0]},
                {"reasoning": REASONING_TEXT[1], "reasoning_details": [REASONING_DETAILS[0]]},
                {"reasoning_details": [REASONING_DETAILS[1]]},
                # Details alone, no reasoning text: the summary.
                {"reasoning_details": [REASONING_SUMMARY]},
                *({"content": piece} for piece in TEXT),
            ]
        else:
            usage = IMAGE_USAGE
            image = IMAGE
            if size := body.get("mock_image_size"):  # one delta far larger than a read
                image = {"type": "image_url", "image_url": {"url": large_image_url(size)}}
            message = {"role": "assistant", "content": "Here it is.", "images": [image]}
            deltas = [
                {"role": "assistant", "content": "Here it is."},
                {"images": [image]},
            ]
        finish = body.get("mock_finish") or "stop"
        if not stream:
            return web.json_response(
                {
                    "id": "gen-mock",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "provider": "Upstream",
                    "choices": [
                        {
                            "index": 0,
                            "message": message,
                            "finish_reason": finish,
                            "native_finish_reason": finish,
                        }
                    ],
                    "usage": usage,
                }
            )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b": OPENROUTER PROCESSING\n\n")
        for delta in deltas:
            await response.write(_chunk(model, delta))
        await response.write(_chunk(model, {}, finish))
        await response.write(_chunk(model, {"content": ""}, None, usage=usage))
        await response.write(b"data: [DONE]\n\n")
        self.completed.append(model)
        return response
