"""The database's batch write, on both engines: one transaction, all rows or none, the
connection ready for the next one after a batch that failed, a large batch whole; and the
records writer that uses it, idle."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest

from modelyard.accounts.records import COLUMNS, RecordWriter
from modelyard.schema import MIGRATIONS
from modelyard.store.database import Database, IntegrityError


async def _batches(url: str) -> None:
    db = Database(url)
    await db.connect(migrations=MIGRATIONS)
    table = f"batch_{uuid.uuid4().hex[:8]}"
    try:
        await db.execute(f"CREATE TABLE {table} (id TEXT PRIMARY KEY, n BIGINT NOT NULL)")
        insert = f"INSERT INTO {table} (id, n) VALUES ($1, $2)"
        await db.executemany(insert, [(f"r{i}", i) for i in range(50)])
        assert await db.fetchval(f"SELECT COUNT(*) FROM {table}") == 50
        # A duplicate in the middle: nothing of this batch stays.
        with pytest.raises(IntegrityError):
            await db.executemany(insert, [("s1", 1), ("r7", 7), ("s2", 2)])
        assert await db.fetchval(f"SELECT COUNT(*) FROM {table} WHERE id LIKE 's%'") == 0
        # No transaction left open: the next batch and a transaction both go through.
        await db.executemany(insert, [("t1", 1), ("t2", 2)])
        async with db.transaction() as q:
            await q.execute(f"UPDATE {table} SET n = n + 1 WHERE id = $1", "t1")
        assert await db.fetchval(f"SELECT n FROM {table} WHERE id = $1", "t1") == 2
        assert await db.fetchval(f"SELECT COUNT(*) FROM {table}") == 52
        # A backlog-sized batch (several rows to a statement on SQLite), a literal with a
        # "$1" in it left alone, and a conflict clause kept for every row.
        upsert = (
            f"INSERT INTO {table} (id, n) VALUES ($1, $2 + length('$1')) "
            "ON CONFLICT (id) DO NOTHING"
        )
        await db.executemany(upsert, [(f"u{i}", i) for i in range(2001)] + [("t1", 99)])
        assert await db.fetchval(f"SELECT COUNT(*) FROM {table} WHERE id LIKE 'u%'") == 2001
        assert (
            await db.fetchval(f"SELECT SUM(n) FROM {table} WHERE id LIKE 'u%'")
            == sum(range(2001)) + 2 * 2001
        )
        assert await db.fetchval(f"SELECT n FROM {table} WHERE id = $1", "t1") == 2
    finally:
        await db.execute(f"DROP TABLE IF EXISTS {table}")
        await db.close()


def test_sqlite_batches_are_whole(tmp_path: Path) -> None:
    asyncio.run(_batches(f"sqlite:///{tmp_path / 'batch.sqlite'}"))


@pytest.mark.postgres
def test_postgres_batches_are_whole(postgres_url: str) -> None:
    asyncio.run(_batches(postgres_url))


def _record(generation_id: str) -> dict[str, object]:
    record: dict[str, object] = dict.fromkeys(COLUMNS)
    record.update(
        id=generation_id,
        created_at=time.time(),
        model="m",
        api_type="chat",
        streamed=0,
        cancelled=0,
        tokens_prompt=1,
        tokens_completion=1,
        tokens_cached=0,
        tokens_cache_write=0,
        tokens_reasoning=0,
        cost=0,
    )
    return record


def test_an_idle_record_writer_sleeps_and_wakes_for_a_record(tmp_path: Path) -> None:
    """Idle, the writer does not wake every interval; a record wakes it, and is written
    after one interval (the batch gathers), not at the next spool check."""

    async def scenario() -> None:
        db = Database(f"sqlite:///{tmp_path / 'records.sqlite'}")
        await db.connect(migrations=MIGRATIONS)
        writer = RecordWriter(db, tmp_path / "spool", flush_interval=0.05)
        await writer.start()
        try:
            await asyncio.sleep(0.3)  # the start-up spool check, then idle
            assert writer._asleep
            writer.add(_record("gen-1"))
            assert writer.pending("gen-1") is not None
            deadline = time.monotonic() + 2  # well before the 10 s spool check
            while await db.fetchval("SELECT COUNT(*) FROM generations") == 0:
                assert time.monotonic() < deadline, "the record was not written"
                await asyncio.sleep(0.01)
            assert writer.pending("gen-1") is None
        finally:
            await writer.aclose()
            await db.close()

    asyncio.run(scenario())
