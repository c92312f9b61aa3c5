"""The Responses API's service: what a conversation continues from, background runs and
their cancellation, storage of each state. One per process, over the gateway's database."""

from __future__ import annotations

import asyncio
from typing import Any

from modelyard.core.errors import BadRequest, GatewayError, NotFound
from modelyard.gateway.generation import Started
from modelyard.responses.store import DatabaseResponseStore, ResponseStore, StoredResponse
from modelyard.store.database import Database
from modelyard.wire.responses_encode import ResponseDraft
from modelyard.wire.responses_output import OutputAssembler

RUNNING = {"queued", "in_progress"}


class ResponsesService:
    def __init__(self, database: Database, store: ResponseStore | None = None) -> None:
        self.store: ResponseStore = store or DatabaseResponseStore(database)
        self._background: dict[str, asyncio.Task[None]] = {}

    async def aclose(self) -> None:
        """At shutdown, before the database closes: finish the writes in flight."""
        await self.store.aclose()

    async def history(self, previous_response_id: str, owner: str) -> list[dict[str, Any]]:
        """The items a continuation of `previous_response_id` samples over first."""
        previous = await self.store.get(previous_response_id, owner)
        if previous is None:
            raise NotFound(
                f"Previous response with id '{previous_response_id}' not found.",
                param="previous_response_id",
                code="previous_response_not_found",
            )
        if previous.status in RUNNING:
            raise BadRequest(
                f"Previous response with id '{previous.id}' is still in progress.",
                param="previous_response_id",
            )
        return previous.conversation()

    async def find(self, response_id: str, owner: str) -> StoredResponse:
        record = await self.store.get(response_id, owner)
        if record is None:
            raise NotFound(
                f"Response with id '{response_id}' not found.",
                param="response_id",
                code="not_found",
            )
        return record

    # -- background responses -------------------------------------------------------------

    async def start_background(
        self, started: Started, draft: ResponseDraft, owner: str, items: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Store the response as queued and run it in a task; returns the queued object."""
        queued = draft.response("queued")
        await self.store.put(StoredResponse(draft.id, owner, queued, items))
        task = asyncio.create_task(self._run_background(started, draft, owner, items))
        self._background[draft.id] = task
        task.add_done_callback(lambda _t: self._background.pop(draft.id, None))
        return queued

    async def _run_background(
        self, started: Started, draft: ResponseDraft, owner: str, items: list[dict[str, Any]]
    ) -> None:
        """Run a background response to its end (or its cancellation), storing each state."""
        assembler = OutputAssembler()
        generation = started.generation
        add = assembler.add
        running = False
        store = self.store
        try:
            try:
                async for event in started.events:
                    add(event)
                    if not running:  # the first event: a provider has started
                        running = True
                        store.save(
                            StoredResponse(
                                draft.id,
                                owner,
                                draft.response("in_progress", generation=generation),
                                items,
                            )
                        )
            except GatewayError as exc:
                final = draft.response(
                    "failed",
                    generation=generation,
                    error={"code": "server_error", "message": exc.message},
                )
            else:
                assembler.close()
                final = draft.final(generation, assembler)
        except asyncio.CancelledError:
            await started.stop()
            assembler.close("incomplete")
            cancelled = draft.response("cancelled", generation=generation, output=assembler.output)
            await store.put(StoredResponse(draft.id, owner, cancelled, items))
            raise
        await store.put(StoredResponse(draft.id, owner, final, items))

    async def _stop_background(self, response_id: str) -> bool:
        task = self._background.get(response_id)
        if task is None:
            return False
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return True

    async def cancel(self, record: StoredResponse, owner: str) -> StoredResponse:
        if not record.response.get("background"):
            raise BadRequest(
                "Only responses created with background set to true can be cancelled.",
                param="response_id",
            )
        if await self._stop_background(record.id):
            return await self.store.get(record.id, owner) or record
        if record.status in RUNNING:
            # Its runner is gone (another process, or a restart): it will never finish.
            record.response = {**record.response, "status": "cancelled"}
            await self.store.put(record)
        return record

    async def delete(self, record: StoredResponse, owner: str) -> None:
        await self._stop_background(record.id)
        await self.store.delete(record.id, owner)
