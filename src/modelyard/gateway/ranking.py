"""Ranking: which of a model's endpoints serve a request, and in which order.

OpenRouter's algorithm, kept in one place (the `provider` object itself is normalized in
preferences.py, conversations' stickiness kept in sticky.py):
1. Hard filters from the preferences (only, ignore, quantizations, data policy,
   max_price, require_parameters), the `:free` variant, output modalities and tool
   support. Every endpoint left out is named with its reason, so an unservable request
   explains itself.
2. Order: `sort` (price, throughput, latency) when asked for; otherwise load balancing,
   one endpoint picked at random weighted by 1/price^2 with the rest as fallbacks by price.
   Soft preferences (preferred_min_throughput / preferred_max_latency) move the endpoints
   that miss them to the end; an endpoint that failed within the failure window goes after
   every healthy one. `order` puts its providers first, in its order; otherwise a sticky
   conversation's provider goes first.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from modelyard.catalog.catalog import PER_MILLION, Endpoint, Model
from modelyard.core.request import InferenceRequest
from modelyard.gateway.preferences import PER_TOKEN, Preferences, matches
from modelyard.gateway.sticky import StickyRoutes
from modelyard.stats.health import Health, Percentiles

# Request fields that are parameters in OpenRouter's `supported_parameters` vocabulary.
PARAMETERS = frozenset(
    {
        "temperature",
        "top_p",
        "top_k",
        "min_p",
        "top_a",
        "frequency_penalty",
        "presence_penalty",
        "repetition_penalty",
        "max_tokens",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "seed",
        "response_format",
        "stop",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "reasoning",
        "include_reasoning",
        "web_search_options",
        "verbosity",
        "prediction",
    }
)
# A request parameter an endpoint may list under another name.
PARAMETER_ALIASES = {
    "max_tokens": {"max_tokens", "max_completion_tokens"},
    "reasoning": {"reasoning", "reasoning_effort"},
    "structured_outputs": {"structured_outputs"},
}


@dataclass(slots=True)
class Exclusion:
    """One endpoint left out; `by_request` when the request's constraints excluded it (404),
    not the deployment (503)."""

    model: str
    provider: str
    reason: str
    by_request: bool = True

    def __str__(self) -> str:
        return f"{self.model} at {self.provider}: {self.reason}"


def _missing_outputs(request: InferenceRequest, model: Model) -> list[str]:
    """The output modalities a request asks for (`modalities`) that the model lacks."""
    if not request.modalities:
        return []
    return [m for m in request.modalities if m not in model.output_modalities]


def requested_parameters(raw: dict[str, Any]) -> set[str]:
    """The parameters a (chat-shaped) body uses, in `supported_parameters` terms."""
    wanted = {k for k in PARAMETERS if raw.get(k) is not None}
    if raw.get("max_completion_tokens") is not None:
        wanted.add("max_tokens")
    if raw.get("reasoning_effort") is not None:
        wanted.add("reasoning")
    if not raw.get("tools"):
        wanted.discard("tools")
    response_format = raw.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        wanted.add("structured_outputs")
    return wanted


def _supports(endpoint: Endpoint, parameter: str) -> bool:
    return bool(PARAMETER_ALIASES.get(parameter, {parameter}) & set(endpoint.supported_parameters))


# Endpoint (by identity; catalog endpoints live as long as the process) -> blended price.
_PRICES: dict[int, tuple[Endpoint, float]] = {}


def _price(endpoint: Endpoint) -> float:
    """Prompt plus completion price per token, the figure balancing and `sort` compare."""
    cached = _PRICES.get(id(endpoint))
    if cached is not None and cached[0] is endpoint:
        return cached[1]
    price = float(endpoint.pricing.get("prompt") + endpoint.pricing.get("completion"))
    _PRICES[id(endpoint)] = (endpoint, price)
    return price


def caches(endpoint: Endpoint) -> bool:
    """Stickiness pays only where a cache read is cheaper than a prompt token."""
    read = endpoint.pricing.values.get("input_cache_read")
    return read is not None and read < endpoint.pricing.get("prompt")


def _meets(observed: Percentiles | None, targets: dict[str, float], higher_is_better: bool) -> bool:
    if observed is None or not targets:
        return True  # no data yet: not held against it
    for name, target in targets.items():
        value = observed.get(name)
        if (value < target) if higher_is_better else (value > target):
            return False
    return True


class Router:
    """Ranks endpoints per request from the live health and the sticky routes."""

    def __init__(
        self,
        health: Health,
        provider_names: dict[str, str],
        sticky_seconds: float = 600.0,
        rng: random.Random | None = None,
    ) -> None:
        self.health = health
        self.sticky = StickyRoutes(sticky_seconds)
        # Every provider slug a request may name (configured or not) -> its display name.
        self.provider_names = provider_names
        self._rng = rng or random.Random()

    # --- ranking ---------------------------------------------------------------------

    def _exclusion(
        self, model: Model, endpoint: Endpoint, prefs: Preferences, wanted: set[str], tools: bool
    ) -> str | None:
        provider = endpoint.provider
        if prefs.only is not None and not any(matches(s, provider) for s in prefs.only):
            return "not in provider.only"
        if any(matches(s, provider) for s in prefs.ignore):
            return "in provider.ignore"
        if prefs.free_only and not endpoint.pricing.is_free:
            return "not free (the :free variant serves zero-price endpoints only)"
        if prefs.quantizations is not None and endpoint.quantization not in prefs.quantizations:
            return f"quantization {endpoint.quantization} is not in provider.quantizations"
        policy = endpoint.data_policy
        if prefs.deny_data_collection and policy.get("training") is not False:
            return "may train on prompts (provider.data_collection is deny)"
        if prefs.zdr and (policy.get("retains_prompts") is not False):
            days = policy.get("retention_days")
            held = f"retains prompts for {days} days" if days else "may retain prompts"
            return f"{held} (provider.zdr is true)"
        for key, limit in prefs.max_price.items():
            price = endpoint.pricing.get(key)
            if price > limit:
                shown = price * PER_MILLION if key in PER_TOKEN else price
                unit = " per 1M tokens" if key in PER_TOKEN else ""
                amount = format(shown.normalize(), "f")
                return f"{key} price ${amount}{unit} is over provider.max_price.{key}"
        declared = bool(endpoint.supported_parameters)
        if tools and declared and not _supports(endpoint, "tools"):
            return "does not support tool use"
        if prefs.require_parameters:
            missing = sorted(p for p in wanted if not _supports(endpoint, p))
            if missing:
                return "does not support " + ", ".join(missing) + " (provider.require_parameters)"
        return None

    def sort_across(
        self, pairs: list[tuple[Model, Endpoint]], sort: str
    ) -> list[tuple[Model, Endpoint]]:
        """Sort (model, endpoint) pairs by price, throughput or latency, best first;
        endpoints with no measurement yet go after the measured ones, by price."""
        if sort == "price":
            return sorted(pairs, key=lambda pair: _price(pair[1]))

        def key(pair: tuple[Model, Endpoint]) -> tuple[int, float, float]:
            model, endpoint = pair
            view = self.health.routing_view(model.id, endpoint.provider)
            observed = view.throughput if sort == "throughput" else view.latency
            if observed is None:
                return (1, 0.0, _price(endpoint))
            value = -observed.p50 if sort == "throughput" else observed.p50
            return (0, value, _price(endpoint))

        return sorted(pairs, key=key)

    def _balanced(self, endpoints: list[Endpoint]) -> list[Endpoint]:
        """One pick weighted by 1/price^2 (free endpoints first), the rest by price."""
        if len(endpoints) < 2:
            return list(endpoints)
        by_price = sorted(endpoints, key=_price)
        prices = [_price(e) for e in by_price]
        if prices[0] == 0:
            pick = self._rng.choice([e for e, p in zip(by_price, prices, strict=True) if p == 0])
        else:
            pick = self._rng.choices(by_price, [1 / p**2 for p in prices])[0]
        return [pick, *(e for e in by_price if e is not pick)]

    def rank(
        self,
        model: Model,
        endpoints: list[Endpoint],
        prefs: Preferences,
        request: InferenceRequest,
        sticky_key: str | None = None,
    ) -> tuple[list[Endpoint], list[Exclusion]]:
        """The endpoints to try for `model`, best first, and those left out with why."""
        excluded: list[Exclusion] = []
        wanted = requested_parameters(request.body) if prefs.require_parameters else set()
        tools = request.tools
        missing_outputs = _missing_outputs(request, model)
        candidates: list[Endpoint] = []
        for endpoint in endpoints:
            reason = (
                f"does not output {', '.join(map(str, missing_outputs))} (modalities)"
                if missing_outputs
                else self._exclusion(model, endpoint, prefs, wanted, tools)
            )
            if reason is None:
                candidates.append(endpoint)
            else:
                excluded.append(Exclusion(model.id, endpoint.provider, reason))
        if prefs.sort in ("price", "throughput", "latency"):
            ranked = [e for _m, e in self.sort_across([(model, e) for e in candidates], prefs.sort)]
        else:
            ranked = self._balanced(candidates)
        if prefs.min_throughput or prefs.max_latency:
            views = {e.provider: self.health.routing_view(model.id, e.provider) for e in ranked}
            ranked.sort(
                key=lambda e: (
                    not (
                        _meets(views[e.provider].throughput, prefs.min_throughput, True)
                        and _meets(views[e.provider].latency, prefs.max_latency, False)
                    )
                )
            )
        if len(ranked) > 1:
            ranked.sort(key=lambda e: self.health.is_down(model.id, e.provider))
        if prefs.order:
            first: list[Endpoint] = []
            for slug in prefs.order:
                first += [
                    e
                    for e in ranked
                    if matches(slug, e.provider) and all(e is not f for f in first)
                ]
            rest = [e for e in ranked if all(e is not f for f in first)]
            if not prefs.allow_fallbacks:
                excluded += [
                    Exclusion(
                        model.id,
                        e.provider,
                        "not in provider.order and provider.allow_fallbacks is false",
                    )
                    for e in rest
                ]
                rest = []
            ranked = first + rest
        elif sticky_key is not None and prefs.sort is None:
            provider = self.sticky.get(model.id, sticky_key)
            for index, endpoint in enumerate(ranked):
                if endpoint.provider == provider and not self.health.is_down(model.id, provider):
                    ranked.insert(0, ranked.pop(index))
                    break
        if not prefs.allow_fallbacks and not prefs.order:
            ranked = ranked[:1]
        return ranked, excluded

    def wants_sticky(self, prefs: Preferences, endpoints: list[Endpoint]) -> bool:
        """Whether the conversation's key is worth computing (hashing its messages)."""
        return not prefs.order and prefs.sort is None and any(map(caches, endpoints))
