"""One async database API over SQLite (one process, the default) and PostgreSQL (N processes).

Chosen by URL (`MODELYARD_DATABASE_URL`):

- `sqlite:///relative/path.db`, `sqlite:////absolute/path.db`, `sqlite:///:memory:`;
  unset: `modelyard.db` under the user's data directory.
- `postgresql://user@host:5432/dbname` (asyncpg). An extra `?schema=name` query parameter
  puts every table in that schema (created if missing): handy for tests and shared servers.

This module is the facade: `Database`, the `Queries` protocol, the errors (defined in
errors.py, where the backends can raise them), URL handling and `redact`. The backends
are sqlite.py (one connection on a thread of its own) and postgres.py (an asyncpg pool).

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

    # Opening one outside the app:
    from modelyard.schema import MIGRATIONS

    db = await Database(url).connect(migrations=MIGRATIONS)

Portable SQL: types TEXT, BIGINT, INTEGER, DOUBLE PRECISION (store booleans as INTEGER 0/1,
JSON and timestamps as TEXT or numbers, money as BIGINT in fixed units); `INSERT ... ON
CONFLICT ... DO NOTHING/UPDATE` and `RETURNING` work on both. `db.dialect` is "sqlite" or
"postgresql" for the rare statement that must differ. Inside `transaction()` use the `tx`
handle only (calling `db.*` there waits on the transaction on SQLite).

Errors: `DatabaseUnavailable` when the server cannot be reached or the database is closed
(callers that must not lose writes spool them), `IntegrityError` on a constraint violation
(e.g. duplicate key). Schema changes are `Migration`s that the owning module lists in its
`MIGRATIONS` (see migrations.py), joined in order by `modelyard.schema`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import platformdirs

from modelyard.store.errors import DatabaseError, DatabaseUnavailable, IntegrityError
from modelyard.store.migrations import Migration, apply
from modelyard.store.postgres import PostgresBackend
from modelyard.store.sqlite import SqliteBackend

__all__ = [
    "Database",
    "DatabaseError",
    "DatabaseUnavailable",
    "Dialect",
    "IntegrityError",
    "Queries",
    "default_url",
    "redact",
]

Dialect = Literal["sqlite", "postgresql"]


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


class Queries(Protocol):
    """What both `Database` and a transaction handle offer."""

    @property
    def dialect(self) -> Dialect: ...

    async def execute(self, sql: str, *args: Any) -> int: ...
    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...
    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]: ...
    async def fetchrow(self, sql: str, *args: Any) -> dict[str, Any] | None: ...
    async def fetchval(self, sql: str, *args: Any) -> Any: ...


class Database:
    """The process's database. `connect(migrations=...)` before use; `close()` at shutdown."""

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
        self._backend: SqliteBackend | PostgresBackend | None = None

    def __repr__(self) -> str:
        return f"Database({redact(self.url)!r})"

    # -- lifecycle ------------------------------------------------------------------------

    async def connect(self, *, migrations: Sequence[Migration]) -> Database:
        """Open the database and apply `migrations` (in list order; those applied before are
        skipped). Pass `modelyard.schema.MIGRATIONS`, the app's whole schema; `[]` for none."""
        if self.dialect == "sqlite":
            self._backend = await SqliteBackend.open(self.sqlite_path())
        else:
            dsn, schema = self._pg_dsn()
            self._backend = await PostgresBackend.open(dsn, schema, self._pool_size)
        await self.migrate(migrations)
        return self

    async def migrate(self, migrations: Sequence[Migration]) -> list[tuple[str, int]]:
        """Apply the migrations of `migrations` not yet applied; returns those applied now."""
        return await apply(self, migrations)

    async def close(self) -> None:
        """Calls already made finish; any call after this raises DatabaseUnavailable."""
        backend, self._backend = self._backend, None
        if backend is not None:
            await backend.close()

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

    def _pg_dsn(self) -> tuple[str, str | None]:
        parts = urlsplit(self.url)
        query = dict(parse_qsl(parts.query))
        schema = query.pop("schema", None)
        if schema is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", schema):
            raise ValueError("the database URL's schema must be a plain identifier")
        dsn = urlunsplit(parts._replace(scheme="postgresql", query=urlencode(query)))
        return dsn, schema

    # -- queries --------------------------------------------------------------------------

    def _connected(self) -> SqliteBackend | PostgresBackend:
        if self._backend is None:
            raise DatabaseUnavailable("database is not connected")
        return self._backend

    def transaction(self) -> AbstractAsyncContextManager[Queries]:
        """One transaction: committed when the block exits, rolled back if it raises.
        On SQLite it takes the write lock up front (BEGIN IMMEDIATE), so a read-then-write
        inside it cannot race another process."""
        return self._connected().transaction()

    async def execute(self, sql: str, *args: Any) -> int:
        """Run one statement; returns the number of rows it changed."""
        return await self._connected().execute(sql, *args)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run the statement for every row, all in one transaction. On SQLite the whole
        transaction is one hand-off to the connection's thread, several rows to a
        statement (see sqlite.py): the records writer's batches take this path."""
        await self._connected().executemany(sql, rows)

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        return await self._connected().fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> dict[str, Any] | None:
        return await self._connected().fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self._connected().fetchval(sql, *args)
