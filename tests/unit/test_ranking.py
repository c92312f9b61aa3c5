"""Ranking in-process: `Router.rank` over one model's endpoints with the live `Health`,
each hard filter naming what it left out, the orders, and `preferences()` refusing a
`provider` object that contradicts itself with a 400 naming the field."""

from __future__ import annotations

import random
from typing import Any

import msgspec
import pytest

from modelyard.catalog.catalog import Model
from modelyard.core.errors import BadRequest
from modelyard.core.request import InferenceRequest, ProviderPreferences
from modelyard.gateway.preferences import Preferences, preferences, with_variants
from modelyard.gateway.ranking import Exclusion, Router
from modelyard.stats.health import Health
from tests.catalog import catalog_of, endpoint, model_toml

MODEL = "unit/ranked"
NAMES = {
    "cheap": "Cheap",
    "mid": "Mid",
    "dear": "Dear",
    "deepinfra": "DeepInfra",
    "deepinfra/turbo": "DeepInfra Turbo",
}
PARAMS = ["max_tokens", "temperature", "tools", "seed"]


def offer(slug: str, price: float, quantization: str, **fields: Any) -> dict[str, Any]:
    return endpoint(
        slug, pricing={"prompt": price, "completion": price}, quantization=quantization, **fields
    )


CATALOG = catalog_of(
    model_toml(
        MODEL,
        context_length=8192,
        supported_parameters=PARAMS,
        endpoints=[
            offer("cheap", 1.0, "int4", data_policy={"training": True}),
            offer(
                "mid",
                2.0,
                "fp8",
                supported_parameters=["max_tokens", "temperature"],
                data_policy={"training": False, "retains_prompts": True, "retention_days": 30},
            ),
            offer(
                "dear",
                3.0,
                "bf16",
                data_policy={"training": False, "retains_prompts": False},
            ),
        ],
    ),
    model_toml(
        "unit/family",
        context_length=8192,
        endpoints=[offer("deepinfra", 1.0, "fp8"), offer("deepinfra/turbo", 2.0, "fp4")],
    ),
)
RANKED: Model = CATALOG.models[MODEL]
FAMILY: Model = CATALOG.models["unit/family"]


class Cheapest(random.Random):
    """Balancing's draw always lands on the cheapest endpoint, so orders are exact."""

    def choices(self, population: Any, *args: Any, **kwargs: Any) -> list[Any]:
        return [population[0]]


def prefs(**given: Any) -> Preferences:
    return preferences(msgspec.convert(given, ProviderPreferences), NAMES)


def ask(body: dict[str, Any] | None = None, tools: bool = False) -> InferenceRequest:
    return InferenceRequest(body=body or {}, models=[MODEL], tools=tools)


def rank(
    given: dict[str, Any] | None = None,
    *,
    health: Health | None = None,
    router: Router | None = None,
    request: InferenceRequest | None = None,
    sticky: str | None = None,
    model: Model = RANKED,
) -> tuple[list[str], list[Exclusion]]:
    router = router or Router(health or Health(), NAMES, rng=random.Random(3))
    chosen = prefs(**given) if given else Preferences()
    ranked, excluded = router.rank(model, model.endpoints, chosen, request or ask(), sticky)
    return [e.provider for e in ranked], excluded


def reasons(excluded: list[Exclusion]) -> dict[str, str]:
    return {e.provider: e.reason for e in excluded}


# -- hard filters ---------------------------------------------------------------------------


def test_only_and_ignore() -> None:
    ranked, excluded = rank({"only": ["mid", "Dear"], "sort": "price"})
    assert ranked == ["mid", "dear"]
    assert reasons(excluded) == {"cheap": "not in provider.only"}
    assert all(e.by_request and e.model == MODEL for e in excluded)
    ranked, excluded = rank({"ignore": ["cheap"], "sort": "price"})
    assert ranked == ["mid", "dear"] and reasons(excluded) == {"cheap": "in provider.ignore"}


def test_a_base_slug_names_every_endpoint_of_its_provider() -> None:
    assert rank({"ignore": ["deepinfra"]}, model=FAMILY)[0] == []
    assert rank({"only": ["deepinfra/turbo"]}, model=FAMILY)[0] == ["deepinfra/turbo"]


