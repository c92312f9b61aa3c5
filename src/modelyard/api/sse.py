"""SSE response plumbing shared by the streaming surfaces."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.responses import StreamingResponse

# An SSE comment, ignored by conforming parsers, sent while no token has arrived yet.
KEEPALIVE = b": OPENROUTER PROCESSING\n\n"

SSE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}


def sse_response(body: AsyncIterator[bytes], headers: dict[str, str]) -> StreamingResponse:
    return StreamingResponse(
        body, media_type="text/event-stream", headers={**SSE_HEADERS, **headers}
    )
