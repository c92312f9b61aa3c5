"""Identifiers in OpenRouter's shapes."""

from __future__ import annotations

import secrets
import string
import time

_ALNUM = string.ascii_letters + string.digits


def random_alnum(n: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


def generation_id(now: float | None = None) -> str:
    """`gen-<unix seconds>-<20 alphanumerics>`, as OpenRouter's ids look."""
    return f"gen-{int(now or time.time())}-{random_alnum(20)}"


def tool_call_id() -> str:
    return f"call_{random_alnum(24)}"