def test_quantizations() -> None:
    ranked, excluded = rank({"quantizations": ["fp8", "bf16"], "sort": "price"})
    assert ranked == ["mid", "dear"]
    assert reasons(excluded) == {"cheap": "quantization int4 is not in provider.quantizations"}


def test_data_collection_deny_and_zdr() -> None:
    ranked, excluded = rank({"data_collection": "deny", "sort": "price"})
    assert ranked == ["mid", "dear"]
    assert reasons(excluded) == {"cheap": "may train on prompts (provider.data_collection is deny)"}
    ranked, excluded = rank({"zdr": True})
    assert ranked == ["dear"]
    assert reasons(excluded) == {
        "cheap": "may retain prompts (provider.zdr is true)",
        "mid": "retains prompts for 30 days (provider.zdr is true)",
    }


def test_max_price_per_million_tokens() -> None:
    ranked, excluded = rank({"max_price": {"prompt": 2, "completion": "2.5"}, "sort": "price"})
    assert ranked == ["cheap", "mid"]
    assert reasons(excluded) == {
        "dear": "prompt price $3 per 1M tokens is over provider.max_price.prompt"
    }
    assert rank({"max_price": {"prompt": 0.5}})[0] == []


def test_require_parameters_and_tools() -> None:
    seeded = ask({"seed": 1, "temperature": 0.5})
    ranked, excluded = rank({"require_parameters": True, "sort": "price"}, request=seeded)
    assert ranked == ["cheap", "dear"]
    assert reasons(excluded) == {"mid": "does not support seed (provider.require_parameters)"}
    # Without require_parameters the request goes anywhere (unsupported knobs are dropped).
    assert rank({"sort": "price"}, request=seeded)[0] == ["cheap", "mid", "dear"]
    # Tools are never dropped: an endpoint that declares parameters without tools is out.
    ranked, excluded = rank({"sort": "price"}, request=ask({"tools": [{}]}, tools=True))
    assert ranked == ["cheap", "dear"]
    assert reasons(excluded) == {"mid": "does not support tool use"}


# -- orders ---------------------------------------------------------------------------------------


def test_sort_by_price() -> None:
    assert rank({"sort": "price"})[0] == ["cheap", "mid", "dear"]
    assert rank({"sort": {"by": "price"}})[0] == ["cheap", "mid", "dear"]


def test_default_balancing_keeps_the_rest_by_price() -> None:
    firsts = set()
    for seed in range(40):
        ranked, _ = rank(router=Router(Health(), NAMES, rng=random.Random(seed)))
        firsts.add(ranked[0])
        rest = ranked[1:]
        assert sorted(ranked) == ["cheap", "dear", "mid"]
        assert rest == sorted(rest, key=["cheap", "mid", "dear"].index)
    # 1/price^2 weights: the cheapest usually, but not always.
    assert "cheap" in firsts and len(firsts) > 1


def test_sort_by_latency_and_throughput_from_health() -> None:
    health = Health()
    health.success(MODEL, "dear", latency_s=0.1, throughput=50.0)
    health.success(MODEL, "mid", latency_s=0.9, throughput=500.0)
    assert rank({"sort": "latency"}, health=health)[0] == ["dear", "mid", "cheap"]
    assert rank({"sort": "throughput"}, health=health)[0] == ["mid", "dear", "cheap"]
    # A soft preference moves the endpoints that miss it to the end, keeping the order.
    slow_last = rank({"sort": "price", "preferred_max_latency": 0.5}, health=health)[0]
    assert slow_last == ["cheap", "dear", "mid"]


def test_a_failed_endpoint_goes_last() -> None:
    health = Health()
    health.failure(MODEL, "cheap", 502)
    assert rank({"sort": "price"}, health=health)[0] == ["mid", "dear", "cheap"]
    assert rank(router=Router(health, NAMES, rng=Cheapest()))[0] == ["mid", "dear", "cheap"]
    # A client error is the request's fault, not the endpoint's.
    health = Health()
    health.failure(MODEL, "cheap", 400)
    assert rank({"sort": "price"}, health=health)[0] == ["cheap", "mid", "dear"]


