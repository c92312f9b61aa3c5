"""Bearer-key authentication for every API route, before any handler reads the body.

`AuthMiddleware` looks the key up (accounts: MODELYARD_API_KEYS, keys in the database,
cached) and leaves the caller on `request.state.caller`; a missing, unknown, disabled or
deleted key is answered 401 there, so no surface can forget it. Handlers that need the
caller's identity call `request.app.state.auth.check(request)` (the key's hash, or None
when the gateway is open). Public routes (the model catalogue) and the key-management
routes, which take the provisioning key instead, are left alone.
"""

from __future__ import annotations

import hashlib
import re

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from modelyard.api.errors import error_response
from modelyard.core.errors import GatewayError, Unauthorized

# Paths under the API prefixes that need no inference key.
_PUBLIC = re.compile(r"^/(?:api/)?v1/(?:models(?:/.*)?|keys(?:/.*)?)$")
_API = re.compile(r"^/(?:api/)?v1/")


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def needs_key(path: str) -> bool:
    return bool(_API.match(path)) and not _PUBLIC.match(path)


async def identify(scope: Scope) -> None:
    """Leave the caller on the request's state, or raise 401."""
    # The one header needed, read from the raw list (ASGI names are lower-case): a Headers
    # object and its case-folding lookup cost more than the rest of the check.
    authorization = ""
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value.decode("latin-1")
            break
    caller = await scope["app"].state.accounts.authenticate({"authorization": authorization})
    scope.setdefault("state", {})["caller"] = caller


class AuthMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and needs_key(scope["path"]):
            try:
                await identify(scope)
            except GatewayError as exc:
                await error_response(exc)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class Authenticator:
    """What a handler asks: whose request is this (the middleware already checked)."""

    def check(self, request: Request) -> str | None:
        """The caller's key hash (hex), or None when the gateway is open to anyone."""
        caller = getattr(request.state, "caller", None)
        if caller is None:
            raise Unauthorized("Missing Authentication header", code=401)
        if caller.key.hash == "anonymous":
            return None
        return str(caller.key.hash)
