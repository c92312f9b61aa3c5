"""One async database API over SQLite (one process, the default) and PostgreSQL (N processes).

Chosen by URL (`MODELYARD_DATABASE_URL`):

- `sqlite:///relative/path.db`, `sqlite:////absolute/path.db`, `sqlite:///:memory:`;
  unset: `modelyard.db` under the user's data directory.
- `postgresql://user@host:5432/dbname` (asyncpg). An extra `?schema=name` query parameter
  puts every table in that schema (created if missing): handy for tests and shared servers.

The app opens one `Database` per process at start, with the schema's migrations applied,
and keeps it on `app.state.database`. The migrations are one explicit list,
`modelyard.schema.MIGRATIONS`: anything else that opens the database (a CLI, a bench, a
test) passes the same list, so the schema is the same everywhere. How another module uses
it::

    from modelyard.store.database import Database

    db: Database = request.app.state.database
    # Placeholders are $1, $2... on both dialects (rewritten to ?1, ?2 for SQLite).
    await db.execute("INSERT INTO responses (id, body, created) VALUES ($1, $2, $3)",
                     rid, body_json, now)
    row = await db.fetchrow("SELECT body FROM responses WHERE id = $1", rid)  # dict | None
    rows = await db.fetch("SELECT id FROM responses WHERE created > $1", t)   # list[dict]
    count = await db.fetchval("SELECT count(*) FROM responses")
    await db.executemany("INSERT INTO t (a, b) VALUES ($1, $2)", [(1, "x"), (2, "y")])
    async with db.transaction() as tx:  # same methods; commit on exit, rollback on error
        await tx.execute("UPDATE ...", ...)
        value = await tx.fetchval("SELECT ...", ...)

Portable SQL: types TEXT, BIGINT, INTEGER, DOUBLE PRECISION (store booleans as INTEGER 0/1,
JSON and timestamps as TEXT or numbers, money as BIGINT in fixed units); `INSERT ... ON
CONFLICT ... DO NOTHING/UPDATE` and `RETURNING` work on both. `db.dialect` is "sqlite" or
"postgresql" for the rare statement that must differ. Inside `transaction()` use the `tx`
handle only (calling `db.*` there waits on the transaction on SQLite).

Errors: `DatabaseUnavailable` when the server cannot be reached (callers that must not lose
writes spool them), `IntegrityError` on a constraint violation (e.g. duplicate key).
Schema changes are `Migration`s that the owning module lists in its `MIGRATIONS` (see
migrations.py), joined in order by `modelyard.schema`.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import aiosqlite
import asyncpg
import platformdirs

from modelyard.store.migrations import Migration, apply

Dialect = Literal["sqlite", "postgresql"]


class DatabaseError(Exception):
    """A storage failure, without the driver's internals."""


class DatabaseUnavailable(DatabaseError):
    """The database cannot be reached right now (down, restarting, network)."""


class IntegrityError(DatabaseError):
    """A constraint was violated (unique key, foreign key, not null)."""


def default_url() -> str:
    data_dir = Path(platformdirs.user_data_dir("modelyard", appauthor=False))
    return f"sqlite:///{data_dir / 'modelyard.db'}"


