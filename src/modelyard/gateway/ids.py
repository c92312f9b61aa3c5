"""Identifiers in OpenRouter's shapes."""

from __future__ import annotations

import os
import string
import time

_ALNUM = (string.ascii_letters + string.digits).encode()
# Random bytes mapped onto 62 symbols in one C call; the slight skew of `% 62` does not
# matter for identifiers (they are unique, not secrets), and this runs on every request.
_TO_ALNUM = bytes(_ALNUM[i % len(_ALNUM)] for i in range(256))


def random_alnum(n: int) -> str:
    return os.urandom(n).translate(_TO_ALNUM).decode()


def generation_id(now: float | None = None) -> str:
    """`gen-<unix seconds>-<20 alphanumerics>`, as OpenRouter's ids look."""
    return f"gen-{int(now or time.time())}-{random_alnum(20)}"


def tool_call_id() -> str:
    return f"call_{random_alnum(24)}"
