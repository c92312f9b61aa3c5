"""Hourly rollups of the generation records, so the pages read thousands of rows, not millions.

The records table (accounts) is append-only and written in batches off the request path;
here it is summed into one row per (hour, key, model, provider, app) and, from each
record's list of attempts, one row per (hour, model, provider) of successes and failures
(uptime counts every attempt, fallbacks included).

A refresh recomputes whole hours from a start hour onward, inside one transaction: it is
idempotent, so two processes refreshing at once or a refresh repeated after a crash do no
harm. Each refresh starts at the hour before the newest record seen last time (batches land
late by seconds); records that land later than that (a spool replayed after a database
outage) are caught by `reconcile`, which compares record counts per hour over recent days.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from typing import Any

import orjson

from modelyard.store.database import Database, Queries
from modelyard.store.migrations import Migration

logger = logging.getLogger("modelyard.stats")

HOUR = 3600
DAY = 86_400
# How often recent days are checked for records that landed late (a replayed spool).
RECONCILE_EVERY = 600.0
# Any constant shared by every process; it only serializes concurrent refreshes.
_ADVISORY_LOCK = 0x737461747321

# After the accounts migrations (`modelyard.schema` lists them first): it indexes their
# records table.
MIGRATIONS: list[Migration] = [
    Migration(
        "stats",
        1,
        """
    CREATE TABLE IF NOT EXISTS stats_hourly (
        hour BIGINT NOT NULL,
        key_hash TEXT NOT NULL,
        model TEXT NOT NULL,
        provider TEXT NOT NULL,
        app TEXT NOT NULL,
        app_title TEXT,
        requests BIGINT NOT NULL,
        errors BIGINT NOT NULL,
        cancelled BIGINT NOT NULL,
        tokens_prompt BIGINT NOT NULL,
        tokens_completion BIGINT NOT NULL,
        tokens_reasoning BIGINT NOT NULL,
        tokens_cached BIGINT NOT NULL,
        cost BIGINT NOT NULL,
        latency_ms_sum DOUBLE PRECISION NOT NULL,
        latency_n BIGINT NOT NULL,
        generation_ms_sum DOUBLE PRECISION NOT NULL,
        generation_tokens BIGINT NOT NULL,
        PRIMARY KEY (hour, key_hash, model, provider, app)
    );
    CREATE INDEX IF NOT EXISTS stats_hourly_model ON stats_hourly (model, hour);
    CREATE INDEX IF NOT EXISTS stats_hourly_key ON stats_hourly (key_hash, hour);
    CREATE TABLE IF NOT EXISTS stats_uptime_hourly (
        hour BIGINT NOT NULL,
        model TEXT NOT NULL,
        provider TEXT NOT NULL,
        ok BIGINT NOT NULL,
        errors BIGINT NOT NULL,
        PRIMARY KEY (hour, model, provider)
    );
    CREATE TABLE IF NOT EXISTS stats_rollup_state (
        id INTEGER PRIMARY KEY,
        newest_record DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX IF NOT EXISTS generations_created ON generations (created_at)
    """,
    ),
]


def hour_of(dialect: str, column: str) -> str:
    """SQL for the start of the UTC hour holding `column` (seconds since the epoch)."""
    if dialect == "postgresql":
        return f"(FLOOR({column} / {HOUR})::BIGINT * {HOUR})"
    return f"(CAST({column} / {HOUR} AS INTEGER) * {HOUR})"


def _insert_hourly(dialect: str) -> str:
    hour = hour_of(dialect, "created_at")
    return f"""
        INSERT INTO stats_hourly (hour, key_hash, model, provider, app, app_title, requests,
            errors, cancelled, tokens_prompt, tokens_completion, tokens_reasoning,
            tokens_cached, cost, latency_ms_sum, latency_n, generation_ms_sum,
            generation_tokens)
        SELECT {hour}, COALESCE(key_hash, ''), model, COALESCE(provider_name, ''),
            COALESCE(http_referer, ''), MAX(app_title), COUNT(*),
            SUM(CASE WHEN error_status IS NOT NULL THEN 1 ELSE 0 END), SUM(cancelled),
            SUM(tokens_prompt), SUM(tokens_completion), SUM(tokens_reasoning),
            SUM(tokens_cached), SUM(cost), SUM(COALESCE(latency_ms, 0)),
            SUM(CASE WHEN latency_ms IS NOT NULL THEN 1 ELSE 0 END),
            SUM(CASE WHEN generation_ms > 0 THEN generation_ms ELSE 0 END),
            SUM(CASE WHEN generation_ms > 0 THEN tokens_completion ELSE 0 END)
        FROM generations WHERE created_at >= $1
        GROUP BY 1, 2, 3, 4, 5
    """


def attempt_outcome(status: Any) -> bool | None:
    """True for a success, False for downtime, None for what uptime ignores (OpenRouter:
    rate limits and the caller's own 4xx are not the provider being down)."""
    if not isinstance(status, int):
        return None
    if status < 400:
        return True
    if status in (408,) or status >= 500:
        return False
    return None


async def _rebuild_uptime(tx: Queries, start: int) -> None:
    counts: dict[tuple[int, str, str], list[int]] = defaultdict(lambda: [0, 0])
    rows = await tx.fetch(
        "SELECT created_at, attempts FROM generations WHERE created_at >= $1", float(start)
    )
    for row in rows:
        hour = int(row["created_at"]) // HOUR * HOUR
        try:
            attempts = orjson.loads(row["attempts"] or "[]")
        except orjson.JSONDecodeError:
            continue
        for attempt in attempts if isinstance(attempts, list) else []:
            if not isinstance(attempt, dict):
                continue
            outcome = attempt_outcome(attempt.get("status"))
            if outcome is None:
                continue
            key = (hour, str(attempt.get("model") or ""), str(attempt.get("provider") or ""))
            counts[key][0 if outcome else 1] += 1
    await tx.execute("DELETE FROM stats_uptime_hourly WHERE hour >= $1", start)
    if counts:
        await tx.executemany(
            "INSERT INTO stats_uptime_hourly (hour, model, provider, ok, errors) "
            "VALUES ($1, $2, $3, $4, $5)",
            [(h, m, p, ok, bad) for (h, m, p), (ok, bad) in counts.items()],
        )


async def refresh(db: Database, since: float) -> float | None:
    """Recompute every hour from the one holding `since`; returns the newest record's time."""
    start = int(since) // HOUR * HOUR
    async with db.transaction() as tx:
        if db.dialect == "postgresql":
            await tx.execute("SELECT pg_advisory_xact_lock($1)", _ADVISORY_LOCK)
        await tx.execute("DELETE FROM stats_hourly WHERE hour >= $1", start)
        await tx.execute(_insert_hourly(db.dialect), float(start))
        await _rebuild_uptime(tx, start)
        newest = await tx.fetchval("SELECT MAX(created_at) FROM generations")
        if newest is not None:
            await tx.execute(
                "INSERT INTO stats_rollup_state (id, newest_record) VALUES (1, $1) "
                "ON CONFLICT (id) DO UPDATE SET newest_record = excluded.newest_record",
                float(newest),
            )
    return float(newest) if newest is not None else None


async def stale_hours(db: Database, since: float) -> list[int]:
    """Hours since `since` whose record count differs from the rollup's."""
    start = int(since) // HOUR * HOUR
    hour = hour_of(db.dialect, "created_at")
    records = await db.fetch(
        f"SELECT {hour} AS hour, COUNT(*) AS n FROM generations WHERE created_at >= $1 GROUP BY 1",
        float(start),
    )
    rolled = await db.fetch(
        "SELECT hour, SUM(requests) AS n FROM stats_hourly WHERE hour >= $1 GROUP BY hour",
        start,
    )
    have = {int(r["hour"]): int(r["n"]) for r in rolled}
    want = {int(r["hour"]): int(r["n"]) for r in records}
    return sorted(h for h in want.keys() | have.keys() if want.get(h, 0) != have.get(h, 0))


class Rollup:
    """Keeps the rollups fresh for one process: pages call `fresh()` before reading; a
    refresh runs at most every `max_age` seconds and only one at a time."""

    def __init__(self, db: Database, max_age: float = 1.0, reconcile_days: int = 3) -> None:
        self.db = db
        self.max_age = max_age
        self.reconcile_days = reconcile_days
        self._lock = asyncio.Lock()
        self._refreshed_at: float | None = None
        self._reconciled_at: float | None = None
        self._newest: float | None = None

    async def _start_point(self) -> float:
        if self._newest is None:
            self._newest = await self.db.fetchval(
                "SELECT newest_record FROM stats_rollup_state WHERE id = 1"
            )
            if self._newest is None:
                return 0.0  # never rolled up: everything
        return min(float(self._newest), time.time()) - 60

    def _due(self, at: float | None, every: float) -> bool:
        return at is None or time.monotonic() - at >= every

    async def fresh(self) -> None:
        if not self._due(self._refreshed_at, self.max_age):
            return
        async with self._lock:
            if not self._due(self._refreshed_at, self.max_age):
                return
            since = await self._start_point()
            if self._due(self._reconciled_at, RECONCILE_EVERY):
                stale = await stale_hours(self.db, time.time() - self.reconcile_days * DAY)
                if stale:
                    since = min(since, stale[0])
                self._reconciled_at = time.monotonic()
            newest = await refresh(self.db, since)
            if newest is not None:
                self._newest = newest
            self._refreshed_at = time.monotonic()

    async def warm(self) -> None:
        """Bring the rollups up to date once at start, so that the first page does not pay
        for a year of records; on failure the pages try again."""
        try:
            await self.fresh()
        except Exception:
            logger.exception("building the statistics rollups at start failed")
