"""The one guard for tests that need PostgreSQL or Redis.

A test asks for `postgres_url` (or `module_postgres_url`) and gets a URL with a schema of
its own, dropped afterwards; `redis_url` for Redis. When a server is unreachable the test
is skipped on a developer's machine, but fails when CI=true: CI must run these tests,
never skip them. Mark such tests `postgres` so the quick run leaves them out.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import asyncpg
import pytest
import redis

POSTGRES = os.environ.get(
    "MODELYARD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS = os.environ.get("MODELYARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")


def unavailable(what: str, exc: BaseException) -> NoReturn:
    """Skip, or fail under CI=true, because `what` cannot be reached."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is required when CI=true, and is not available: {exc}")
    pytest.skip(f"{what} is not available: {exc}")


async def sql(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    """One statement on a connection of its own."""
    conn = await asyncpg.connect(url, timeout=5)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


def require_postgres(url: str = POSTGRES) -> str:
    try:
        asyncio.run(sql(url, "SELECT 1"))
    except (OSError, asyncpg.PostgresError) as exc:
        unavailable("PostgreSQL", exc)
    return url


@contextmanager
def fresh_schema(prefix: str = "test") -> Iterator[str]:
    """The machine's PostgreSQL with a new schema (created by the first connection that
    names it; see store/database.py), dropped on the way out."""
    require_postgres()
    schema = f"{prefix}_{secrets.token_hex(4)}"
    try:
        yield f"{POSTGRES}?schema={schema}"
    finally:
        asyncio.run(sql(POSTGRES, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@pytest.fixture()
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A schema of this test's own."""
    with fresh_schema(_prefix(request)) as url:
        yield url


@pytest.fixture(scope="module")
def module_postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A schema shared by this module's tests (for gateways that live as long)."""
    with fresh_schema(_prefix(request)) as url:
        yield url


def _prefix(request: pytest.FixtureRequest) -> str:
    """The test module's name, so a schema left behind says whose it is."""
    return request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")[:40]


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        unavailable("Redis", exc)
    return REDIS
