"""Live per-endpoint health in a rolling window: success rate and latency to first token.

In-process and cheap: a deque of (time, ok, latency) per endpoint, trimmed on write.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass


@dataclass(slots=True)
class EndpointStats:
    requests: int
    uptime: float | None
    latency_p50_ms: float | None


class Health:
    def __init__(self, window_seconds: float = 300.0) -> None:
        self.window = window_seconds
        self._samples: dict[tuple[str, str], deque[tuple[float, bool, float | None]]] = {}

    def _add(self, key: tuple[str, str], ok: bool, latency: float | None) -> None:
        now = time.monotonic()
        samples = self._samples.setdefault(key, deque())
        samples.append((now, ok, latency))
        horizon = now - self.window
        while samples and samples[0][0] < horizon:
            samples.popleft()

    def success(self, model: str, provider: str, latency_s: float) -> None:
        self._add((model, provider), True, latency_s)

    def failure(self, model: str, provider: str) -> None:
        self._add((model, provider), False, None)

    def stats(self, model: str, provider: str) -> EndpointStats:
        samples = self._samples.get((model, provider))
        if not samples:
            return EndpointStats(0, None, None)
        ok = [s for s in samples if s[1]]
        latencies = sorted(s[2] for s in ok if s[2] is not None)
        p50 = latencies[len(latencies) // 2] * 1000 if latencies else None
        return EndpointStats(len(samples), len(ok) / len(samples), p50)
