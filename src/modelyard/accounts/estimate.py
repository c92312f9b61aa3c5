"""The worst-case cost of a planned request, reserved before it runs (OpenRouter's
pre-authorization): every prompt token and as many completion tokens as it may produce."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import orjson

from modelyard.core.money import to_nano
from modelyard.gateway.planner import Attempt, Plan


@dataclass(slots=True)
class Estimate:
    nano: int
    prompt_tokens: int
    max_tokens: int
    # The price of one more completion token and of the rest, for "can only afford N".
    completion_price: Decimal
    fixed: Decimal


def prompt_bound(attempt: Attempt) -> int:
    """An upper bound on prompt tokens: byte-level tokenizers never emit more tokens than
    bytes, and the JSON around the text covers the chat template's own tokens."""
    body = attempt.body
    parts = [body.get(k) for k in ("messages", "tools", "input", "instructions") if body.get(k)]
    return min(len(orjson.dumps(parts)), attempt.endpoint.context_length)


def max_output(attempt: Attempt) -> int:
    body = attempt.body
    for field in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
        value = body.get(field)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    endpoint = attempt.endpoint
    return int(
        endpoint.max_completion_tokens
        or attempt.model.max_completion_tokens
        or endpoint.context_length
    )


def estimate(plan: Plan) -> Estimate:
    """The most any of the plan's attempts (fallbacks included) may cost."""
    worst: Estimate | None = None
    for attempt in plan.attempts:
        pricing = attempt.endpoint.pricing
        prompt_price = max(pricing.get("prompt"), pricing.values.get("input_cache_write", 0))
        prompt = prompt_bound(attempt)
        out = max_output(attempt)
        fixed = prompt * prompt_price + pricing.get("request")
        completion_price = pricing.get("completion")
        total = fixed + out * completion_price
        candidate = Estimate(to_nano(total), prompt, out, completion_price, fixed)
        if worst is None or candidate.nano > worst.nano:
            worst = candidate
    assert worst is not None
    return worst
