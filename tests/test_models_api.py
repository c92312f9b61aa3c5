"""The catalog over HTTP: OpenRouter's /models schema, OpenAI's shape for the SDK."""

from __future__ import annotations

import httpx
from openai import OpenAI

from tests.conftest import LOCAL_MODEL, GatewayProcess

SEED_MODELS = {
    "openai/gpt-5-mini",
    "openai/gpt-5.4-mini",
    "openai/gpt-5-image-mini",
    "openai/o3-mini",
    "openai/o3-mini-high",
}


def test_models_in_openrouter_schema(gateway: GatewayProcess) -> None:
    response = httpx.get(f"{gateway.base}/api/v1/models", timeout=10)
    assert response.status_code == 200
    models = {m["id"]: m for m in response.json()["data"]}
    assert SEED_MODELS | {LOCAL_MODEL} <= models.keys()
    mini = models["openai/gpt-5-mini"]
    # Seed 000: $0.25 / $2 per 1M tokens, 400K context, released Aug 7 2025.
    assert mini["pricing"]["prompt"] == "0.00000025"
    assert mini["pricing"]["completion"] == "0.000002"
    assert mini["context_length"] == 400000
    assert mini["created"] == 1754524800
    assert mini["architecture"]["input_modalities"][0] == "text"
    assert mini["architecture"]["modality"].endswith("->text")
    assert "tools" in mini["supported_parameters"]
    assert mini["top_provider"]["context_length"] == 400000
    o3 = models["openai/o3-mini"]
    assert o3["pricing"]["prompt"] == "0.0000011" and o3["pricing"]["completion"] == "0.0000044"
    assert models["openai/o3-mini-high"]["default_parameters"] == {"reasoning_effort": "high"}
    local = models[LOCAL_MODEL]
    assert local["pricing"]["prompt"] == "0" and local["pricing"]["completion"] == "0"


def test_models_filters(gateway: GatewayProcess) -> None:
    response = httpx.get(
        f"{gateway.base}/api/v1/models",
        params={"supported_parameters": "logit_bias,top_k"},
        timeout=10,
    )
    ids = {m["id"] for m in response.json()["data"]}
    assert LOCAL_MODEL in ids and "openai/gpt-5-mini" not in ids
    response = httpx.get(
        f"{gateway.base}/api/v1/models", params={"output_modalities": "image"}, timeout=10
    )
    ids = {m["id"] for m in response.json()["data"]}
    assert ids == {"openai/gpt-5-image-mini"}


def test_sdk_lists_and_retrieves_models(client: OpenAI) -> None:
    ids = {m.id for m in client.models.list()}
    assert SEED_MODELS <= ids
    model = client.models.retrieve("openai/gpt-5-mini")
    assert model.id == "openai/gpt-5-mini" and model.owned_by == "openai"


def test_openai_base_path_serves_models(gateway: GatewayProcess) -> None:
    response = httpx.get(f"{gateway.base}/v1/models/{LOCAL_MODEL}", timeout=10)
    assert response.status_code == 200
    assert response.json()["object"] == "model"
    missing = httpx.get(f"{gateway.base}/v1/models/nobody/nothing", timeout=10)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "model_not_found"


def test_endpoints_listing(gateway: GatewayProcess) -> None:
    httpx.post(
        f"{gateway.base}/api/v1/chat/completions",
        json={"model": "openai/gpt-5-mini", "messages": [{"role": "user", "content": "Hi"}]},
        timeout=30,
    )
    response = httpx.get(f"{gateway.base}/api/v1/models/openai/gpt-5-mini/endpoints", timeout=10)
    assert response.status_code == 200
    data = response.json()["data"]
    endpoints = {e["tag"]: e for e in data["endpoints"]}
    assert set(endpoints) == {"openai", "openrouter", "aimlapi"}
    assert endpoints["openai"]["status"] == 0 and endpoints["openrouter"]["status"] != 0
    assert endpoints["openai"]["uptime_last_30m"] == 100.0
    assert endpoints["openai"]["pricing"]["prompt"] == "0.00000025"
