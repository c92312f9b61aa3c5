"""Routing across three providers played by scripted upstreams on loopback: the `provider`
object, fallbacks, the failure window, stickiness, variants and the endpoints listing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from tests.conftest import GatewayProcess
from tests.routing_upstreams import (
    KEYS,
    NAMES,
    Upstreams,
    chat,
    served_by,
    start_gateway,
    three_upstreams,
)


@pytest.fixture(scope="module")
def upstreams() -> Upstreams:
    return three_upstreams()


@pytest.fixture(scope="module")
def routed(tmp_path_factory: pytest.TempPathFactory, upstreams: Upstreams) -> Iterator[Any]:
    process = start_gateway(tmp_path_factory.mktemp("routing"), upstreams)
    yield process
    process.stop()


@pytest.fixture()
def sdk(routed: GatewayProcess) -> OpenAI:
    return routed.sdk(timeout=30)


def endpoints(gateway: GatewayProcess, model: str) -> dict[str, dict[str, Any]]:
    response = httpx.get(f"{gateway.base}/api/v1/models/{model}/endpoints", timeout=10)
    assert response.status_code == 200, response.text
    return {e["tag"]: e for e in response.json()["data"]["endpoints"]}


def test_gpt5_mini_lands_where_asked_falls_back_and_shows_live_stats(
    routed: GatewayProcess, sdk: OpenAI, upstreams: Upstreams
) -> None:
    """The issue's done-when: all three seed providers configured, for openai/gpt-5-mini."""
    model = "openai/gpt-5-mini"
    for provider, upstream_id in (
        ("openai", "gpt-5-mini"),
        ("aimlapi", "openai/gpt-5-mini-2025-08-07"),
        ("openrouter", "openai/gpt-5-mini"),
    ):
        completion = sdk.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "Hi"}],
            extra_body={"provider": {"order": [provider], "allow_fallbacks": False}},
        )
        assert (completion.model_extra or {})["provider"] == NAMES[provider]
        assert upstreams[provider].received(upstream_id)
    # Streamed, OpenAI first: it fails before the first byte, OpenRouter answers.
    upstreams["openai"].script["gpt-5-mini"] = "error500"
    chunks = list(
        sdk.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "Hi again"}],
            stream=True,
            extra_body={"provider": {"order": ["openai", "openrouter"]}},
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == (
        "Hello from the mock."
    )
    assert {(c.model_extra or {})["provider"] for c in chunks} == {"OpenRouter"}
    tail = upstreams.journal[-2:]
    assert tail == [("openai", "gpt-5-mini"), ("openrouter", "openai/gpt-5-mini")]

    listing = endpoints(routed, model)
    assert set(listing) == {"openai", "openrouter", "aimlapi"}
    for tag, endpoint in listing.items():
        assert endpoint["provider_name"] == NAMES[tag]
        assert endpoint["uptime_last_5m"] is not None
        assert endpoint["uptime_last_30m"] == endpoint["uptime_last_5m"]
        assert set(endpoint["latency_last_30m"]) == {"p50", "p75", "p90", "p99"}
        assert endpoint["latency_last_30m"]["p50"] >= 0
        assert endpoint["throughput_last_30m"]["p50"] > 0
    assert listing["openai"]["uptime_last_5m"] == 50.0  # one success, one failure
    assert listing["openai"]["status"] == -1  # failed within the window
    assert listing["openrouter"]["uptime_last_1d"] == 100.0
    assert listing["aimlapi"]["status"] == 0


def test_fallback_follows_order_and_skips_failures(
    routed: GatewayProcess, upstreams: Upstreams
) -> None:
    upstreams["aimlapi"].script["chain"] = "error500"
    upstreams["openrouter"].script["chain"] = "error429"
    response = chat(
        routed, {"model": "route/chain", "provider": {"order": ["aimlapi", "openrouter"]}}
    )
    assert served_by(response) == "OpenAI"
    assert upstreams.calls("chain") == ["aimlapi", "openrouter", "openai"]


