"""Sampling, determinism and limits on the embedded model, through the real server."""

from __future__ import annotations

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from openai import OpenAI

from tests.conftest import LOCAL_MODEL, GatewayProcess

pytestmark = pytest.mark.engine

EOS = "2"  # SmolLM2's <|im_end|>
HELLO = 19556  # the token "Hello"


def _text(client: OpenAI, **extra: Any) -> str:
    completion = client.chat.completions.create(
        model=LOCAL_MODEL,
        messages=[{"role": "user", "content": "Tell me a story about a lighthouse."}],
        **{"max_tokens": 32, **extra},
    )
    return completion.choices[0].message.content or ""


def test_seeded_output_is_identical_alone_and_under_load(engine_client: OpenAI) -> None:
    seeded = {"temperature": 1.0, "top_p": 0.95, "seed": 20240611}
    alone = _text(engine_client, **seeded)
    assert alone == _text(engine_client, **seeded)
    stop = threading.Event()

    def noise(i: int) -> None:
        while not stop.is_set():
            engine_client.chat.completions.create(
                model=LOCAL_MODEL,
                messages=[{"role": "user", "content": f"Write poem {i} about rivers."}],
                max_tokens=24,
                temperature=0.9,
            )

    with ThreadPoolExecutor(3) as pool:
        for i in range(3):
            pool.submit(noise, i)
        try:
            loaded = [_text(engine_client, **seeded) for _ in range(2)]
        finally:
            stop.set()
    assert loaded == [alone, alone]
    assert _text(engine_client, **{**seeded, "seed": 7}) != alone


def test_logprobs_in_openai_shape(engine_client: OpenAI) -> None:
    completion = engine_client.chat.completions.create(
        model=LOCAL_MODEL,
        messages=[{"role": "user", "content": "Hi"}],
        max_tokens=6,
        # Greedy: a sampled answer can end inside a multi-byte character, whose tokens
        # the engine reports no logprobs for.
        temperature=0,
        logprobs=True,
        top_logprobs=3,
    )
    content = completion.choices[0].logprobs.content
    assert content and len(content) == completion.usage.completion_tokens
    for entry in content:
        assert entry.logprob <= 0 and bytes(entry.bytes).decode(errors="replace")
        assert len(entry.top_logprobs) == 3
    assert "".join(e.token for e in content) == completion.choices[0].message.content
    stream = engine_client.chat.completions.create(
        model=LOCAL_MODEL,
        messages=[{"role": "user", "content": "Hi"}],
        max_tokens=6,
        logprobs=True,
        top_logprobs=2,
        stream=True,
    )
    streamed = [
        e
        for c in stream
        if c.choices and c.choices[0].logprobs
        for e in c.choices[0].logprobs.content
    ]
    assert streamed and all(len(e.top_logprobs) == 2 for e in streamed)


def test_logit_bias_and_max_completion_tokens(engine_client: OpenAI) -> None:
    forced = engine_client.chat.completions.create(
        model=LOCAL_MODEL,
        messages=[{"role": "user", "content": "Say something."}],
        max_completion_tokens=5,
        logit_bias={str(HELLO): 100, EOS: -100},
    )
    assert forced.choices[0].message.content == "Hello" * 5
    assert forced.choices[0].finish_reason == "length"
    assert forced.usage.completion_tokens == 5


def test_stop_sequence_cuts_the_text(engine_client: OpenAI) -> None:
    greedy = {"temperature": 0, "max_tokens": 24}
    full = _text(engine_client, **greedy)
    words = re.findall(r"[A-Za-z]{4,}", full)
    assert len(words) >= 3, full
    cut = words[2]
    stopped = _text(engine_client, **greedy, stop=[cut])
    assert stopped == full[: full.index(cut)]


def test_penalties_change_the_output(engine_client: OpenAI) -> None:
    greedy = {"temperature": 0, "max_tokens": 24}
    plain = _text(engine_client, **greedy)
    assert _text(engine_client, **greedy, frequency_penalty=2.0, presence_penalty=2.0) != plain
    assert _text(engine_client, **greedy, extra_body={"repetition_penalty": 2.0}) != plain


def test_repeated_prefix_is_cached(engine_client: OpenAI) -> None:
    system = "You are a terse assistant. " + "Rules: be kind, be brief, be right. " * 20
    usages = []
    for question in ("What is two plus two?", "What is the capital of Italy?"):
        completion = engine_client.chat.completions.create(
            model=LOCAL_MODEL,
            messages=[{"role": "system", "content": system}, {"role": "user", "content": question}],
            max_tokens=4,
        )
        usages.append(completion.usage)
    cached = usages[1].prompt_tokens_details.cached_tokens
    assert cached is not None and cached >= 100
    assert cached < usages[1].prompt_tokens


def test_reasoning_request_is_ignored(engine_client: OpenAI) -> None:
    completion = engine_client.chat.completions.create(
        model=LOCAL_MODEL,
        messages=[{"role": "user", "content": "Hi"}],
        max_tokens=4,
        extra_body={"reasoning": {"effort": "high"}},
    )
    assert completion.choices[0].message.content
    assert completion.usage.completion_tokens_details.reasoning_tokens == 0


def test_prompt_over_context_is_a_400_with_numbers(engine_gateway: GatewayProcess) -> None:
    response = httpx.post(
        f"{engine_gateway.base}/api/v1/chat/completions",
        json={
            "model": LOCAL_MODEL,
            "messages": [{"role": "user", "content": "lighthouse " * 9000}],
            "max_tokens": 4,
            # Middle-out is on by default at 8k of context; without it, the numbers.
            "transforms": [],
        },
        timeout=120,
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    numbers = [int(n) for n in re.findall(r"\d+", error["message"])]
    assert 8192 in numbers and any(n > 8192 for n in numbers), error


def _releases(gateway: GatewayProcess) -> list[int]:
    return [int(n) for n in re.findall(r"stop processing: n_tokens = (\d+)", gateway.log())]


def test_disconnect_frees_the_slot(engine_gateway: GatewayProcess) -> None:
    """A client that leaves mid-stream stops the generation: the slot is released long
    before the 4000 tokens it asked for (end of text is banned, so it would write them all)."""
    before = len(_releases(engine_gateway))
    with httpx.stream(
        "POST",
        f"{engine_gateway.base}/api/v1/chat/completions",
        json={
            "model": LOCAL_MODEL,
            "messages": [{"role": "user", "content": "Count to a million."}],
            "max_tokens": 4000,
            "logit_bias": {EOS: -100},
            "stream": True,
        },
        timeout=120,
    ) as response:
        chunks = 0
        for line in response.iter_lines():
            if line.startswith("data: {") and json.loads(line[6:])["choices"]:
                chunks += 1
                if chunks == 5:
                    break
    deadline = time.monotonic() + 60
    while len(_releases(engine_gateway)) == before and time.monotonic() < deadline:
        time.sleep(0.2)
    released = _releases(engine_gateway)[before:]
    assert released and released[0] < 1000, released
