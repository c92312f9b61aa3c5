"""Credit-limit periods, in UTC as OpenRouter's: days at midnight, weeks from Monday, months
from the 1st. A period is named by its start, so counters for a new period start empty."""

from __future__ import annotations

import datetime as dt

RESETS = ("daily", "weekly", "monthly")


def period_start(reset: str | None, now: float) -> float:
    """The start (unix seconds) of the period `now` falls in; 0 for a limit that never resets."""
    if reset is None:
        return 0.0
    day = dt.datetime.fromtimestamp(now, dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if reset == "weekly":
        day -= dt.timedelta(days=day.weekday())
    elif reset == "monthly":
        day = day.replace(day=1)
    elif reset != "daily":
        raise ValueError(f"unknown limit reset {reset!r}")
    return day.timestamp()


def period_end(reset: str | None, now: float) -> float | None:
    if reset is None:
        return None
    start = dt.datetime.fromtimestamp(period_start(reset, now), dt.UTC)
    if reset == "daily":
        end = start + dt.timedelta(days=1)
    elif reset == "weekly":
        end = start + dt.timedelta(days=7)
    else:
        end = (start + dt.timedelta(days=32)).replace(day=1)
    return end.timestamp()
