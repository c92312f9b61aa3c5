"""The benchmark scenarios; each returns one result dict (printed as a JSON line)."""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections.abc import Iterator

import orjson

from bench.load import wrk
from bench.procs import BENCH_KEY, BENCH_MODEL, start_gateway, start_mock, start_passthrough
from bench.sse_client import StreamClient

# The gateway gets core 0; the mock and the load generator share core 1.
GATEWAY_CORE = "0"
LOAD_CORE = "1"


def _ms(us: float) -> float:
    return round(us / 1000, 3)


def _round_order(arms: int, round_: int) -> Iterator[int]:
    """The arms' order in a round: forwards, then backwards, so none always goes first."""
    return iter(range(arms)) if round_ % 2 == 0 else reversed(range(arms))


def _alternating(urls: list[str], connections: int, seconds: float, rounds: int = 3) -> list[dict]:
    """wrk against each URL in `rounds` rounds that alternate the order, so a drift of the
    host's speed (twofold differences within minutes were seen on shared machines) weighs
    on every arm alike. Per arm: the median round's requests/s and percentiles, and the
    errors and requests of all rounds."""
    runs: list[list[dict]] = [[] for _ in urls]
    each = max(1, round(seconds / rounds))
    for round_ in range(rounds):
        for index in _round_order(len(urls), round_):
            runs[index].append(
                wrk(urls[index], connections=connections, seconds=each, cores=LOAD_CORE)
            )
    merged = []
    for results in runs:
        row = {
            key: statistics.median(r[key] for r in results) for key in ("rps", "p50_us", "p99_us")
        }
        row["errors"] = sum(r["errors"] for r in results)
        row["requests"] = sum(r["requests"] for r in results)
        merged.append(row)
    return merged


def overhead(seconds: float) -> dict:
    """Added latency at one request in flight: gateway minus direct-to-mock, and the same
    for the bare pass-through (the least this server and client stack adds here)."""
    mock, mock_url = start_mock(LOAD_CORE)
    with mock:
        gateway, base = start_gateway(mock_url, GATEWAY_CORE)
        bare, bare_base = start_passthrough(mock_url, GATEWAY_CORE)
        with gateway, bare:
            urls = [f"{url}/chat/completions" for url in (mock_url, base, bare_base)]
            for url in urls[1:]:  # warm
                wrk(url, connections=1, seconds=1, cores=LOAD_CORE)
            direct, through, reference = _alternating(urls, 1, seconds)
    return {
        "scenario": "overhead",
        "direct_p50_ms": _ms(direct["p50_us"]),
        "gateway_p50_ms": _ms(through["p50_us"]),
        "added_p50_ms": _ms(through["p50_us"] - direct["p50_us"]),
        "added_p99_ms": _ms(through["p99_us"] - direct["p99_us"]),
        "bare_added_p50_ms": _ms(reference["p50_us"] - direct["p50_us"]),
        "bare_added_p99_ms": _ms(reference["p99_us"] - direct["p99_us"]),
        "errors": through["errors"],
    }


def _throughput_row(server: str, workers: int, c: int, r: dict, of_bare: str = "") -> dict:
    return {
        "scenario": "throughput",
        "server": server,
        "workers": workers,
        "in_flight": c,
        "rps": round(r["rps"]),
        "p50_ms": _ms(r["p50_us"]),
        "p99_ms": _ms(r["p99_us"]),
        "error_rate": round(r["errors"] / max(1, r["requests"]), 4),
        "of_bare": of_bare,
    }


def throughput(
    seconds: float, concurrency: list[int], workers: int, reference: int | None = None
) -> list[dict]:
    """Requests/s at several in-flight levels; one worker pinned, or `workers` unpinned.
    With `reference`, that level is measured in alternating rounds with the bare
    pass-through on the same core, and the gateway's share of its requests/s reported."""
    rows = []
    mock, mock_url = start_mock(LOAD_CORE)
    with mock:
        cores = GATEWAY_CORE if workers == 1 else None
        gateway, base = start_gateway(mock_url, cores, workers=workers)
        bare, bare_base = start_passthrough(mock_url, cores) if reference else (None, "")
        with gateway, bare or contextlib.nullcontext():
            url = f"{base}/chat/completions"
            wrk(url, connections=8, seconds=1, cores=LOAD_CORE)
            if reference:
                wrk(f"{bare_base}/chat/completions", connections=8, seconds=1, cores=LOAD_CORE)
            for c in concurrency:
                if c != reference:
                    r = wrk(url, connections=c, seconds=seconds, cores=LOAD_CORE)
                    rows.append(_throughput_row("modelyard", workers, c, r))
                    continue
                r, b = _alternating([url, f"{bare_base}/chat/completions"], c, seconds)
                share = f"{r['rps'] / b['rps']:.0%}"
                rows.append(_throughput_row("modelyard", workers, c, r, share))
                rows.append(_throughput_row("bare pass-through", workers, c, b))
    return rows


