"""Upstreams played by a scripted HTTP server on loopback: normal, slow, failing, cut, hung."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import httpx
import openai
import pytest
from openai import OpenAI

from tests.catalog import MOCK_KEY
from tests.conftest import OPENAI_KEY, GatewayProcess
from tests.upstream_mock import TEXT, MockUpstream

HI = [{"role": "user", "content": "Hi"}]


def expected_cost(prompt_price: str, completion_price: str, cached_price: str) -> float:
    # The mock reports 1000 prompt tokens (200 cached) and 500 completion tokens.
    per = Decimal(1_000_000)
    cost = (
        800 * Decimal(prompt_price) / per
        + 200 * Decimal(cached_price) / per
        + 500 * Decimal(completion_price) / per
    )
    return float(cost)


def test_openai_model_through_openai_compatible_upstream(
    client: OpenAI, upstream: MockUpstream
) -> None:
    completion = client.chat.completions.create(
        model="openai/gpt-5-mini", messages=HI, max_tokens=50, temperature=0.5
    )
    assert completion.choices[0].message.content == "Hello from the mock."
    assert completion.model == "openai/gpt-5-mini"
    usage = completion.usage
    assert usage is not None and usage.prompt_tokens == 1000 and usage.completion_tokens == 500
    extra = usage.model_extra or {}
    # gpt-5-mini: $0.25 / $2 per 1M tokens, cached input $0.025.
    assert extra["cost"] == pytest.approx(expected_cost("0.25", "2", "0.025"))
    sent = upstream.received("gpt-5-mini")[-1]
    # The provider's own model id; OpenAI wants max_completion_tokens; gpt-5-mini on OpenAI
    # takes no temperature, so it is dropped as OpenRouter does.
    assert sent["max_completion_tokens"] == 50 and "max_tokens" not in sent
    assert "temperature" not in sent
    assert upstream.headers[-1]["Authorization"] == f"Bearer {OPENAI_KEY}"


def test_upstream_stream_with_usage_and_cost(client: OpenAI) -> None:
    chunks = list(client.chat.completions.create(model="test/normal", messages=HI, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from the mock."
    usage = chunks[-1].usage
    assert usage is not None
    assert (usage.model_extra or {})["cost"] == pytest.approx(expected_cost("1", "2", "0.5"))
    assert all((c.model_extra or {})["provider"] == "Mock" for c in chunks)


def test_gateway_fields_are_not_forwarded(client: OpenAI, upstream: MockUpstream) -> None:
    client.chat.completions.create(
        model="test/normal",
        messages=HI,
        extra_body={"provider": {"sort": "price"}, "transforms": [], "safe_prompt": True},
    )
    sent = upstream.received("normal")[-1]
    assert "provider" not in sent and "transforms" not in sent
    assert sent["safe_prompt"] is True  # unknown provider-specific fields pass through


def test_streamed_tool_calls(client: OpenAI) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    chunks = list(
        client.chat.completions.create(model="test/tools", messages=HI, tools=tools, stream=True)
    )
    deltas = [
        c.choices[0].delta.tool_calls for c in chunks if c.choices and c.choices[0].delta.tool_calls
    ]
    assert deltas[0][0].id == "call_1" and deltas[0][0].function.name == "get_weather"
    assert all(d[0].id is None for d in deltas[1:])
    assert "".join(d[0].function.arguments or "" for d in deltas) == '{"city": "Paris"}'
    finish = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finish == ["tool_calls"]


def test_non_stream_tool_calls(client: OpenAI) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    completion = client.chat.completions.create(model="test/tools", messages=HI, tools=tools)
    # The mock streams only for streaming requests; non-stream it answers text.
    assert completion.choices[0].message.content == "Hello from the mock."


def test_upstream_5xx_is_a_502_without_secrets(gateway: GatewayProcess) -> None:
    response = httpx.post(
        f"{gateway.base}/api/v1/chat/completions",
        json={"model": "test/error500", "messages": HI},
        timeout=30,
    )
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["metadata"]["provider_name"] == "Mock"
    assert error["metadata"]["error_type"] == "provider_unavailable"
    assert MOCK_KEY not in response.text and "***" in response.text
    assert MOCK_KEY not in gateway.log() and OPENAI_KEY not in gateway.log()


def test_upstream_429_and_400_keep_their_status(gateway: GatewayProcess) -> None:
    for model, status in (("test/error429", 429), ("test/error400", 400)):
        response = httpx.post(
            f"{gateway.base}/api/v1/chat/completions",
            json={"model": model, "messages": HI},
            timeout=30,
        )
        assert response.status_code == status, response.text
        assert response.json()["error"]["metadata"]["provider_name"] == "Mock"


def test_fallback_to_next_endpoint_before_first_byte(
    client: OpenAI, upstream2: MockUpstream
) -> None:
    completion = client.chat.completions.create(model="test/fallback", messages=HI)
    assert completion.choices[0].message.content == "Hello from the mock."
    assert (completion.model_extra or {})["provider"] == "Mock Two"
    assert upstream2.received("normal")


def test_malformed_upstream_json(client: OpenAI, gateway: GatewayProcess) -> None:
    response = httpx.post(
        f"{gateway.base}/api/v1/chat/completions",
        json={"model": "test/badjson", "messages": HI},
        timeout=30,
    )
    assert response.status_code == 502
    assert "not JSON" in response.json()["error"]["message"]
    with pytest.raises(openai.APIError):
        list(client.chat.completions.create(model="test/badjson", messages=HI, stream=True))


def _raw_stream(gateway: GatewayProcess, model: str) -> tuple[int, str]:
    """A streamed request's status and its whole body, as the client receives them."""
    with httpx.stream(
        "POST",
        f"{gateway.base}/api/v1/chat/completions",
        json={"model": model, "messages": HI, "stream": True},
        timeout=30,
    ) as response:
        return response.status_code, b"".join(response.iter_bytes()).decode()


