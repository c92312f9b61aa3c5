"""Cost of a generation from its usage and the serving endpoint's prices."""

from __future__ import annotations

from modelyard.catalog.catalog import Pricing
from modelyard.core.events import Usage
from modelyard.core.generation import Cost


def cost_of(usage: Usage, pricing: Pricing) -> Cost:
    """Prompt: cache reads at `input_cache_read`, cache writes at `input_cache_write` (the
    prompt price where either is unset), the rest at the prompt price. Completion: image
    output tokens at `image_output`, reasoning tokens at `internal_reasoning` (the
    completion price where either is unset), the rest at the completion price. Both image
    and reasoning tokens are part of `completion_tokens`, as every upstream counts them."""
    values = pricing.values
    prompt_price = pricing.get("prompt")
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    cache_price = values.get("input_cache_read", prompt_price)
    write_price = values.get("input_cache_write", prompt_price)
    written = min(usage.cache_write_tokens, usage.prompt_tokens - cached)
    fresh = usage.prompt_tokens - cached - written
    prompt = fresh * prompt_price + cached * cache_price + written * write_price
    completion_price = pricing.get("completion")
    images = min(usage.image_tokens, usage.completion_tokens)
    reasoning = min(usage.reasoning_tokens, usage.completion_tokens - images)
    text = usage.completion_tokens - images - reasoning
    completion = (
        text * completion_price
        + reasoning * values.get("internal_reasoning", completion_price)
        + images * values.get("image_output", completion_price)
    )
    return Cost(prompt=prompt, completion=completion, request=pricing.get("request"))
