"""Inference keys in the database: created with a plaintext shown once, stored as a hash."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, replace
from typing import Any

import orjson

from modelyard.accounts.periods import RESETS, period_start
from modelyard.store.database import Database, Queries

KEY_PREFIX = "sk-my-v1-"
PAGE = 100


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def new_plaintext() -> str:
    return KEY_PREFIX + secrets.token_hex(32)


def label_of(plaintext: str) -> str:
    """What identifies a key in lists without revealing it: `sk-my-v1-3fa...9c2`."""
    return f"{plaintext[: len(KEY_PREFIX) + 3]}...{plaintext[-3:]}"


@dataclass(frozen=True, slots=True)
class KeyInfo:
    hash: str
    name: str
    label: str
    disabled: bool = False
    limit: int | None = None  # nano-dollars per period; None: no limit
    limit_reset: str | None = None
    allowed_models: tuple[str, ...] | None = None
    rate_limit: tuple[int, float] | None = None  # (requests, interval seconds)
    created_at: float = 0.0
    updated_at: float = 0.0
    expires_at: float | None = None
    # Keys from MODELYARD_API_KEYS: no row, no limit.
    static: bool = False

    def usable(self, now: float) -> bool:
        return not self.disabled and (self.expires_at is None or now < self.expires_at)


def _row_to_key(row: dict[str, Any]) -> KeyInfo:
    models = orjson.loads(row["allowed_models"]) if row["allowed_models"] else None
    rate = None
    if row["rate_limit_requests"] is not None:
        rate = (int(row["rate_limit_requests"]), float(row["rate_limit_interval"]))
    return KeyInfo(
        hash=row["hash"],
        name=row["name"],
        label=row["label"],
        disabled=bool(row["disabled"]),
        limit=row["credit_limit"],
        limit_reset=row["limit_reset"],
        allowed_models=tuple(models) if models is not None else None,
        rate_limit=rate,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        expires_at=row["expires_at"],
    )


def _columns(key: KeyInfo) -> tuple[Any, ...]:
    return (
        key.name,
        int(key.disabled),
        key.limit,
        key.limit_reset,
        orjson.dumps(list(key.allowed_models)).decode() if key.allowed_models is not None else None,
        key.rate_limit[0] if key.rate_limit else None,
        key.rate_limit[1] if key.rate_limit else None,
        key.updated_at,
        key.expires_at,
    )


@dataclass(slots=True)
class Usage:
    total: int
    daily: int
    weekly: int
    monthly: int

    def in_period(self, reset: str | None) -> int:
        return {"daily": self.daily, "weekly": self.weekly, "monthly": self.monthly}.get(
            reset or "", self.total
        )


class KeyStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, **fields: Any) -> tuple[KeyInfo, str]:
        """A new key from `fields` (KeyInfo's); returns it and its plaintext (shown once)."""
        plaintext = new_plaintext()
        now = time.time()
        info = KeyInfo(
            hash=hash_key(plaintext),
            label=label_of(plaintext),
            created_at=now,
            updated_at=now,
            **fields,
        )
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO api_keys (name, disabled, credit_limit, limit_reset, allowed_models, "
                "rate_limit_requests, rate_limit_interval, updated_at, expires_at, hash, label, "
                "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                *_columns(info),
                info.hash,
                info.label,
                info.created_at,
            )
            await _bump(tx)
        return info, plaintext

    async def get(self, key_hash: str) -> KeyInfo | None:
        row = await self.db.fetchrow("SELECT * FROM api_keys WHERE hash = $1", key_hash)
        return _row_to_key(row) if row else None

    async def list(self, offset: int = 0, include_disabled: bool = False) -> list[KeyInfo]:
        where = "" if include_disabled else "WHERE disabled = 0 "
        rows = await self.db.fetch(
            f"SELECT * FROM api_keys {where}ORDER BY created_at, hash LIMIT $1 OFFSET $2",
            PAGE,
            offset,
        )
        return [_row_to_key(r) for r in rows]

    async def update(self, key_hash: str, **fields: Any) -> KeyInfo | None:
        async with self.db.transaction() as tx:
            row = await tx.fetchrow("SELECT * FROM api_keys WHERE hash = $1", key_hash)
            if row is None:
                return None
            info = replace(_row_to_key(row), updated_at=time.time(), **fields)
            await tx.execute(
                "UPDATE api_keys SET name = $1, disabled = $2, credit_limit = $3, "
                "limit_reset = $4, allowed_models = $5, rate_limit_requests = $6, "
                "rate_limit_interval = $7, updated_at = $8, expires_at = $9 WHERE hash = $10",
                *_columns(info),
                key_hash,
            )
            await _bump(tx)
        return info

    async def delete(self, key_hash: str) -> bool:
        async with self.db.transaction() as tx:
            deleted = await tx.execute("DELETE FROM api_keys WHERE hash = $1", key_hash)
            await _bump(tx)
        return deleted > 0

    async def find(self, text: str) -> KeyInfo | None:
        """A key by hash, or by a unique hash prefix or name (for the command line)."""
        rows = await self.db.fetch(
            "SELECT * FROM api_keys WHERE hash = $1 OR name = $1 OR hash LIKE $2",
            text,
            text.replace("%", "").replace("_", "") + "%",
        )
        return _row_to_key(rows[0]) if len(rows) == 1 else None

    async def total_limits(self) -> int:
        value = await self.db.fetchval(
            "SELECT COALESCE(SUM(credit_limit), 0) FROM api_keys WHERE disabled = 0"
        )
        return int(value)

    async def count_usable(self) -> int:
        return int(await self.db.fetchval("SELECT count(*) FROM api_keys WHERE disabled = 0"))

    async def version(self) -> int:
        return int(await self.db.fetchval("SELECT version FROM accounts_version WHERE id = 1"))

    async def usage(self, key_hash: str | None, now: float | None = None) -> Usage:
        """Spend from the generation records (the source of truth), per UTC period."""
        now = time.time() if now is None else now
        starts = [period_start(r, now) for r in RESETS]
        where, args = ("key_hash = $4", [key_hash]) if key_hash else ("1 = 1", [])
        row = await self.db.fetchrow(
            "SELECT COALESCE(SUM(cost), 0) AS total, "
            "COALESCE(SUM(CASE WHEN created_at >= $1 THEN cost ELSE 0 END), 0) AS daily, "
            "COALESCE(SUM(CASE WHEN created_at >= $2 THEN cost ELSE 0 END), 0) AS weekly, "
            "COALESCE(SUM(CASE WHEN created_at >= $3 THEN cost ELSE 0 END), 0) AS monthly "
            f"FROM generations WHERE {where}",
            *starts,
            *args,
        )
        assert row is not None
        return Usage(*(int(row[k]) for k in ("total", "daily", "weekly", "monthly")))

    async def spent_since(self, key_hash: str, since: float) -> int:
        value = await self.db.fetchval(
            "SELECT COALESCE(SUM(cost), 0) FROM generations WHERE key_hash = $1 "
            "AND created_at >= $2",
            key_hash,
            since,
        )
        return int(value)


async def _bump(tx: Queries) -> None:
    await tx.execute("UPDATE accounts_version SET version = version + 1 WHERE id = 1")
