"""Bearer-key authentication against the configured keys (stored as digests only)."""

from __future__ import annotations

import hashlib

from starlette.requests import Request

from modelyard.gateway.errors import Unauthorized


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class Authenticator:
    def __init__(self, keys: list[str]) -> None:
        self._digests = frozenset(digest(k) for k in keys)

    @property
    def open(self) -> bool:
        return not self._digests

    def check(self, request: Request) -> str | None:
        """The caller's key digest (hex), or None when no keys are configured."""
        if not self._digests:
            return None
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized(
                "Missing Authentication header: send 'Authorization: Bearer <key>'", code=401
            )
        key_digest = digest(token.strip())
        if key_digest not in self._digests:
            raise Unauthorized("Invalid API key", code=401)
        return key_digest.hex()
