"""The inference routes' short way in.

POST chat/completions and POST responses carry nearly all of a gateway's traffic. They
are served here without Starlette's middleware stack and router (two exception
middlewares, a scan of the route table, the request and `send` wrappers), with the same
authentication, the same handlers and the same error envelope. Everything else, these
paths with another method included, goes through the Starlette app.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from modelyard.api.auth import identify
from modelyard.api.errors import error_response, http_error_handler, unexpected_error_handler
from modelyard.core.errors import GatewayError

# A handler returns any ASGI response (Starlette's, or an EventStream).
Handler = Callable[[Request], Awaitable[Callable[[Scope, Receive, Send], Awaitable[None]]]]


class DirectApp(Starlette):
    """A Starlette app that serves `direct` (POST path -> handler) before its router."""

    def __init__(self, *, direct: dict[str, Handler], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.direct = direct

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            handler = self.direct.get(scope["path"])
            if handler is not None:
                scope["app"] = self
                await _serve(handler, scope, receive, send)
                return
        await super().__call__(scope, receive, send)


async def _serve(handler: Handler, scope: Scope, receive: Receive, send: Send) -> None:
    request = Request(scope, receive)
    try:
        await identify(scope)
        response = await handler(request)
    except GatewayError as exc:
        response = error_response(exc)
    except HTTPException as exc:
        response = await http_error_handler(request, exc)
    except Exception as exc:
        response = await unexpected_error_handler(request, exc)
    await response(scope, receive, send)
