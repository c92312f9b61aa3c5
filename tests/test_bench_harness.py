"""The benchmark harness measures a working path: its mock upstream speaks the wire the SDK
expects, and the gateway it starts runs with key auth, as a user runs it."""

from __future__ import annotations

import os
import re
import shutil
import socket
import statistics
import subprocess
import time
from collections.abc import Iterator

import openai
import orjson
import pytest
from bench.procs import (
    BENCH_KEY,
    BENCH_MODEL,
    Proc,
    realtime,
    start_gateway,
    start_mock,
    start_passthrough,
)
from bench.sse_client import StreamClient
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


def _words(text: str) -> list[str]:
    """The mock's content chunks, " w<i>:<send stamp>", without their stamps (which must
    be the mock's clock: the streaming scenario reads the upstream's gaps from them)."""
    pieces = re.findall(r"( w\d+):(\d+)", text)
    stamps = [int(stamp) for _, stamp in pieces]
    assert stamps == sorted(stamps) and 0 < time.monotonic_ns() - stamps[-1] < 60e9
    return [word for word, _ in pieces]


def test_mock_upstream_speaks_chat_completions(mock: str) -> None:
    client = _sdk(mock, "sk-upstream")
    completion = client.chat.completions.create(
        model="bench", messages=[{"role": "user", "content": "Hi"}]
    )
    assert completion.choices[0].message.content == "Hello from the bench mock."
    assert completion.usage and completion.usage.total_tokens == 20
    text, usage = _stream_text_and_usage(client, "bench")
    assert _words(text) == [" w0", " w1", " w2", " w3", " w4"] and usage == 5


def test_bench_gateway_serves_the_mock_behind_key_auth(bench_gateway: str) -> None:
    client = _sdk(bench_gateway, BENCH_KEY)
    completion = client.chat.completions.create(
        model=BENCH_MODEL, messages=[{"role": "user", "content": "Hi"}]
    )
    assert completion.choices[0].message.content == "Hello from the bench mock."
    text, usage = _stream_text_and_usage(client, BENCH_MODEL)
    assert _words(text) == [" w0", " w1", " w2", " w3", " w4"] and usage == 5
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
        text, usage = _stream_text_and_usage(client, "bench")
    assert _words(text) == [" w0", " w1", " w2", " w3", " w4"] and usage == 5


def test_streaming_reads_each_gap_against_the_one_the_mock_made() -> None:
    """The streaming scenario's client: time to first token, and per pair of content
    chunks the client's gap minus the mock's (sent 3 ms apart), on one connection that is
    reconnected once the server has closed it."""
    proc, base = start_mock(None, chunks=6, gap_ms=3)
    body = orjson.dumps({"model": "bench", "messages": [], "stream": True})
    with proc:
        client = StreamClient(f"{base}/chat/completions", {})
        try:
            rows = [client.stream(body)]
            assert client.sock is not None
            client.sock.shutdown(socket.SHUT_RDWR)  # as a server's keep-alive timeout does
            rows.append(client.stream(body))
        finally:
            client.close()
    for row in rows:
        assert row["chunks"] == 6 and row["usage"] and row["coalesced"] == 0
        assert len(row["gaps"]) == len(row["drifts"]) == 5
        # The mock's own gaps (the client's minus the drift): its 3 ms sleep, less up to
        # 1 ms (uvloop's timers count whole milliseconds from a cached clock). The
        # client's gaps alone can be shorter, after a chunk that reached it late.
        sent = [gap - drift for gap, drift in zip(row["gaps"], row["drifts"], strict=True)]
        assert min(sent) >= 0.0019
        # The mock's own gap (and what its timer overshot) is taken out of each drift:
        # what is left is far smaller than the gap (a loaded machine leaves more).
        assert statistics.median(abs(d) for d in row["drifts"]) < min(sent) / 2
        assert 0 < row["ttft"] < 1


def test_realtime_gives_a_child_a_real_time_priority_where_it_may() -> None:
    """The streaming scenario's second pass runs the mock and the relays at a real-time
    priority when the probe says it can: a child started under the prefix has that policy.
    Where the user may not (no root, no CAP_SYS_NICE), the prefix is empty and the pass is
    left out."""
    prefix = realtime()
    if not prefix:
        chrt = shutil.which("chrt")
        assert chrt is None or subprocess.run([chrt, "-f", "1", "true"]).returncode != 0
        return
    child = subprocess.Popen([*prefix, "sleep", "5"])
    try:
        deadline = time.monotonic() + 5
        while os.sched_getscheduler(child.pid) != os.SCHED_FIFO and time.monotonic() < deadline:
            time.sleep(0.01)  # chrt sets the policy, then becomes sleep
        assert os.sched_getscheduler(child.pid) == os.SCHED_FIFO
        assert os.sched_getparam(child.pid).sched_priority == 1
    finally:
        child.kill()
        child.wait()
