"""The generation log behind /activity: one key's records (or every key's on an open
gateway), newest first, filtered, a page at a time or all of it as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from modelyard.core.money import to_usd
from modelyard.store.database import Database

PAGE = 50
CSV_BATCH = 2000
CSV_COLUMNS = [
    "id",
    "created_at",
    "model",
    "provider_name",
    "app",
    "http_referer",
    "streamed",
    "cancelled",
    "finish_reason",
    "error_status",
    "tokens_prompt",
    "tokens_completion",
    "tokens_reasoning",
    "tokens_cached",
    "cost_usd",
    "latency_ms",
    "generation_ms",
]
STATUSES = {"ok": "Completed", "error": "Failed", "cancelled": "Cancelled"}


@dataclass(slots=True)
class LogFilter:
    key_hash: str | None = None  # None: every key (open gateway, or the admin)
    model: str = ""
    provider: str = ""
    app: str = ""
    status: str = ""
    since: float | None = None
    until: float | None = None

    @classmethod
    def parse(cls, params: Any, key_hash: str | None) -> LogFilter:
        status = params.get("status") or ""
        return cls(
            key_hash=key_hash,
            model=(params.get("model") or "").strip()[:200],
            provider=(params.get("provider") or "").strip()[:100],
            app=(params.get("app") or "").strip()[:512],
            status=status if status in STATUSES else "",
            since=_date(params.get("from")),
            until=_date(params.get("to"), end=True),
        )

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []

        def add(sql: str, value: Any) -> None:
            args.append(value)
            clauses.append(sql.replace("?", f"${len(args)}"))

        if self.key_hash is not None:
            add("key_hash = ?", self.key_hash)
        if self.model:
            add("model = ?", self.model)
        if self.provider:
            add("provider_name = ?", self.provider)
        if self.app:
            add("(http_referer = ? OR app_title = ?)", self.app)  # one value, used twice
        if self.since is not None:
            add("created_at >= ?", self.since)
        if self.until is not None:
            add("created_at < ?", self.until)
        if self.status == "ok":
            clauses.append("error_status IS NULL AND cancelled = 0")
        elif self.status == "error":
            clauses.append("error_status IS NOT NULL")
        elif self.status == "cancelled":
            clauses.append("cancelled = 1")
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", args

    def query_string(self) -> dict[str, str]:
        """The filters as query parameters, for the pager and the CSV link."""
        out = {
            "model": self.model,
            "provider": self.provider,
            "app": self.app,
            "status": self.status,
            "from": _day_text(self.since),
            "to": _day_text(self.until, end=True),
        }
        return {k: v for k, v in out.items() if v}


def _date(text: str | None, end: bool = False) -> float | None:
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        return None
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()
    return start + 86_400 if end else start


def _day_text(timestamp: float | None, end: bool = False) -> str:
    if timestamp is None:
        return ""
    if end:
        timestamp -= 86_400
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).date().isoformat()


_SELECT = (
    "SELECT id, created_at, model, provider_name, http_referer, app_title, streamed, cancelled,"
    " finish_reason, error_status, tokens_prompt, tokens_completion, tokens_reasoning,"
    " tokens_cached, cost, latency_ms, generation_ms FROM generations"
)


async def page(
    db: Database, where: LogFilter, number: int = 1
) -> tuple[list[dict[str, Any]], bool]:
    """One page of the log (newest first) and whether there is a next one."""
    sql, args = where.where()
    offset = (max(1, number) - 1) * PAGE
    rows = await db.fetch(
        f"{_SELECT}{sql} ORDER BY created_at DESC, id DESC LIMIT {PAGE + 1} OFFSET {offset}",
        *args,
    )
    for row in rows:
        row["cost_usd"] = to_usd(row["cost"])
    return rows[:PAGE], len(rows) > PAGE


async def models_used(db: Database, key_hash: str | None) -> list[str]:
    """The filter form's model choices: what the key has used, from the rollups."""
    where, args = ("WHERE key_hash = $1", [key_hash]) if key_hash is not None else ("", [])
    rows = await db.fetch(f"SELECT DISTINCT model FROM stats_hourly {where}", *args)
    return sorted(r["model"] for r in rows)


async def csv_rows(db: Database, where: LogFilter) -> AsyncIterator[bytes]:
    """The whole filtered log as CSV, fetched in batches (keyset on created_at, id)."""
    sql, args = where.where()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue().encode()
    cursor: tuple[float, str] | None = None
    while True:
        clause, params = sql, list(args)
        if cursor is not None:
            params += [cursor[0], cursor[0], cursor[1]]
            n = len(params)
            keyset = f"(created_at < ${n - 2} OR (created_at = ${n - 1} AND id < ${n}))"
            clause = f"{sql} AND {keyset}" if sql else f" WHERE {keyset}"
        rows = await db.fetch(
            f"{_SELECT}{clause} ORDER BY created_at DESC, id DESC LIMIT {CSV_BATCH}", *params
        )
        if not rows:
            return
        buffer.seek(0)
        buffer.truncate()
        for row in rows:
            writer.writerow(
                [
                    row["id"],
                    dt.datetime.fromtimestamp(row["created_at"], dt.UTC).isoformat(),
                    row["model"],
                    row["provider_name"] or "",
                    row["app_title"] or "",
                    row["http_referer"] or "",
                    int(row["streamed"]),
                    int(row["cancelled"]),
                    row["finish_reason"] or "",
                    row["error_status"] if row["error_status"] is not None else "",
                    row["tokens_prompt"],
                    row["tokens_completion"],
                    row["tokens_reasoning"],
                    row["tokens_cached"],
                    f"{to_usd(row['cost']):.9f}",
                    round(row["latency_ms"]) if row["latency_ms"] is not None else "",
                    round(row["generation_ms"]) if row["generation_ms"] is not None else "",
                ]
            )
        yield buffer.getvalue().encode()
        last = rows[-1]
        cursor = (last["created_at"], last["id"])
        if len(rows) < CSV_BATCH:
            return
