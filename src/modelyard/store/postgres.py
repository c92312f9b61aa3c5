"""The PostgreSQL backend: an asyncpg pool shared by N processes, and asyncpg's errors mapped
to ours (a constraint violation, or a server that cannot be reached right now).

Use it through `modelyard.store.database.Database`, which picks it for a postgresql:// URL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final

import asyncpg

from modelyard.store.errors import DatabaseUnavailable, IntegrityError

_DOWN = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
)


@asynccontextmanager
async def pg_errors() -> AsyncIterator[None]:
    try:
        yield
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise IntegrityError(str(exc)) from exc
    except _DOWN as exc:
        raise DatabaseUnavailable(f"database unavailable: {type(exc).__name__}") from exc


class PgQueries:
    """The statements of `modelyard.store.database.Queries` on one pooled connection."""

    dialect: Final = "postgresql"

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def execute(self, sql: str, *args: Any) -> int:
        async with pg_errors():
            status = await self._conn.execute(sql, *args)
        tail = status.rsplit(" ", 1)[-1] if status else ""
        return int(tail) if tail.isdigit() else 0

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with pg_errors():
            await self._conn.executemany(sql, list(rows))

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        async with pg_errors():
            return [dict(r) for r in await self._conn.fetch(sql, *args)]

    async def fetchrow(self, sql: str, *args: Any) -> dict[str, Any] | None:
        async with pg_errors():
            row = await self._conn.fetchrow(sql, *args)
        return dict(row) if row is not None else None

    async def fetchval(self, sql: str, *args: Any) -> Any:
        async with pg_errors():
            return await self._conn.fetchval(sql, *args)


class PostgresBackend:
    """What `Database` does on PostgreSQL: each call on a connection from the pool."""

    dialect: Final = "postgresql"

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, dsn: str, schema: str | None, pool_size: int) -> PostgresBackend:
        """A pool on `dsn`; with `schema` (a plain identifier, checked by the caller), every
        table goes in it (created if missing)."""
        settings: dict[str, str] = {}
        async with pg_errors():
            if schema:
                conn = await asyncpg.connect(dsn, timeout=10)
                try:
                    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                finally:
                    await conn.close()
                settings["search_path"] = schema
            pool = await asyncpg.create_pool(
                dsn,
                min_size=1,
                max_size=pool_size,
                timeout=10,
                command_timeout=30,
                server_settings=settings,
            )
        return cls(pool)

    async def close(self) -> None:
        await self._pool.close()

    @asynccontextmanager
    async def _queries(self) -> AsyncIterator[PgQueries]:
        async with pg_errors(), self._pool.acquire() as conn:
            yield PgQueries(conn)

    async def execute(self, sql: str, *args: Any) -> int:
        async with self._queries() as q:
            return await q.execute(sql, *args)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """All rows in one transaction."""
        async with self.transaction() as q:
            await q.executemany(sql, rows)

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        async with self._queries() as q:
            return await q.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> dict[str, Any] | None:
        async with self._queries() as q:
            return await q.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        async with self._queries() as q:
            return await q.fetchval(sql, *args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PgQueries]:
        async with pg_errors(), self._pool.acquire() as conn, conn.transaction():
            yield PgQueries(conn)
