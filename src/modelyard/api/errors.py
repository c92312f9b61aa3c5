"""Error responses in the OpenAI/OpenRouter envelope: {"error": {message, type, param, code}}."""

from __future__ import annotations

import logging

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from modelyard.core.errors import GatewayError

logger = logging.getLogger("modelyard.api")

# Client closed the request (nginx's convention); nobody reads it, but logs do.
CLIENT_CLOSED = 499


def error_response(error: GatewayError, generation_id: str | None = None) -> Response:
    headers = dict(error.headers)
    if generation_id:
        headers["X-Generation-Id"] = generation_id
    return Response(
        orjson.dumps(error.envelope()),
        status_code=error.status,
        headers=headers,
        media_type="application/json",
    )


async def gateway_error_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return error_response(exc)


async def http_error_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
    return error_response(GatewayError(str(exc.detail), status=exc.status_code, type=kind))


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    # Log the details here; the client gets no stack trace and no internals.
    logger.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(GatewayError("Internal server error", status=500))
