"""GET /models (OpenRouter's schema, with OpenAI's `object`/`owned_by` so both SDKs accept
it), GET /models/{id}, and GET /models/{author}/{slug}/endpoints."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from modelyard.catalog.catalog import Model
from modelyard.core.errors import NotFound
from modelyard.gateway.gateway import Gateway
from modelyard.gateway.listing import architecture, endpoint_payload, model_payload


def _json(payload: Any) -> Response:
    return Response(orjson.dumps(payload), media_type="application/json")


async def list_models(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    query = request.query_params
    wanted_out = {m for m in query.get("output_modalities", "").split(",") if m}
    wanted_params = {p for p in query.get("supported_parameters", "").split(",") if p}
    data = []
    for model in gateway.catalog:
        if wanted_out and "all" not in wanted_out and not wanted_out & set(model.output_modalities):
            continue
        if wanted_params and not wanted_params <= set(model.supported_parameters):
            continue
        data.append(model_payload(model))
    return _json({"object": "list", "data": data})


def _model_or_404(gateway: Gateway, model_id: str) -> Model:
    model = gateway.catalog.get(model_id)
    if model is None:
        raise NotFound(f"Model {model_id!r} not found", param="model", code="model_not_found")
    return model


async def get_model(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    return _json(model_payload(_model_or_404(gateway, request.path_params["model_id"])))


async def model_endpoints(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    model_id = f"{request.path_params['author']}/{request.path_params['slug']}"
    model = _model_or_404(gateway, model_id)
    return _json(
        {
            "data": {
                "id": model.id,
                "name": model.name,
                "created": model.created,
                "description": model.description,
                "architecture": architecture(model),
                "endpoints": [endpoint_payload(gateway, model, e) for e in model.endpoints],
            }
        }
    )
