"""Stickiness: a conversation goes back to the provider that served it last (for
`sticky_seconds` of inactivity) so the provider's prompt cache stays warm."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from typing import Any

import orjson

from modelyard.core.request import InferenceRequest

MAX_STICKY = 100_000


def conversation_key(request: InferenceRequest, session_header: str | None) -> str | None:
    """What identifies a conversation for stickiness, in OpenRouter's order: session_id,
    x-session-id, prompt_cache_key, else a hash of the first system/developer message and
    the first other message."""
    body = request.body
    for value in (request.session_id, session_header, body.get("prompt_cache_key")):
        if isinstance(value, str) and value:
            return "id:" + value
    messages = body.get("messages")
    if not isinstance(messages, list):
        return None
    system: Any = None
    first: Any = None
    for message in messages:
        if not isinstance(message, dict):
            continue
        if message.get("role") in {"system", "developer"}:
            system = system or message.get("content")
        elif first is None:
            first = message.get("content")
        if system is not None and first is not None:
            break
    if first is None:
        return None
    try:
        digest = hashlib.blake2b(orjson.dumps([system, first]), digest_size=16).hexdigest()
    except TypeError:
        return None
    return "prefix:" + digest


class StickyRoutes:
    """Conversation -> provider that served it, forgotten after `ttl` seconds unused."""

    def __init__(self, ttl: float, clock=time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._routes: OrderedDict[tuple[str, str], tuple[str, float]] = OrderedDict()

    def get(self, model: str, key: str) -> str | None:
        entry = self._routes.get((model, key))
        if entry is None:
            return None
        provider, expires = entry
        if expires < self._clock():
            del self._routes[(model, key)]
            return None
        return provider

    def set(self, model: str, key: str, provider: str) -> None:
        self._routes[(model, key)] = (provider, self._clock() + self.ttl)
        self._routes.move_to_end((model, key))
        while len(self._routes) > MAX_STICKY:
            self._routes.popitem(last=False)
