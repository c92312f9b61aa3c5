"""Validation of the key API's bodies: every mistake is a 400 that names the field."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from modelyard.accounts.periods import RESETS
from modelyard.accounts.ratelimit import parse_rate
from modelyard.catalog.catalog import Catalog
from modelyard.config import ConfigError
from modelyard.core.errors import BadRequest
from modelyard.core.money import to_nano
from modelyard.gateway.planner import split_variant

CREATE_FIELDS = {
    "name",
    "limit",
    "limit_reset",
    "allowed_models",
    "rate_limit",
    "disabled",
    "expires_at",
    "include_byok_in_limit",
}
MAX_LIMIT_USD = 1_000_000_000  # keeps nano-dollars far inside 2^63


def _bad(param: str, message: str) -> BadRequest:
    return BadRequest(f"Invalid {param}: {message}", param=param, code=400)


def key_fields(body: Any, catalog: Catalog, *, creating: bool) -> dict[str, Any]:
    """KeyInfo fields from a POST (creating) or PATCH body."""
    if not isinstance(body, dict):
        raise BadRequest("Invalid request: the body must be a JSON object", code=400)
    for name in body:
        if name not in CREATE_FIELDS:
            raise _bad(str(name)[:64], "unknown field")
    fields: dict[str, Any] = {}
    if "name" in body or creating:
        name = body.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 256:
            raise _bad("name", "a non-empty string of at most 256 characters is required")
        fields["name"] = name.strip()
    if "limit" in body:
        limit = body["limit"]
        if limit is None:
            fields["limit"] = None
        elif (
            isinstance(limit, bool)
            or not isinstance(limit, int | float)
            or not math.isfinite(limit)
            or not 0 <= limit <= MAX_LIMIT_USD
        ):
            raise _bad("limit", f"a number of USD from 0 to {MAX_LIMIT_USD}, or null")
        else:
            fields["limit"] = to_nano(limit)
    if "limit_reset" in body:
        reset = body["limit_reset"]
        if reset in (None, "none", "never"):
            fields["limit_reset"] = None
        elif reset in RESETS:
            fields["limit_reset"] = reset
        else:
            raise _bad("limit_reset", "one of daily, weekly, monthly, or null")
    if "allowed_models" in body:
        fields["allowed_models"] = _models(body["allowed_models"], catalog)
    if "rate_limit" in body:
        fields["rate_limit"] = _rate(body["rate_limit"])
    if "disabled" in body:
        if not isinstance(body["disabled"], bool):
            raise _bad("disabled", "true or false")
        fields["disabled"] = body["disabled"]
    if "expires_at" in body:
        fields["expires_at"] = _expiry(body["expires_at"])
    if "include_byok_in_limit" in body and not isinstance(body["include_byok_in_limit"], bool):
        raise _bad("include_byok_in_limit", "true or false")
    return fields


def _models(value: Any, catalog: Catalog) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > 1000:
        raise _bad("allowed_models", "a list of model ids, or null")
    for i, model in enumerate(value):
        if not isinstance(model, str) or catalog.get(split_variant(model)[0]) is None:
            shown = model[:100] if isinstance(model, str) else type(model).__name__
            raise _bad(f"allowed_models[{i}]", f"{shown!r} is not a valid model ID")
    return tuple(dict.fromkeys(value))


def _rate(value: Any) -> tuple[int, float] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"requests", "interval"}:
        raise _bad("rate_limit", 'an object {"requests": N, "interval": "1m"}, or null')
    requests = value.get("requests")
    if isinstance(requests, bool) or not isinstance(requests, int) or requests < 1:
        raise _bad("rate_limit.requests", "a positive integer")
    interval = value.get("interval", "1m")
    if isinstance(interval, int | float) and not isinstance(interval, bool):
        interval = f"{interval}s"
    if not isinstance(interval, str):
        raise _bad("rate_limit.interval", "a duration like '10s', '1m', '1h' or '1d'")
    try:
        _, seconds = parse_rate(f"1/{interval}", "rate_limit.interval")
    except ConfigError:
        raise _bad("rate_limit.interval", "a duration like '10s', '1m', '1h' or '1d'") from None
    if not 0.001 <= seconds <= 366 * 86400:
        raise _bad("rate_limit.interval", "from 1 ms to a year")
    return requests, seconds


def _expiry(value: Any) -> float | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad("expires_at", "an ISO 8601 time (UTC), or null")
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _bad("expires_at", "an ISO 8601 time (UTC), or null") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat().replace("+00:00", "Z")


def interval_text(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
