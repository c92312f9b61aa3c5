"""Signing in to the pages with an API key: a session cookie that names the key's hash.

The key itself is checked once, by the accounts room (the same lookup the API does), and
never stored: the session row keeps the key's hash, its label and whether it is the
provisioning (admin) key. Each page re-checks that an inference key is still usable, so a
disabled or deleted key signs its sessions out. The cookie is HttpOnly and SameSite=Strict,
so another site cannot post forms with it.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from modelyard.store.database import Database, DatabaseError
from modelyard.store.migrations import Migration

COOKIE = "modelyard_session"
LIFETIME = 7 * 86_400

MIGRATIONS: list[Migration] = [
    Migration(
        "web",
        1,
        """
    CREATE TABLE IF NOT EXISTS web_sessions (
        token_hash TEXT PRIMARY KEY,
        key_hash TEXT NOT NULL,
        label TEXT NOT NULL,
        admin INTEGER NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL
    )
    """,
    ),
]


@dataclass(frozen=True, slots=True)
class Identity:
    key_hash: str
    label: str
    admin: bool = False


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def gateway_open(request: Request) -> bool:
    """No key of any kind exists: every page and the API serve anyone."""
    accounts = getattr(request.app.state, "accounts", None)
    return accounts is None or bool(accounts.keys.open)


async def verify(request: Request, key: str) -> Identity | None:
    """The identity of `key`, or None when the accounts room refuses it."""
    accounts: Any = request.app.state.accounts
    try:
        caller = await accounts.authenticate({"authorization": f"Bearer {key.strip()}"})
    except Exception:  # Unauthorized, or accounting unavailable: not signed in
        return None
    if caller.key.hash == "anonymous":
        return None
    label = "admin" if caller.admin else (caller.key.name or caller.key.label or "API key")
    return Identity(caller.key.hash, label, bool(caller.admin))


async def sign_in(request: Request, response: Response, identity: Identity) -> None:
    db: Database = request.app.state.database
    token = secrets.token_urlsafe(32)
    now = time.time()
    await db.execute("DELETE FROM web_sessions WHERE expires_at < $1", now)
    await db.execute(
        "INSERT INTO web_sessions (token_hash, key_hash, label, admin, expires_at) "
        "VALUES ($1, $2, $3, $4, $5)",
        _token_hash(token),
        identity.key_hash,
        identity.label[:100],
        int(identity.admin),
        now + LIFETIME,
    )
    response.set_cookie(
        COOKIE,
        token,
        max_age=LIFETIME,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


async def sign_out(request: Request, response: Response) -> None:
    token = request.cookies.get(COOKIE)
    if token:
        db: Database = request.app.state.database
        await db.execute("DELETE FROM web_sessions WHERE token_hash = $1", _token_hash(token))
    response.delete_cookie(COOKIE, path="/")


async def current(request: Request) -> Identity | None:
    """The signed-in identity (cached on the request), or None."""
    if hasattr(request.state, "identity"):
        return request.state.identity  # type: ignore[no-any-return]
    identity = await _lookup(request)
    request.state.identity = identity
    return identity


async def _lookup(request: Request) -> Identity | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    db: Database = request.app.state.database
    try:
        row = await db.fetchrow(
            "SELECT key_hash, label, admin, expires_at FROM web_sessions WHERE token_hash = $1",
            _token_hash(token),
        )
    except DatabaseError:
        return None
    if row is None or row["expires_at"] < time.time():
        return None
    identity = Identity(row["key_hash"], row["label"], bool(row["admin"]))
    if not identity.admin:
        accounts: Any = request.app.state.accounts
        try:
            key = await accounts.keys.lookup(identity.key_hash)
        except DatabaseError:
            key = None
        if key is None or not key.usable(time.time()):
            return None
    return identity