def redact(url: str) -> str:
    """The URL with any password replaced, for logs."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


# A single-quoted literal (skipped) or a $N placeholder.
_PLACEHOLDER = re.compile(r"'(?:[^']|'')*'|\$(\d+)")


@lru_cache(maxsize=512)
def _to_sqlite(sql: str) -> str:
    return _PLACEHOLDER.sub(lambda m: f"?{m.group(1)}" if m.group(1) else m.group(0), sql)


class Queries(Protocol):
    """What both `Database` and a transaction handle offer."""

    dialect: Dialect

    async def execute(self, sql: str, *args: Any) -> int: ...
    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...
    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]: ...
    async def fetchrow(self, sql: str, *args: Any) -> dict[str, Any] | None: ...
    async def fetchval(self, sql: str, *args: Any) -> Any: ...


_PG_DOWN = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
)


@asynccontextmanager
async def _pg_errors() -> AsyncIterator[None]:
    try:
        yield
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise IntegrityError(str(exc)) from exc
    except _PG_DOWN as exc:
        raise DatabaseUnavailable(f"database unavailable: {type(exc).__name__}") from exc


@asynccontextmanager
async def _sqlite_errors() -> AsyncIterator[None]:
    try:
        yield
    except sqlite3.IntegrityError as exc:
        raise IntegrityError(str(exc)) from exc
    except (sqlite3.OperationalError, ValueError) as exc:
        # "unable to open database file", "disk I/O error", a closed connection.
        if isinstance(exc, ValueError) or "unable to open" in str(exc) or "I/O" in str(exc):
            raise DatabaseUnavailable(f"database unavailable: {exc}") from exc
        raise


class _PgQueries:
    dialect: Dialect = "postgresql"

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def execute(self, sql: str, *args: Any) -> int:
        async with _pg_errors():
            status = await self._conn.execute(sql, *args)
        tail = status.rsplit(" ", 1)[-1] if status else ""
        return int(tail) if tail.isdigit() else 0

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with _pg_errors():
            await self._conn.executemany(sql, list(rows))

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        async with _pg_errors():
            return [dict(r) for r in await self._conn.fetch(sql, *args)]

    async def fetchrow(self, sql: str, *args: Any) -> dict[str, Any] | None:
        async with _pg_errors():
            row = await self._conn.fetchrow(sql, *args)
        return dict(row) if row is not None else None

    async def fetchval(self, sql: str, *args: Any) -> Any:
        async with _pg_errors():
            return await self._conn.fetchval(sql, *args)


# Rows a batch write inserts before it lets the event loop's thread have the core (about
# 0.1 ms of SQLite work): in a pinned worker the two threads share one core, and a whole
# records flush (~14 us a row, ~1 ms at 1,700 requests/s) would hold any request that
# arrived meanwhile. Measured at 1 in flight, p99: 1.56-1.93 ms before, 0.97-1.42 after.
_ROWS_BETWEEN_YIELDS = 8
# At most this many statements a batch: each is a hand-back of the GIL to a busy event
# loop, and a writer that took one per row (executemany) fell behind at 4,300 requests/s,
# its backlog growing by 150 MB a minute. A flush at 1 in flight (~120 rows) still goes 8
# rows to a statement; a larger batch (a backlog) is written in larger statements.
_MOST_STATEMENTS = 16
_MOST_VARIABLES = 32766  # SQLite's limit on the parameters of one statement (3.32+)
_VALUES = re.compile(r"VALUES\s*(\((?:[^()]|\([^()]*\))*\))", re.IGNORECASE)
_yield_core = getattr(os, "sched_yield", lambda: None)


@lru_cache(maxsize=64)
def _rows_sql(sql: str, rows: int) -> str | None:
    """`sql` (one `VALUES ($1, ..., $n)` group) inserting `rows` rows in one statement, in
    SQLite's placeholders; None when it has no such group."""
    match = _VALUES.search(sql)
    if match is None or len(_VALUES.findall(sql)) != 1:
        return None
    group = match.group(1)
    width = len(set(_PLACEHOLDER.findall(group)) - {""})

    def renumbered(offset: int) -> str:
        return _PLACEHOLDER.sub(
            lambda m: f"${int(m.group(1)) + offset}" if m.group(1) else m.group(0), group
        )

    groups = ", ".join(renumbered(row * width) for row in range(rows))
    return _to_sqlite(sql[: match.start(1)] + groups + sql[match.end(1) :])


