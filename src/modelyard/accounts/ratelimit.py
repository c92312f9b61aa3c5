"""Fixed-window request limits per key, per key and model, and for `:free` variants.

In one process the windows live in memory; with Redis they are shared by every process
(one Lua call checks every window of a request and counts it only if all have room).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Protocol

# KEYS: one counter per window; ARGV: limit_1, ms_1, limit_2, ms_2, ...
# Returns {0} when counted, else {index (1-based), pttl} of the first full window.
_LUA = """
for i, key in ipairs(KEYS) do
  local count = tonumber(redis.call('GET', key) or '0')
  if count >= tonumber(ARGV[2 * i - 1]) then
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then ttl = tonumber(ARGV[2 * i]) end
    return {i, ttl}
  end
end
for i, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('PEXPIRE', key, ARGV[2 * i]) end
end
return {0, 0}
"""


@dataclass(frozen=True, slots=True)
class Window:
    """At most `requests` per `interval` seconds for one scope (key, key+model...)."""

    scope: str
    requests: int
    interval: float


@dataclass(frozen=True, slots=True)
class Exceeded:
    window: Window
    reset_at: float  # unix seconds when the window reopens


class Limiter(Protocol):
    async def hit(self, windows: list[Window], now: float) -> Exceeded | None: ...


def window_id(window: Window, now: float) -> int:
    return int(now // window.interval)


class MemoryLimiter:
    def __init__(self) -> None:
        self._counts: dict[tuple[str, float, int], int] = {}
        self._swept = 0.0

    async def hit(self, windows: list[Window], now: float) -> Exceeded | None:
        if now - self._swept > 60:
            self._sweep(now)
        keys = [(w.scope, w.interval, window_id(w, now)) for w in windows]
        for window, key in zip(windows, keys, strict=True):
            if self._counts.get(key, 0) >= window.requests:
                return Exceeded(window, (key[2] + 1) * window.interval)
        for key in keys:
            self._counts[key] = self._counts.get(key, 0) + 1
        return None

    def _sweep(self, now: float) -> None:
        self._swept = now
        self._counts = {k: v for k, v in self._counts.items() if (k[2] + 1) * k[1] > now}


class RedisLimiter:
    def __init__(self, redis: Any, prefix: str = "modelyard:rl:") -> None:
        self._script = redis.register_script(_LUA)
        self._prefix = prefix

    async def hit(self, windows: list[Window], now: float) -> Exceeded | None:
        keys = [f"{self._prefix}{w.scope}:{w.interval:g}:{window_id(w, now)}" for w in windows]
        args: list[int] = []
        for w in windows:
            args += [w.requests, max(1, math.ceil(w.interval * 1000))]
        index, ttl_ms = await self._script(keys=keys, args=args)
        if not index:
            return None
        return Exceeded(windows[int(index) - 1], time.time() + int(ttl_ms) / 1000)


def parse_rate(text: str, field: str) -> tuple[int, float]:
    """'20/1m' -> (20, 60.0); units s, m, h, d; a bare number of seconds works too."""
    from modelyard.config import ConfigError

    try:
        count, _, span = text.strip().partition("/")
        span = span.strip() or "1s"
        unit = span[-1].lower()
        scale = {"s": 1, "m": 60, "h": 3600, "d": 86400}.get(unit)
        amount = float(span[:-1] or 1) if scale else float(span)
        requests, interval = int(count), amount * (scale or 1)
    except ValueError as exc:
        raise ConfigError(
            f"{field}: expected requests/interval like '20/1m', got {text!r}"
        ) from exc
    if requests < 0 or interval <= 0:
        raise ConfigError(f"{field}: requests must be >= 0 and the interval > 0")
    return requests, interval
