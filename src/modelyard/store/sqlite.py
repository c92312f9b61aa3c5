"""The SQLite backend: one sqlite3 connection, owned by one thread that runs every call.

sqlite3 blocks, so the connection lives on a single-thread executor (`SqliteRunner`) and
each call is one hand-off to it: a statement with its rows fetched, or a whole batch (BEGIN
IMMEDIATE, every row, COMMIT). A hand-off wakes that thread and then the event loop, which
the requests in flight wait behind, so a call does all of its work in one. The thread runs
calls one at a time in the order they were made, each to its end even when the coroutine
that made it is cancelled (a COMMIT or ROLLBACK must not be dropped); an asyncio lock
keeps a transaction's statements together. Statements arrive with
PostgreSQL's placeholders ($1, $2...) and are rewritten to SQLite's (?1, ?2...). Other
processes share the file through WAL and a 30 s busy timeout.

Use it through `modelyard.store.database.Database`, which picks it for a sqlite:/// URL.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from functools import lru_cache
from typing import Any, Final, TypeVar

from modelyard.store.errors import DatabaseError, DatabaseUnavailable, IntegrityError

T = TypeVar("T")

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=30000",
    "PRAGMA foreign_keys=ON",
)

# A single-quoted literal (skipped) or a $N placeholder.
_PLACEHOLDER = re.compile(r"'(?:[^']|'')*'|\$(\d+)")


@lru_cache(maxsize=512)
def to_sqlite(sql: str) -> str:
    """`sql` with $N placeholders as ?N; a quoted literal is left alone."""
    return _PLACEHOLDER.sub(lambda m: f"?{m.group(1)}" if m.group(1) else m.group(0), sql)


def _connect(path: str) -> sqlite3.Connection:
    # Autocommit (isolation_level=None): transactions are our explicit BEGIN/COMMIT.
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        conn.row_factory = sqlite3.Row
        for pragma in _PRAGMAS:
            conn.execute(pragma)
    except BaseException:
        conn.close()
        raise
    return conn


class SqliteRunner:
    """A sqlite3 connection and the one thread that uses it: `run(fn, ...)` calls
    `fn(connection, ...)` there. sqlite3's own same-thread check stays on, so a use from
    any other thread fails loudly."""

    def __init__(self, executor: ThreadPoolExecutor, conn: sqlite3.Connection) -> None:
        self._executor = executor
        self._conn = conn
        self._closed = False

    @classmethod
    async def open(cls, path: str) -> SqliteRunner:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="modelyard-sqlite")
        try:
            conn = await asyncio.get_running_loop().run_in_executor(executor, _connect, path)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(executor, conn)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(connection, *args)` on the connection's thread, after the calls made before.
        DatabaseUnavailable once `close()` has been called."""
        if self._closed:
            raise DatabaseUnavailable("database unavailable: the connection is closed")
        return await self._hand_off(fn, *args)

    async def close(self) -> None:
        """Close the connection after the calls already made (they finish); any call made
        from now on raises DatabaseUnavailable. A transaction left open is rolled back."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._hand_off(_close)
        finally:
            self._executor.shutdown(wait=False)

    def _hand_off(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        # Not run_in_executor: cancelling its future drops a call not yet started, and a
        # call made must run (see the module's docstring). The thread settles our future.
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._executor.submit(_call, loop, future, fn, self._conn, args)
        return future


def _call(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
    fn: Callable[..., Any],
    conn: sqlite3.Connection,
    args: tuple[Any, ...],
) -> None:
    """On the connection's thread: `fn`, its outcome handed to the event loop."""
    try:
        result = fn(conn, *args)
    except BaseException as exc:
        loop.call_soon_threadsafe(_settle, future, None, exc)
    else:
        loop.call_soon_threadsafe(_settle, future, result, None)