def test_stream_cut_mid_way_ends_with_error_chunk(gateway: GatewayProcess) -> None:
    status, raw = _raw_stream(gateway, "test/cut")
    assert status == 200
    events = [e for e in raw.split("\n\n") if e.startswith("data: ")]
    error_events = [e for e in events if '"error"' in e]
    assert len(error_events) == 1 and '"finish_reason":"error"' in error_events[0]
    assert events[-1] == "data: [DONE]"


def test_stream_cut_raises_in_sdk(client: OpenAI) -> None:
    with pytest.raises(openai.APIError):
        list(client.chat.completions.create(model="test/cut", messages=HI, stream=True))


@pytest.mark.slow
def test_never_answering_upstream_times_out(gateway: GatewayProcess) -> None:
    started = time.monotonic()
    response = httpx.post(
        f"{gateway.base}/api/v1/chat/completions",
        json={"model": "test/hang", "messages": HI},
        timeout=30,
    )
    assert response.status_code == 408
    assert "did not answer in time" in response.json()["error"]["message"]
    assert time.monotonic() - started < 10


@pytest.mark.slow
def test_stream_stalled_mid_way_times_out_in_the_stream(
    gateway: GatewayProcess, upstream: MockUpstream
) -> None:
    """An upstream silent for read_timeout (2 s here) after its first chunks: the stream
    ends with a 408 error chunk and [DONE], and the upstream connection is closed."""
    started = time.monotonic()
    status, raw = _raw_stream(gateway, "test/stall")
    assert status == 200 and time.monotonic() - started < 10
    chunks = [json.loads(line[6:]) for line in raw.splitlines() if line.startswith("data: {")]
    failed = [i for i, c in enumerate(chunks) if "error" in c]
    assert len(failed) == 1, raw
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[: failed[0]])
    assert text == "".join(TEXT[:2])
    error = chunks[failed[0]]["error"]
    assert error["code"] == 408 and "did not answer in time" in error["message"], error
    assert raw.endswith("data: [DONE]\n\n")
    deadline = time.monotonic() + 5
    while not any(model == "stall" for model, _ in upstream.abandoned):
        assert time.monotonic() < deadline, "the stalled upstream request was never closed"
        time.sleep(0.05)


