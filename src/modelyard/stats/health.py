"""Live per-endpoint health: uptime, latency to first token and throughput, in rolling windows.

Routing reads it on every request (is this endpoint down right now? how fast is it?) and the
endpoints listing publishes it in OpenRouter's shape. In-process and cheap: one-minute
buckets per endpoint, kept for a day; latency and throughput samples are capped per bucket
so that memory stays bounded whatever the traffic.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

BUCKET_SECONDS = 60.0
DAY = 86_400.0
PERCENTILES = (50, 75, 90, 99)
# Samples kept per bucket for percentiles: enough for stable p99 at any traffic.
MAX_SAMPLES = 512
# How often the routing view (five-minute percentiles) is recomputed per endpoint.
ROUTING_VIEW_SECONDS = 1.0
# The failure window's outcomes are counted in this many slices of it.
WINDOW_SLICES = 30

Key = tuple[str, str]  # (model id, provider slug)


@dataclass(slots=True)
class Bucket:
    start: float
    ok: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    throughputs: list[float] = field(default_factory=list)


@dataclass(slots=True)
class Percentiles:
    p50: float
    p75: float
    p90: float
    p99: float

    def as_dict(self, digits: int) -> dict[str, float]:
        return {
            "p50": round(self.p50, digits),
            "p75": round(self.p75, digits),
            "p90": round(self.p90, digits),
            "p99": round(self.p99, digits),
        }

    def get(self, name: str) -> float:
        return float(getattr(self, name))


def percentiles(samples: list[float]) -> Percentiles | None:
    """Nearest-rank percentiles; None without samples."""
    if not samples:
        return None
    ordered = sorted(samples)
    last = len(ordered) - 1
    values = [ordered[min(last, round(last * p / 100))] for p in PERCENTILES]
    return Percentiles(*values)


@dataclass(slots=True)
class RoutingView:
    """What routing needs of one endpoint, over the last five minutes."""

    latency: Percentiles | None  # seconds to first token
    throughput: Percentiles | None  # output tokens per second


@dataclass(slots=True)
class EndpointStats:
    """The published numbers of one endpoint (percent, seconds, tokens per second)."""

    uptime_last_5m: float | None
    uptime_last_30m: float | None
    uptime_last_1d: float | None
    latency_last_30m: Percentiles | None
    throughput_last_30m: Percentiles | None
    down: bool


class EndpointHealth:
    __slots__ = (
        "_view",
        "_view_at",
        "buckets",
        "last_ok",
        "recent",
        "recent_failures",
        "recent_outcomes",
    )

    def __init__(self) -> None:
        self.buckets: deque[Bucket] = deque()
        # Outcomes inside the failure window, for the "is it down" question, counted per
        # slice of the window ([slice, outcomes, failures]): one tuple per request held
        # for the window was 12 MB at 4,500 requests/s, allocated on every request.
        self.recent: deque[list[int]] = deque()
        self.recent_outcomes = 0  # the sums over `recent`: O(1) health checks
        self.recent_failures = 0
        self.last_ok = True
        self._view: RoutingView | None = None
        self._view_at = 0.0

    def bucket(self, now: float) -> Bucket:
        start = now - now % BUCKET_SECONDS
        if not self.buckets or self.buckets[-1].start != start:
            self.buckets.append(Bucket(start))
            while self.buckets and self.buckets[0].start < now - DAY:
                self.buckets.popleft()
        return self.buckets[-1]

    def since(self, now: float, seconds: float) -> list[Bucket]:
        horizon = now - seconds
        return [b for b in self.buckets if b.start + BUCKET_SECONDS > horizon]


def _uptime(buckets: list[Bucket]) -> float | None:
    ok = sum(b.ok for b in buckets)
    total = ok + sum(b.errors for b in buckets)
    return round(ok * 100 / total, 2) if total else None


def _add_sample(samples: list[float], value: float) -> None:
    if len(samples) < MAX_SAMPLES:
        samples.append(value)
    else:
        # Keep a spread over the bucket rather than only its first samples.
        samples[random.randrange(MAX_SAMPLES)] = value


class Health:
    """Outcomes per (model, provider). `failure_window` is how long a failure keeps an
    endpoint out of first place (OpenRouter: 30 s)."""

    def __init__(
        self, failure_window: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.failure_window = failure_window
        self._slice = max(failure_window / WINDOW_SLICES, 0.001)
        self._clock = clock
        self._endpoints: dict[Key, EndpointHealth] = {}

    def _endpoint(self, model: str, provider: str) -> EndpointHealth:
        key = (model, provider)
        endpoint = self._endpoints.get(key)
        if endpoint is None:
            endpoint = self._endpoints[key] = EndpointHealth()
        return endpoint

    def _recent(self, endpoint: EndpointHealth, now: float, ok: bool) -> None:
        self._trim(endpoint, now)
        recent = endpoint.recent
        index = int(now / self._slice)
        if not recent or recent[-1][0] != index:
            recent.append([index, 0, 0])
        counts = recent[-1]
        counts[1] += 1
        endpoint.recent_outcomes += 1
        if not ok:
            counts[2] += 1
            endpoint.recent_failures += 1
        endpoint.last_ok = ok

    def _trim(self, endpoint: EndpointHealth, now: float) -> None:
        """Forget the slices wholly before the window (an outcome counts for up to one
        slice, a thirtieth of the window, longer than the window itself)."""
        horizon = int((now - self.failure_window) / self._slice)
        recent = endpoint.recent
        while recent and recent[0][0] < horizon:
            _, outcomes, failures = recent.popleft()
            endpoint.recent_outcomes -= outcomes
            endpoint.recent_failures -= failures

    def success(
        self,
        model: str,
        provider: str,
        latency_s: float | None,
        throughput: float | None = None,
    ) -> None:
        """A generation that started; `latency_s` to its first token, `throughput` in
        output tokens per second when it ran to the end."""
        now = self._clock()
        endpoint = self._endpoint(model, provider)
        bucket = endpoint.bucket(now)
        bucket.ok += 1
        if latency_s is not None and latency_s >= 0:
            _add_sample(bucket.latencies, latency_s)
        if throughput is not None and throughput > 0:
            _add_sample(bucket.throughputs, throughput)
        self._recent(endpoint, now, True)

    def failure(self, model: str, provider: str, status: int = 502) -> None:
        """A failed attempt. A 429 keeps the endpoint out of first place but is not
        downtime (OpenRouter excludes it from uptime); other 4xx are the request's fault
        and count for nothing."""
        if 400 <= status < 500 and status not in (408, 429):
            return
        now = self._clock()
        endpoint = self._endpoint(model, provider)
        if status != 429:
            endpoint.bucket(now).errors += 1
        self._recent(endpoint, now, False)

    def is_down(self, model: str, provider: str) -> bool:
        """Failed within the window: its last outcome was a failure, or failures are at
        least half its outcomes (a flapping endpoint)."""
        endpoint = self._endpoints.get((model, provider))
        if endpoint is None or not endpoint.recent:
            return False
        self._trim(endpoint, self._clock())
        if not endpoint.recent or not endpoint.recent_failures:
            return False
        return not endpoint.last_ok or endpoint.recent_failures * 2 >= endpoint.recent_outcomes

    def routing_view(self, model: str, provider: str) -> RoutingView:
        """Five-minute latency and throughput percentiles, recomputed at most once a second."""
        endpoint = self._endpoints.get((model, provider))
        if endpoint is None:
            return RoutingView(None, None)
        now = self._clock()
        if endpoint._view is not None and now - endpoint._view_at < ROUTING_VIEW_SECONDS:
            return endpoint._view
        buckets = endpoint.since(now, 300)
        view = RoutingView(
            percentiles([x for b in buckets for x in b.latencies]),
            percentiles([x for b in buckets for x in b.throughputs]),
        )
        endpoint._view, endpoint._view_at = view, now
        return view

    def stats(self, model: str, provider: str) -> EndpointStats:
        endpoint = self._endpoints.get((model, provider))
        if endpoint is None:
            return EndpointStats(None, None, None, None, None, False)
        now = self._clock()
        last_30m = endpoint.since(now, 1800)
        return EndpointStats(
            uptime_last_5m=_uptime(endpoint.since(now, 300)),
            uptime_last_30m=_uptime(last_30m),
            uptime_last_1d=_uptime(endpoint.since(now, DAY)),
            latency_last_30m=percentiles([x for b in last_30m for x in b.latencies]),
            throughput_last_30m=percentiles([x for b in last_30m for x in b.throughputs]),
            down=self.is_down(model, provider),
        )
