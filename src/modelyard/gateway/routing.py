"""Routing: which of a model's endpoints serve a request, and in which order.

OpenRouter's algorithm, kept in one place:
1. Hard filters from the request's `provider` object (only, ignore, quantizations, data
   policy, max_price, require_parameters), the `:free` variant and tool support. Every
   endpoint left out is named with its reason, so an unservable request explains itself.
2. Order: `sort` (price, throughput, latency) when asked for; otherwise load balancing,
   one endpoint picked at random weighted by 1/price^2 with the rest as fallbacks by price.
   Soft preferences (preferred_min_throughput / preferred_max_latency) move the endpoints
   that miss them to the end; an endpoint that failed within the failure window goes after
   every healthy one. `order` puts its providers first, in its order.
3. Stickiness: a conversation goes back to the endpoint that served it last (for
   `sticky_seconds` of inactivity) so the provider's prompt cache stays warm.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import msgspec
import orjson

from modelyard.catalog.catalog import PER_MILLION, Endpoint, Model
from modelyard.gateway.errors import BadRequest
from modelyard.gateway.events import StreamError
from modelyard.stats.health import Health, Percentiles
from modelyard.wire.chat import PercentileTargets, ProviderPreferences, SortSpec

if TYPE_CHECKING:
    from modelyard.gateway.generation import Generation

# Variant suffixes that steer routing: `:nitro` sorts by throughput, `:floor` by price.
VARIANT_SORT = {"nitro": "throughput", "floor": "price"}
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
MAX_PRICE_KEYS = ("prompt", "completion", "request", "image", "audio")
PER_TOKEN = {"prompt", "completion"}
MAX_STICKY = 100_000


@dataclass(slots=True)
class Preferences:
    """The `provider` object, checked and normalized (slugs lower-cased)."""

    order: list[str] = field(default_factory=list)
    allow_fallbacks: bool = True
    require_parameters: bool = False
    deny_data_collection: bool = False
    zdr: bool = False
    only: list[str] | None = None
    ignore: list[str] = field(default_factory=list)
    quantizations: set[str] | None = None
    sort: str | None = None
    partition: str = "model"
    max_price: dict[str, Decimal] = field(default_factory=dict)  # USD per token / per unit
    min_throughput: dict[str, float] = field(default_factory=dict)  # percentile -> tok/s
    max_latency: dict[str, float] = field(default_factory=dict)  # percentile -> seconds
    free_only: bool = False


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


def _missing_outputs(raw: dict[str, Any], model: Model) -> list[str]:
    """The output modalities a request asks for (`modalities`) that the model lacks."""
    modalities = raw.get("modalities")
    if not modalities or not isinstance(modalities, list):
        return []
    return [m for m in modalities if m not in model.output_modalities]


def _targets(value: float | PercentileTargets | None) -> dict[str, float]:
    if value is None:
        return {}
    if isinstance(value, PercentileTargets):
        return {k: float(v) for k in ("p50", "p75", "p90", "p99") if (v := getattr(value, k))}
    return {"p50": float(value)}


def _max_price(raw: Any) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    if raw is None:
        return out
    for key in MAX_PRICE_KEYS:
        value = getattr(raw, key)
        if value is None:
            continue
        param = f"provider.max_price.{key}"
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            raise BadRequest(
                f"Invalid request: {param} must be a number, got {value!r}", param=param
            ) from None
        if not amount.is_finite() or amount < 0:
            raise BadRequest(f"Invalid request: {param} must be zero or more", param=param)
        # prompt and completion are USD per million tokens, as on OpenRouter.
        out[key] = amount / PER_MILLION if key in PER_TOKEN else amount
    return out


def requested_parameters(raw: dict[str, Any]) -> set[str]:
    """The parameters a request uses, in `supported_parameters` terms."""
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


def conversation_key(raw: dict[str, Any], session_header: str | None) -> str | None:
    """What identifies a conversation for stickiness, in OpenRouter's order: session_id,
    x-session-id, prompt_cache_key, else a hash of the first system/developer message and
    the first other message."""
    for value in (raw.get("session_id"), session_header, raw.get("prompt_cache_key")):
        if isinstance(value, str) and value:
            return "id:" + value
    messages = raw.get("messages")
    if not isinstance(messages, list):
        return None
    system = first = None
    for message in messages:
        if not isinstance(message, dict):
            continue
        if message.get("role") in {"system", "developer"}:
            system = system or message.get("content")
        elif first is None:
            first = message.get("content")
        if system is not None and first is not None:
            break
    if first is None:
        return None
    try:
        digest = hashlib.blake2b(orjson.dumps([system, first]), digest_size=16).hexdigest()
    except TypeError:
        return None
    return "prefix:" + digest


class StickyRoutes:
    """Conversation -> provider that served it, forgotten after `ttl` seconds unused."""

    def __init__(self, ttl: float, clock=time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._routes: OrderedDict[tuple[str, str], tuple[str, float]] = OrderedDict()

    def get(self, model: str, key: str) -> str | None:
        entry = self._routes.get((model, key))
        if entry is None:
            return None
        provider, expires = entry
        if expires < self._clock():
            del self._routes[(model, key)]
            return None
        return provider

    def set(self, model: str, key: str, provider: str) -> None:
        self._routes[(model, key)] = (provider, self._clock() + self.ttl)
        self._routes.move_to_end((model, key))
        while len(self._routes) > MAX_STICKY:
            self._routes.popitem(last=False)


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


def _caches(endpoint: Endpoint) -> bool:
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

    # --- the `provider` object -------------------------------------------------------

    def _slug(self, value: str, param: str) -> str:
        wanted = value.strip().lower()
        for slug, name in self.provider_names.items():
            if wanted in (slug, name.lower()) or slug.startswith(wanted + "/"):
                return slug if wanted == name.lower() else wanted
        known = ", ".join(sorted(self.provider_names))
        raise BadRequest(
            f"Invalid request: {param}: unknown provider {value!r} (known: {known})", param=param
        )

    def _slugs(self, values: list[str] | None, param: str) -> list[str]:
        return [self._slug(v, f"{param}[{i}]") for i, v in enumerate(values or ())]

    def preferences(self, raw: dict[str, Any]) -> Preferences:
        """Check the request's `provider` object; a 400 names the field at fault."""
        given = raw.get("provider")
        if given is None:
            return Preferences()  # most requests: nothing to check
        try:
            parsed = msgspec.convert(given, ProviderPreferences)
        except msgspec.ValidationError as exc:
            message, _, where = str(exc).rpartition(" - at ")
            path = where.strip("`").removeprefix("$").removeprefix(".")
            param = f"provider.{path}" if path else "provider"
            raise BadRequest(f"Invalid request: {param}: {message or exc}", param=param) from None
        prefs = Preferences(
            order=self._slugs(parsed.order, "provider.order"),
            allow_fallbacks=parsed.allow_fallbacks is not False,
            require_parameters=bool(parsed.require_parameters),
            deny_data_collection=parsed.data_collection == "deny",
            zdr=bool(parsed.zdr),
            only=self._slugs(parsed.only, "provider.only") or None,
            ignore=self._slugs(parsed.ignore, "provider.ignore"),
            quantizations=set(parsed.quantizations) if parsed.quantizations else None,
            max_price=_max_price(parsed.max_price),
            min_throughput=_targets(parsed.preferred_min_throughput),
            max_latency=_targets(parsed.preferred_max_latency),
        )
        if isinstance(parsed.sort, SortSpec):
            prefs.sort, prefs.partition = parsed.sort.by, parsed.sort.partition or "model"
        else:
            prefs.sort = parsed.sort
        self._check_contradictions(prefs)
        return prefs

    def with_variants(self, base: Preferences, variants: Iterable[str]) -> Preferences:
        """The preferences one model id's variant suffixes imply (`:free`, `:nitro`...)."""
        if not variants:
            return base
        prefs = replace(base)
        for variant in variants:
            if variant == "free":
                prefs.free_only = True
            elif variant in VARIANT_SORT:
                implied = VARIANT_SORT[variant]
                if prefs.sort not in (None, implied):
                    raise BadRequest(
                        f"Invalid request: provider.sort {prefs.sort!r} contradicts the "
                        f":{variant} variant, which sorts by {implied}",
                        param="provider.sort",
                    )
                prefs.sort = implied
        return prefs

    def _check_contradictions(self, prefs: Preferences) -> None:
        for i, slug in enumerate(prefs.order):
            if self._matches_any(slug, prefs.ignore):
                raise BadRequest(
                    f"Invalid request: provider.order[{i}] {slug!r} is also in provider.ignore",
                    param=f"provider.order[{i}]",
                )
            if prefs.only is not None and not self._matches_any(slug, prefs.only):
                raise BadRequest(
                    f"Invalid request: provider.order[{i}] {slug!r} is not in provider.only",
                    param=f"provider.order[{i}]",
                )
        for i, slug in enumerate(prefs.only or ()):
            if self._matches_any(slug, prefs.ignore):
                raise BadRequest(
                    f"Invalid request: provider.only[{i}] {slug!r} is also in provider.ignore",
                    param=f"provider.only[{i}]",
                )

    @staticmethod
    def _matches(slug: str, provider: str) -> bool:
        """A base slug matches all of a provider's endpoints (`deepinfra` ~ `deepinfra/turbo`)."""
        return provider == slug or provider.startswith(slug + "/")

    def _matches_any(self, provider: str, slugs: Iterable[str]) -> bool:
        return any(self._matches(s, provider) or self._matches(provider, s) for s in slugs)

    # --- ranking ---------------------------------------------------------------------

    def _exclusion(
        self, model: Model, endpoint: Endpoint, prefs: Preferences, wanted: set[str], tools: bool
    ) -> str | None:
        provider = endpoint.provider
        if prefs.only is not None and not any(self._matches(s, provider) for s in prefs.only):
            return "not in provider.only"
        if any(self._matches(s, provider) for s in prefs.ignore):
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
        raw: dict[str, Any],
        sticky_key: str | None = None,
    ) -> tuple[list[Endpoint], list[Exclusion]]:
        """The endpoints to try for `model`, best first, and those left out with why."""
        excluded: list[Exclusion] = []
        wanted = requested_parameters(raw) if prefs.require_parameters else set()
        tools = bool(raw.get("tools"))
        missing_outputs = _missing_outputs(raw, model)
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
                    if self._matches(slug, e.provider) and all(e is not f for f in first)
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
        return not prefs.order and prefs.sort is None and any(map(_caches, endpoints))

    # --- feedback --------------------------------------------------------------------

    def observe(self, generation: Generation) -> None:
        """At generation end: feed health (latency, throughput, a mid-stream failure) and
        remember the conversation's provider."""
        model, endpoint = generation.model, generation.endpoint
        if model is None or endpoint is None or generation.first_token_at is None:
            return
        if isinstance(generation.error, StreamError):
            self.health.failure(model.id, endpoint.provider, generation.error.status)
            return
        started = generation.attempt_started_at or generation.started_at
        latency = generation.first_token_at - started
        throughput = None
        if not generation.cancelled and generation.usage and generation.ended_at:
            since = generation.first_token_at if generation.stream else started
            seconds = generation.ended_at - since
            if seconds > 0 and generation.usage.completion_tokens > 0:
                throughput = generation.usage.completion_tokens / seconds
        self.health.success(model.id, endpoint.provider, latency, throughput)
        key = generation.plan.sticky_key
        if key is not None and _caches(endpoint):
            self.sticky.set(model.id, key, endpoint.provider)
