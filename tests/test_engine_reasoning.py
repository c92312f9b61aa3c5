"""Reasoning on a local model whose chat template has a thinking mode.

No thinking GGUF ships with the project, so the shipped SmolLM2 file is served under a
Qwen3-style template: `<think>` opens the answer unless `enable_thinking` is false. The
engine finds the thinking mode in the template, and the model (which never closes the
block) thinks for as long as it writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from modelyard.providers.local.engine import default_gguf_path
from tests.catalog import local_model_toml
from tests.conftest import GatewayProcess

pytestmark = pytest.mark.engine

THINKER = "test/smol-think"
EOS = "2"  # SmolLM2's <|im_end|>
TEMPLATE = """{%- for m in messages %}<|im_start|>{{ m.role }}
{{ m.content }}<|im_end|>
{% endfor %}{%- if add_generation_prompt %}<|im_start|>assistant
{%- if enable_thinking is defined and enable_thinking is false %}
<think>

</think>

{%- else %}
<think>
{%- endif %}{%- endif %}"""


@pytest.fixture(scope="module")
def thinking_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    config = local_model_toml(
        THINKER,
        str(default_gguf_path()),
        context_length=2048,
        reasoning=True,
        chat_template=TEMPLATE,
    )
    process = GatewayProcess(tmp_path_factory.mktemp("think"), config).start()
    yield process
    process.stop()


def _chat(gateway: GatewayProcess, **extra: Any) -> dict[str, Any]:
    response = httpx.post(
        f"{gateway.base}/api/v1/chat/completions",
        json={
            "model": THINKER,
            "messages": [{"role": "user", "content": "What is 2+2?"}],
            "max_tokens": 10,
            "logit_bias": {EOS: -100},
            **extra,
        },
        timeout=120,
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_the_catalog_says_the_model_reasons(thinking_gateway: GatewayProcess) -> None:
    models = httpx.get(f"{thinking_gateway.base}/api/v1/models", timeout=10).json()["data"]
    entry = next(m for m in models if m["id"] == THINKER)
    assert {"reasoning", "include_reasoning"} <= set(entry["supported_parameters"])


@pytest.mark.parametrize(
    "extra",
    [{}, {"reasoning": {"effort": "high"}}, {"reasoning_effort": "low"}],
    ids=["template-default", "reasoning-object", "reasoning_effort"],
)
def test_thinking_comes_back_as_reasoning_and_is_counted(
    thinking_gateway: GatewayProcess, extra: dict[str, Any]
) -> None:
    body = _chat(thinking_gateway, **extra)
    message, usage = body["choices"][0]["message"], body["usage"]
    assert message["reasoning"] and not message.get("content")
    assert usage["completion_tokens_details"]["reasoning_tokens"] == usage["completion_tokens"]


def test_reasoning_disabled_switches_the_template_off(thinking_gateway: GatewayProcess) -> None:
    body = _chat(thinking_gateway, reasoning={"enabled": False})
    message, usage = body["choices"][0]["message"], body["usage"]
    assert message["content"] and not message.get("reasoning")
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 0


def test_excluded_reasoning_is_thought_and_counted_but_not_returned(
    thinking_gateway: GatewayProcess,
) -> None:
    for extra in ({"reasoning": {"exclude": True}}, {"include_reasoning": False}):
        body = _chat(thinking_gateway, **extra)
        assert not body["choices"][0]["message"].get("reasoning")
        assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0


def test_reasoning_streams_as_reasoning_deltas(thinking_gateway: GatewayProcess) -> None:
    reasoning, usage = "", None
    with httpx.stream(
        "POST",
        f"{thinking_gateway.base}/api/v1/chat/completions",
        json={
            "model": THINKER,
            "messages": [{"role": "user", "content": "What is 2+2?"}],
            "max_tokens": 10,
            "logit_bias": {EOS: -100},
            "stream": True,
        },
        timeout=120,
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data: {"):
                chunk = json.loads(line[6:])
                usage = chunk.get("usage") or usage
                for choice in chunk["choices"]:
                    reasoning += choice["delta"].get("reasoning") or ""
                    assert not choice["delta"].get("content")
    assert reasoning and usage
    assert usage["completion_tokens_details"]["reasoning_tokens"] == usage["completion_tokens"]