def test_every_endpoint_failing_lists_each_attempt(
    routed: GatewayProcess, upstreams: Upstreams
) -> None:
    for provider in ("openai", "openrouter", "aimlapi"):
        upstreams[provider].script["allfail"] = "error500"
    response = chat(routed, {"model": "route/allfail", "provider": {"sort": "price"}})
    assert response.status_code == 502
    error = response.json()["error"]
    for name in NAMES.values():
        assert name in error["message"]
    metadata = error["metadata"]
    # Both of OpenRouter's provider-error forms, for the last attempt...
    assert metadata["provider_name"] == "AIML API"
    assert metadata["error_type"] == "provider_unavailable"
    assert metadata["provider_code"] == "boom"
    assert "raw" in metadata
    # ...and each attempt in order.
    assert [a["provider_name"] for a in metadata["attempts"]] == [
        "OpenAI",
        "OpenRouter",
        "AIML API",
    ]
    assert all(a["status"] == 502 for a in metadata["attempts"])
    for key in KEYS.values():
        assert key not in response.text and key not in routed.log()


def test_no_fallbacks_returns_the_pinned_providers_error(
    routed: GatewayProcess, upstreams: Upstreams
) -> None:
    upstreams["openai"].script["pinned"] = "error500"
    response = chat(
        routed,
        {"model": "route/pinned", "provider": {"order": ["openai"], "allow_fallbacks": False}},
    )
    assert response.status_code == 502
    assert response.json()["error"]["metadata"]["provider_name"] == "OpenAI"
    assert upstreams.calls("pinned") == ["openai"]


def test_cut_after_first_byte_is_not_retried_and_counts_against_health(
    routed: GatewayProcess, upstreams: Upstreams
) -> None:
    upstreams["openai"].script["cut"] = "cut"
    body = {"model": "route/cut", "stream": True, "provider": {"sort": "price"}}
    response = chat(routed, body)
    assert response.status_code == 200
    assert '"finish_reason":"error"' in response.text
    assert response.text.endswith("data: [DONE]\n\n")
    assert upstreams.calls("cut") == ["openai"]  # bound to OpenAI once it spoke
    # The cut counts as a failure: the next request goes elsewhere first.
    upstreams["openai"].script["cut"] = "normal"
    assert served_by(chat(routed, {**body, "stream": False})) == "OpenRouter"
    assert upstreams.calls("cut") == ["openai", "openrouter"]
    assert endpoints(routed, "route/cut")["openai"]["uptime_last_5m"] == 0.0


def test_failed_endpoint_is_skipped_within_the_window(
    routed: GatewayProcess, upstreams: Upstreams
) -> None:
    upstreams["openai"].script["health"] = "error500"
    body = {"model": "route/health", "provider": {"sort": "price"}}
    assert served_by(chat(routed, body)) == "OpenRouter"
    upstreams["openai"].script["health"] = "normal"
    for _ in range(3):
        assert served_by(chat(routed, body)) == "OpenRouter"
    # OpenAI was tried once and then left alone while its failure is recent.
    assert upstreams.calls("health") == ["openai", "openrouter"] + ["openrouter"] * 3
    # An explicit order still goes to it first.
    ordered = {"model": "route/health", "provider": {"order": ["openai"]}}
    assert served_by(chat(routed, ordered)) == "OpenAI"


def test_require_parameters_filters_endpoints_instead_of_dropping(
    routed: GatewayProcess, upstreams: Upstreams
) -> None:
    body = {"model": "route/params", "temperature": 0.3, "provider": {"order": ["openrouter"]}}
    assert served_by(chat(routed, body)) == "OpenRouter"
    assert "temperature" not in upstreams["openrouter"].received("params")[-1]
    body["provider"] = {"order": ["openrouter"], "require_parameters": True}
    assert served_by(chat(routed, body)) in {"OpenAI", "AIML API"}
    assert len(upstreams["openrouter"].received("params")) == 1
    last = upstreams[upstreams.calls("params")[-1]].received("params")[-1]
    assert last["temperature"] == 0.3
    # A parameter no endpoint lists: a 404 that says so, endpoint by endpoint.
    response = chat(
        routed, {"model": "route/params", "top_k": 5, "provider": {"require_parameters": True}}
    )
    assert response.status_code == 404, response.text
    message = response.json()["error"]["message"]
    for provider in ("openai", "openrouter", "aimlapi"):
        assert f"route/params at {provider}: does not support top_k" in message


