"""The store's pieces on their own: the SQLite runner (one connection on one thread, calls in
order, a batch whole in a few statements, rollback on error, closing mid-use) and the
migrations, applied in list order on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from modelyard.schema import MIGRATIONS
from modelyard.store.database import Database, DatabaseUnavailable, IntegrityError
from modelyard.store.migrations import Migration, check
from modelyard.store.sqlite import SqliteBackend, SqliteRunner
from tests.postgres import fresh_schema

# -- the SQLite runner ------------------------------------------------------------------------


def test_the_runner_runs_every_call_on_one_thread_in_order(tmp_path: Path) -> None:
    async def scenario() -> None:
        runner = await SqliteRunner.open(str(tmp_path / "order.db"))
        seen: list[tuple[int, int]] = []

        def note(conn: sqlite3.Connection, n: int) -> int:
            seen.append((n, threading.get_ident()))
            return conn.execute("SELECT ?1 * 2", (n,)).fetchone()[0]

        try:
            doubled = await asyncio.gather(*(runner.run(note, n) for n in range(200)))
        finally:
            await runner.close()
        assert doubled == [2 * n for n in range(200)]
        assert [n for n, _ in seen] == list(range(200))
        threads = {thread for _, thread in seen}
        assert len(threads) == 1
        assert threads != {threading.get_ident()}

    asyncio.run(scenario())


def test_a_call_runs_even_when_its_coroutine_is_cancelled(tmp_path: Path) -> None:
    """A call made is run to its end (a COMMIT must not be dropped), even when the one
    waiting for it gives up before the thread reaches it."""

    async def scenario() -> None:
        runner = await SqliteRunner.open(str(tmp_path / "cancel.db"))
        backend = SqliteBackend(runner)
        release = threading.Event()
        try:
            await backend.execute("CREATE TABLE t (id TEXT PRIMARY KEY)")
            busy = asyncio.ensure_future(runner.run(lambda conn: release.wait(5)))
            await asyncio.sleep(0)  # the thread is held by `busy`
            insert = asyncio.ensure_future(backend.execute("INSERT INTO t (id) VALUES ('a')"))
            await asyncio.sleep(0)  # queued behind it
            insert.cancel()
            release.set()
            assert await busy is True
            with pytest.raises(asyncio.CancelledError):
                await insert
            assert await backend.fetchval("SELECT COUNT(*) FROM t") == 1
        finally:
            release.set()
            await runner.close()

    asyncio.run(scenario())


def test_concurrent_writers_and_readers(tmp_path: Path) -> None:
    """Statements, batches and read-then-write transactions from many coroutines at once,
    and from a second connection to the same file (another process): none is lost, no
    transaction sees another's statements."""
    url = f"sqlite:///{tmp_path / 'busy.db'}"

    async def scenario() -> None:
        first = await Database(url).connect(migrations=[])
        second = await Database(url).connect(migrations=[])
        await first.execute("CREATE TABLE rows (id TEXT PRIMARY KEY, n BIGINT NOT NULL)")
        await first.execute("CREATE TABLE counter (id INTEGER PRIMARY KEY, n BIGINT NOT NULL)")
        await first.execute("INSERT INTO counter (id, n) VALUES (1, 0)")

        async def write(db: Database, i: int) -> None:
            await db.execute("INSERT INTO rows (id, n) VALUES ($1, $2)", f"w{i}", i)

        async def write_batch(db: Database, i: int) -> None:
            batch = [(f"b{i}-{j}", j) for j in range(20)]
            await db.executemany("INSERT INTO rows (id, n) VALUES ($1, $2)", batch)

        async def increment(db: Database) -> None:
            async with db.transaction() as tx:
                n = await tx.fetchval("SELECT n FROM counter WHERE id = 1")
                await asyncio.sleep(0)  # another coroutine's turn: it must wait
                await tx.execute("UPDATE counter SET n = $1 WHERE id = 1", n + 1)

        async def read(db: Database) -> int:
            return int(await db.fetchval("SELECT COUNT(*) FROM rows"))

        try:
            jobs: list[Any] = []
            for i in range(40):
                db = first if i % 2 else second
                jobs += [write(db, i), write_batch(db, i), increment(db), read(db)]
            results = await asyncio.gather(*jobs)
            counts = [r for r in results if isinstance(r, int)]
            assert all(0 <= c <= 40 * 21 for c in counts)
            assert await first.fetchval("SELECT COUNT(*) FROM rows") == 40 * 21
            assert await second.fetchval("SELECT n FROM counter WHERE id = 1") == 40
            rows = await first.fetch("SELECT id, n FROM rows WHERE id LIKE 'w%' ORDER BY n")
            assert rows == [{"id": f"w{i}", "n": i} for i in range(40)]
        finally:
            await first.close()
            await second.close()

    asyncio.run(scenario())


