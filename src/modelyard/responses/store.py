"""Stored responses: what `previous_response_id`, GET, DELETE and input_items read.

A record keeps the final Response object and the input items it was sampled over (the
stored history plus that request's input), so a continuation is `input_items + output +
new input` whatever provider served each turn. Writes leave the request path: `save`
makes the record visible to this process at once and writes it behind, so a stream's
last event never waits on the database.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from modelyard.store.database import Database, DatabaseError
from modelyard.store.migrations import Migration

logger = logging.getLogger("modelyard.store")

MIGRATIONS: list[Migration] = [
    Migration(
        "responses",
        1,
        """
    CREATE TABLE IF NOT EXISTS responses (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        status TEXT NOT NULL,
        response TEXT NOT NULL,
        input_items TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS responses_created_at ON responses (created_at)
    """,
    ),
]


@dataclass(slots=True)
class StoredResponse:
    id: str
    # Whose it is: the caller's key identity ("" when the gateway is open).
    owner: str
    response: dict[str, Any]
    input_items: list[dict[str, Any]]

    @property
    def status(self) -> str:
        return str(self.response.get("status", ""))

    def conversation(self) -> list[dict[str, Any]]:
        """The items a continuation samples over before its own input."""
        return [*self.input_items, *self.response.get("output", [])]


class ResponseStore(Protocol):
    def save(self, record: StoredResponse) -> None:
        """Keep `record` (insert or replace); visible to `get` in this process at once."""
        ...

    async def put(self, record: StoredResponse) -> None:
        """Keep `record` and wait until it is durable."""
        ...

    async def written(self, response_id: str) -> None:
        """Wait until the saves of `response_id` made so far are durable."""
        ...

    async def get(self, response_id: str, owner: str) -> StoredResponse | None: ...

    async def delete(self, response_id: str, owner: str) -> bool: ...

    async def aclose(self) -> None:
        """Finish the writes in flight."""
        ...


class MemoryResponseStore:
    """One process, nothing durable: for tests of the surface and embedded use."""

    def __init__(self) -> None:
        self._records: dict[str, StoredResponse] = {}

    def save(self, record: StoredResponse) -> None:
        self._records[record.id] = record

    async def put(self, record: StoredResponse) -> None:
        self.save(record)

    async def written(self, response_id: str) -> None:
        return None

    async def get(self, response_id: str, owner: str) -> StoredResponse | None:
        record = self._records.get(response_id)
        return record if record is not None and record.owner == owner else None

    async def delete(self, response_id: str, owner: str) -> bool:
        if await self.get(response_id, owner) is None:
            return False
        del self._records[response_id]
        return True

    async def aclose(self) -> None:
        return None


_UPSERT = """
INSERT INTO responses (id, owner, created_at, status, response, input_items)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (id) DO UPDATE SET status = excluded.status, response = excluded.response
"""


class DatabaseResponseStore:
    """Responses in the gateway's database (SQLite by default, PostgreSQL when shared)."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._pending: dict[str, StoredResponse] = {}
        self._writes: dict[str, asyncio.Task[None]] = {}

    def save(self, record: StoredResponse) -> None:
        self._pending[record.id] = record
        previous = self._writes.get(record.id)
        task = asyncio.ensure_future(self._write(record, previous))
        self._writes[record.id] = task

        def done(finished: asyncio.Task[None]) -> None:
            if self._writes.get(record.id) is finished:
                del self._writes[record.id]
            if not finished.cancelled():
                finished.exception()  # logged in _write; retrieved here

        task.add_done_callback(done)

    async def _write(self, record: StoredResponse, previous: asyncio.Task[None] | None) -> None:
        if previous is not None:
            # Writes of one response land in the order they were made.
            await asyncio.gather(previous, return_exceptions=True)
        try:
            await self._db.execute(
                _UPSERT,
                record.id,
                record.owner,
                float(record.response.get("created_at") or 0),
                record.status,
                orjson.dumps(record.response).decode(),
                orjson.dumps(record.input_items).decode(),
            )
        except DatabaseError:
            logger.exception("could not store response %s", record.id)
            raise
        finally:
            if self._pending.get(record.id) is record:
                del self._pending[record.id]

    async def put(self, record: StoredResponse) -> None:
        self.save(record)
        await self._writes[record.id]

    async def written(self, response_id: str) -> None:
        if (write := self._writes.get(response_id)) is not None:
            await asyncio.gather(write, return_exceptions=True)

    async def get(self, response_id: str, owner: str) -> StoredResponse | None:
        record = self._pending.get(response_id)
        if record is None:
            row = await self._db.fetchrow(
                "SELECT id, owner, response, input_items FROM responses WHERE id = $1",
                response_id,
            )
            if row is None:
                return None
            record = StoredResponse(
                id=row["id"],
                owner=row["owner"],
                response=orjson.loads(row["response"]),
                input_items=orjson.loads(row["input_items"]),
            )
        return record if record.owner == owner else None

    async def delete(self, response_id: str, owner: str) -> bool:
        if await self.get(response_id, owner) is None:
            return False
        await self.written(response_id)
        self._pending.pop(response_id, None)
        return bool(await self._db.execute("DELETE FROM responses WHERE id = $1", response_id))

    async def aclose(self) -> None:
        if self._writes:
            await asyncio.gather(*self._writes.values(), return_exceptions=True)