@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        ({"only": ["openrouter"]}, "OpenRouter"),
        ({"only": ["OpenRouter"]}, "OpenRouter"),  # display names work too
        ({"ignore": ["openai", "aimlapi"]}, "OpenRouter"),
        ({"quantizations": ["int4"]}, "AIML API"),
        ({"data_collection": "deny", "ignore": ["openai"]}, "AIML API"),
        ({"zdr": True}, "AIML API"),
        ({"max_price": {"prompt": 4}, "order": ["openrouter", "aimlapi"]}, "AIML API"),
        ({"max_price": {"completion": "1.5"}}, "OpenAI"),
        ({"sort": "price"}, "OpenAI"),
        ({"sort": {"by": "price"}}, "OpenAI"),
    ],
)
def test_hard_filters(routed: GatewayProcess, provider: dict[str, Any], expected: str) -> None:
    assert served_by(chat(routed, {"model": "route/filters", "provider": provider})) == expected


def test_nothing_left_is_a_404_naming_each_exclusion(routed: GatewayProcess) -> None:
    response = chat(
        routed, {"model": "route/filters", "provider": {"zdr": True, "quantizations": ["fp8"]}}
    )
    assert response.status_code == 404
    error = response.json()["error"]
    assert "route/filters at openai: may retain prompts" in error["message"]
    assert "route/filters at aimlapi: quantization int4 is not in" in error["message"]
    assert len(error["metadata"]["excluded"]) == 3


@pytest.mark.parametrize(
    ("provider", "param"),
    [
        ({"order": ["openai", "nosuchcloud"]}, "provider.order[1]"),
        ({"only": ["nosuchcloud"]}, "provider.only[0]"),
        ({"ignore": ["openai", "x"]}, "provider.ignore[1]"),
        ({"only": ["openai"], "ignore": ["openai"]}, "provider.only[0]"),
        ({"order": ["aimlapi"], "ignore": ["aimlapi"]}, "provider.order[0]"),
        ({"order": ["aimlapi"], "only": ["openai"]}, "provider.order[0]"),
        ({"sort": "fastest"}, "provider.sort"),
        ({"sort": {"by": "speed"}}, "provider.sort.by"),
        ({"sort": {"by": "price", "partition": "all"}}, "provider.sort.partition"),
        ({"quantizations": ["q9"]}, "provider.quantizations[0]"),
        ({"max_price": {"prompt": "cheap"}}, "provider.max_price.prompt"),
        ({"max_price": {"completion": -1}}, "provider.max_price.completion"),
        ({"preferred_max_latency": -1}, "provider.preferred_max_latency"),
        ({"preferred_min_throughput": {"p90": -5}}, "provider.preferred_min_throughput.p90"),
        ({"data_collection": "maybe"}, "provider.data_collection"),
        ({"allow_fallbacks": "no"}, "provider.allow_fallbacks"),
        ("openai", "provider"),
    ],
)
def test_bad_routing_input_is_a_400_naming_the_field(
    routed: GatewayProcess, provider: Any, param: str
) -> None:
    response = chat(routed, {"model": "route/chain", "provider": provider})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param
    assert param in error["message"]


def test_variant_contradicting_sort_is_a_400(routed: GatewayProcess) -> None:
    response = chat(routed, {"model": "route/speed:nitro", "provider": {"sort": "price"}})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "provider.sort"
    assert ":nitro" in response.json()["error"]["message"]


