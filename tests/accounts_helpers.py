"""Shared pieces of the accounts tests: a priced upstream model, key-API calls, chat calls."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.catalog import endpoint, mock_provider, model_toml, providers_toml, section

ADMIN = "sk-admin-test-provisioning-key"
MODEL = "acct/priced"
# The mock upstream reports 1000 prompt tokens (200 cached) and 500 completion tokens:
# 800 x $1/M + 200 x $0.5/M + 500 x $2/M = $0.0019 a request.
COST_PER_REQUEST = 0.0019
# A prompt whose byte count (the reservation's bound on its tokens) covers the 1000 tokens
# the mock reports, so that each reservation really is the worst case.
LONG_PROMPT = "word " * 220


def config(upstream_url: str, extra: str = "", upstream_model: str = "normal") -> str:
    """Priced test models served by the mock upstream (`upstream_model` picks its behaviour)."""
    return (
        section("server", keepalive_seconds=0.25)
        + section("engine", enabled=False)
        + providers_toml(mock=mock_provider(upstream_url))
        + model_toml(
            MODEL,
            context_length=4096,
            max_completion_tokens=1000,
            pricing={"prompt": 1.0, "completion": 2.0, "input_cache_read": 0.5},
            endpoints=[endpoint("mock", upstream_model)],
        )
        + model_toml("acct/gratis", context_length=4096, endpoints=[endpoint("mock", "normal")])
        + model_toml(
            "acct/other",
            context_length=4096,
            pricing={"prompt": 1.0, "completion": 2.0},
            endpoints=[endpoint("mock", "normal")],
        )
        + extra
    )


def admin(base: str, method: str, path: str, body: Any = None) -> httpx.Response:
    return httpx.request(
        method,
        f"{base}/api/v1{path}",
        json=body,
        headers={"Authorization": f"Bearer {ADMIN}"},
        timeout=30,
    )


def create_key(base: str, **fields: Any) -> tuple[str, dict[str, Any]]:
    response = admin(base, "POST", "/keys", {"name": "test", **fields})
    assert response.status_code == 201, response.text
    payload = response.json()
    return payload["key"], payload["data"]


def chat(
    base: str, key: str, model: str = MODEL, max_tokens: int | None = 500, stream: bool = False
) -> httpx.Response:
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": LONG_PROMPT}],
        "stream": stream,
    }
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    return httpx.post(
        f"{base}/api/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {key}", "X-Title": "accounts-test"},
        timeout=60,
    )


def key_info(base: str, key: str) -> dict[str, Any]:
    response = httpx.get(
        f"{base}/api/v1/key", headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def generation(base: str, key: str, generation_id: str, wait: float = 30) -> dict[str, Any]:
    """One record; records are written in the background, so wait for it to land."""
    deadline = time.monotonic() + wait
    while True:
        response = httpx.get(
            f"{base}/api/v1/generation",
            params={"id": generation_id},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        if response.status_code == 200 or time.monotonic() > deadline:
            assert response.status_code == 200, response.text
            return response.json()["data"]
        time.sleep(0.1)
