"""Money as integer nano-dollars: exact in SQL sums, in Redis counters and in Lua (< 2^53)."""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, Decimal

NANO = 10**9


def to_nano(usd: Decimal | float | int) -> int:
    """USD to nano-dollars, rounded up: a charge is never rounded in the payer's favour
    so that a limit holds exactly."""
    if isinstance(usd, float):
        if not math.isfinite(usd):
            raise ValueError("not a finite amount")
        usd = Decimal(repr(usd))
    return int((Decimal(usd) * NANO).to_integral_value(rounding=ROUND_CEILING))


def to_usd(nano: int | None) -> float | None:
    return None if nano is None else nano / NANO
