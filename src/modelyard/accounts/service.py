"""Accounts on the request path: who is calling, may they run this, and what it cost.

`authenticate` names the key (401 otherwise); `admit` checks the model allow-list (403),
the request limits (429) and reserves the worst-case cost against the key's credit limit
(402); the returned `Admission.finish` runs when the generation ends, however it ends: it
queues the generation record and settles the reservation to the real cost, off the
request path. Every inference surface goes through api/inference.py's `start`, so none has
account code of its own.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from modelyard.accounts.directory import KeyDirectory
from modelyard.accounts.errors import AccountingUnavailable, Forbidden, PaymentRequired, RateLimited
from modelyard.accounts.estimate import estimate
from modelyard.accounts.keys import KeyInfo, KeyStore, hash_key
from modelyard.accounts.ledger import Ledger, MemoryLedger, RedisLedger, Refused, Reservation
from modelyard.accounts.ratelimit import Limiter, MemoryLimiter, RedisLimiter, Window, parse_rate
from modelyard.accounts.records import RecordWriter, record_of
from modelyard.config import Settings
from modelyard.core.errors import Unauthorized
from modelyard.core.money import to_usd
from modelyard.gateway.generation import Generation
from modelyard.gateway.planner import Plan, split_variant, split_variants
from modelyard.store.database import Database, DatabaseError

logger = logging.getLogger("modelyard.accounts")

ANONYMOUS = KeyInfo(hash="anonymous", name="anonymous", label="", static=True)


@dataclass(slots=True)
class Caller:
    key: KeyInfo
    admin: bool = False


@dataclass(slots=True)
class Admission:
    accounts: Accounts
    key: KeyInfo
    reservation: Reservation | None = None
    done: bool = field(default=False)

    def finish(self, generation: Generation) -> None:
        """The generation ended (synchronously, from its `finally`): record and settle once."""
        if self.done:
            return
        self.done = True
        key_hash = None if self.key is ANONYMOUS else self.key.hash
        record = record_of(generation, key_hash)
        self.accounts.records.add(record)
        if self.reservation is not None:
            self.accounts.settle_later(self.reservation, record["cost"])
        self.accounts.on_generation_end(generation)


def bearer(request_headers: Any) -> str | None:
    header = request_headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class Accounts:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        redis: Any = None,
        on_generation_end: Callable[[Generation], None] | None = None,
    ) -> None:
        self.settings = settings
        self.db = database
        self.redis = redis
        self.store = KeyStore(database)
        self.keys = KeyDirectory(self.store, settings.api_keys, settings.admin_key, redis)
        self.ledger: Ledger = (
            RedisLedger(redis, self.store.spent_since)
            if redis is not None
            else MemoryLedger(self.store.spent_since)
        )
        self.limiter: Limiter = RedisLimiter(redis) if redis is not None else MemoryLimiter()
        self.records = RecordWriter(database, self._spool_dir())
        self.on_generation_end = on_generation_end or (lambda _g: None)
        self._settling: set[asyncio.Task[None]] = set()
        self._key_rate = (
            parse_rate(settings.key_rate_limit, "limits.key") if settings.key_rate_limit else None
        )
        self._model_rates = {
            model: parse_rate(rate, f"limits.models.{model}")
            for model, rate in settings.model_rate_limits.items()
        }
        self._free_rates = [parse_rate(r, "limits.free") for r in settings.free_rate_limits]

    @property
    def default_key_rate(self) -> tuple[int, float] | None:
        return self._key_rate

    def _spool_dir(self) -> Path:
        if self.settings.spool_dir:
            return Path(self.settings.spool_dir)
        if self.db.dialect == "sqlite" and self.db.sqlite_path() != ":memory:":
            return Path(self.db.sqlite_path() + ".spool")
        return Path(platformdirs.user_data_dir("modelyard", appauthor=False)) / "spool"

    async def start(self) -> None:
        await self.keys.start()
        await self.records.start()
        if self.redis is None and self.db.dialect == "postgresql":
            logger.warning(
                "PostgreSQL without Redis: credit limits and request limits are counted per "
                "process; set MODELYARD_REDIS_URL when several processes share the database"
            )

    async def aclose(self) -> None:
        if self._settling:
            await asyncio.wait(self._settling, timeout=5)
        await self.records.aclose()

    # -- who is calling -------------------------------------------------------------------

    async def authenticate(self, headers: Any, *, admin: bool = False) -> Caller:
        """The caller's key; 401 for a missing, unknown, disabled, expired or deleted one.
        With `admin`, only the provisioning key passes."""
        token = bearer(headers)
        if token is None:
            if self.keys.open and not admin:
                return Caller(ANONYMOUS)
            raise Unauthorized(
                "Missing Authentication header: send 'Authorization: Bearer <key>'", code=401
            )
        key_hash = hash_key(token)
        if self.keys.is_admin(key_hash):
            return Caller(KeyInfo(hash=key_hash, name="provisioning", label=""), admin=True)
        if admin:
            raise Unauthorized("This endpoint needs the provisioning key", code=401)
        try:
            key = await self.keys.lookup(key_hash)
        except DatabaseError as exc:
            raise AccountingUnavailable("Key lookup is unavailable; retry shortly") from exc
        if key is None:
            if self.keys.open:
                return Caller(ANONYMOUS)
            raise Unauthorized("Invalid API key", code=401)
        return Caller(key)

    # -- may it run -----------------------------------------------------------------------

    async def admit(self, caller: Caller, plan: Plan, generation_id: str) -> Admission:
        if caller.admin:
            raise Forbidden("The provisioning key manages keys and cannot run inference")
        key = caller.key
        self._check_models(key, plan)
        await self._check_rate(key, plan)
        admission = Admission(self, key)
        if key.limit is not None:
            admission.reservation = await self._reserve(key, plan, generation_id)
        return admission

    def _check_models(self, key: KeyInfo, plan: Plan) -> None:
        if key.allowed_models is None:
            return
        allowed = set(key.allowed_models)

        def ok(model_id: str) -> bool:
            return model_id in allowed or split_variant(model_id)[0] in allowed

        if not ok(plan.requested):
            raise Forbidden(f"This key may not use {plan.requested}", param="model", code=403)
        plan.attempts[:] = [a for a in plan.attempts if ok(a.model.id)]
        if not plan.attempts:
            raise Forbidden(f"This key may not use {plan.requested}", param="model", code=403)

    def _windows(self, key: KeyInfo, plan: Plan) -> list[Window]:
        windows: list[Window] = []
        rate = key.rate_limit or self._key_rate
        if rate is not None:
            windows.append(Window(f"k:{key.hash}", *rate))
        base, variants = split_variants(plan.requested)
        if (model_rate := self._model_rates.get(base)) is not None:
            windows.append(Window(f"km:{key.hash}:{base}", *model_rate))
        if "free" in variants:
            for i, free_rate in enumerate(self._free_rates):
                windows.append(Window(f"kf{i}:{key.hash}", *free_rate))
        return windows

    async def _check_rate(self, key: KeyInfo, plan: Plan) -> None:
        windows = self._windows(key, plan)
        if not windows:
            return
        try:
            exceeded = await self.limiter.hit(windows, time.time())
        except Exception:
            logger.warning("request limits unavailable; letting the request through", exc_info=True)
            return
        if exceeded is None:
            return
        window = exceeded.window
        retry = max(1, math.ceil(exceeded.reset_at - time.time()))
        headers = {
            "Retry-After": str(retry),
            "X-RateLimit-Limit": str(window.requests),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(exceeded.reset_at * 1000)),
        }
        raise RateLimited(
            f"Rate limit exceeded: {window.requests} requests per {window.interval:g} s"
            f"{' for :free models' if window.scope.startswith('kf') else ''}. "
            f"Retry in {retry} s.",
            code=429,
            headers=headers,
            metadata={"headers": headers},
        )

    async def _reserve(self, key: KeyInfo, plan: Plan, generation_id: str) -> Reservation:
        worst = estimate(plan)
        try:
            result = await self.ledger.reserve(key, generation_id, worst.nano, time.time())
        except Exception as exc:
            logger.warning("credit reservation failed: %s", exc)
            raise AccountingUnavailable("Credit accounting is unavailable; retry shortly") from exc
        if isinstance(result, Refused):
            raise self._refusal(result, worst)
        return result

    def _refusal(self, refused: Refused, worst: Any) -> PaymentRequired:
        remaining_usd = refused.remaining / 1e9
        afford = 0
        if worst.completion_price > 0:
            room = refused.remaining / 1e9 - float(worst.fixed)
            afford = max(0, int(room / float(worst.completion_price)))
        return PaymentRequired(
            "This request requires more credits, or fewer max_tokens. You requested up to "
            f"{worst.max_tokens} tokens, but can only afford {afford}. To increase, raise "
            "this key's limit.",
            code=402,
            metadata={
                "limit": to_usd(refused.limit),
                "usage": to_usd(refused.spent),
                "reserved": to_usd(refused.reserved),
                "limit_remaining": remaining_usd,
                "required": to_usd(worst.nano),
                "requested_tokens": worst.max_tokens,
                "affordable_tokens": afford,
            },
        )

    # -- what it cost ---------------------------------------------------------------------

    def settle_later(self, reservation: Reservation, cost: int) -> None:
        task = asyncio.get_running_loop().create_task(self._settle(reservation, cost))
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)

    async def _settle(self, reservation: Reservation, cost: int) -> None:
        delay = 0.1
        while True:
            try:
                await self.ledger.settle(reservation, cost)
                return
            except Exception as exc:
                logger.warning("settling %s failed (%s); retrying", reservation.gen_id, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