def test_sorts_and_variants_use_live_stats(routed: GatewayProcess, upstreams: Upstreams) -> None:
    # OpenAI (cheapest) trickles its tokens; OpenRouter answers late; AIML API is quick.
    upstreams["openai"].script["speed"] = "trickle"
    upstreams["openrouter"].script["speed"] = "lag"
    for provider in ("openai", "aimlapi"):
        chat(routed, {"model": "route/speed", "stream": True, "provider": {"only": [provider]}})
    served_by(chat(routed, {"model": "route/speed", "provider": {"only": ["openrouter"]}}))
    assert served_by(chat(routed, {"model": "route/speed:nitro"})) == "AIML API"
    assert served_by(chat(routed, {"model": "route/speed:floor"})) == "OpenAI"
    fast_first = {"sort": "latency", "only": ["openai", "openrouter"]}
    assert served_by(chat(routed, {"model": "route/speed", "provider": fast_first})) == "OpenAI"
    # Soft preferences move the endpoints that miss them to the end.
    slow_cut = {"sort": "price", "ignore": ["openai"], "preferred_max_latency": 0.15}
    assert served_by(chat(routed, {"model": "route/speed", "provider": slow_cut})) == "AIML API"
    wants_speed = {"sort": "price", "preferred_min_throughput": {"p50": 20000}}
    assert served_by(chat(routed, {"model": "route/speed", "provider": wants_speed})) == (
        "AIML API"
    )


def test_free_variant_serves_zero_price_endpoints_only(routed: GatewayProcess) -> None:
    response = chat(routed, {"model": "route/free:free"})
    assert served_by(response) == "AIML API"
    assert response.json()["usage"]["cost"] == 0
    response = chat(routed, {"model": "route/chain:free"})
    assert response.status_code == 404
    assert "not free" in response.json()["error"]["message"]


def test_default_balancing_weights_by_inverse_square_price(routed: GatewayProcess) -> None:
    # openai costs half of openrouter: weights 1 : 1/4, so about 80% : 20%.
    counts = Counter(
        served_by(
            chat(
                routed,
                {"model": "route/balance", "messages": [{"role": "user", "content": f"n{i}"}]},
            )
        )
        for i in range(50)
    )
    assert counts["OpenAI"] > counts["OpenRouter"] > 0


def test_sticky_routing_keeps_a_conversation_on_its_provider(routed: GatewayProcess) -> None:
    # OpenRouter costs 100x OpenAI: balancing alone would pick it about once in 10,000.
    def turn(text: str, **extra: Any) -> str:
        body = {"model": "route/sticky", "messages": [{"role": "user", "content": text}]}
        headers = extra.pop("headers", {})
        return served_by(chat(routed, {**body, **extra}, **headers))

    assert turn("a", session_id="s1", provider={"only": ["openrouter"]}) == "OpenRouter"
    assert [turn(f"b{i}", session_id="s1") for i in range(3)] == ["OpenRouter"] * 3
    assert turn("c", session_id="s2") == "OpenAI"  # another conversation
    only_openrouter = {"only": ["openrouter"]}
    assert turn("d", headers={"x-session-id": "h1"}, provider=only_openrouter) == "OpenRouter"
    assert turn("e", headers={"x-session-id": "h1"}) == "OpenRouter"
    assert turn("f", prompt_cache_key="k1", provider={"only": ["openrouter"]}) == "OpenRouter"
    assert turn("g", prompt_cache_key="k1") == "OpenRouter"
    # Without any id, the first messages identify the conversation.
    first = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Plan a trip."},
    ]
    later = [
        *first,
        {"role": "assistant", "content": "Where?"},
        {"role": "user", "content": "Rome"},
    ]
    body = {"model": "route/sticky", "messages": first, "provider": {"only": ["openrouter"]}}
    assert served_by(chat(routed, body)) == "OpenRouter"
    assert served_by(chat(routed, {"model": "route/sticky", "messages": later})) == "OpenRouter"
    # An explicit order wins over stickiness.
    ordered = {"session_id": "s1", "provider": {"order": ["openai"]}}
    assert turn("h", **ordered) == "OpenAI"


