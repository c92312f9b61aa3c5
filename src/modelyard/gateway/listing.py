"""The catalog as the API and the pages show it: OpenRouter's model and endpoint
payloads, with each endpoint's live status and statistics. One source for both, so a
page and the API never disagree."""

from __future__ import annotations

from typing import Any

from modelyard.catalog.catalog import Endpoint, Model
from modelyard.gateway.gateway import Gateway


def architecture(model: Model) -> dict[str, Any]:
    return {
        "modality": "+".join(model.input_modalities) + "->" + "+".join(model.output_modalities),
        "input_modalities": model.input_modalities,
        "output_modalities": model.output_modalities,
        "tokenizer": model.tokenizer,
        "instruct_type": model.instruct_type,
    }


def model_payload(model: Model) -> dict[str, Any]:
    return {
        "id": model.id,
        "object": "model",
        "owned_by": model.author,
        "canonical_slug": model.canonical_slug,
        "hugging_face_id": model.hugging_face_id or None,
        "name": model.name,
        "created": model.created,
        "description": model.description,
        "context_length": model.context_length,
        "architecture": architecture(model),
        "pricing": model.pricing.as_strings(),
        "top_provider": {
            "context_length": model.context_length,
            "max_completion_tokens": model.max_completion_tokens,
            "is_moderated": model.moderated,
        },
        "per_request_limits": None,
        "supported_parameters": model.supported_parameters,
        "default_parameters": dict(model.default_params),
    }


def endpoint_status(gateway: Gateway, model: Model, endpoint: Endpoint) -> int:
    """OpenRouter's status enum: 0 serving, -1 down right now (failed within the failure
    window), -10 not configured on this deployment."""
    if endpoint.provider not in gateway.enabled:
        return -10
    return -1 if gateway.health.is_down(model.id, endpoint.provider) else 0


def endpoint_payload(gateway: Gateway, model: Model, endpoint: Endpoint) -> dict[str, Any]:
    provider_name = gateway.provider_name(endpoint.provider)
    stats = gateway.health.stats(model.id, endpoint.provider)
    latency = stats.latency_last_30m
    throughput = stats.throughput_last_30m
    return {
        "name": f"{provider_name} | {model.id}",
        "model_id": model.id,
        "model_name": model.name,
        "provider_name": provider_name,
        "tag": endpoint.provider,
        "context_length": endpoint.context_length,
        "max_completion_tokens": endpoint.max_completion_tokens,
        "max_prompt_tokens": None,
        "quantization": endpoint.quantization,
        "pricing": endpoint.pricing.as_strings(),
        "supported_parameters": endpoint.supported_parameters,
        "supports_implicit_caching": endpoint.provider in {"local", "openai", "openrouter"},
        "status": endpoint_status(gateway, model, endpoint),
        "uptime_last_5m": stats.uptime_last_5m,
        "uptime_last_30m": stats.uptime_last_30m,
        "uptime_last_1d": stats.uptime_last_1d,
        # Seconds to first token, and output tokens per second.
        "latency_last_30m": latency.as_dict(3) if latency else None,
        "throughput_last_30m": throughput.as_dict(1) if throughput else None,
    }