def test_a_large_batch_is_one_transaction_of_few_statements(tmp_path: Path) -> None:
    """A backlog of rows goes several to a statement (at most 16 statements), between one
    BEGIN IMMEDIATE and one COMMIT."""

    async def scenario() -> None:
        runner = await SqliteRunner.open(str(tmp_path / "batch.db"))
        backend = SqliteBackend(runner)
        statements: list[str] = []
        try:
            await backend.execute("CREATE TABLE t (id TEXT PRIMARY KEY, n BIGINT NOT NULL)")
            await runner.run(lambda conn: conn.set_trace_callback(statements.append))
            rows = [(f"r{i}", i) for i in range(10_000)]
            await backend.executemany("INSERT INTO t (id, n) VALUES ($1, $2)", rows)
            await runner.run(lambda conn: conn.set_trace_callback(None))
            assert await backend.fetchval("SELECT COUNT(*) FROM t") == 10_000
            assert await backend.fetchval("SELECT SUM(n) FROM t") == sum(range(10_000))
        finally:
            await runner.close()
        assert statements[0] == "BEGIN IMMEDIATE"
        assert statements[-1] == "COMMIT"
        inserts = statements[1:-1]
        assert len(inserts) == 16
        assert all(s.startswith("INSERT INTO t") for s in inserts)

    asyncio.run(scenario())


def test_errors_roll_back_and_leave_the_connection_ready(tmp_path: Path) -> None:
    async def scenario() -> None:
        db = await Database(f"sqlite:///{tmp_path / 'rollback.db'}").connect(migrations=[])
        try:
            await db.execute("CREATE TABLE t (id TEXT PRIMARY KEY)")
            await db.execute(
                "CREATE TABLE child (parent TEXT REFERENCES t (id) DEFERRABLE INITIALLY DEFERRED)"
            )
            # A batch with a duplicate: none of it stays.
            with pytest.raises(IntegrityError):
                await db.executemany("INSERT INTO t (id) VALUES ($1)", [("a",), ("a",)])
            assert await db.fetchval("SELECT COUNT(*) FROM t") == 0
            # A block that raises: its statements are rolled back, its error goes on.
            with pytest.raises(LookupError):
                async with db.transaction() as tx:
                    await tx.execute("INSERT INTO t (id) VALUES ($1)", "b")
                    raise LookupError("the caller's own error")
            assert await db.fetchval("SELECT COUNT(*) FROM t") == 0
            # A COMMIT that fails (a deferred foreign key): rolled back, not left open.
            with pytest.raises(IntegrityError):
                async with db.transaction() as tx:
                    await tx.execute("INSERT INTO t (id) VALUES ($1)", "c")
                    await tx.execute("INSERT INTO child (parent) VALUES ($1)", "nobody")
            assert await db.fetchval("SELECT COUNT(*) FROM t") == 0
            # Ready for more: a batch, a transaction, a statement.
            await db.executemany("INSERT INTO t (id) VALUES ($1)", [("d",), ("e",)])
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO t (id) VALUES ($1)", "f")
            assert await db.execute("DELETE FROM t WHERE id = $1", "f") == 1
            assert await db.fetch("SELECT id FROM t ORDER BY id") == [{"id": "d"}, {"id": "e"}]
        finally:
            await db.close()

    asyncio.run(scenario())


def test_closing_mid_use_gives_database_unavailable(tmp_path: Path) -> None:
    """A call already handed to the connection's thread finishes; calls still waiting, calls
    after `close()`, and a transaction it cut through fail with DatabaseUnavailable, never
    another error."""
    url = f"sqlite:///{tmp_path / 'closing.db'}"

    async def scenario() -> None:
        db = await Database(url).connect(migrations=[])
        await db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n BIGINT NOT NULL)")

        async def work(i: int) -> str:
            try:
                if i % 3 == 0:
                    await db.executemany("INSERT INTO t (n) VALUES ($1)", [(j,) for j in range(50)])
                elif i % 3 == 1:
                    await db.fetch("SELECT n FROM t LIMIT 10")
                else:
                    await db.execute("INSERT INTO t (n) VALUES ($1)", i)
            except DatabaseUnavailable:
                return "unavailable"
            return "done"

        tasks = [asyncio.create_task(work(i)) for i in range(60)]
        await asyncio.sleep(0)  # the first call is on the thread, the others wait for it
        await db.close()
        outcomes = await asyncio.gather(*tasks)
        assert outcomes[0] == "done"
        assert set(outcomes[1:]) == {"unavailable"}
        for call in (db.fetch("SELECT 1"), db.execute("SELECT 1"), db.executemany("x", [])):
            with pytest.raises(DatabaseUnavailable):
                await call
        with pytest.raises(DatabaseUnavailable):
            async with db.transaction():
                pass
        await db.close()  # twice is fine

        db = await Database(url).connect(migrations=[])
        with pytest.raises(DatabaseUnavailable):
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO t (n) VALUES ($1)", -1)
                await db.close()
                await tx.execute("INSERT INTO t (n) VALUES ($1)", -2)
        # The transaction that the close cut through did not commit.
        db = await Database(url).connect(migrations=[])
        try:
            assert await db.fetchval("SELECT COUNT(*) FROM t WHERE n < 0") == 0
            assert await db.fetchval("SELECT COUNT(*) FROM t") == 50
        finally:
            await db.close()

    asyncio.run(scenario())


