"""Credit reservations against a key's limit: reserve the worst case, settle the real cost.

The check-and-reserve is atomic: in one process an event loop step (MemoryLedger); across
processes a Redis Lua script (RedisLedger), so N gateways racing one key never overspend.
Counters are per limit period and seeded from the generation records the first time a
period is touched; after that they need no database, so requests keep flowing while it is
down. A reservation left behind by a crashed process expires.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from modelyard.accounts.keys import KeyInfo
from modelyard.accounts.periods import period_end, period_start

# Longer than any generation; only a crashed process's reservations ever reach it.
RESERVATION_TTL = 2 * 3600

Seed = Callable[[str, float], Awaitable[int]]  # (key hash, period start) -> spent so far


@dataclass(slots=True)
class Reservation:
    key_hash: str
    gen_id: str
    amount: int
    period: float


@dataclass(slots=True)
class Refused:
    """Not enough left: the numbers for the 402."""

    limit: int
    spent: int
    reserved: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.spent - self.reserved)


class Ledger(Protocol):
    async def reserve(
        self, key: KeyInfo, gen_id: str, amount: int, now: float
    ) -> Reservation | Refused: ...

    async def settle(self, reservation: Reservation, cost: int) -> None: ...


class MemoryLedger:
    """One process (the SQLite default)."""

    def __init__(self, seed: Seed) -> None:
        self._seed = seed
        self._state: dict[tuple[str, float], list[int]] = {}  # -> [spent, reserved]
        self._held: dict[str, tuple[Reservation, float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def _counters(self, key: KeyInfo, period: float) -> list[int]:
        state = self._state.get((key.hash, period))
        if state is None:
            async with self._locks.setdefault(key.hash, asyncio.Lock()):
                state = self._state.get((key.hash, period))
                if state is None:
                    state = [await self._seed(key.hash, period), 0]
                    self._state[(key.hash, period)] = state
        return state

    async def reserve(
        self, key: KeyInfo, gen_id: str, amount: int, now: float
    ) -> Reservation | Refused:
        assert key.limit is not None
        period = period_start(key.limit_reset, now)
        state = await self._counters(key, period)
        self._expire(now)
        spent, reserved = state
        if spent + reserved + amount > key.limit:
            return Refused(key.limit, spent, reserved)
        state[1] += amount
        reservation = Reservation(key.hash, gen_id, amount, period)
        self._held[gen_id] = (reservation, now + RESERVATION_TTL)
        return reservation

    async def settle(self, reservation: Reservation, cost: int) -> None:
        state = self._state.setdefault((reservation.key_hash, reservation.period), [0, 0])
        if self._held.pop(reservation.gen_id, None) is not None:
            state[1] -= reservation.amount
        state[0] += cost

    def _expire(self, now: float) -> None:
        for gen_id, (reservation, deadline) in list(self._held.items()):
            if deadline < now:
                del self._held[gen_id]
                state = self._state.get((reservation.key_hash, reservation.period))
                if state:
                    state[1] -= reservation.amount


# KEYS: state hash {spent, reserved}, reservations hash gen->amount, expiries zset.
# ARGV: limit, amount, gen_id, expires_at, now, seed ('' when unknown), ttl seconds (0: none)
_RESERVE = """
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[5])
for _, gen in ipairs(expired) do
  local held = redis.call('HGET', KEYS[2], gen)
  if held then
    redis.call('HINCRBY', KEYS[1], 'reserved', -tonumber(held))
    redis.call('HDEL', KEYS[2], gen)
  end
  redis.call('ZREM', KEYS[3], gen)
end
if redis.call('HEXISTS', KEYS[1], 'spent') == 0 then
  if ARGV[6] == '' then return {-1, 0, 0} end
  redis.call('HSET', KEYS[1], 'spent', ARGV[6])
end
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent'))
local reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved') or '0')
local amount = tonumber(ARGV[2])
if spent + reserved + amount > tonumber(ARGV[1]) then return {0, spent, reserved} end
redis.call('HINCRBY', KEYS[1], 'reserved', amount)
redis.call('HSET', KEYS[2], ARGV[3], amount)
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
local ttl = tonumber(ARGV[7])
if ttl > 0 then
  for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ttl) end
end
return {1, spent, reserved + amount}
"""

# KEYS as above; ARGV: gen_id, cost. The spend counts even if the reservation expired.
_SETTLE = """
local held = redis.call('HGET', KEYS[2], ARGV[1])
if held then
  redis.call('HINCRBY', KEYS[1], 'reserved', -tonumber(held))
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
end
if redis.call('HEXISTS', KEYS[1], 'spent') == 1 then
  redis.call('HINCRBY', KEYS[1], 'spent', ARGV[2])
end
return 1
"""


class RedisLedger:
    """Shared by every process through Redis."""

    def __init__(self, redis: Any, seed: Seed, prefix: str = "modelyard:credit:") -> None:
        self._reserve = redis.register_script(_RESERVE)
        self._settle = redis.register_script(_SETTLE)
        self._seed = seed
        self._prefix = prefix

    def _keys(self, key_hash: str, period: float) -> list[str]:
        base = f"{self._prefix}{{{key_hash}}}:{int(period)}"
        return [base, base + ":held", base + ":expires"]

    async def reserve(
        self, key: KeyInfo, gen_id: str, amount: int, now: float
    ) -> Reservation | Refused:
        assert key.limit is not None
        period = period_start(key.limit_reset, now)
        end = period_end(key.limit_reset, now)
        ttl = int(end - now) + 2 * 86400 if end is not None else 0
        keys = self._keys(key.hash, period)
        args: list[Any] = [key.limit, amount, gen_id, now + RESERVATION_TTL, now, "", ttl]
        ok, spent, reserved = await self._reserve(keys=keys, args=args)
        if ok == -1:
            # First use of this period anywhere (or Redis lost it): start from the records.
            args[5] = await self._seed(key.hash, period)
            ok, spent, reserved = await self._reserve(keys=keys, args=args)
        if ok == 1:
            return Reservation(key.hash, gen_id, amount, period)
        return Refused(key.limit, int(spent), int(reserved))

    async def settle(self, reservation: Reservation, cost: int) -> None:
        keys = self._keys(reservation.key_hash, reservation.period)
        await self._settle(keys=keys, args=[reservation.gen_id, cost])
