"""What the pages ask of the traffic: tokens per day, top apps and models, latency,
throughput and uptime per provider, one key's spend. All read the hourly rollups (see
rollup.py), so a year of data is a few thousand rows per question."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from modelyard.core.money import to_usd
from modelyard.stats.rollup import DAY, HOUR
from modelyard.store.database import Database

PERIODS = {"day": DAY, "week": 7 * DAY, "month": 30 * DAY}


@dataclass(slots=True)
class Series:
    """Chart data: bucket starts (epoch seconds) and one list of values per named line."""

    times: list[int]
    lines: dict[str, list[float | None]] = field(default_factory=dict)
    step: int = DAY

    def as_json(self, title: str, unit: str, kind: str = "line") -> dict[str, Any]:
        return {
            "title": title,
            "unit": unit,
            "kind": kind,
            "step": self.step,
            "times": self.times,
            "lines": [{"label": k, "values": v} for k, v in self.lines.items()],
        }

    @property
    def empty(self) -> bool:
        return not any(v for values in self.lines.values() for v in values)


def buckets(since: int, until: int, step: int) -> list[int]:
    start = since // step * step
    return list(range(start, until // step * step + 1, step))


def _since(seconds: int, now: float | None = None, step: int = HOUR) -> int:
    now = time.time() if now is None else now
    return (int(now) - seconds) // step * step + step


# The UTC day of an hourly row: integer division on both dialects.
DAY_OF_HOUR = f"(hour / {DAY} * {DAY})"


@dataclass(slots=True)
class Ranked:
    name: str
    label: str
    tokens: int
    requests: int
    share: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class UsageStats:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- models ---------------------------------------------------------------------------

    async def weekly_tokens(self, now: float | None = None) -> dict[str, int]:
        """Tokens (prompt + completion) per model over the last 7 days."""
        rows = await self.db.fetch(
            "SELECT model, SUM(tokens_prompt + tokens_completion) AS tokens FROM stats_hourly "
            "WHERE hour >= $1 GROUP BY model",
            _since(7 * DAY, now),
        )
        return {r["model"]: int(r["tokens"] or 0) for r in rows}

    async def tokens_per_day(self, model: str, days: int = 30, now: float | None = None) -> Series:
        since = _since(days * DAY, now, DAY)
        rows = await self.db.fetch(
            f"SELECT {DAY_OF_HOUR} AS day, SUM(tokens_prompt) AS prompt, "
            "SUM(tokens_completion) AS completion, SUM(tokens_reasoning) AS reasoning "
            "FROM stats_hourly WHERE model = $1 AND hour >= $2 GROUP BY 1",
            model,
            since,
        )
        times = buckets(since, int(time.time() if now is None else now), DAY)
        by_day = {int(r["day"]): r for r in rows}
        series = Series(times)
        for name, column in (
            ("Prompt", "prompt"),
            ("Completion", "completion"),
            ("Reasoning", "reasoning"),
        ):
            series.lines[name] = [int((by_day.get(t) or {}).get(column) or 0) for t in times]
        return series

    async def top_apps(
        self, model: str | None, seconds: int, limit: int = 20, now: float | None = None
    ) -> list[Ranked]:
        where, args = "hour >= $1 AND app <> ''", [_since(seconds, now)]
        if model is not None:
            where += " AND model = $2"
            args.append(model)
        rows = await self.db.fetch(
            "SELECT app, MAX(app_title) AS title, SUM(tokens_prompt + tokens_completion) AS "
            f"tokens, SUM(requests) AS requests FROM stats_hourly WHERE {where} GROUP BY app "
            f"ORDER BY tokens DESC, app LIMIT {int(limit)}",
            *args,
        )
        return _ranked(rows, "app", lambda r: r["title"] or r["app"])

    async def top_models(
        self, seconds: int, limit: int = 20, now: float | None = None
    ) -> list[Ranked]:
        rows = await self.db.fetch(
            "SELECT model, SUM(tokens_prompt + tokens_completion) AS tokens, "
            "SUM(requests) AS requests FROM stats_hourly WHERE hour >= $1 GROUP BY model "
            f"ORDER BY tokens DESC, model LIMIT {int(limit)}",
            _since(seconds, now),
        )
        return _ranked(rows, "model", lambda r: r["model"])

    async def models_per_day(
        self, models: list[str], days: int = 30, now: float | None = None
    ) -> Series:
        """Daily tokens of each of `models` (the rankings chart)."""
        since = _since(days * DAY, now, DAY)
        times = buckets(since, int(time.time() if now is None else now), DAY)
        series = Series(times, {m: [0] * len(times) for m in models})
        if not models:
            return series
        marks = ", ".join(f"${i + 2}" for i in range(len(models)))
        rows = await self.db.fetch(
            f"SELECT model, {DAY_OF_HOUR} AS day, "
            "SUM(tokens_prompt + tokens_completion) AS tokens FROM stats_hourly "
            f"WHERE hour >= $1 AND model IN ({marks}) GROUP BY 1, 2",
            since,
            *models,
        )
        index = {t: i for i, t in enumerate(times)}
        for row in rows:
            i = index.get(int(row["day"]))
            if i is not None:
                series.lines[row["model"]][i] = int(row["tokens"] or 0)
        return series

    # -- providers ------------------------------------------------------------------------

    async def performance(
        self, model: str, hours: int = 72, now: float | None = None
    ) -> tuple[Series, Series]:
        """Hourly mean latency to first token (s) and throughput (tokens/s) per provider."""
        since = _since(hours * HOUR, now)
        rows = await self.db.fetch(
            "SELECT hour, provider, SUM(latency_ms_sum) AS lat, SUM(latency_n) AS lat_n, "
            "SUM(generation_ms_sum) AS gen_ms, SUM(generation_tokens) AS gen_tokens "
            "FROM stats_hourly WHERE model = $1 AND hour >= $2 AND provider <> '' "
            "GROUP BY hour, provider",
            model,
            since,
        )
        times = buckets(since, int(time.time() if now is None else now), HOUR)
        index = {t: i for i, t in enumerate(times)}
        latency, throughput = Series(times, step=HOUR), Series(times, step=HOUR)
        for row in rows:
            i = index.get(int(row["hour"]))
            if i is None:
                continue
            provider = row["provider"]
            lat = latency.lines.setdefault(provider, [None] * len(times))
            thr = throughput.lines.setdefault(provider, [None] * len(times))
            if row["lat_n"]:
                lat[i] = round(float(row["lat"]) / int(row["lat_n"]) / 1000, 3)
            if row["gen_ms"] and row["gen_tokens"]:
                thr[i] = round(int(row["gen_tokens"]) / (float(row["gen_ms"]) / 1000), 1)
        return latency, throughput

    async def uptime(self, model: str, hours: int = 72, now: float | None = None) -> Series:
        """Hourly share of successful attempts per provider, in percent (None: no traffic)."""
        since = _since(hours * HOUR, now)
        rows = await self.db.fetch(
            "SELECT hour, provider, ok, errors FROM stats_uptime_hourly "
            "WHERE model = $1 AND hour >= $2",
            model,
            since,
        )
        times = buckets(since, int(time.time() if now is None else now), HOUR)
        index = {t: i for i, t in enumerate(times)}
        series = Series(times, step=HOUR)
        for row in rows:
            i = index.get(int(row["hour"]))
            total = int(row["ok"]) + int(row["errors"])
            if i is None or not total:
                continue
            line = series.lines.setdefault(row["provider"], [None] * len(times))
            line[i] = round(int(row["ok"]) * 100 / total, 2)
        return series

    # -- one key --------------------------------------------------------------------------

    async def key_activity(
        self, key_hash: str | None, days: int = 30, now: float | None = None
    ) -> tuple[Series, dict[str, float]]:
        """Requests, tokens and spend (USD) per day for one key (None: every key), and the
        period's totals."""
        since = _since(days * DAY, now, DAY)
        where, args = "hour >= $1", [since]
        if key_hash is not None:
            where += " AND key_hash = $2"
            args.append(key_hash)
        rows = await self.db.fetch(
            f"SELECT {DAY_OF_HOUR} AS day, SUM(requests) AS requests, "
            "SUM(tokens_prompt + tokens_completion) AS tokens, SUM(cost) AS cost "
            f"FROM stats_hourly WHERE {where} GROUP BY 1",
            *args,
        )
        times = buckets(since, int(time.time() if now is None else now), DAY)
        by_day = {int(r["day"]): r for r in rows}
        series = Series(times)
        series.lines["Requests"] = [int((by_day.get(t) or {}).get("requests") or 0) for t in times]
        series.lines["Tokens"] = [int((by_day.get(t) or {}).get("tokens") or 0) for t in times]
        series.lines["Spend (USD)"] = [
            to_usd(int((by_day.get(t) or {}).get("cost") or 0)) for t in times
        ]
        totals = {
            "requests": sum(series.lines["Requests"]),  # type: ignore[arg-type]
            "tokens": sum(series.lines["Tokens"]),  # type: ignore[arg-type]
            "spend": to_usd(sum(int(r["cost"] or 0) for r in rows)) or 0.0,
        }
        return series, totals


def _ranked(rows: list[dict[str, Any]], name: str, label: Any) -> list[Ranked]:
    total = sum(int(r["tokens"] or 0) for r in rows) or 1
    return [
        Ranked(
            name=r[name],
            label=label(r),
            tokens=int(r["tokens"] or 0),
            requests=int(r["requests"] or 0),
            share=round(int(r["tokens"] or 0) * 100 / total, 1),
        )
        for r in rows
    ]