def _stream_rounds(arms: list[tuple[str, dict]], samples: int, rounds: int = 5) -> list[list[dict]]:
    """`samples` streams from each arm (url, headers), in rounds that alternate the arms,
    so that a drift of the host's speed during the scenario weighs on every arm alike.
    Each result carries its round."""
    body = orjson.dumps(
        {"model": BENCH_MODEL, "messages": [{"role": "user", "content": "Hi"}], "stream": True}
    )
    clients = [StreamClient(url, headers) for url, headers in arms]
    results: list[list[dict]] = [[] for _ in arms]
    try:
        for client in clients:
            client.stream(body)  # warm: connections, caches
        for round_ in range(rounds):
            for index in _round_order(len(arms), round_):
                for _ in range(samples // rounds):
                    results[index].append({**clients[index].stream(body), "round": round_})
    finally:
        for client in clients:
            client.close()
    return results


@contextlib.contextmanager
def _on_core(core: str) -> Iterator[None]:
    """Run this process's own load (the streaming client) on the load core, as wrk is."""
    if not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) < 2:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {int(core)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def streaming(samples: int, gap_ms: float = 5.0, under: tuple[str, ...] = ()) -> dict:
    """Added time to first token, and whether chunk gaps survive the gateway. `under` is
    what the mock and both relays run under: `procs.realtime()` gives them a real-time
    priority (the client needs none: the kernel stamps what it receives)."""
    mock, mock_url = start_mock(LOAD_CORE, chunks=20, gap_ms=gap_ms, under=under)
    with mock:
        gateway, base = start_gateway(mock_url, GATEWAY_CORE, under=under)
        bare, bare_base = start_passthrough(mock_url, GATEWAY_CORE, under=under)
        with gateway, bare, _on_core(LOAD_CORE):
            auth = {"Authorization": f"Bearer {BENCH_KEY}"}
            direct, through, relayed = _stream_rounds(
                [
                    (f"{mock_url}/chat/completions", {}),
                    (f"{base}/chat/completions", auth),
                    (f"{bare_base}/chat/completions", {}),
                ],
                samples,
            )

    def med(rows: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    def drift(rows: list[dict], q: float) -> float:
        """The q-quantile of |client gap - the mock's gap for the same pair|, in ms."""
        return round(_quantile([abs(d) for r in rows for d in r["drifts"]], q) * 1000, 3)

    def round_max(rows: list[dict]) -> list[float]:
        rounds = sorted({r["round"] for r in rows})
        return [
            round(max(abs(d) for r in rows if r["round"] == n for d in r["drifts"]) * 1000, 2)
            for n in rounds
        ]

    return {
        "scenario": "streaming",
        "relays": "real-time" if under else "normal",
        "direct_ttft_ms": round(med(direct, "ttft") * 1000, 3),
        "gateway_ttft_ms": round(med(through, "ttft") * 1000, 3),
        "added_ttft_ms": round((med(through, "ttft") - med(direct, "ttft")) * 1000, 3),
        # The same hops through the bare pass-through: what the topology alone costs.
        "bare_added_ttft_ms": round((med(relayed, "ttft") - med(direct, "ttft")) * 1000, 3),
        "upstream_gap_ms": gap_ms,
        "gap_p50_direct_ms": round(
            statistics.median(g for r in direct for g in r["gaps"]) * 1000, 3
        ),
        "gap_p50_gateway_ms": round(
            statistics.median(g for r in through for g in r["gaps"]) * 1000, 3
        ),
        # Each gap the client saw through the gateway against the gap the mock made for
        # that same pair of chunks; direct and bare give the floor of the client and hops.
        "gap_p99_diff_ms": drift(through, 0.99),
        "gap_max_diff_ms": drift(through, 1.0),
        "direct_gap_max_diff_ms": drift(direct, 1.0),
        "bare_gap_p99_diff_ms": drift(relayed, 0.99),
        "bare_gap_max_diff_ms": drift(relayed, 1.0),
        "round_max_diff_ms": "/".join(str(m) for m in round_max(through)),
        "bare_round_max_diff_ms": "/".join(str(m) for m in round_max(relayed)),
        "coalesced": sum(r["coalesced"] for r in through),
        "chunks_gateway": through[0]["chunks"],
        "usage_chunk_present": all(r["usage"] for r in through),
    }


def memory(load_seconds: float, rest_seconds: float) -> dict:
    """Resident set idle (engine unloaded), after each half of a sustained load (growth
    between the halves is what a leak looks like; the first half includes warm-up), and
    after a rest."""
    mock, mock_url = start_mock(LOAD_CORE)
    with mock:
        gateway, base = start_gateway(mock_url, GATEWAY_CORE)
        with gateway:

            def half_load() -> dict:
                url = f"{base}/chat/completions"
                return wrk(url, connections=32, seconds=load_seconds / 2, cores=LOAD_CORE)

            time.sleep(1)
            idle = gateway.rss_mb()
            first = half_load()
            half = gateway.rss_mb()
            second = half_load()
            loaded = gateway.rss_mb()
            time.sleep(rest_seconds)
            rested = gateway.rss_mb()
    return {
        "scenario": "memory",
        "idle_mb": round(idle, 1),
        "half_load_mb": round(half, 1),
        "after_load_mb": round(loaded, 1),
        "growth_second_half_mb": round(loaded - half, 1),
        "after_rest_mb": round(rested, 1),
        "load_requests": first["requests"] + second["requests"],
    }
