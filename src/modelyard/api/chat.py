"""POST /chat/completions: parse, authenticate, run, encode as Chat Completions."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from modelyard.api.body import read_json
from modelyard.api.inference import GenerationStream, collect_events, start, stream_events
from modelyard.gateway.gateway import Gateway
from modelyard.wire.chat import parse_chat_request
from modelyard.wire.chat_encode import ChunkEncoder, CompletionBuilder


async def chat_completions(request: Request) -> Response | GenerationStream:
    gateway: Gateway = request.app.state.gateway
    request.app.state.auth.check(request)
    raw = await read_json(request, gateway.settings.max_body_bytes)
    parsed = parse_chat_request(raw)
    started = start(request, parsed)
    if parsed.stream:
        return stream_events(started, ChunkEncoder, gateway.settings.keepalive_seconds)
    builder = CompletionBuilder()
    failure = await collect_events(request, started, builder.add)
    if failure is not None:
        return failure
    return Response(
        orjson.dumps(builder.build(started.generation)),
        media_type="application/json",
        headers={"X-Generation-Id": started.generation.id},
    )
