"""The Responses API: POST /responses, and the stored responses behind previous_response_id.

A request is translated into a chat-shaped body (wire/responses.py) and runs on the one
inference path every surface shares (api/inference.py); its events are encoded as
Responses events (wire/responses_encode.py). Stored responses live in the gateway's
database, so a conversation continues on any provider and any gateway process.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelyard.api.body import read_json
from modelyard.api.inference import (
    GenerationStream,
    Started,
    collect_events,
    start,
    stream_events,
)
from modelyard.gateway.errors import BadRequest, GatewayError, NotFound
from modelyard.gateway.gateway import Gateway
from modelyard.store.responses import DatabaseResponseStore, ResponseStore, StoredResponse
from modelyard.wire.responses import chat_body, input_items, parse_responses_request
from modelyard.wire.responses_encode import (
    OutputAssembler,
    ResponseDraft,
    ResponsesEncoder,
    new_call_id,
)

RUNNING = {"queued", "in_progress"}


def response_store(app: Starlette) -> ResponseStore:
    """The process's store, made on first use over the app's database."""
    store: ResponseStore | None = getattr(app.state, "response_store", None)
    if store is None:
        store = DatabaseResponseStore(app.state.database)
        app.state.response_store = store
    return store


async def close_response_store(app: Starlette) -> None:
    """At shutdown, before the database closes: finish the writes in flight."""
    store: ResponseStore | None = getattr(app.state, "response_store", None)
    if store is not None:
        await store.aclose()


def _background_tasks(app: Starlette) -> dict[str, asyncio.Task[None]]:
    tasks: dict[str, asyncio.Task[None]] | None = getattr(app.state, "background_responses", None)
    if tasks is None:
        tasks = {}
        app.state.background_responses = tasks
    return tasks


def _owner(request: Request) -> str:
    """The caller's identity (key digest); stored responses are visible to it alone."""
    identity = request.app.state.auth.check(request)
    return str(identity) if identity else ""


def _json(payload: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), media_type="application/json", headers=headers)


def _ignore(_payload: dict[str, Any]) -> None:
    """Non-streamed responses keep the items, not the events."""


async def create_response(request: Request) -> Response | GenerationStream:
    gateway: Gateway = request.app.state.gateway
    owner = _owner(request)
    raw = await read_json(request, gateway.settings.max_body_bytes)
    parsed = parse_responses_request(raw)
    store = response_store(request.app)
    history: list[dict[str, Any]] = []
    if parsed.previous_response_id is not None:
        previous = await store.get(parsed.previous_response_id, owner)
        if previous is None:
            raise NotFound(
                f"Previous response with id '{parsed.previous_response_id}' not found.",
                param="previous_response_id",
                code="previous_response_not_found",
            )
        if previous.status in RUNNING:
            raise BadRequest(
                f"Previous response with id '{previous.id}' is still in progress.",
                param="previous_response_id",
            )
        history = previous.conversation()
    items = [*history, *input_items(parsed)]
    body = chat_body(parsed, raw, items)
    draft = ResponseDraft(parsed, raw, parsed.previous_response_id)

    def keep(final: dict[str, Any]) -> None:
        if parsed.store:
            store.save(StoredResponse(draft.id, owner, final, items))

    if parsed.background and not parsed.stream:
        return await _start_background(request, body, draft, owner, items, store)
    started = start(request, body, parsed.stream)
    if parsed.stream:

        async def stored() -> None:
            """Hold the closing frames until the response is durable, so a client that
            reads `response.completed` can continue from it at once, on any process."""
            await store.written(draft.id)

        return stream_events(
            started,
            lambda generation: ResponsesEncoder(generation, draft, keep),
            gateway.settings.keepalive_seconds,
            stored if parsed.store else None,
        )
    assembler = OutputAssembler(_ignore, new_call_id)
    failure = await collect_events(request, started, assembler.add)
    if failure is not None:
        return failure
    assembler.close()
    final = draft.final(started.generation, assembler)
    if parsed.store:
        await store.put(StoredResponse(draft.id, owner, final, items))
    return _json(final, {"X-Generation-Id": started.generation.id})