def _write_all(conn: sqlite3.Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """BEGIN IMMEDIATE, every row, COMMIT; on the SQLite connection's own thread, which
    gives the core up between statements (the GIL is released while it does). Rows go
    several to a statement: a statement per row hands the GIL back once a row."""
    width = len(rows[0]) if rows else 1
    most = max(1, _MOST_VARIABLES // width)
    step = min(most, max(_ROWS_BETWEEN_YIELDS, -(-len(rows) // _MOST_STATEMENTS)))
    conn.execute("BEGIN IMMEDIATE")
    try:
        for start in range(0, len(rows), step):
            chunk = rows[start : start + step]
            many = _rows_sql(sql, len(chunk))
            if many is None:
                conn.executemany(_to_sqlite(sql), chunk)
            else:
                conn.execute(many, [value for row in chunk for value in row])
            _yield_core()
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


class _SqliteQueries:
    dialect: Dialect = "sqlite"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, *args: Any) -> int:
        async with _sqlite_errors():
            cursor = await self._conn.execute(_to_sqlite(sql), args)
            count = cursor.rowcount
            await cursor.close()
        return max(count, 0)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with _sqlite_errors():
            await self._conn.executemany(_to_sqlite(sql), [tuple(r) for r in rows])

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        async with _sqlite_errors():
            cursor = await self._conn.execute(_to_sqlite(sql), args)
            rows = await cursor.fetchall()
            await cursor.close()
        return [dict(r) for r in rows]

    async def fetchrow(self, sql: str, *args: Any) -> dict[str, Any] | None:
        async with _sqlite_errors():
            cursor = await self._conn.execute(_to_sqlite(sql), args)
            row = await cursor.fetchone()
            await cursor.close()
        return dict(row) if row is not None else None

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = await self.fetchrow(sql, *args)
        return next(iter(row.values())) if row else None


class Database:
    """The process's database. `connect()` before use; `close()` at shutdown."""

    def __init__(self, url: str | None = None, *, pool_size: int = 10) -> None:
        self.url = url or default_url()
        self._pool_size = pool_size
        scheme = urlsplit(self.url).scheme
        if scheme == "sqlite":
            self.dialect: Dialect = "sqlite"
        elif scheme in {"postgresql", "postgres"}:
            self.dialect = "postgresql"
        else:
            raise ValueError(
                "MODELYARD_DATABASE_URL must start with sqlite:/// or postgresql:// "
                f"(got {scheme or 'no scheme'!r})"
            )
        self._pool: asyncpg.Pool | None = None
        self._sqlite: aiosqlite.Connection | None = None
        self._sqlite_queries: _SqliteQueries | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"Database({redact(self.url)!r})"

    # -- lifecycle ------------------------------------------------------------------------

    async def connect(self, *, migrations: Sequence[Migration]) -> Database:
        """Open the database and apply `migrations` (in list order; those applied before are
        skipped). Pass `modelyard.schema.MIGRATIONS`, the app's whole schema; `[]` for none."""
        if self.dialect == "sqlite":
            await self._open_sqlite()
        else:
            await self._open_postgres()
        await self.migrate(migrations)
        return self

    async def migrate(self, migrations: Sequence[Migration]) -> list[tuple[str, int]]:
        """Apply the migrations of `migrations` not yet applied; returns those applied now."""
        return await apply(self, migrations)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        if self._sqlite is not None:
            await self._sqlite.close()
            self._sqlite = None

    def sqlite_path(self) -> str:
        """The file behind a sqlite:/// URL (its directory created), or ':memory:'."""
        path = self.url.split("://", 1)[1]
        path = path[1:] if path.startswith("/") else path  # sqlite:///x -> x; ////x -> /x
        path = path.split("?", 1)[0]
        if path == ":memory:":
            return path
        file = Path(path).expanduser()
        file.parent.mkdir(parents=True, exist_ok=True)
        return str(file)

    async def _open_sqlite(self) -> None:
        path = self.sqlite_path()
        conn = await aiosqlite.connect(path, isolation_level=None, timeout=30)
        conn.row_factory = sqlite3.Row
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA busy_timeout=30000",
            "PRAGMA foreign_keys=ON",
        ):
            await conn.execute(pragma)
        self._sqlite = conn
        self._sqlite_queries = _SqliteQueries(conn)

    def _pg_dsn(self) -> tuple[str, str | None]:
        parts = urlsplit(self.url)
        query = dict(parse_qsl(parts.query))
        schema = query.pop("schema", None)
        if schema is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", schema):
            raise ValueError("the database URL's schema must be a plain identifier")
        dsn = urlunsplit(parts._replace(scheme="postgresql", query=urlencode(query)))
        return dsn, schema

    async def _open_postgres(self) -> None:
        dsn, schema = self._pg_dsn()
        settings: dict[str, str] = {}
        async with _pg_errors():
            if schema:
                conn = await asyncpg.connect(dsn, timeout=10)
                try:
                    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                finally:
                    await conn.close()
                settings["search_path"] = schema
            self._pool = await asyncpg.create_pool(
                dsn,
                min_size=1,
                max_size=self._pool_size,
                timeout=10,
                command_timeout=30,
                server_settings=settings,
            )

    # -- queries --------------------------------------------------------------------------

    @asynccontextmanager
    async def _queries(self) -> AsyncIterator[Queries]:
        if self._pool is not None:
            async with _pg_errors(), self._pool.acquire() as conn:
                yield _PgQueries(conn)
            return
        if self._sqlite_queries is None:
            raise DatabaseUnavailable("database is not connected")
        async with self._lock:
            yield self._sqlite_queries

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Queries]:
        """One transaction: committed when the block exits, rolled back if it raises.
        On SQLite it takes the write lock up front (BEGIN IMMEDIATE), so a read-then-write
        inside it cannot race another process."""
        if self._pool is not None:
            async with _pg_errors(), self._pool.acquire() as conn, conn.transaction():
                yield _PgQueries(conn)
            return
        if self._sqlite is None or self._sqlite_queries is None:
            raise DatabaseUnavailable("database is not connected")
        async with self._lock:
            async with _sqlite_errors():
                await self._sqlite.execute("BEGIN IMMEDIATE")
            try:
                yield self._sqlite_queries
            except BaseException:
                await self._sqlite.execute("ROLLBACK")
                raise
            async with _sqlite_errors():
                await self._sqlite.execute("COMMIT")

    async def execute(self, sql: str, *args: Any) -> int:
        """Run one statement; returns the number of rows it changed."""
        async with self._queries() as q:
            return await q.execute(sql, *args)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement per row, all in one transaction. On SQLite the transaction is
        one call on the connection's thread, not three (BEGIN, the rows, COMMIT): each
        call is a hand-off between that thread and the event loop, which the requests in
        flight wait behind (a records flush, up to twenty times a second under load)."""
        if self._pool is not None:
            async with self.transaction() as q:
                await q.executemany(sql, rows)
            return
        if self._sqlite is None:
            raise DatabaseUnavailable("database is not connected")
        conn = self._sqlite
        async with self._lock, _sqlite_errors():
            # aiosqlite runs a callable on its thread through `_execute` (pinned version).
            await conn._execute(_write_all, conn._conn, sql, list(rows))

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        async with self._queries() as q:
            return await q.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> dict[str, Any] | None:
        async with self._queries() as q:
            return await q.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        async with self._queries() as q:
            return await q.fetchval(sql, *args)
