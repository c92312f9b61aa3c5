"""Reading a JSON request body with a size limit."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from modelyard.api.errors import CLIENT_CLOSED
from modelyard.core.errors import BadRequest, GatewayError, PayloadTooLarge


async def read_json(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest("Invalid Content-Length header")
        if int(declared) > limit:
            raise PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes")
    # The server's messages are read directly: most bodies come in one, and Starlette's
    # stream() would wrap each in an async generator step.
    receive = request.receive
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise GatewayError("The client closed the request", status=CLIENT_CLOSED)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if not body.strip():
        raise BadRequest("Invalid request: the body is empty; send a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"Invalid request: the body is not valid JSON ({exc})") from None
