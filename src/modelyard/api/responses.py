"""The Responses API over HTTP: POST /responses, and the stored responses' routes.

A request is decoded into the gateway's typed request (wire/responses_to_chat.py) and runs
on the one inference path every surface shares (api/inference.py); its events are encoded
as Responses events (wire/responses_encode.py). History, background runs, cancellation and
storage are the Responses service's (responses/service.py).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelyard.api.body import read_json
from modelyard.api.inference import GenerationStream, collect_events, start, stream_events
from modelyard.core.errors import BadRequest
from modelyard.gateway.gateway import Gateway
from modelyard.responses.service import ResponsesService
from modelyard.responses.store import StoredResponse
from modelyard.wire.responses_encode import ResponseDraft, ResponsesEncoder
from modelyard.wire.responses_output import OutputAssembler
from modelyard.wire.responses_request import input_items, parse_responses_request
from modelyard.wire.responses_to_chat import inference_request


def _service(request: Request) -> ResponsesService:
    return request.app.state.responses


def _owner(request: Request) -> str:
    """The caller's identity (key digest); stored responses are visible to it alone."""
    identity = request.app.state.auth.check(request)
    return str(identity) if identity else ""


def _json(payload: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), media_type="application/json", headers=headers)


async def create_response(request: Request) -> Response | GenerationStream:
    gateway: Gateway = request.app.state.gateway
    owner = _owner(request)
    raw = await read_json(request, gateway.settings.max_body_bytes)
    parsed = parse_responses_request(raw)
    service = _service(request)
    store = service.store
    history: list[dict[str, Any]] = []
    if parsed.previous_response_id is not None:
        history = await service.history(parsed.previous_response_id, owner)
    items = [*history, *input_items(parsed)]
    inference = inference_request(parsed, raw, items)
    draft = ResponseDraft(parsed, raw, parsed.previous_response_id)

    def keep(final: dict[str, Any]) -> None:
        if parsed.store:
            store.save(StoredResponse(draft.id, owner, final, items))

    if parsed.background and not parsed.stream:
        started = start(request, inference)
        queued = await service.start_background(started, draft, owner, items)
        return _json(queued, {"X-Generation-Id": started.generation.id})
    started = start(request, inference)
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
    assembler = OutputAssembler()
    failure = await collect_events(request, started, assembler.add)
    if failure is not None:
        return failure
    assembler.close()
    final = draft.final(started.generation, assembler)
    if parsed.store:
        await store.put(StoredResponse(draft.id, owner, final, items))
    return _json(final, {"X-Generation-Id": started.generation.id})


# -- stored responses ---------------------------------------------------------------------


async def _stored(request: Request) -> tuple[StoredResponse, str]:
    owner = _owner(request)
    record = await _service(request).find(request.path_params["response_id"], owner)
    return record, owner


async def get_response(request: Request) -> Response:
    record, _owner_id = await _stored(request)
    if request.query_params.get("stream", "false").lower() == "true":
        raise BadRequest("Replaying a stored response as a stream is not supported", param="stream")
    return _json(record.response)


async def delete_response(request: Request) -> Response:
    record, owner = await _stored(request)
    await _service(request).delete(record, owner)
    return _json({"id": record.id, "object": "response", "deleted": True})


async def cancel_response(request: Request) -> Response:
    record, owner = await _stored(request)
    record = await _service(request).cancel(record, owner)
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
    record, _owner_id = await _stored(request)
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
