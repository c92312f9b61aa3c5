"""The embedded model through the real server, with the official SDK in strict mode."""

from __future__ import annotations

import httpx
import pytest
from openai import OpenAI

from tests.conftest import LOCAL_MODEL, GatewayProcess

pytestmark = pytest.mark.engine


def test_local_completion(client: OpenAI) -> None:
    completion = client.chat.completions.create(
        model=LOCAL_MODEL,
        messages=[{"role": "user", "content": "Say hello."}],
        max_tokens=16,
    )
    assert completion.id.startswith("gen-")
    assert completion.model == LOCAL_MODEL
    assert completion.choices[0].message.content
    assert completion.choices[0].finish_reason in {"stop", "length"}
    usage = completion.usage
    assert usage is not None and usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    extra = completion.model_extra or {}
    assert extra["provider"] == "Local"


def test_local_stream(client: OpenAI) -> None:
    stream = client.chat.completions.create(
        model=LOCAL_MODEL,
        messages=[{"role": "user", "content": "Count from one to five."}],
        max_tokens=24,
        stream=True,
    )
    chunks = list(stream)
    roles = [c.choices[0].delta.role for c in chunks if c.choices and c.choices[0].delta.role]
    assert roles == ["assistant"]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert len(finishes) == 1
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0
    assert len({c.id for c in chunks}) == 1


def test_stream_helper_accumulates(client: OpenAI) -> None:
    with client.chat.completions.stream(
        model=LOCAL_MODEL,
        messages=[{"role": "user", "content": "Hi"}],
        max_tokens=256,
        temperature=0,
    ) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content


def test_raw_sse_framing(gateway: GatewayProcess) -> None:
    """LF framing, one JSON line per event, usage last, then [DONE]; a generation id header."""
    with httpx.stream(
        "POST",
        f"{gateway.base}/v1/chat/completions",
        json={
            "model": LOCAL_MODEL,
            "messages": [{"role": "user", "content": "Hi"}],
            "max_tokens": 8,
            "stream": True,
        },
        timeout=60,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-generation-id"].startswith("gen-")
        raw = b"".join(response.iter_bytes())
    assert b"\r" not in raw
    events = [e for e in raw.decode().split("\n\n") if e]
    assert all(e.startswith(("data: ", ": ")) and "\n" not in e for e in events)
    assert events[-1] == "data: [DONE]"
    assert '"usage"' in events[-2] and '"choices":[]' in events[-2]


def test_same_api_on_both_prefixes(gateway: GatewayProcess) -> None:
    body = {"model": LOCAL_MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
    for prefix in ("/api/v1", "/v1"):
        response = httpx.post(f"{gateway.base}{prefix}/chat/completions", json=body, timeout=60)
        assert response.status_code == 200, response.text
        assert response.json()["object"] == "chat.completion"


def test_seeded_generation_is_repeatable(client: OpenAI) -> None:
    def once() -> str:
        completion = client.chat.completions.create(
            model=LOCAL_MODEL,
            messages=[{"role": "user", "content": "Tell me a fact."}],
            max_tokens=16,
            temperature=1.0,
            seed=1234,
        )
        return completion.choices[0].message.content or ""

    assert once() == once()
