"""The catalog as the pages show it: served or not, provider names, and the /models filters.

Endpoint numbers come from the same payload as `GET /models/{id}/endpoints`, so a page and
the API never disagree."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from modelyard.catalog.catalog import Model
from modelyard.gateway.gateway import Gateway
from modelyard.gateway.listing import endpoint_payload

PER_MILLION = Decimal(1_000_000)
SORTS = {
    "popular": "Most tokens this week",
    "newest": "Newest",
    "price-low": "Price: low to high",
    "price-high": "Price: high to low",
    "context": "Context: high to low",
    "name": "Name",
}
# Price dimensions as the Pricing tab names them, in OpenRouter's order.
PRICE_ROWS = [
    ("prompt", "Input", "per 1M tokens"),
    ("completion", "Output", "per 1M tokens"),
    ("input_cache_read", "Cached input (read)", "per 1M tokens"),
    ("input_cache_write", "Cached input (write)", "per 1M tokens"),
    ("internal_reasoning", "Reasoning", "per 1M tokens"),
    ("image", "Image input", "per image"),
    ("image_token", "Image input tokens", "per 1M tokens"),
    ("image_output", "Image output", "per 1M tokens"),
    ("audio", "Audio input", "per 1M tokens"),
    ("request", "Request", "per request"),
    ("web_search", "Web search", "per search"),
]
# Shown for every endpoint, $0 where it charges nothing; the others only when priced.
ALWAYS_SHOWN = {
    "prompt",
    "completion",
    "input_cache_read",
    "internal_reasoning",
    "image",
    "request",
}
TOKEN_DIMENSIONS = {
    "prompt",
    "completion",
    "input_cache_read",
    "input_cache_write",
    "internal_reasoning",
    "image_token",
    "image_output",
    "audio",
}


def is_served(gateway: Gateway, model: Model) -> bool:
    return any(e.provider in gateway.enabled for e in model.endpoints)


def modalities(model: Model) -> str:
    return f"{', '.join(model.input_modalities)} → {', '.join(model.output_modalities)}"


@dataclass(slots=True)
class EndpointRow:
    slug: str
    enabled: bool
    why_disabled: str
    payload: dict[str, Any]  # the API's endpoint object
    prices: list[tuple[str, str, Decimal | None]]  # (label, unit, USD per unit or per 1M)


def endpoint_rows(gateway: Gateway, model: Model) -> list[EndpointRow]:
    rows = []
    for endpoint in model.endpoints:
        prices = []
        for key, label, unit in PRICE_ROWS:
            if key not in ALWAYS_SHOWN and key not in endpoint.pricing.values:
                continue
            value = endpoint.pricing.get(key)
            prices.append((label, unit, value * PER_MILLION if key in TOKEN_DIMENSIONS else value))
        rows.append(
            EndpointRow(
                slug=endpoint.provider,
                enabled=endpoint.provider in gateway.enabled,
                why_disabled=gateway.disabled_reason.get(endpoint.provider, ""),
                payload=endpoint_payload(gateway, model, endpoint),
                prices=prices,
            )
        )
    return rows


@dataclass(slots=True)
class ModelQuery:
    """The /models filters, read from the query string; every field optional."""

    q: str = ""
    input: str = ""
    output: str = ""
    min_context: int = 0
    max_price: Decimal | None = None  # USD per 1M input tokens
    parameter: str = ""
    served: bool = False
    sort: str = "popular"

    @classmethod
    def parse(cls, params: Any) -> ModelQuery:
        def number(name: str) -> str:
            return (params.get(name) or "").strip()

        min_context = number("min_context")
        max_price = number("max_price")
        sort = params.get("sort") or "popular"
        return cls(
            q=(params.get("q") or "").strip()[:200],
            input=(params.get("input") or "").strip(),
            output=(params.get("output") or "").strip(),
            min_context=int(min_context) if min_context.isdigit() else 0,
            max_price=_decimal(max_price),
            parameter=(params.get("parameter") or "").strip(),
            served=params.get("served") == "1",
            sort=sort if sort in SORTS else "popular",
        )

    def matches(self, gateway: Gateway, model: Model) -> bool:
        if self.q:
            haystack = f"{model.id} {model.name} {model.description}".lower()
            if not all(word in haystack for word in self.q.lower().split()):
                return False
        if self.input and self.input not in model.input_modalities:
            return False
        if self.output and self.output not in model.output_modalities:
            return False
        if self.min_context and model.context_length < self.min_context:
            return False
        price = model.pricing.get("prompt") * PER_MILLION
        if self.max_price is not None and price > self.max_price:
            return False
        if self.parameter and self.parameter not in model.supported_parameters:
            return False
        return not (self.served and not is_served(gateway, model))

    def apply(self, gateway: Gateway, weekly: dict[str, int]) -> list[Model]:
        models = [m for m in gateway.catalog if self.matches(gateway, m)]
        keys = {
            "popular": lambda m: (-weekly.get(m.id, 0), m.name.lower()),
            "newest": lambda m: (-m.created, m.name.lower()),
            "price-low": lambda m: (m.pricing.get("prompt"), m.name.lower()),
            "price-high": lambda m: (-m.pricing.get("prompt"), m.name.lower()),
            "context": lambda m: (-m.context_length, m.name.lower()),
            "name": lambda m: m.name.lower(),
        }
        return sorted(models, key=keys[self.sort])


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except ArithmeticError:
        return None
    return value if value.is_finite() and value >= 0 else None


def facets(gateway: Gateway) -> dict[str, list[str]]:
    """The choices the filter form offers, from what the catalog holds."""
    inputs: set[str] = set()
    outputs: set[str] = set()
    params: set[str] = set()
    for model in gateway.catalog:
        inputs.update(model.input_modalities)
        outputs.update(model.output_modalities)
        params.update(model.supported_parameters)
    return {"input": sorted(inputs), "output": sorted(outputs), "parameter": sorted(params)}
