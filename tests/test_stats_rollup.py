"""The statistics behind the pages, on SQLite and PostgreSQL: generation records in, hourly
rollups and the pages' questions out (tokens per day, rankings, apps, latency, throughput,
uptime, one key's activity, the log and its CSV). PostgreSQL runs whenever it is reachable
and must run when CI=true (tests/postgres.py)."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from modelyard.accounts.records import COLUMNS
from modelyard.schema import MIGRATIONS
from modelyard.stats import generation_log
from modelyard.stats.rollup import DAY, HOUR, Rollup, refresh, stale_hours
from modelyard.stats.usage import PERIODS, UsageStats
from modelyard.store.database import Database

# A fixed "now" in the middle of an hour, so buckets are predictable.
NOW = 1_780_000_000 // DAY * DAY + 12 * HOUR + 1800
INSERT = (
    f"INSERT INTO generations ({', '.join(COLUMNS)}) VALUES "
    f"({', '.join(f'${i + 1}' for i in range(len(COLUMNS)))})"
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'stats.db'}"
    return request.getfixturevalue("postgres_url")


_counter = iter(range(1_000_000))


def record(at: float, **fields: Any) -> tuple[Any, ...]:
    row: dict[str, Any] = {
        "id": f"gen-{int(at)}-{next(_counter):020d}",
        "key_hash": "key-a",
        "created_at": float(at),
        "model": "acme/small",
        "provider_name": "Alpha",
        "upstream_id": None,
        "api_type": "completions",
        "streamed": 1,
        "cancelled": 0,
        "finish_reason": "stop",
        "native_finish_reason": "stop",
        "error_status": None,
        "latency_ms": 200.0,
        "generation_ms": 1000.0,
        "tokens_prompt": 10,
        "tokens_completion": 20,
        "tokens_cached": 0,
        "tokens_cache_write": 0,
        "tokens_reasoning": 0,
        "cost": 1_000,  # nano-dollars
        "http_referer": None,
        "app_title": None,
        "attempts": None,
    }
    row.update(fields)
    if row["attempts"] is None:
        status = row["error_status"] or 200
        row["attempts"] = orjson.dumps(
            [{"provider": row["provider_name"], "model": row["model"], "status": status}]
        ).decode()
    return tuple(row[c] for c in COLUMNS)


async def _open(url: str) -> Database:
    return await Database(url).connect(migrations=MIGRATIONS)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_tokens_rankings_and_apps(db_url: str) -> None:
    async def scenario() -> None:
        db = await _open(db_url)
        try:
            rows = [
                # Today: two models, two apps, one unattributed request.
                record(NOW - 60, http_referer="https://a.example", app_title="App A"),
                record(NOW - 120, http_referer="https://a.example", app_title="App A"),
                record(NOW - 3 * HOUR, http_referer="https://b.example", tokens_completion=100),
                record(NOW - 5 * HOUR, model="acme/big", tokens_prompt=1000, tokens_completion=0),
                # Three days ago, and forty days ago (outside the month).
                record(NOW - 3 * DAY, tokens_prompt=7, tokens_completion=3, tokens_reasoning=2),
                record(NOW - 40 * DAY, model="acme/old", tokens_prompt=5_000),
            ]
            await db.executemany(INSERT, rows)
            await refresh(db, 0)
            stats = UsageStats(db)

            weekly = await stats.weekly_tokens(now=NOW)
            assert weekly == {"acme/small": 30 + 30 + 110 + 10, "acme/big": 1000}

            series = await stats.tokens_per_day("acme/small", days=7, now=NOW)
            assert series.times[-1] == NOW // DAY * DAY
            assert series.lines["Prompt"][-1] == 30
            assert series.lines["Completion"][-1] == 140
            assert series.lines["Prompt"][-4] == 7
            assert series.lines["Reasoning"][-4] == 2
            assert sum(series.lines["Prompt"]) == 37

            month = await stats.top_models(PERIODS["month"], now=NOW)
            assert [(r.name, r.tokens, r.requests) for r in month] == [
                ("acme/big", 1000, 1),
                ("acme/small", 180, 4),
            ]
            assert sum(r.share for r in month) == pytest.approx(100, abs=0.2)

            apps = await stats.top_apps(None, PERIODS["day"], now=NOW)
            assert [(a.name, a.label, a.tokens, a.requests) for a in apps] == [
                ("https://b.example", "https://b.example", 110, 1),
                ("https://a.example", "App A", 60, 2),
            ]
            assert await stats.top_apps("acme/big", PERIODS["day"], now=NOW) == []

            daily = await stats.models_per_day(["acme/small", "acme/big"], days=7, now=NOW)
            assert daily.lines["acme/big"][-1] == 1000
            assert daily.lines["acme/small"][-1] == 170
        finally:
            await db.close()

    run(scenario())


def test_performance_uptime_and_key_activity(db_url: str) -> None:
    async def scenario() -> None:
        db = await _open(db_url)
        hour = NOW // HOUR * HOUR
        try:
            failed_then_served = orjson.dumps(
                [
                    {"provider": "Beta", "model": "acme/small", "status": 502},
                    {"provider": "Alpha", "model": "acme/small", "status": 200},
                ]
            ).decode()
            rows = [
                record(hour + 10, latency_ms=100.0, generation_ms=2000.0, tokens_completion=40),
                record(hour + 20, latency_ms=300.0, generation_ms=2000.0, tokens_completion=80),
                record(hour + 30, attempts=failed_then_served, key_hash="key-b", cost=5_000),
                # A rate limit is not downtime; a 500 is.
                record(
                    hour - HOUR,
                    provider_name="Beta",
                    error_status=429,
                    latency_ms=None,
                    generation_ms=None,
                    tokens_completion=0,
                ),
                record(
                    hour - HOUR,
                    provider_name="Beta",
                    error_status=500,
                    latency_ms=None,
                    generation_ms=None,
                    tokens_completion=0,
                    key_hash=None,
                ),
            ]
            await db.executemany(INSERT, rows)
            await refresh(db, 0)
            stats = UsageStats(db)

            latency, throughput = await stats.performance("acme/small", hours=3, now=NOW)
            assert latency.times[-1] == hour
            assert latency.lines["Alpha"][-1] == pytest.approx(0.2)  # (100+300+200)/3 ms
            # (40 + 80 + 20) tokens over 5 s of generation.
            assert throughput.lines["Alpha"][-1] == pytest.approx(28.0)
            assert latency.lines["Alpha"][-2] is None  # no traffic that hour

            uptime = await stats.uptime("acme/small", hours=3, now=NOW)
            assert uptime.lines["Alpha"][-1] == 100.0
            assert uptime.lines["Beta"][-1] == 0.0  # the failed first attempt
            assert uptime.lines["Beta"][-2] == 0.0  # the 500; the 429 does not count

            series, totals = await stats.key_activity("key-a", days=7, now=NOW)
            assert totals == {"requests": 3, "tokens": 10 * 3 + 40 + 80 + 0, "spend": 3e-6}
            assert series.lines["Requests"][-1] == 3
            _, everyone = await stats.key_activity(None, days=7, now=NOW)
            assert everyone["requests"] == 5
            assert everyone["spend"] == pytest.approx(9e-6)
        finally:
            await db.close()

    run(scenario())


def test_refresh_is_idempotent_and_catches_late_records(db_url: str) -> None:
    async def scenario() -> None:
        db = await _open(db_url)
        try:
            await db.executemany(INSERT, [record(NOW - 100), record(NOW - 2 * DAY)])
            rollup = Rollup(db, max_age=0)
            await rollup.fresh()
            await rollup.fresh()
            await refresh(db, NOW - 3 * DAY)
            total = await db.fetchval("SELECT SUM(requests) FROM stats_hourly")
            assert int(total) == 2

            # A spooled batch replayed late: older than the refresh window.
            await db.executemany(INSERT, [record(NOW - DAY - 5)])
            assert await stale_hours(db, NOW - 3 * DAY) == [(NOW - DAY - 5) // HOUR * HOUR]
            rollup._reconciled_at = None  # as if ten minutes had passed
            rollup.reconcile_days = 3650
            await rollup.fresh()
            assert int(await db.fetchval("SELECT SUM(requests) FROM stats_hourly")) == 3
            assert await stale_hours(db, 0) == []
        finally:
            await db.close()

    run(scenario())


def test_generation_log_filters_pages_and_csv(db_url: str) -> None:
    async def scenario() -> None:
        db = await _open(db_url)
        try:
            rows = [record(NOW - i * 60, tokens_prompt=i) for i in range(60)]
            rows.append(record(NOW - 30, key_hash="key-b", model="acme/big"))
            rows.append(record(NOW - 40, error_status=502, finish_reason="error"))
            rows.append(record(NOW - 50, cancelled=1, http_referer="https://a.example"))
            await db.executemany(INSERT, rows)

            mine = generation_log.LogFilter(key_hash="key-a")
            first, more = await generation_log.page(db, mine, 1)
            assert more and len(first) == generation_log.PAGE
            assert first[0]["created_at"] == NOW  # newest first
            second, more = await generation_log.page(db, mine, 2)
            assert not more and len(first) + len(second) == 62
            assert {r["id"] for r in first}.isdisjoint(r["id"] for r in second)

            def where(**q: str) -> generation_log.LogFilter:
                return generation_log.LogFilter.parse(q, "key-a")

            assert len((await generation_log.page(db, where(status="error"), 1))[0]) == 1
            assert len((await generation_log.page(db, where(status="cancelled"), 1))[0]) == 1
            assert len((await generation_log.page(db, where(app="https://a.example"), 1))[0]) == 1
            assert (await generation_log.page(db, where(model="acme/big"), 1))[0] == []
            everyone = generation_log.LogFilter.parse({"model": "acme/big"}, None)
            assert len((await generation_log.page(db, everyone, 1))[0]) == 1

            generation_log.CSV_BATCH = 7  # several batches through the keyset
            body = b"".join([chunk async for chunk in generation_log.csv_rows(db, mine)])
            table = list(csv.DictReader(io.StringIO(body.decode())))
            assert len(table) == 62
            assert len({r["id"] for r in table}) == 62
            assert table[0]["created_at"].startswith("20")
            assert sum(int(r["tokens_prompt"]) for r in table) == sum(range(60)) + 20
            assert table[0]["cost_usd"] == "0.000001000"
        finally:
            generation_log.CSV_BATCH = 2000
            await db.close()

    run(scenario())
