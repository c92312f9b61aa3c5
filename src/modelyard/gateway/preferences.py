"""The request's `provider` object and variant suffixes, checked and normalized into the
`Preferences` that ranking applies. A contradiction or an unknown provider is a 400
naming the field at fault."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation

from modelyard.catalog.catalog import PER_MILLION
from modelyard.core.errors import BadRequest
from modelyard.core.request import MaxPrice, PercentileTargets, ProviderPreferences, SortSpec

# Variant suffixes that steer routing: `:nitro` sorts by throughput, `:floor` by price.
VARIANT_SORT = {"nitro": "throughput", "floor": "price"}
MAX_PRICE_KEYS = ("prompt", "completion", "request", "image", "audio")
PER_TOKEN = {"prompt", "completion"}


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


def matches(slug: str, provider: str) -> bool:
    """A base slug matches all of a provider's endpoints (`deepinfra` ~ `deepinfra/turbo`)."""
    return provider == slug or provider.startswith(slug + "/")


def _matches_any(provider: str, slugs: Iterable[str]) -> bool:
    return any(matches(s, provider) or matches(provider, s) for s in slugs)


def _targets(value: float | PercentileTargets | None) -> dict[str, float]:
    if value is None:
        return {}
    if isinstance(value, PercentileTargets):
        return {k: float(v) for k in ("p50", "p75", "p90", "p99") if (v := getattr(value, k))}
    return {"p50": float(value)}


def _max_price(given: MaxPrice | None) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    if given is None:
        return out
    for key in MAX_PRICE_KEYS:
        value = getattr(given, key)
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


def _slug(value: str, param: str, provider_names: dict[str, str]) -> str:
    wanted = value.strip().lower()
    for slug, name in provider_names.items():
        if wanted in (slug, name.lower()) or slug.startswith(wanted + "/"):
            return slug if wanted == name.lower() else wanted
    known = ", ".join(sorted(provider_names))
    raise BadRequest(
        f"Invalid request: {param}: unknown provider {value!r} (known: {known})", param=param
    )


def _slugs(values: list[str] | None, param: str, provider_names: dict[str, str]) -> list[str]:
    return [_slug(v, f"{param}[{i}]", provider_names) for i, v in enumerate(values or ())]


def preferences(given: ProviderPreferences | None, provider_names: dict[str, str]) -> Preferences:
    """The request's `provider` object (already validated by its Struct) normalized against
    the provider slugs a request may name (`provider_names`: slug -> display name)."""
    if given is None:
        return Preferences()  # most requests: nothing to check
    prefs = Preferences(
        order=_slugs(given.order, "provider.order", provider_names),
        allow_fallbacks=given.allow_fallbacks is not False,
        require_parameters=bool(given.require_parameters),
        deny_data_collection=given.data_collection == "deny",
        zdr=bool(given.zdr),
        only=_slugs(given.only, "provider.only", provider_names) or None,
        ignore=_slugs(given.ignore, "provider.ignore", provider_names),
        quantizations=set(given.quantizations) if given.quantizations else None,
        max_price=_max_price(given.max_price),
        min_throughput=_targets(given.preferred_min_throughput),
        max_latency=_targets(given.preferred_max_latency),
    )
    if isinstance(given.sort, SortSpec):
        prefs.sort, prefs.partition = given.sort.by, given.sort.partition or "model"
    else:
        prefs.sort = given.sort
    _check_contradictions(prefs)
    return prefs


def with_variants(base: Preferences, variants: Iterable[str]) -> Preferences:
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


def _check_contradictions(prefs: Preferences) -> None:
    for i, slug in enumerate(prefs.order):
        if _matches_any(slug, prefs.ignore):
            raise BadRequest(
                f"Invalid request: provider.order[{i}] {slug!r} is also in provider.ignore",
                param=f"provider.order[{i}]",
            )
        if prefs.only is not None and not _matches_any(slug, prefs.only):
            raise BadRequest(
                f"Invalid request: provider.order[{i}] {slug!r} is not in provider.only",
                param=f"provider.order[{i}]",
            )
    for i, slug in enumerate(prefs.only or ()):
        if _matches_any(slug, prefs.ignore):
            raise BadRequest(
                f"Invalid request: provider.only[{i}] {slug!r} is also in provider.ignore",
                param=f"provider.only[{i}]",
            )
