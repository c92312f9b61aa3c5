"""The database's batch write, on both engines: one transaction, all rows or none, and the
connection ready for the next one after a batch that failed."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest

from modelyard.store.database import Database, IntegrityError
from tests.test_accounts_postgres import POSTGRES, _unavailable


async def _batches(url: str) -> None:
    db = Database(url)
    await db.connect()
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
    finally:
        await db.execute(f"DROP TABLE IF EXISTS {table}")
        await db.close()


def test_sqlite_batches_are_whole(tmp_path: Path) -> None:
    asyncio.run(_batches(f"sqlite:///{tmp_path / 'batch.sqlite'}"))


async def _reachable(url: str) -> None:
    await (await asyncpg.connect(url, timeout=5)).close()


def test_postgres_batches_are_whole() -> None:
    try:
        asyncio.run(_reachable(POSTGRES))
    except (OSError, asyncpg.PostgresError) as exc:
        _unavailable("PostgreSQL", exc)
    asyncio.run(_batches(POSTGRES))
