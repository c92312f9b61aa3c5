"""The reference: a bare Starlette + uvicorn + aiohttp pass-through to the mock upstream.

No auth, routing, validation, accounting or records: the gateway's server stack, with
aiohttp as the client (the reference stack the benchmarks were set against; the gateway
has its own, leaner upstream client), and nothing on top (a stream is relayed as its bytes
arrive). Measured under the same load, it gives each run its machine's scale, so the
gateway's numbers read as a fraction of what that stack does here.
Run: python -m bench.passthrough --port 9200 --upstream http://127.0.0.1:9100/v1
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route


def app(upstream: str) -> Starlette:
    session: aiohttp.ClientSession | None = None

    async def forward(request: Request) -> Response:
        assert session is not None
        body = await request.body()
        reply = await session.post(
            f"{upstream}/chat/completions",
            data=body,
            headers={"Content-Type": "application/json", "Authorization": "Bearer sk-upstream"},
        )
        if not orjson.loads(body).get("stream"):
            async with reply:
                return Response(await reply.read(), reply.status, media_type="application/json")

        async def relay() -> AsyncIterator[bytes]:
            async with reply:
                async for chunk in reply.content.iter_any():
                    yield chunk

        return StreamingResponse(relay(), reply.status, media_type="text/event-stream")

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        nonlocal session
        session = aiohttp.ClientSession()
        yield
        await session.close()

    return Starlette(
        routes=[Route("/api/v1/chat/completions", forward, methods=["POST"])], lifespan=lifespan
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=9200)
    parser.add_argument("--upstream", required=True, help="the mock's base URL, ending in /v1")
    args = parser.parse_args()
    uvicorn.run(
        app(args.upstream),
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