def test_sticky_provider_failing_moves_the_conversation(
    routed: GatewayProcess, upstreams: Upstreams
) -> None:
    body = {"model": "route/stickyfail", "session_id": "conv", "provider": {"only": ["aimlapi"]}}
    assert served_by(chat(routed, body)) == "AIML API"
    upstreams["aimlapi"].script["stickyfail"] = "error500"
    moved = served_by(chat(routed, {"model": "route/stickyfail", "session_id": "conv"}))
    assert moved != "AIML API"
    upstreams["aimlapi"].script["stickyfail"] = "normal"
    again = {"model": "route/stickyfail", "session_id": "conv"}
    assert [served_by(chat(routed, again)) for _ in range(3)] == [moved] * 3


def test_models_fallback_reports_the_model_that_answered(
    routed: GatewayProcess, sdk: OpenAI, upstreams: Upstreams
) -> None:
    for provider in ("openai", "openrouter", "aimlapi"):
        upstreams[provider].script["allfail"] = "error500"
    completion = sdk.chat.completions.create(
        model="route/allfail",
        messages=[{"role": "user", "content": "Hi"}],
        extra_body={"models": ["route/cheap"]},
    )
    assert completion.model == "route/cheap"
    assert (completion.model_extra or {})["provider"] == "OpenRouter"


def test_a_refusal_moves_to_the_next_model_not_the_next_provider(
    routed: GatewayProcess, sdk: OpenAI, upstreams: Upstreams
) -> None:
    for provider in ("openai", "openrouter", "aimlapi"):
        upstreams[provider].script["refused"] = "error400"
    hi = [{"role": "user", "content": "Hi"}]
    completion = sdk.chat.completions.create(
        model="route/refused", messages=hi, extra_body={"models": ["route/cheap"]}
    )
    assert completion.model == "route/cheap"
    assert len(upstreams.calls("refused")) == 1  # its other providers would refuse it too
    # Without a fallback model the refusal is the answer, in the provider's own words.
    with pytest.raises(openai.BadRequestError, match="context too long"):
        sdk.chat.completions.create(model="route/refused", messages=hi)
    assert len(upstreams.calls("refused")) == 2


def test_sort_partition_none_sorts_across_models(routed: GatewayProcess) -> None:
    body = {"model": "route/dear", "models": ["route/cheap"]}
    response = chat(routed, {**body, "provider": {"sort": "price"}})
    assert response.json()["model"] == "route/dear"  # partitioned by model: dear comes first
    response = chat(routed, {**body, "provider": {"sort": {"by": "price", "partition": "none"}}})
    assert response.json()["model"] == "route/cheap"


def test_reasoning_is_mapped_per_upstream(routed: GatewayProcess, upstreams: Upstreams) -> None:
    body = {"model": "openai/gpt-5-mini", "reasoning_effort": "low"}
    chat(routed, {**body, "provider": {"only": ["openrouter"]}})
    assert upstreams["openrouter"].received("openai/gpt-5-mini")[-1]["reasoning"] == {
        "effort": "low"
    }
    chat(routed, {**body, "provider": {"only": ["aimlapi"]}})
    sent = upstreams["aimlapi"].received("openai/gpt-5-mini-2025-08-07")[-1]
    assert sent["reasoning_effort"] == "low" and "reasoning" not in sent
    chat(routed, {"model": "openai/o3-mini-high", "provider": {"only": ["aimlapi"]}})
    assert upstreams["aimlapi"].received("o3-mini")[-1]["reasoning_effort"] == "high"


def test_reasoning_details_come_back_unchanged_on_the_next_turn(
    routed: GatewayProcess, upstreams: Upstreams
) -> None:
    details = [{"type": "reasoning.encrypted", "data": "opaque==", "id": "rs_1", "index": 0}]
    messages = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello", "reasoning_details": details},
        {"role": "user", "content": "And?"},
    ]
    body = {"model": "route/chain", "messages": messages, "provider": {"only": ["openai"]}}
    served_by(chat(routed, body))
    assert upstreams["openai"].received("chain")[-1]["messages"][1]["reasoning_details"] == details
