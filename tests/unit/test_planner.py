"""Planning in-process: which models and endpoints a request gets, in which order, with
which body, and the errors that name what was left out. The upstreams are test doubles
(the `Provider` protocol), the catalog is built like a config file's."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

import pytest

from modelyard.core.errors import BadRequest, GatewayError, NoEndpoint
from modelyard.core.events import Event
from modelyard.core.provider import ProviderConfig, ProviderRequest, ReasoningAsk
from modelyard.core.request import InferenceRequest
from modelyard.gateway.planner import GATEWAY_FIELDS, Plan, plan, split_variants
from modelyard.gateway.ranking import Router
from modelyard.providers.openai import OpenAIProvider
from modelyard.providers.openrouter import OpenRouterProvider
from modelyard.stats.health import Health
from modelyard.wire.chat import parse_chat_request
from tests.catalog import catalog_of, endpoint, model_toml

PARAMS = ["max_tokens", "temperature", "top_p", "seed", "tools", "tool_choice", "reasoning"]
NAMES = {"alpha": "Alpha", "beta": "Beta", "gamma": "Gamma", "delta": "Delta"}
HI = [{"role": "user", "content": "Hi"}]
# An address nothing listens on: building a provider opens no connection.
UNUSED = "http://127.0.0.1:9/v1"


class Upstream:
    """A test double for an upstream provider: it keeps what `prepare` was asked."""

    def __init__(self, slug: str) -> None:
        self.slug = slug
        self.name = NAMES[slug]
        self.asked: list[ReasoningAsk] = []

    def prepare(self, body: dict[str, Any], reasoning: ReasoningAsk, supported: bool) -> None:
        self.asked.append(reasoning)

    async def generate(self, request: ProviderRequest) -> AsyncIterator[Event]:
        return
        yield

    async def start(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


def priced(slug: str, prompt: float, upstream: str | None = None, **fields: Any) -> dict:
    return endpoint(slug, upstream, pricing={"prompt": prompt, "completion": prompt * 2}, **fields)


CATALOG = catalog_of(
    model_toml(
        "unit/chat",
        context_length=8192,
        supported_parameters=PARAMS,
        pricing={"prompt": 1.0, "completion": 2.0},
        endpoints=[
            priced("alpha", 1.0, "chat-a"),
            priced("beta", 2.0, "chat-b", supported_parameters=["max_tokens", "tools"]),
            priced("gamma", 0.0, "chat-g"),
        ],
    ),
    model_toml(
        "unit/backup",
        context_length=8192,
        supported_parameters=PARAMS,
        pricing={"prompt": 0.5, "completion": 1.0},
        endpoints=[priced("beta", 0.5), priced("delta", 0.25)],
    ),
    model_toml(
        "unit/dear",
        context_length=8192,
        pricing={"prompt": 5.0, "completion": 10.0},
        endpoints=[priced("alpha", 5.0), priced("beta", 4.0)],
    ),
    model_toml(
        "unit/defaults",
        context_length=8192,
        supported_parameters=PARAMS,
        default_params={"temperature": 0.6, "reasoning_effort": "low"},
        endpoints=[endpoint("alpha")],
    ),
    model_toml(
        "unit/open",  # declares no parameters: nothing is dropped
        context_length=8192,
        endpoints=[endpoint("alpha")],
    ),
    model_toml(
        "unit/cached",
        context_length=8192,
        pricing={"prompt": 1.0, "completion": 2.0, "input_cache_read": 0.1},
        endpoints=[endpoint("alpha"), endpoint("beta")],
    ),
)


def request(**body: Any) -> InferenceRequest:
    return parse_chat_request({"messages": HI, **body})


def planned(
    body: dict[str, Any],
    providers: dict[str, Any] | None = None,
    disabled: dict[str, str] | None = None,
    router: Router | None = None,
) -> Plan:
    providers = providers if providers is not None else {s: Upstream(s) for s in NAMES}
    router = router or Router(Health(), NAMES, rng=random.Random(7))
    return plan(request(**body), CATALOG, router, providers, disabled or {})


def route(result: Plan) -> list[tuple[str, str]]:
    return [(a.model.id, a.endpoint.provider) for a in result.attempts]


def failure(body: dict[str, Any], **kwargs: Any) -> GatewayError:
    with pytest.raises(GatewayError) as info:
        planned(body, **kwargs)
    return info.value


# -- models and fallbacks ---------------------------------------------------------------


def test_models_in_the_order_given_each_with_its_endpoints() -> None:
    result = planned(
        {"model": "unit/chat", "models": ["unit/backup"], "provider": {"sort": "price"}}
    )
    assert route(result) == [
        ("unit/chat", "gamma"),
        ("unit/chat", "alpha"),
        ("unit/chat", "beta"),
        ("unit/backup", "delta"),
        ("unit/backup", "beta"),
    ]
    assert result.requested == "unit/chat"
    # The endpoint's own model id travels; the catalog id does not.
    assert [a.endpoint.model for a in result.attempts[:3]] == ["chat-g", "chat-a", "chat-b"]


def test_models_alone_and_a_repeat_dropped() -> None:
    result = planned({"models": ["unit/backup", "unit/dear", "unit/backup"]})
    assert [m for m, _ in route(result)] == ["unit/backup"] * 2 + ["unit/dear"] * 2
    assert result.requested == "unit/backup"


def test_one_global_sort_across_models_with_partition_none() -> None:
    sort = {"by": "price", "partition": "none"}
    result = planned({"models": ["unit/dear", "unit/backup"], "provider": {"sort": sort}})
    assert route(result) == [
        ("unit/backup", "delta"),
        ("unit/backup", "beta"),
        ("unit/dear", "beta"),
        ("unit/dear", "alpha"),
    ]


def test_an_unknown_model_is_a_400_naming_the_field_it_came_in() -> None:
    error = failure({"model": "nobody/nothing", "models": ["unit/chat"]})
    assert isinstance(error, BadRequest) and error.status == 400
    assert error.param == "model" and "nobody/nothing is not a valid model ID" in error.message
    assert failure({"model": "unit/chat", "models": ["nobody/nothing"]}).param == "models"
    # Without `model`, the first of `models` is still a `models` entry.
    assert failure({"models": ["nobody/nothing", "unit/chat"]}).param == "models"


# -- variants -----------------------------------------------------------------------------


def test_variant_suffixes_split_off_in_order() -> None:
    assert split_variants("unit/chat") == ("unit/chat", [])
    assert split_variants("unit/chat:free:nitro") == ("unit/chat", ["free", "nitro"])
    assert split_variants("acme/model:v2") == ("acme/model:v2", [])


def test_free_variant_keeps_only_zero_price_endpoints() -> None:
    result = planned({"model": "unit/chat:free"})
    assert route(result) == [("unit/chat", "gamma")]
    assert "unit/chat at alpha: not free" in " ".join(result.excluded)
    error = failure({"model": "unit/dear:free"})
    assert isinstance(error, NoEndpoint) and error.status == 404
    assert "No endpoints found for unit/dear:free" in error.message
    assert len(error.metadata["excluded"]) == 2


def test_floor_sorts_by_price_and_nitro_by_throughput() -> None:
    assert route(planned({"model": "unit/chat:floor"})) == [
        ("unit/chat", "gamma"),
        ("unit/chat", "alpha"),
        ("unit/chat", "beta"),
    ]
    health = Health()
    health.success("unit/chat", "beta", 0.5, throughput=300.0)
    health.success("unit/chat", "alpha", 0.5, throughput=30.0)
    router = Router(health, NAMES, rng=random.Random(7))
    # Measured endpoints fastest first, then the unmeasured by price.
    assert route(planned({"model": "unit/chat:nitro"}, router=router)) == [
        ("unit/chat", "beta"),
        ("unit/chat", "alpha"),
        ("unit/chat", "gamma"),
    ]


def test_a_variant_that_contradicts_the_sort_is_a_400() -> None:
    error = failure({"model": "unit/chat:nitro", "provider": {"sort": "price"}})
    assert isinstance(error, BadRequest) and error.param == "provider.sort"
    assert ":nitro" in error.message


# -- what was left out, named -------------------------------------------------------------


def test_unconfigured_providers_are_a_503_naming_each_endpoint() -> None:
    error = failure(
        {"model": "unit/dear"},
        providers={"gamma": Upstream("gamma")},
        disabled={"alpha": "provider is not configured (set ALPHA_API_KEY)"},
    )
    assert isinstance(error, NoEndpoint) and error.status == 503
    assert error.metadata == {
        "excluded": [
            "unit/dear at alpha: provider is not configured (set ALPHA_API_KEY)",
            "unit/dear at beta: provider is not configured",
        ]
    }


def test_endpoints_the_request_rules_out_are_a_404_naming_each() -> None:
    error = failure({"model": "unit/dear", "provider": {"only": ["gamma"]}})
    assert error.status == 404 and error.type == "not_found_error"
    assert error.metadata["excluded"] == [
        "unit/dear at alpha: not in provider.only",
        "unit/dear at beta: not in provider.only",
    ]
    # Served anyway, the plan still says what it left out.
    result = planned({"model": "unit/chat", "provider": {"ignore": ["beta"]}})
    assert result.excluded == ["unit/chat at beta: in provider.ignore"]
    assert {p for _, p in route(result)} == {"alpha", "gamma"}


# -- the body each endpoint receives --------------------------------------------------------


def test_gateway_fields_never_travel_and_other_fields_do() -> None:
    body = {
        "model": "unit/open",
        "models": ["unit/chat"],
        "provider": {"sort": "price"},
        "transforms": ["middle-out"],
        "plugins": [{"id": "context-compression"}],
        "session_id": "s1",
        "usage": {"include": True},
        "stream": True,
        "stream_options": {"include_usage": True},
        "reasoning": {"effort": "low"},
        "reasoning_effort": "low",
        "include_reasoning": True,
        "temperature": 0.3,
        "vendor_knob": {"x": 1},
    }
    sent = planned(body).attempts[0].body
    assert sent == {"messages": HI, "temperature": 0.3, "vendor_knob": {"x": 1}}
    assert not GATEWAY_FIELDS & sent.keys()


def test_unsupported_sampling_knobs_are_dropped_per_endpoint() -> None:
    body = {"model": "unit/chat", "temperature": 0.2, "top_p": 0.9, "seed": 3, "max_tokens": 9}
    bodies = {a.endpoint.provider: a.body for a in planned(body).attempts}
    assert bodies["alpha"] == {
        "messages": HI,
        "temperature": 0.2,
        "top_p": 0.9,
        "seed": 3,
        "max_tokens": 9,
    }
    # beta lists only max_tokens and tools: the sampling knobs go, max_tokens stays.
    assert bodies["beta"] == {"messages": HI, "max_tokens": 9}
    # An endpoint that declares nothing receives everything.
    assert planned({**body, "model": "unit/open"}).attempts[0].body == {
        "messages": HI,
        "temperature": 0.2,
        "top_p": 0.9,
        "seed": 3,
        "max_tokens": 9,
    }


def test_image_config_only_for_image_models_and_defaults_filled_in() -> None:
    sent = planned({"model": "unit/defaults", "image_config": {"aspect_ratio": "1:1"}})
    assert sent.attempts[0].body == {"messages": HI, "temperature": 0.6}
    kept = planned({"model": "unit/defaults", "temperature": 1.1}).attempts[0].body
    assert kept["temperature"] == 1.1  # the request's own value wins


def test_reasoning_asked_is_normalized_before_the_provider_sees_it() -> None:
    def asked(**body: Any) -> ReasoningAsk:
        alpha = Upstream("alpha")
        planned({"model": "unit/defaults", **body}, providers={"alpha": alpha})
        return alpha.asked[0]

    assert asked().effort == "low"  # the model's default
    assert asked(reasoning_effort="high").effort == "high"
    assert asked(reasoning={"effort": "minimal"}).effort == "minimal"
    off = asked(reasoning={"enabled": False, "effort": "high"})
    assert off.effort == "none" and off.given == {"enabled": False, "effort": "high"}
    assert asked(include_reasoning=False).exclude
    assert asked(reasoning={"exclude": True}).exclude
    assert not asked(reasoning={"effort": "low"}).exclude


def test_plan_carries_middle_out_and_the_sticky_key() -> None:
    assert planned({"model": "unit/chat", "transforms": ["middle-out"]}).middle_out is True
    assert planned({"model": "unit/chat", "transforms": []}).middle_out is False
    assert planned({"model": "unit/chat"}).middle_out is None
    # Stickiness only where a cache read is cheaper than the prompt, and no order or sort.
    assert planned({"model": "unit/chat"}).sticky_key is None
    assert planned({"model": "unit/cached", "session_id": "s-1"}).sticky_key == "id:s-1"
    assert planned({"model": "unit/cached"}).sticky_key.startswith("prefix:")
    assert planned({"model": "unit/cached", "provider": {"sort": "price"}}).sticky_key is None


# -- provider dialects ------------------------------------------------------------------------


def dialect(provider: Any, **body: Any) -> dict[str, Any]:
    """The body `provider` receives for unit/chat (alpha lists reasoning; beta does not)."""
    slug = provider.slug
    result = planned({"model": "unit/chat", **body}, providers={slug: provider})
    return result.attempts[0].body


def openrouter(slug: str = "alpha") -> OpenRouterProvider:
    return OpenRouterProvider(ProviderConfig(slug=slug, base_url=UNUSED, api_key="k"))


def openai(slug: str = "alpha") -> OpenAIProvider:
    return OpenAIProvider(ProviderConfig(slug=slug, base_url=UNUSED, api_key="k"))


def test_openrouter_takes_the_reasoning_object() -> None:
    assert dialect(openrouter(), reasoning_effort="high")["reasoning"] == {"effort": "high"}
    assert dialect(openrouter(), reasoning={"effort": "xhigh", "max_tokens": 9})["reasoning"] == {
        "effort": "xhigh",
        "max_tokens": 9,
    }
    assert dialect(openrouter(), reasoning={"enabled": False})["reasoning"] == {"enabled": False}
    assert dialect(openrouter(), reasoning_effort="low", include_reasoning=False)["reasoning"] == {
        "effort": "low",
        "exclude": True,
    }
    assert "reasoning" not in dialect(openrouter())
    # An endpoint that lists no reasoning parameter gets none.
    assert "reasoning" not in dialect(openrouter("beta"), reasoning_effort="high")


def test_openai_takes_a_flat_effort_at_most_high() -> None:
    assert dialect(openai(), reasoning_effort="medium")["reasoning_effort"] == "medium"
    assert dialect(openai(), reasoning={"effort": "xhigh"})["reasoning_effort"] == "high"
    assert dialect(openai(), reasoning={"effort": "max"})["reasoning_effort"] == "high"
    assert "reasoning_effort" not in dialect(openai(), reasoning={"enabled": False})
    assert "reasoning" not in dialect(openai(), reasoning={"effort": "low"})
    assert "reasoning_effort" not in dialect(openai("beta"), reasoning_effort="high")


def test_openai_renames_max_tokens() -> None:
    body = dialect(openai(), max_tokens=12)
    assert body["max_completion_tokens"] == 12 and "max_tokens" not in body
    both = dialect(openai(), max_tokens=12, max_completion_tokens=30)
    assert both["max_completion_tokens"] == 30 and "max_tokens" not in both
    assert dialect(openrouter(), max_tokens=12)["max_tokens"] == 12
