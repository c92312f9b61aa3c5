"""Key lookups for the hot path: cached, and dropped everywhere the moment any key changes.

Every change to a key bumps a version (in the database, and in Redis when configured). Each
request reads that one number (a Redis GET, or a one-row SELECT) and empties the cache when
it moved, so a disabled or deleted key is refused at once by every process. If the version
cannot be read the cache still serves, for at most its TTL; if the database is down, the
last known state of a key seen before holds, so that requests are still served.
"""

from __future__ import annotations

import hmac
import logging
import math
import time
from typing import Any

from modelyard.accounts.keys import KeyInfo, KeyStore, hash_key
from modelyard.store.database import DatabaseError

logger = logging.getLogger("modelyard.accounts")

REDIS_VERSION_KEY = "modelyard:accounts:version"
MAX_ENTRIES = 50_000


class KeyDirectory:
    def __init__(
        self,
        store: KeyStore,
        static_keys: list[str],
        admin_key: str | None,
        redis: Any = None,
        ttl: float = 30.0,
    ) -> None:
        self.store = store
        self._static = {
            hash_key(k): KeyInfo(hash=hash_key(k), name="MODELYARD_API_KEYS", label="", static=True)
            for k in static_keys
        }
        self._admin_hash = hash_key(admin_key) if admin_key else None
        self._redis = redis
        self._ttl = ttl
        self._entries: dict[str, tuple[KeyInfo | None, float]] = {}
        self._version: Any = None
        self._has_db_keys = False

    @property
    def open(self) -> bool:
        """No key of any kind exists: the gateway serves anyone (loopback quick start)."""
        return not self._static and self._admin_hash is None and not self._has_db_keys

    def is_admin(self, key_hash: str) -> bool:
        return self._admin_hash is not None and hmac.compare_digest(key_hash, self._admin_hash)

    async def start(self) -> None:
        await self.refresh()

    async def refresh(self) -> None:
        """Check the version; on a change, forget every cached key."""
        version = await self._read_version()
        if version is None or version == self._version:
            return
        # Every entry must be read again; an entry is kept only as the fallback for when the
        # database cannot be reached (nothing better is known then).
        self._entries = {h: (info, -math.inf) for h, (info, _) in self._entries.items()}
        self._version = version
        try:
            self._has_db_keys = await self.store.count_usable() > 0
        except DatabaseError:
            self._has_db_keys = True  # fail closed

    async def changed(self) -> None:
        """Call after changing a key (the database version was bumped in the same
        transaction): tell the other processes through Redis, and forget here."""
        if self._redis is not None:
            try:
                await self._redis.incr(REDIS_VERSION_KEY)
            except Exception:
                logger.warning("could not publish a key change to Redis", exc_info=True)
        self._version = None
        await self.refresh()

    async def _read_version(self) -> Any:
        try:
            if self._redis is not None:
                return await self._redis.get(REDIS_VERSION_KEY) or b"0"
            return await self.store.version()
        except Exception:
            return None

    async def lookup(self, key_hash: str) -> KeyInfo | None:
        """The key for a hash, or None when it is unknown, disabled, expired or deleted."""
        if (static := self._static.get(key_hash)) is not None:
            return static
        await self.refresh()
        now = time.monotonic()
        entry = self._entries.get(key_hash)
        if entry is not None and now - entry[1] < self._ttl:
            info = entry[0]
        else:
            try:
                info = await self.store.get(key_hash)
            except DatabaseError:
                if entry is None:
                    raise
                info = entry[0]  # stale beats refusing everyone while the database is down
            else:
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries.clear()
                self._entries[key_hash] = (info, now)
        if info is None or not info.usable(time.time()):
            return None
        return info