def test_order_first_then_fallbacks_or_none() -> None:
    assert rank({"order": ["dear", "mid"]})[0][:2] == ["dear", "mid"]
    ranked, excluded = rank({"order": ["dear"], "allow_fallbacks": False})
    assert ranked == ["dear"]
    assert reasons(excluded) == {
        "cheap": "not in provider.order and provider.allow_fallbacks is false",
        "mid": "not in provider.order and provider.allow_fallbacks is false",
    }
    # No order and no fallbacks: the first choice alone.
    assert rank({"sort": "price", "allow_fallbacks": False})[0] == ["cheap"]


def test_sticky_provider_goes_first_unless_down_or_overruled() -> None:
    health = Health()
    router = Router(health, NAMES, rng=Cheapest())
    router.sticky.set(MODEL, "prefix:abc", "dear")
    assert rank(router=router, sticky="prefix:abc")[0] == ["dear", "cheap", "mid"]
    assert rank(router=router, sticky="prefix:other")[0] == ["cheap", "mid", "dear"]
    # An explicit sort or order wins over stickiness.
    assert rank({"sort": "price"}, router=router, sticky="prefix:abc")[0][0] == "cheap"
    assert rank({"order": ["mid"]}, router=router, sticky="prefix:abc")[0][0] == "mid"
    health.failure(MODEL, "dear", 502)
    assert rank(router=router, sticky="prefix:abc")[0] == ["cheap", "mid", "dear"]


def test_free_variant_and_modalities() -> None:
    free = with_variants(Preferences(), ["free"])
    router = Router(Health(), NAMES)
    ranked, excluded = router.rank(RANKED, RANKED.endpoints, free, ask())
    assert ranked == [] and len(excluded) == 3
    assert all("not free" in e.reason for e in excluded)
    images = InferenceRequest(body={}, models=[MODEL], modalities=["image", "text"])
    ranked, excluded = router.rank(RANKED, RANKED.endpoints, Preferences(), images)
    assert ranked == [] and {e.reason for e in excluded} == {"does not output image (modalities)"}


# -- preferences(): contradictions are a 400 naming the field ----------------------------------


@pytest.mark.parametrize(
    ("given", "param", "fragment"),
    [
        ({"order": ["mid"], "ignore": ["mid"]}, "provider.order[0]", "also in provider.ignore"),
        (
            {"order": ["cheap", "mid"], "only": ["cheap"]},
            "provider.order[1]",
            "not in provider.only",
        ),
        ({"only": ["dear"], "ignore": ["Dear"]}, "provider.only[0]", "also in provider.ignore"),
        ({"only": ["deepinfra"], "ignore": ["deepinfra/turbo"]}, "provider.only[0]", "ignore"),
        ({"ignore": ["cheap", "nobody"]}, "provider.ignore[1]", "unknown provider 'nobody'"),
        ({"order": ["nobody"]}, "provider.order[0]", "known: cheap, dear"),
        ({"max_price": {"prompt": -1}}, "provider.max_price.prompt", "zero or more"),
        ({"max_price": {"completion": "lots"}}, "provider.max_price.completion", "a number"),
        ({"max_price": {"request": "NaN"}}, "provider.max_price.request", "zero or more"),
    ],
)
def test_contradictions_name_the_field(given: dict[str, Any], param: str, fragment: str) -> None:
    with pytest.raises(BadRequest) as info:
        prefs(**given)
    assert info.value.status == 400 and info.value.param == param
    assert fragment in info.value.message


def test_preferences_normalize_names_and_units() -> None:
    chosen = prefs(
        order=["DeepInfra Turbo", "MID"],
        max_price={"prompt": 2, "request": 0.01},
        preferred_min_throughput={"p90": 40},
        preferred_max_latency=2,
        sort={"by": "throughput", "partition": "none"},
    )
    assert chosen.order == ["deepinfra/turbo", "mid"]
    assert (
        chosen.max_price["prompt"] * 1_000_000 == 2 and float(chosen.max_price["request"]) == 0.01
    )
    assert chosen.min_throughput == {"p90": 40.0} and chosen.max_latency == {"p50": 2.0}
    assert (chosen.sort, chosen.partition) == ("throughput", "none")
    with pytest.raises(BadRequest) as info:
        with_variants(prefs(sort="latency"), ["floor"])
    assert info.value.param == "provider.sort"


def test_an_endpoint_is_named_with_its_model() -> None:
    excluded = rank({"only": ["dear"]})[1]
    assert [str(e) for e in excluded] == [
        f"{MODEL} at cheap: not in provider.only",
        f"{MODEL} at mid: not in provider.only",
    ]
