"""The benchmark harness measures a working path: its mock upstream speaks the wire the SDK
expects, and the gateway it starts runs with key auth, as a user runs it."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from bench.procs import (
    BENCH_KEY,
    BENCH_MODEL,
    Proc,
    start_gateway,
    start_mock,
    start_passthrough,
)
from openai import OpenAI


def _sdk(base: str, key: str) -> OpenAI:
    return OpenAI(base_url=base, api_key=key, max_retries=0, _strict_response_validation=True)


@pytest.fixture(scope="module")
def mock() -> Iterator[str]:
    proc, base = start_mock(None, chunks=5)
    with proc:
        yield base


@pytest.fixture(scope="module")
def bench_gateway(mock: str) -> Iterator[str]:
    proc: Proc
    proc, base = start_gateway(mock, None)
    with proc:
        yield base


def _stream_text_and_usage(client: OpenAI, model: str) -> tuple[str, int]:
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage = "", 0
    for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage:
            usage = chunk.usage.completion_tokens
    return text, usage


def test_mock_upstream_speaks_chat_completions(mock: str) -> None:
    client = _sdk(mock, "sk-upstream")
    completion = client.chat.completions.create(
        model="bench", messages=[{"role": "user", "content": "Hi"}]
    )
    assert completion.choices[0].message.content == "Hello from the bench mock."
    assert completion.usage and completion.usage.total_tokens == 20
    assert _stream_text_and_usage(client, "bench") == (" w0 w1 w2 w3 w4", 5)


def test_bench_gateway_serves_the_mock_behind_key_auth(bench_gateway: str) -> None:
    client = _sdk(bench_gateway, BENCH_KEY)
    completion = client.chat.completions.create(
        model=BENCH_MODEL, messages=[{"role": "user", "content": "Hi"}]
    )
    assert completion.choices[0].message.content == "Hello from the bench mock."
    assert _stream_text_and_usage(client, BENCH_MODEL) == (" w0 w1 w2 w3 w4", 5)
    with pytest.raises(openai.AuthenticationError):
        _sdk(bench_gateway, "sk-wrong").chat.completions.create(
            model=BENCH_MODEL, messages=[{"role": "user", "content": "Hi"}]
        )


def test_bare_pass_through_relays_whole_answers_and_streams(mock: str) -> None:
    """The reference the gateway is measured against does the same work on the wire."""
    proc, base = start_passthrough(mock, None)
    with proc:
        client = _sdk(base, "unused")
        completion = client.chat.completions.create(
            model="bench", messages=[{"role": "user", "content": "Hi"}]
        )
        assert completion.choices[0].message.content == "Hello from the bench mock."
        assert _stream_text_and_usage(client, "bench") == (" w0 w1 w2 w3 w4", 5)