# -- background responses -----------------------------------------------------------------


async def _start_background(
    request: Request,
    body: dict[str, Any],
    draft: ResponseDraft,
    owner: str,
    items: list[dict[str, Any]],
    store: ResponseStore,
) -> Response:
    queued = draft.response("queued")
    await store.put(StoredResponse(draft.id, owner, queued, items))
    started = start(request, body, False)
    task = asyncio.create_task(_run_background(started, draft, owner, items, store))
    tasks = _background_tasks(request.app)
    tasks[draft.id] = task
    task.add_done_callback(lambda _t: tasks.pop(draft.id, None))
    return _json(queued, {"X-Generation-Id": started.generation.id})


async def _run_background(
    started: Started,
    draft: ResponseDraft,
    owner: str,
    items: list[dict[str, Any]],
    store: ResponseStore,
) -> None:
    """Run a background response to its end (or its cancellation), storing each state."""
    assembler = OutputAssembler(_ignore, new_call_id)
    generation = started.generation
    add = assembler.add
    running = False
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


# -- stored responses ---------------------------------------------------------------------


async def _stored(request: Request) -> tuple[StoredResponse, str, ResponseStore]:
    owner = _owner(request)
    store = response_store(request.app)
    response_id = request.path_params["response_id"]
    record = await store.get(response_id, owner)
    if record is None:
        raise NotFound(
            f"Response with id '{response_id}' not found.", param="response_id", code="not_found"
        )
    return record, owner, store


async def get_response(request: Request) -> Response:
    record, _owner_id, _store = await _stored(request)
    if request.query_params.get("stream", "false").lower() == "true":
        raise BadRequest("Replaying a stored response as a stream is not supported", param="stream")
    return _json(record.response)


async def delete_response(request: Request) -> Response:
    record, owner, store = await _stored(request)
    task = _background_tasks(request.app).get(record.id)
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    await store.delete(record.id, owner)
    return _json({"id": record.id, "object": "response", "deleted": True})


async def cancel_response(request: Request) -> Response:
    record, owner, store = await _stored(request)
    if not record.response.get("background"):
        raise BadRequest(
            "Only responses created with background set to true can be cancelled.",
            param="response_id",
        )
    task = _background_tasks(request.app).get(record.id)
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        record = await store.get(record.id, owner) or record
    elif record.status in RUNNING:
        # Its runner is gone (another process, or a restart): it will never finish.
        record.response = {**record.response, "status": "cancelled"}
        await store.put(record)
    return _json(record.response)


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    value = request.query_params.get(name)
    if value is None:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise BadRequest(
            f"Invalid request: {name} must be an integer from {low} to {high}", param=name
        )
    return int(value)


async def list_input_items(request: Request) -> Response:
    record, _owner_id, _store = await _stored(request)
    limit = _int_param(request, "limit", 20, 1, 100)
    order = request.query_params.get("order", "desc")
    if order not in {"asc", "desc"}:
        raise BadRequest("Invalid request: order must be asc or desc", param="order")
    items = record.input_items if order == "asc" else record.input_items[::-1]
    if (after := request.query_params.get("after")) is not None:
        ids = [item.get("id") for item in items]
        if after not in ids:
            raise BadRequest(f"Invalid request: no input item with id '{after}'", param="after")
        items = items[ids.index(after) + 1 :]
    page = items[:limit]
    return _json(
        {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(items) > limit,
        }
    )


def routes(prefix: str) -> list[Route]:
    return [
        Route(f"{prefix}/responses", create_response, methods=["POST"]),
        Route(f"{prefix}/responses/{{response_id}}", get_response, methods=["GET"]),
        Route(f"{prefix}/responses/{{response_id}}", delete_response, methods=["DELETE"]),
        Route(f"{prefix}/responses/{{response_id}}/cancel", cancel_response, methods=["POST"]),
        Route(f"{prefix}/responses/{{response_id}}/input_items", list_input_items, methods=["GET"]),
    ]
