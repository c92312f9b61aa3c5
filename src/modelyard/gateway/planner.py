"""Planning: which model answers, at which endpoints, in which order, with which body.

A plan is made before any provider is called; it names every endpoint it left out and why,
so that a request nothing can serve gets an error that explains itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelyard.catalog.catalog import Catalog, Endpoint, Model
from modelyard.gateway.errors import BadRequest, NoEndpoint

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
# OpenRouter does (an OpenAI reasoning model rejects `temperature`, for one).
DROPPABLE = frozenset(
    {
        "temperature",
        "top_p",
        "top_k",
        "min_p",
        "top_a",
        "frequency_penalty",
        "presence_penalty",
        "repetition_penalty",
        "seed",
        "stop",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "verbosity",
    }
)

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


def split_variant(model_id: str) -> tuple[str, str | None]:
    for suffix in VARIANT_SUFFIXES:
        if model_id.endswith(suffix):
            return model_id[: -len(suffix)], suffix[1:]
    return model_id, None


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
    if endpoint.provider == "openai" and "max_tokens" in body:
        # OpenAI's reasoning models accept only max_completion_tokens.
        body.setdefault("max_completion_tokens", body.pop("max_tokens"))
    return body


def plan_chat(
    raw: dict[str, Any], catalog: Catalog, enabled: set[str], disabled_reason: dict[str, str]
) -> Plan:
    """Resolve `model` / `models` into an ordered list of attempts."""
    requested: list[str] = []
    if isinstance(raw.get("model"), str):
        requested.append(raw["model"])
    for extra in raw.get("models") or ():
        if extra not in requested:
            requested.append(extra)
    attempts: list[Attempt] = []
    excluded: list[str] = []
    for index, model_id in enumerate(requested):
        base_id, _variant = split_variant(model_id)
        model = catalog.get(base_id)
        if model is None:
            param = "model" if index == 0 and raw.get("model") else "models"
            raise BadRequest(f"{model_id} is not a valid model ID", param=param, code=400)
        for endpoint in model.endpoints:
            if endpoint.provider not in enabled:
                reason = disabled_reason.get(endpoint.provider, "provider is not configured")
                excluded.append(f"{model.id} at {endpoint.provider}: {reason}")
                continue
            attempts.append(Attempt(model, endpoint, body_for(raw, model, endpoint)))
    if not attempts:
        raise NoEndpoint(
            "No endpoint can serve this request: " + "; ".join(excluded),
            metadata={"excluded": excluded},
        )
    return Plan(requested=requested[0], attempts=attempts, excluded=excluded)