def test_slow_upstream_gets_keepalive_comments(gateway: GatewayProcess) -> None:
    _status, raw = _raw_stream(gateway, "test/slow")
    assert raw.startswith(": OPENROUTER PROCESSING\n\n")
    assert "Hello" in raw and raw.endswith("data: [DONE]\n\n")


def test_failure_after_keepalive_comments_travels_in_the_stream(
    gateway: GatewayProcess,
) -> None:
    """The 200 went out with the first comment; the upstream's later failure is a final
    chunk with `error` and finish_reason "error", then [DONE]."""
    status, raw = _raw_stream(gateway, "test/slowfail")
    assert status == 200
    assert raw.startswith(": OPENROUTER PROCESSING\n\n")
    assert raw.endswith("data: [DONE]\n\n")
    chunks = [json.loads(line[6:]) for line in raw.splitlines() if line.startswith("data: {")]
    error = chunks[-1]["error"]
    # 5xx messages are masked mid-stream, as OpenRouter does; the metadata says who failed.
    assert error["code"] == 502 and "overloaded" in error["metadata"]["raw"], error
    assert chunks[-1]["choices"][0]["finish_reason"] == "error"


def test_client_disconnect_cancels_upstream(
    gateway: GatewayProcess, upstream: MockUpstream
) -> None:
    with httpx.stream(
        "POST",
        f"{gateway.base}/api/v1/chat/completions",
        json={"model": "test/long", "messages": HI, "stream": True},
        timeout=30,
    ) as response:
        for i, _line in enumerate(response.iter_lines()):
            if i > 4:
                break
    deadline = time.monotonic() + 10
    while "long" not in upstream.cancelled and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "long" in upstream.cancelled
    assert "long" not in upstream.completed


def test_client_disconnect_cancels_a_non_streamed_request(
    gateway: GatewayProcess, upstream: MockUpstream
) -> None:
    """The gateway's own upstream read timeout is 2 s here: a client that gives up after
    0.3 s must close the upstream request long before that."""
    before = len(upstream.abandoned)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{gateway.base}/api/v1/chat/completions",
            json={"model": "test/hang", "messages": HI},
            timeout=httpx.Timeout(30, read=0.3),
        )
    deadline = time.monotonic() + 10
    while len(upstream.abandoned) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert upstream.abandoned[before:], "the upstream request was never closed"
    model, waited = upstream.abandoned[before]
    assert model == "hang" and waited < 1.5, upstream.abandoned


def test_unconfigured_provider_explains_itself(gateway: GatewayProcess) -> None:
    response = httpx.post(
        f"{gateway.base}/api/v1/chat/completions",
        json={"model": "openai/o3-mini", "messages": HI},
        timeout=30,
    )
    # openai is configured in this gateway (pointing at the mock), so o3-mini is served.
    assert response.status_code == 200
    sent_reasoning = response.json()
    assert sent_reasoning["model"] == "openai/o3-mini"


def test_variant_slug_applies_its_default_parameters(
    client: OpenAI, upstream: MockUpstream
) -> None:
    client.chat.completions.create(model="openai/o3-mini-high", messages=HI)
    sent = upstream.received("o3-mini")[-1]
    assert sent["reasoning_effort"] == "high"
    client.chat.completions.create(
        model="openai/o3-mini", messages=HI, extra_body={"reasoning": {"effort": "low"}}
    )
    sent = upstream.received("o3-mini")[-1]
    assert sent["reasoning_effort"] == "low" and "reasoning" not in sent
