"""How numbers read on the pages: OpenRouter's conventions ("$0.25", "400K", "221B", "Aug 7,
2025"), so a page here and a seed page say the same thing the same way."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

PER_MILLION = Decimal(1_000_000)


def usd(value: Decimal | float | int | None) -> str:
    """Dollars: whole amounts bare ("$2"), else at least cents ("$4.50", "$0.025")."""
    if value is None:
        return "—"
    amount = Decimal(str(value))
    if amount == amount.to_integral_value():
        return f"${int(amount):,}"
    text = format(amount.normalize(), "f")
    whole, _, frac = text.partition(".")
    return f"${int(whole):,}.{frac.ljust(2, '0')}" if whole != "-0" else f"-$0.{frac}"


def per_million(per_token: Decimal | float | None) -> str:
    """A per-token price as dollars per 1M tokens."""
    if per_token is None:
        return "—"
    return usd((Decimal(str(per_token)) * PER_MILLION).normalize())


def spend(value: float | Decimal | None) -> str:
    """Money spent: small sums keep six decimals so a cheap request does not read $0."""
    if value is None:
        return "—"
    amount = float(value)
    if amount == 0:
        return "$0"
    if abs(amount) >= 1:
        return f"${amount:,.2f}"
    return f"${amount:.6f}".rstrip("0")


def compact(value: float | int | None) -> str:
    """Three significant digits with K/M/B/T: 221B, 8.35B, 1.23K, 950."""
    if value is None:
        return "—"
    number = float(value)
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(number) >= size:
            scaled = number / size
            text = f"{scaled:.3g}" if scaled < 1000 else f"{scaled:.0f}"
            return f"{text}{suffix}"
    return f"{number:.3g}" if number != int(number) else str(int(number))


def context(tokens: int | None) -> str:
    """Context windows as OpenRouter prints them: 400K, 131K, 1.05M."""
    if not tokens:
        return "—"
    if tokens >= 1_000_000:
        return f"{tokens / 1_000_000:.3g}M"
    if tokens >= 1_000:
        return f"{round(tokens / 1_000)}K"
    return str(tokens)


def date(timestamp: int | float | None) -> str:
    """'Aug 7, 2025' (UTC)."""
    if not timestamp:
        return "—"
    day = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    return f"{day:%b} {day.day}, {day.year}"


def datetime(timestamp: int | float | None) -> str:
    """'2025-08-07 14:03:09 UTC': the log's timestamps, sortable when read."""
    if not timestamp:
        return "—"
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def percent(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}%".replace(".00%", "%")


def seconds(value: float | None) -> str:
    """Latency: '0.42s', '1.3s'."""
    if value is None:
        return "—"
    return f"{value:.2f}s" if value < 10 else f"{value:.1f}s"


def throughput(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.1f} tok/s" if value < 100 else f"{value:.0f} tok/s"


FILTERS = {
    "usd": usd,
    "per_million": per_million,
    "spend": spend,
    "compact": compact,
    "context": context,
    "date": date,
    "datetime": datetime,
    "percent": percent,
    "seconds": seconds,
    "throughput": throughput,
}
