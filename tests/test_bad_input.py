"""Every malformed request gets a 400 (or 413) naming the problem; the server keeps serving."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import LOCAL_MODEL, GatewayProcess

M = LOCAL_MODEL
HI = [{"role": "user", "content": "Hi"}]

# (body, the param the error must name, a fragment of the message)
CASES: list[tuple[object, str | None, str]] = [
    ([1, 2], None, "JSON object"),
    ({"model": M}, "messages", "messages is required"),
    ({"model": M, "messages": []}, "messages", "length >= 1"),
    ({"model": M, "messages": "Hi"}, "messages", "array"),
    ({"model": M, "messages": [{"content": "Hi"}]}, "messages[0].role", "required"),
    ({"model": M, "messages": [{"role": "wizard", "content": "Hi"}]}, "messages[0].role", "wizard"),
    ({"model": M, "messages": [{"role": "user"}]}, "messages[0].content", "required"),
    ({"model": M, "messages": [{"role": "user", "content": 42}]}, "messages[0].content", "int"),
    (
        {"model": M, "messages": [{"role": "user", "content": [{"type": "video", "x": 1}]}]},
        "messages[0].content[0].type",
        "video",
    ),
    (
        {"model": M, "messages": [{"role": "user", "content": [{"type": "text"}]}]},
        "messages[0].content[0].text",
        "required",
    ),
    (
        {
            "model": M,
            "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}],
        },
        "messages[0].content[0].image_url.url",
        "required",
    ),
    (
        {"model": M, "messages": [{"role": "tool", "content": "x"}]},
        "messages[0].tool_call_id",
        "required",
    ),
    ({"messages": HI}, "model", "model is required"),
    ({"model": 7, "messages": HI}, "model", "str"),
    ({"model": "nobody/nothing", "messages": HI}, "model", "not a valid model"),
    ({"model": M, "messages": HI, "temperature": 3}, "temperature", "<= 2"),
    ({"model": M, "messages": HI, "temperature": "hot"}, "temperature", "str"),
    ({"model": M, "messages": HI, "top_p": 1.5}, "top_p", "<= 1"),
    ({"model": M, "messages": HI, "max_tokens": 0}, "max_tokens", ">= 1"),
    ({"model": M, "messages": HI, "max_tokens": 1.5}, "max_tokens", "int"),
    ({"model": M, "messages": HI, "frequency_penalty": -3}, "frequency_penalty", ">= -2"),
    ({"model": M, "messages": HI, "stop": ["a", "b", "c", "d", "e"]}, "stop", "length"),
    ({"model": M, "messages": HI, "top_logprobs": 3}, "top_logprobs", "logprobs"),
    ({"model": M, "messages": HI, "top_logprobs": 25, "logprobs": True}, "top_logprobs", "<= 20"),
    ({"model": M, "messages": HI, "logit_bias": {"abc": 1}}, "logit_bias", "token ids"),
    ({"model": M, "messages": HI, "logit_bias": {"5": 500}}, "logit_bias[...]", "<= 100"),
    ({"model": M, "messages": HI, "n": 2}, "n", "<= 1"),
    ({"model": M, "messages": HI, "stream": "yes"}, "stream", "bool"),
    (
        {"model": M, "messages": HI, "response_format": {"type": "yaml"}},
        "response_format.type",
        "yaml",
    ),
    (
        {
            "model": M,
            "messages": HI,
            "response_format": {"type": "json_schema", "json_schema": {"name": "a b"}},
        },
        "response_format.json_schema.name",
        "matching regex",
    ),
    (
        {"model": M, "messages": HI, "tools": [{"type": "function"}]},
        "tools[0].function",
        "is required",
    ),
    (
        {
            "model": M,
            "messages": HI,
            "tools": [{"type": "function", "function": {"name": "bad name!"}}],
        },
        "tools[0].function.name",
        "must match",
    ),
    ({"model": M, "messages": HI, "tool_choice": "required"}, "tool_choice", "no tools"),
    (
        {
            "model": M,
            "messages": HI,
            "tools": [{"type": "function", "function": {"name": "a"}}],
            "tool_choice": {"type": "function", "function": {"name": "b"}},
        },
        "tool_choice.function.name",
        "not among tools",
    ),
    ({"model": M, "messages": HI, "reasoning": {"effort": "huge"}}, "reasoning.effort", "huge"),
    (
        {"model": M, "messages": HI, "reasoning": {"effort": "low"}, "reasoning_effort": "high"},
        "reasoning_effort",
        "conflicts",
    ),
    ({"model": M, "messages": HI, "provider": {"order": "openai"}}, "provider.order", "array"),
    (
        {"model": M, "messages": HI, "provider": {"data_collection": "maybe"}},
        "provider.data_collection",
        "maybe",
    ),
    ({"model": M, "messages": HI, "metadata": {"a": 1}}, "metadata[...]", "str"),
    ({"model": M, "models": [""], "messages": HI}, "models[0]", "length"),
]


@pytest.mark.parametrize(("body", "param", "fragment"), CASES)
def test_bad_request_names_the_problem(
    gateway: GatewayProcess, body: object, param: str | None, fragment: str
) -> None:
    response = httpx.post(f"{gateway.base}/api/v1/chat/completions", json=body, timeout=30)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == 400
    assert error["param"] == param
    assert fragment in error["message"]


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"not json", b'{"model": "x", "messages": [}', b"\xff\xfe"],
)
def test_unparseable_body(gateway: GatewayProcess, raw: bytes) -> None:
    response = httpx.post(
        f"{gateway.base}/api/v1/chat/completions",
        content=raw,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 400
    assert "body" in response.json()["error"]["message"]


def test_body_over_the_limit_is_413(gateway: GatewayProcess) -> None:
    big = "x" * (1024 * 1024 + 10)
    response = httpx.post(
        f"{gateway.base}/api/v1/chat/completions",
        json={"model": M, "messages": [{"role": "user", "content": big}]},
        timeout=30,
    )
    assert response.status_code == 413
    assert "limit" in response.json()["error"]["message"]


def test_unknown_route_and_method(gateway: GatewayProcess) -> None:
    response = httpx.get(f"{gateway.base}/api/v1/nothing-here", timeout=10)
    assert response.status_code == 404 and "error" in response.json()
    response = httpx.get(f"{gateway.base}/api/v1/chat/completions", timeout=10)
    assert response.status_code == 405 and "error" in response.json()


@pytest.mark.engine
def test_context_overflow_is_a_400_with_numbers(gateway: GatewayProcess) -> None:
    long_prompt = "hello " * 9000
    response = httpx.post(
        f"{gateway.base}/api/v1/chat/completions",
        # Middle-out is on by default at 8k of context; without it, the numbers.
        json={
            "model": M,
            "messages": [{"role": "user", "content": long_prompt}],
            "transforms": [],
        },
        timeout=60,
    )
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]
    assert "context" in message and any(ch.isdigit() for ch in message)


@pytest.mark.engine
def test_server_keeps_serving_after_bad_input(gateway: GatewayProcess) -> None:
    for body, _param, _fragment in CASES:
        httpx.post(f"{gateway.base}/api/v1/chat/completions", json=body, timeout=30)
    assert gateway.alive()
    response = httpx.post(
        f"{gateway.base}/api/v1/chat/completions",
        json={"model": M, "messages": HI, "max_tokens": 4},
        timeout=60,
    )
    assert response.status_code == 200
