"""Opt-in `instructions` scenario: CPU instructions per request, gateway and bare, counted.

Timings on a shared host move with its neighbours (twofold within minutes was seen);
an instruction count does not. Each server runs under valgrind's callgrind (Debian's
package, installed on first use), is warmed, has its counters zeroed, then serves a fixed
number of requests one at a time; the dump's total over that number is the cost of a
request, every thread of the process included (the records writer's SQLite thread too).
Repeat runs agree within about 1%. `of_bare` is the gateway's count over the bare
pass-through's: how much the gateway does on top of the same server and client stack.
Streamed requests carry 20 content chunks and the usage chunk.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from bench.load import ensure_tool
from bench.procs import BENCH_KEY, BENCH_MODEL, Proc, start_gateway, start_mock, start_passthrough
from bench.scenarios import GATEWAY_CORE, LOAD_CORE

WARM_REQUESTS = 200
# The mock's gap between stream chunks: each chunk then arrives and is read on its own, as
# from a model that generates them, even with valgrind slowing the server fiftyfold (with
# no gap, or a busy machine, a read takes several at once and the count drops).
STREAM_GAP_MS = 10.0
STREAMS_PER_REQUEST = 3
# A fixed hash seed: the same work counts the same from run to run.
COUNTING_ENV = {"PYTHONHASHSEED": "0"}


def _how_many(requests: int, stream: bool) -> int:
    """How many of `requests` to send as streams (a third: they take the gaps' time)."""
    return requests // STREAMS_PER_REQUEST if stream else requests


def _requests(base: str, count: int, stream: bool) -> None:
    """`count` chat completions one after the other on one keep-alive connection."""
    url = urlsplit(base)
    body = json.dumps(
        {"model": BENCH_MODEL, "messages": [{"role": "user", "content": "Hi"}], "stream": stream}
    )
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {BENCH_KEY}"}
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    try:
        for _ in range(count):
            connection.request("POST", f"{url.path}/chat/completions", body, headers)
            response = connection.getresponse()
            answer = response.read()
            if response.status != 200:
                raise RuntimeError(f"{base} answered {response.status}: {answer[:200]!r}")
    finally:
        connection.close()


def _total(dump: Path) -> int:
    """The instruction total of one callgrind dump."""
    for line in dump.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"no total in {dump}")


def _count(proc: Proc, base: str, out: Path, requests: int) -> dict[bool, float]:
    """Instructions per request, non-streamed and streamed, in one process."""
    control = ensure_tool("callgrind_control", "valgrind")
    per_request: dict[bool, float] = {}
    for part, stream in enumerate((False, True), start=1):
        count = _how_many(requests, stream)
        _requests(base, _how_many(WARM_REQUESTS, stream), stream)
        subprocess.run([control, "-z", str(proc.pid)], check=True, capture_output=True)
        _requests(base, count, stream)
        subprocess.run([control, "-d", str(proc.pid)], check=True, capture_output=True)
        per_request[stream] = _total(out.with_name(f"{out.name}.{part}")) / count
    return per_request


def instructions(requests: int) -> list[dict]:
    valgrind = ensure_tool("valgrind", "valgrind")
    counts: dict[str, dict[bool, float]] = {}
    mock, mock_url = start_mock(LOAD_CORE, gap_ms=STREAM_GAP_MS)
    with mock, tempfile.TemporaryDirectory(prefix="modelyard-callgrind-") as workdir:
        for server, start in (
            ("modelyard", start_gateway),
            ("bare pass-through", start_passthrough),
        ):
            out = Path(workdir) / f"{server.split()[0]}.out"
            under = (valgrind, "--tool=callgrind", f"--callgrind-out-file={out}")
            proc, base = start(
                mock_url, GATEWAY_CORE, under=under, extra_env=COUNTING_ENV, start_timeout=300
            )
            with proc:
                counts[server] = _count(proc, base, out, requests)
    rows = []
    for stream in (False, True):
        bare = counts["bare pass-through"][stream]
        for server, per_request in counts.items():
            rows.append(
                {
                    "scenario": "instructions",
                    "server": server,
                    "stream": stream,
                    "requests": _how_many(requests, stream),
                    "instructions_per_request": round(per_request[stream]),
                    "of_bare": f"{per_request[stream] / bare:.2f}x",
                }
            )
    return rows