def _settle(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if future.cancelled():  # its coroutine was cancelled; the call ran all the same
        return
    if exc is None:
        future.set_result(result)
    else:
        future.set_exception(exc)


def _close(conn: sqlite3.Connection) -> None:
    conn.close()


def _mapped(exc: sqlite3.Error) -> DatabaseError | None:
    if isinstance(exc, sqlite3.IntegrityError):
        return IntegrityError(str(exc))
    # "unable to open database file", "disk I/O error": the file is not there to write.
    if isinstance(exc, sqlite3.OperationalError) and (
        "unable to open" in str(exc) or "I/O" in str(exc)
    ):
        return DatabaseUnavailable(f"database unavailable: {exc}")
    return None


async def _run(runner: SqliteRunner, fn: Callable[..., T], *args: Any) -> T:
    """`runner.run`, with sqlite3's errors as ours where they have a meaning of ours."""
    try:
        return await runner.run(fn, *args)
    except sqlite3.Error as exc:
        mapped = _mapped(exc)
        if mapped is None:
            raise
        raise mapped from exc


# -- on the connection's thread ------------------------------------------------------------


def _execute(conn: sqlite3.Connection, sql: str, args: Sequence[Any]) -> int:
    cursor = conn.execute(sql, args)
    count = cursor.rowcount
    cursor.close()
    return max(count, 0)


def _executemany(conn: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    conn.executemany(sql, rows).close()


def _fetch(conn: sqlite3.Connection, sql: str, args: Sequence[Any]) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, args)
    try:
        return [dict(row) for row in cursor.fetchall()]
    finally:
        cursor.close()


def _fetchrow(conn: sqlite3.Connection, sql: str, args: Sequence[Any]) -> dict[str, Any] | None:
    cursor = conn.execute(sql, args)
    try:
        row = cursor.fetchone()
    finally:
        cursor.close()
    return dict(row) if row is not None else None


def _fetchval(conn: sqlite3.Connection, sql: str, args: Sequence[Any]) -> Any:
    cursor = conn.execute(sql, args)
    try:
        row = cursor.fetchone()
    finally:
        cursor.close()
    return row[0] if row is not None else None


def _begin(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")


def _commit(conn: sqlite3.Connection) -> None:
    # A COMMIT that fails (a deferred constraint) leaves the transaction open: end it, so
    # the connection's next statement is not inside it.
    try:
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise


def _rollback(conn: sqlite3.Connection) -> None:
    # Some errors (a full disk, an I/O error) have rolled the transaction back already.
    if conn.in_transaction:
        conn.execute("ROLLBACK")


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
    return to_sqlite(sql[: match.start(1)] + groups + sql[match.end(1) :])


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
                conn.executemany(to_sqlite(sql), chunk)
            else:
                conn.execute(many, [value for row in chunk for value in row])
            _yield_core()
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise


# -- on the event loop -----------------------------------------------------------------------


class SqliteQueries:
    """The statements of `modelyard.store.database.Queries`, each one call on the runner.
    Takes no lock: the backend's methods and its transactions hold it around these."""

    dialect: Final = "sqlite"

    def __init__(self, runner: SqliteRunner) -> None:
        self._runner = runner

    async def execute(self, sql: str, *args: Any) -> int:
        return await _run(self._runner, _execute, to_sqlite(sql), args)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await _run(self._runner, _executemany, to_sqlite(sql), [tuple(r) for r in rows])

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        return await _run(self._runner, _fetch, to_sqlite(sql), args)

    async def fetchrow(self, sql: str, *args: Any) -> dict[str, Any] | None:
        return await _run(self._runner, _fetchrow, to_sqlite(sql), args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await _run(self._runner, _fetchval, to_sqlite(sql), args)


class SqliteBackend:
    """What `Database` does on SQLite: every call under one lock, so a transaction (which
    holds it throughout) is never interleaved with another coroutine's statements."""

    dialect: Final = "sqlite"

    def __init__(self, runner: SqliteRunner) -> None:
        self._runner = runner
        self._queries = SqliteQueries(runner)
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str) -> SqliteBackend:
        return cls(await SqliteRunner.open(path))

    async def close(self) -> None:
        await self._runner.close()

    async def execute(self, sql: str, *args: Any) -> int:
        async with self._lock:
            return await self._queries.execute(sql, *args)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """All rows in one transaction, in one call on the connection's thread, not three
        (BEGIN, the rows, COMMIT): each call is a hand-off between that thread and the
        event loop, which the requests in flight wait behind (a records flush, up to
        twenty times a second under load)."""
        batch = list(rows)
        async with self._lock:
            await _run(self._runner, _write_all, sql, batch)

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        async with self._lock:
            return await self._queries.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> dict[str, Any] | None:
        async with self._lock:
            return await self._queries.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        async with self._lock:
            return await self._queries.fetchval(sql, *args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteQueries]:
        """BEGIN IMMEDIATE (the write lock up front, so a read-then-write inside cannot race
        another process), the block, COMMIT; ROLLBACK if the block raises."""
        async with self._lock:
            try:
                # Inside: a BEGIN whose coroutine is cancelled still runs, and is undone.
                await _run(self._runner, _begin)
                yield self._queries
            except BaseException:
                # Closing the connection has rolled the transaction back already.
                with suppress(DatabaseUnavailable):
                    await _run(self._runner, _rollback)
                raise
            await _run(self._runner, _commit)
