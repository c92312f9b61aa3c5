"""Planning: which model answers, at which endpoints, in which order, with which body.

A plan is made before any provider is called; it names every endpoint it left out and why,
so that a request nothing can serve gets an error that explains itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelyard.catalog.catalog import Catalog, Endpoint, Model
from modelyard.gateway import transforms
from modelyard.gateway.errors import BadRequest, NoEndpoint
from modelyard.gateway.routing import PARAMETERS, Exclusion, Router, conversation_key

# Fields that steer the gateway and never travel upstream.
GATEWAY_FIELDS = frozenset(
    {
        "model",
        "models",
        "provider",
        "route",
        "transforms",
        "plugins",
        "session_id",
        "usage",
        "stream",
        "stream_options",
        "debug",
        "trace",
        "include_reasoning",
        "reasoning",
        "reasoning_effort",
        "prompt",
    }
)

# Parameters that are silently dropped for an endpoint that does not list them, as
# OpenRouter does (an OpenAI reasoning model rejects `temperature`, for one): the sampling
# knobs. What shapes the answer itself is never dropped; routing filters endpoints on it.
DROPPABLE = PARAMETERS - {
    "max_tokens",
    "response_format",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning",
    "include_reasoning",
    "web_search_options",
    "prediction",
}

VARIANT_SUFFIXES = (":free", ":nitro", ":floor", ":online", ":thinking", ":extended", ":exacto")


@dataclass(slots=True)
class Attempt:
    """One model at one endpoint, with the body that endpoint receives."""

    model: Model
    endpoint: Endpoint
    body: dict[str, Any]


@dataclass(slots=True)
class Plan:
    requested: str
    attempts: list[Attempt]
    excluded: list[str] = field(default_factory=list)
    # What identifies the conversation for sticky routing (None: not sticky).
    sticky_key: str | None = None
    # Middle-out compression as the request asks it (None: the default, by context length).
    middle_out: bool | None = None


def split_variants(model_id: str) -> tuple[str, list[str]]:
    """`openai/gpt-oss-20b:free:online` -> (`openai/gpt-oss-20b`, [free, online])."""
    variants: list[str] = []
    if ":" not in model_id:
        return model_id, variants
    while True:
        for suffix in VARIANT_SUFFIXES:
            if model_id.endswith(suffix):
                model_id = model_id[: -len(suffix)]
                variants.insert(0, suffix[1:])
                break
        else:
            return model_id, variants


def split_variant(model_id: str) -> tuple[str, str | None]:
    base, variants = split_variants(model_id)
    return base, (variants[-1] if variants else None)


def _reasoning_effort(raw: dict[str, Any], model: Model) -> str | None:
    reasoning = raw.get("reasoning")
    if isinstance(reasoning, dict):
        if reasoning.get("enabled") is False:
            return "none"
        if reasoning.get("effort"):
            return reasoning["effort"]
    if raw.get("reasoning_effort"):
        return raw["reasoning_effort"]
    return model.default_params.get("reasoning_effort")


def body_for(raw: dict[str, Any], model: Model, endpoint: Endpoint) -> dict[str, Any]:
    """The client's body as this endpoint should receive it."""
    supported = set(endpoint.supported_parameters)
    body = {k: v for k, v in raw.items() if k not in GATEWAY_FIELDS}
    if supported:
        for key in DROPPABLE & body.keys():
            if key not in supported:
                del body[key]
    if "image_config" in body and "image" not in model.output_modalities:
        del body["image_config"]  # only image-output models take it; others may refuse it
    for key, value in model.default_params.items():
        if key != "reasoning_effort":
            body.setdefault(key, value)
    effort = _reasoning_effort(raw, model)
    wants_reasoning = "reasoning" in supported or "reasoning_effort" in supported
    if endpoint.provider == "openrouter":
        # OpenRouter speaks the unified `reasoning` object itself.
        reasoning = dict(raw["reasoning"]) if isinstance(raw.get("reasoning"), dict) else {}
        if effort and "effort" not in reasoning and reasoning.get("enabled") is not False:
            reasoning["effort"] = effort
        if raw.get("include_reasoning") is False:
            reasoning["exclude"] = True
        if reasoning and wants_reasoning:
            body["reasoning"] = reasoning
    elif effort and wants_reasoning and effort != "none":
        body["reasoning_effort"] = "high" if effort in {"xhigh", "max"} else effort
    if endpoint.provider == "local" and wants_reasoning:
        # The embedded engine maps these onto the chat template's thinking switch.
        if effort == "none":
            body["reasoning_effort"] = "none"
        reasoning = raw.get("reasoning")
        if raw.get("include_reasoning") is False or (
            isinstance(reasoning, dict) and reasoning.get("exclude")
        ):
            body["include_reasoning"] = False
    if endpoint.provider == "openai" and "max_tokens" in body:
        # OpenAI's reasoning models accept only max_completion_tokens.
        body.setdefault("max_completion_tokens", body.pop("max_tokens"))
    return body


def plan_chat(
    raw: dict[str, Any],
    catalog: Catalog,
    router: Router,
    enabled: set[str],
    disabled_reason: dict[str, str],
    session_header: str | None = None,
) -> Plan:
    """Resolve `model` / `models` into an ordered list of attempts: each model's endpoints
    as routing ranks them, models in the order given (or one global sort with
    `provider.sort.partition: "none"`)."""
    requested: list[str] = []
    if isinstance(raw.get("model"), str):
        requested.append(raw["model"])
    for extra in raw.get("models") or ():
        if extra not in requested:
            requested.append(extra)
    base_prefs = router.preferences(raw)
    ranked: list[tuple[Model, Endpoint]] = []
    excluded: list[Exclusion] = []
    sticky_key: str | None = None
    global_sort: str | None = None
    for index, model_id in enumerate(requested):
        base_id, variants = split_variants(model_id)
        model = catalog.get(base_id)
        if model is None:
            param = "model" if index == 0 and raw.get("model") else "models"
            raise BadRequest(f"{model_id} is not a valid model ID", param=param, code=400)
        prefs = router.with_variants(base_prefs, variants)
        available: list[Endpoint] = []
        for endpoint in model.endpoints:
            if endpoint.provider in enabled:
                available.append(endpoint)
            else:
                reason = disabled_reason.get(endpoint.provider, "provider is not configured")
                excluded.append(Exclusion(model.id, endpoint.provider, reason, by_request=False))
        if sticky_key is None and router.wants_sticky(prefs, available):
            sticky_key = conversation_key(raw, session_header)
        endpoints, left_out = router.rank(model, available, prefs, raw, sticky_key)
        excluded += left_out
        ranked += [(model, e) for e in endpoints]
        if prefs.partition == "none" and prefs.sort:
            global_sort = prefs.sort
    if global_sort is not None:
        ranked = router.sort_across(ranked, global_sort)
    reasons = [str(e) for e in excluded]
    if not ranked:
        if any(e.by_request for e in excluded):
            raise NoEndpoint(
                f"No endpoints found for {requested[0]} that match this request: "
                + "; ".join(reasons),
                status=404,
                type="not_found_error",
                metadata={"excluded": reasons},
            )
        raise NoEndpoint(
            "No endpoint can serve this request: " + "; ".join(reasons),
            metadata={"excluded": reasons},
        )
    attempts = [Attempt(model, e, body_for(raw, model, e)) for model, e in ranked]
    return Plan(
        requested=requested[0],
        attempts=attempts,
        excluded=reasons,
        sticky_key=sticky_key,
        middle_out=transforms.requested(raw),
    )
