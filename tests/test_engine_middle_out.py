"""Middle-out context compression on the embedded model, through the server.

The shipped GGUF is served here under a 2k context, so that over-context prompts stay
cheap to process while every rule (on by default at <= 8k, the two request forms, the
second pass with the engine's own count) is exercised as it is at 8k.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from modelyard.gateway import transforms
from modelyard.providers.local.engine import default_gguf_path
from tests.catalog import local_model_toml
from tests.conftest import GatewayProcess

SMALL = "test/smol-2k"
CONTEXT = 2048


@pytest.fixture(scope="module")
def engine_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """A gateway of its own, serving the shipped GGUF with a small context."""
    config = local_model_toml(SMALL, str(default_gguf_path()), context_length=CONTEXT)
    process = GatewayProcess(tmp_path_factory.mktemp("middle-out"), config).start()
    yield process
    process.stop()


def _chat(gateway: GatewayProcess, messages: list[dict[str, Any]], **extra: Any) -> httpx.Response:
    return httpx.post(
        f"{gateway.base}/api/v1/chat/completions",
        json={"model": SMALL, "messages": messages, "max_tokens": 4, **extra},
        timeout=120,
    )


@pytest.mark.engine
def test_over_context_prompt_is_compressed_by_default(engine_gateway: GatewayProcess) -> None:
    response = _chat(engine_gateway, [{"role": "user", "content": "lighthouse " * 2300}])
    assert response.status_code == 200, response.text
    assert 0 < response.json()["usage"]["prompt_tokens"] <= CONTEXT


@pytest.mark.engine
def test_transforms_and_plugin_forms_compress_a_long_conversation(
    engine_gateway: GatewayProcess,
) -> None:
    turns: list[dict[str, Any]] = [{"role": "system", "content": "You are terse."}]
    for i in range(10):
        turns.append({"role": "user", "content": f"Tell me about harbour {i}. " * 60})
        turns.append({"role": "assistant", "content": f"Harbour {i} is calm. " * 60})
    turns.append({"role": "user", "content": "Which harbour was first?"})
    for extra in (
        {"transforms": ["middle-out"]},
        {"plugins": [{"id": "context-compression", "engine": "middle-out"}]},
    ):
        response = _chat(engine_gateway, turns, **extra)
        assert response.status_code == 200, response.text
        assert response.json()["usage"]["prompt_tokens"] <= CONTEXT
    off = _chat(engine_gateway, turns, plugins=[{"id": "context-compression", "enabled": False}])
    assert off.status_code == 400, off.text


@pytest.mark.engine
def test_dense_text_is_compressed_again_with_the_engines_own_count(
    engine_gateway: GatewayProcess,
) -> None:
    """Digits are about a token each, three times the estimate: the engine's over-context
    answer gives the real numbers, and the gateway compresses again with them."""
    digits = "".join(random.Random(7).choice("0123456789") for _ in range(7500))
    response = _chat(engine_gateway, [{"role": "user", "content": digits}])
    assert response.status_code == 200, response.text
    assert CONTEXT // 2 < response.json()["usage"]["prompt_tokens"] <= CONTEXT


def test_middle_out_keeps_the_start_and_the_end() -> None:
    messages = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "x", "tool_calls": [{"id": "c1"}]},
        {"role": "tool", "tool_call_id": "c1", "content": "y" * 3000},
        *({"role": "user", "content": f"{i} " * 500} for i in range(10)),
        {"role": "user", "content": "last"},
    ]
    body, removed = transforms.middle_out({"messages": messages}, 700)
    kept = body["messages"]
    assert kept[:2] == messages[:2] and kept[-1] == messages[-1]
    assert removed and transforms.estimate(body) <= 700
    # A tool result never outlives the call it answers.
    assert all(m["role"] != "tool" for m in kept) or any(m.get("tool_calls") for m in kept)
    assert transforms.requested({"transforms": []}) is False
    assert transforms.requested({}) is None
    assert transforms.enabled(None, 8192) and not transforms.enabled(None, 16384)