def test_a_closed_runner_finishes_its_queue_and_refuses_more() -> None:
    async def scenario() -> None:
        runner = await SqliteRunner.open(":memory:")
        queued = asyncio.ensure_future(runner.run(lambda c: c.execute("SELECT 7").fetchone()[0]))
        await asyncio.sleep(0)  # handed to the thread
        await runner.close()
        assert await queued == 7
        with pytest.raises(DatabaseUnavailable):
            await runner.run(lambda c: None)

    asyncio.run(scenario())


# -- migrations -------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    with fresh_schema("store") as url:
        yield url


TABLE = Migration("alpha", 1, "CREATE TABLE alpha_t (id INTEGER PRIMARY KEY, note TEXT)")
# Reads alpha's table: only works after it.
INDEX = Migration("beta", 1, "CREATE INDEX beta_on_alpha ON alpha_t (note)")
COLUMN = Migration(
    "alpha",
    2,
    sqlite="ALTER TABLE alpha_t ADD COLUMN flag INTEGER NOT NULL DEFAULT 1",
    postgresql="ALTER TABLE alpha_t ADD COLUMN flag INTEGER NOT NULL DEFAULT 2",
)


async def _applied(db: Database) -> set[tuple[str, int]]:
    rows = await db.fetch("SELECT component, version FROM schema_migrations")
    return {(r["component"], r["version"]) for r in rows}


def test_migrations_apply_in_list_order(db_url: str) -> None:
    async def scenario() -> None:
        db = await Database(db_url).connect(migrations=[TABLE, INDEX, COLUMN])
        try:
            assert await _applied(db) == {("alpha", 1), ("beta", 1), ("alpha", 2)}
            await db.execute("INSERT INTO alpha_t (id, note) VALUES (1, 'x')")
            flag = await db.fetchval("SELECT flag FROM alpha_t WHERE id = 1")
            assert flag == (1 if db.dialect == "sqlite" else 2)
            # Applied ones are skipped; one added at the end is applied alone.
            extra = Migration("beta", 2, "CREATE TABLE beta_t (id INTEGER PRIMARY KEY)")
            assert await db.migrate([TABLE, INDEX, COLUMN]) == []
            assert await db.migrate([TABLE, INDEX, COLUMN, extra]) == [("beta", 2)]
        finally:
            await db.close()

    asyncio.run(scenario())


def test_a_list_in_the_wrong_order_applies_nothing(db_url: str) -> None:
    async def scenario() -> None:
        db = Database(db_url)
        with pytest.raises((sqlite3.OperationalError, asyncpg.PostgresError)):
            await db.connect(migrations=[INDEX, TABLE])
        try:
            # One transaction: the failure took schema_migrations' creation with it.
            assert await db.migrate([]) == []
            assert await _applied(db) == set()
            assert await db.migrate([TABLE, INDEX]) == [("alpha", 1), ("beta", 1)]
        finally:
            await db.close()

    asyncio.run(scenario())


def test_the_app_schema_applies_once_in_its_order(db_url: str) -> None:
    async def scenario() -> None:
        db = await Database(db_url).connect(migrations=MIGRATIONS)
        try:
            assert await _applied(db) == {(m.component, m.version) for m in MIGRATIONS}
        finally:
            await db.close()
        # Reopened, as every later start: nothing to apply.
        db = await Database(db_url).connect(migrations=MIGRATIONS)
        try:
            assert await db.migrate(MIGRATIONS) == []
            assert await db.fetchval("SELECT version FROM accounts_version WHERE id = 1") == 0
        finally:
            await db.close()

    asyncio.run(scenario())


def test_the_app_schema_lists_accounts_first() -> None:
    components = [m.component for m in MIGRATIONS]
    assert components[0] == "accounts"
    assert components.index("stats") > components.index("accounts")
    check(MIGRATIONS)


def test_a_list_with_a_repeat_or_a_version_out_of_order_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        check([TABLE, TABLE])
    with pytest.raises(ValueError, match="after"):
        check([COLUMN, TABLE])
    with pytest.raises(ValueError):
        Migration("alpha", 0, "SELECT 1")
    with pytest.raises(ValueError):
        Migration("alpha", 3)
