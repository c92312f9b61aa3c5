"""Generation records: one per request, written off the request path, never lost.

`add` only appends to a queue; a background task inserts batches. When the database is
unreachable a batch goes to a spool file (JSON lines) on local disk and is replayed when the
database answers again; inserts are idempotent (ON CONFLICT DO NOTHING), so a replay that is
interrupted and repeated does no harm. Spool files left by a process that died are picked up
by the next one that starts (a rename claims each file for one replayer).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import operator
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from modelyard.core.money import to_nano, to_usd
from modelyard.gateway.generation import Generation
from modelyard.store.database import Database, DatabaseError

logger = logging.getLogger("modelyard.accounts")

COLUMNS = (
    "id",
    "key_hash",
    "created_at",
    "model",
    "provider_name",
    "upstream_id",
    "api_type",
    "streamed",
    "cancelled",
    "finish_reason",
    "native_finish_reason",
    "error_status",
    "latency_ms",
    "generation_ms",
    "tokens_prompt",
    "tokens_completion",
    "tokens_cached",
    "tokens_cache_write",
    "tokens_reasoning",
    "cost",
    "http_referer",
    "app_title",
    "attempts",
)
_INSERT = (
    f"INSERT INTO generations ({', '.join(COLUMNS)}) VALUES "
    f"({', '.join(f'${i + 1}' for i in range(len(COLUMNS)))}) ON CONFLICT (id) DO NOTHING"
)
BATCH = 500
SPOOL_CHECK_SECONDS = 10.0  # how often an idle writer looks for a dead process's spool
_ROW = operator.itemgetter(*COLUMNS)  # a record's values in column order, in one C call


def cost_nano(generation: Generation) -> int:
    return to_nano(generation.cost.total) if generation.cost is not None else 0


def record_of(generation: Generation, key_hash: str | None) -> dict[str, Any]:
    usage = generation.usage
    error = generation.error
    finish = generation.finish
    model = generation.model.id if generation.model else generation.plan.requested
    return {
        "id": generation.id,
        "key_hash": key_hash,
        "created_at": float(generation.created),
        "model": model,
        "provider_name": generation.provider_name or None,
        "upstream_id": None,
        "api_type": "completions",
        "streamed": int(generation.stream),
        "cancelled": int(generation.cancelled),
        "finish_reason": finish.reason if finish else ("error" if error else None),
        "native_finish_reason": finish.native if finish else None,
        "error_status": getattr(error, "status", None) if error else None,
        "latency_ms": generation.latency_ms,
        "generation_ms": generation.generation_ms,
        "tokens_prompt": usage.prompt_tokens if usage else 0,
        "tokens_completion": usage.completion_tokens if usage else 0,
        "tokens_cached": usage.cached_tokens if usage else 0,
        "tokens_cache_write": usage.cache_write_tokens if usage else 0,
        "tokens_reasoning": usage.reasoning_tokens if usage else 0,
        "cost": cost_nano(generation),
        "http_referer": generation.app.get("referer"),
        "app_title": generation.app.get("title"),
        "attempts": orjson.dumps(generation.attempts).decode(),
    }


def openrouter_shape(record: dict[str, Any]) -> dict[str, Any]:
    """`GET /generation`'s `data`, in OpenRouter's field names."""
    created = dt.datetime.fromtimestamp(record["created_at"], dt.UTC)
    latency = record["latency_ms"]
    generation_ms = record["generation_ms"]
    return {
        "id": record["id"],
        "upstream_id": record["upstream_id"],
        "created_at": created.isoformat().replace("+00:00", "Z"),
        "model": record["model"],
        "provider_name": record["provider_name"],
        "api_type": record["api_type"],
        "origin": record["http_referer"] or "",
        "http_referer": record["http_referer"],
        "app_title": record["app_title"],
        "streamed": bool(record["streamed"]),
        "cancelled": bool(record["cancelled"]),
        "finish_reason": record["finish_reason"],
        "native_finish_reason": record["native_finish_reason"],
        "latency": round(latency) if latency is not None else None,
        "generation_time": round(generation_ms) if generation_ms is not None else None,
        "tokens_prompt": record["tokens_prompt"],
        "tokens_completion": record["tokens_completion"],
        "native_tokens_prompt": record["tokens_prompt"],
        "native_tokens_completion": record["tokens_completion"],
        "native_tokens_reasoning": record["tokens_reasoning"],
        "native_tokens_cached": record["tokens_cached"],
        "native_tokens_cache_write": record["tokens_cache_write"],
        "total_cost": to_usd(record["cost"]),
        "usage": to_usd(record["cost"]),
        "is_byok": False,
        "provider_responses": orjson.loads(record["attempts"] or "[]"),
    }


class RecordWriter:
    """Queues records and writes them in batches off the request path. A flush holds the
    event loop while it builds rows and contends for the GIL while the driver binds them,
    so it runs often and small (every 0.2 s was ~300 rows a flush at full load)."""

    def __init__(self, db: Database, spool_dir: Path, flush_interval: float = 0.05) -> None:
        self.db = db
        self.spool_dir = spool_dir
        self._interval = flush_interval
        self._queue: list[dict[str, Any]] = []
        self._pending: dict[str, dict[str, Any]] = {}  # queued or spooled, by id
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._spool_file = spool_dir / f"records-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        self._lock = asyncio.Lock()
        self.spooled = 0  # records that went to disk, for logs and tests
        self._spool_check = 0.0  # when the spool directory was last found empty
        self._asleep = False  # idle: the next record wakes the writer

    async def start(self) -> None:
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self._task = asyncio.create_task(self._run(), name="record-writer")

    def add(self, record: dict[str, Any]) -> None:
        self._queue.append(record)
        self._pending[record["id"]] = record
        if self._asleep or len(self._queue) >= BATCH:
            self._wake.set()

    def pending(self, generation_id: str) -> dict[str, Any] | None:
        return self._pending.get(generation_id)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def _run(self) -> None:
        while True:
            # With nothing queued and nothing of ours spooled, sleep until a record comes
            # (or the spool check is due), instead of waking every interval for nothing;
            # that record then waits one interval for others, as under load.
            idle = not self._queue and self._spool_check != 0.0
            self._asleep = idle
            await self._wait(SPOOL_CHECK_SECONDS if idle else self._interval)
            self._asleep = False
            if idle and self._queue:
                await self._wait(self._interval)
            try:
                await self.flush()
                loop_time = asyncio.get_running_loop().time()
                # Replay when this process spooled, and now and then for a dead one's files.
                if self._spool_check == 0.0 or loop_time - self._spool_check > SPOOL_CHECK_SECONDS:
                    await self.replay()
            except Exception:
                logger.exception("record writer")

    async def _wait(self, seconds: float) -> None:
        """Until `seconds` pass or a full batch (or, asleep, any record) wakes the writer."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        self._wake.clear()

    async def flush(self) -> None:
        """Insert what is queued; spool it if the database does not take it."""
        async with self._lock:
            batch, self._queue = self._queue, []
            if not batch:
                return
            try:
                await self._insert(batch)
            except DatabaseError as exc:
                self._spool(batch)
                logger.warning("database unavailable (%s): spooled %d records", exc, len(batch))
                return
            except Exception:
                # A failure the driver does not name as an outage: still never lose a
                # record (the insert skips ids already stored, so a replay is harmless).
                self._spool(batch)
                logger.exception("writing records failed: spooled %d records", len(batch))
                return
            except BaseException:
                # Cancelled mid-insert (shutdown): the batch goes back for the last flush.
                self._queue[:0] = batch
                raise
            for record in batch:
                self._pending.pop(record["id"], None)

    async def _insert(self, batch: list[dict[str, Any]]) -> None:
        for i in range(0, len(batch), BATCH):
            rows = [_ROW(r) for r in batch[i : i + BATCH]]
            await self.db.executemany(_INSERT, rows)

    def _spool(self, batch: list[dict[str, Any]]) -> None:
        with self._spool_file.open("ab") as out:
            out.write(b"".join(orjson.dumps(r) + b"\n" for r in batch))
            out.flush()
            os.fsync(out.fileno())
        self.spooled += len(batch)
        self._spool_check = 0.0

    def _spool_files(self) -> Iterator[Path]:
        yield from sorted(self.spool_dir.glob("records-*.jsonl"))
        yield from sorted(self.spool_dir.glob("records-*.replaying-*"))

    async def replay(self) -> int:
        """Insert spooled records (this process's and orphans'); returns how many."""
        replayed = 0
        async with self._lock:
            for path in list(self._spool_files()):
                claimed = self._claim(path)
                if claimed is None:
                    continue
                records = [orjson.loads(line) for line in claimed.read_bytes().splitlines() if line]
                try:
                    await self._insert(records)
                except DatabaseError:
                    claimed.rename(claimed.with_name(claimed.name.split(".replaying-")[0]))
                    return replayed
                claimed.unlink()
                for record in records:
                    self._pending.pop(record["id"], None)
                replayed += len(records)
            else:
                self._spool_check = asyncio.get_running_loop().time()
        if replayed:
            logger.info("replayed %d spooled records", replayed)
        return replayed

    def _claim(self, path: Path) -> Path | None:
        """Rename the file so that one replayer has it; a file another live process is
        still appending to is its own (only that process replays it)."""
        name = path.name
        if ".replaying-" in name:
            owner = name.rsplit("-", 1)[-1]
            if owner != str(os.getpid()) and _alive(int(owner)):
                return None
            base = name.split(".replaying-", 1)[0]
        else:
            base = name
            pid = int(name.split("-")[1])
            if pid != os.getpid() and _alive(pid):
                return None
        target = path.with_name(f"{base}.replaying-{os.getpid()}")
        try:
            path.rename(target)
        except FileNotFoundError:
            return None
        return target


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
