"""Cost of a generation from its usage and the serving endpoint's prices."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from modelyard.catalog.catalog import Pricing
from modelyard.gateway.events import Usage


@dataclass(slots=True)
class Cost:
    prompt: Decimal
    completion: Decimal
    request: Decimal

    @property
    def total(self) -> Decimal:
        return self.prompt + self.completion + self.request


def cost_of(usage: Usage, pricing: Pricing) -> Cost:
    """Cached prompt tokens at the cache-read price (the prompt price when none is set);
    reasoning tokens are part of the completion, at the completion price."""
    prompt_price = pricing.get("prompt")
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    cache_price = pricing.values.get("input_cache_read", prompt_price)
    write_price = pricing.values.get("input_cache_write", prompt_price)
    written = min(usage.cache_write_tokens, usage.prompt_tokens - cached)
    fresh = usage.prompt_tokens - cached - written
    prompt = fresh * prompt_price + cached * cache_price + written * write_price
    completion = usage.completion_tokens * pricing.get("completion")
    return Cost(prompt=prompt, completion=completion, request=pricing.get("request"))
