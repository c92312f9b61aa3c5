"""Planning: which model answers, at which endpoints, in which order, with which body.

A plan is made before any provider is called; it names every endpoint it left out and why,
so that a request nothing can serve gets an error that explains itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelyard.catalog.catalog import Catalog, Endpoint, Model
from modelyard.core.errors import BadRequest, NoEndpoint
from modelyard.core.provider import Provider, ReasoningAsk
from modelyard.core.request import InferenceRequest
from modelyard.gateway.preferences import preferences, with_variants
from modelyard.gateway.ranking import PARAMETERS, Exclusion, Router
from modelyard.gateway.sticky import conversation_key

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


def reasoning_ask(request: InferenceRequest, model: Model) -> ReasoningAsk:
    """The reasoning asked for, normalized: effort "none" when it is switched off, the
    model's default effort when the request names none."""
    given = request.reasoning
    effort: str | None = None
    if given is not None and given.get("enabled") is False:
        effort = "none"
    elif given is not None and given.get("effort"):
        effort = given["effort"]
    elif request.reasoning_effort:
        effort = request.reasoning_effort
    else:
        effort = model.default_params.get("reasoning_effort")
    exclude = request.include_reasoning is False or bool(given and given.get("exclude"))
    return ReasoningAsk(effort, exclude, given)


def body_for(
    request: InferenceRequest, model: Model, endpoint: Endpoint, provider: Provider
) -> dict[str, Any]:
    """The client's body as this endpoint should receive it: the gateway's own fields
    removed, unsupported sampling knobs dropped, the model's defaults filled in, then the
    provider's dialect (`prepare`)."""
    supported = set(endpoint.supported_parameters)
    body = {k: v for k, v in request.body.items() if k not in GATEWAY_FIELDS}
    if supported:
        for key in DROPPABLE & body.keys():
            if key not in supported:
                del body[key]
    if "image_config" in body and "image" not in model.output_modalities:
        del body["image_config"]  # only image-output models take it; others may refuse it
    for key, value in model.default_params.items():
        if key != "reasoning_effort":
            body.setdefault(key, value)
    wants_reasoning = "reasoning" in supported or "reasoning_effort" in supported
    provider.prepare(body, reasoning_ask(request, model), wants_reasoning)
    return body


def plan(
    request: InferenceRequest,
    catalog: Catalog,
    router: Router,
    providers: dict[str, Provider],
    disabled_reason: dict[str, str],
    session_header: str | None = None,
) -> Plan:
    """Resolve `model` / `models` into an ordered list of attempts: each model's endpoints
    as ranking orders them, models in the order given (or one global sort with
    `provider.sort.partition: "none"`)."""
    requested = request.models
    base_prefs = preferences(request.provider, router.provider_names)
    ranked: list[tuple[Model, Endpoint]] = []
    excluded: list[Exclusion] = []
    sticky_key: str | None = None
    global_sort: str | None = None
    for index, model_id in enumerate(requested):
        base_id, variants = split_variants(model_id)
        model = catalog.get(base_id)
        if model is None:
            param = "model" if index == 0 and request.model_given else "models"
            raise BadRequest(f"{model_id} is not a valid model ID", param=param, code=400)
        prefs = with_variants(base_prefs, variants)
        available: list[Endpoint] = []
        for endpoint in model.endpoints:
            if endpoint.provider in providers:
                available.append(endpoint)
            else:
                reason = disabled_reason.get(endpoint.provider, "provider is not configured")
                excluded.append(Exclusion(model.id, endpoint.provider, reason, by_request=False))
        if sticky_key is None and router.wants_sticky(prefs, available):
            sticky_key = conversation_key(request, session_header)
        endpoints, left_out = router.rank(model, available, prefs, request, sticky_key)
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
    attempts = [
        Attempt(model, e, body_for(request, model, e, providers[e.provider])) for model, e in ranked
    ]
    return Plan(
        requested=requested[0],
        attempts=attempts,
        excluded=reasons,
        sticky_key=sticky_key,
        middle_out=request.middle_out,
    )
