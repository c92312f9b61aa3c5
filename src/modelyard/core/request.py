"""The typed request every surface produces: what planning and routing read.

A surface's decoder (wire/) validates its body once and hands the gateway an
`InferenceRequest`: the chat-shaped body that travels on (fields we do not model included,
as OpenRouter forwards them), plus what the gateway steers by, already typed. The
`provider` object is validated here, once, by the same Struct on every surface.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

Quantization = Literal[
    "int4",
    "int8",
    "fp4",
    "mxfp4",
    "nvfp4",
    "fp6",
    "fp8",
    "mxfp8",
    "fp16",
    "bf16",
    "fp32",
    "unknown",
]
SortBy = Literal["price", "throughput", "latency", "exacto"]
NonNegative = Annotated[float, Meta(ge=0)]
ProviderSlug = Annotated[str, Meta(min_length=1, max_length=128)]


class MaxPrice(Struct):
    prompt: float | str | None = None
    completion: float | str | None = None
    request: float | str | None = None
    image: float | str | None = None
    audio: float | str | None = None


class SortSpec(Struct):
    """`provider.sort` object form: `partition: "none"` sorts across every model in `models`."""

    by: SortBy
    partition: Literal["model", "none"] | None = None


class PercentileTargets(Struct):
    p50: NonNegative | None = None
    p75: NonNegative | None = None
    p90: NonNegative | None = None
    p99: NonNegative | None = None


class ProviderPreferences(Struct):
    """OpenRouter's `provider` object."""

    order: list[ProviderSlug] | None = None
    allow_fallbacks: bool | None = None
    require_parameters: bool | None = None
    data_collection: Literal["allow", "deny"] | None = None
    zdr: bool | None = None
    enforce_distillable_text: bool | None = None
    only: list[ProviderSlug] | None = None
    ignore: list[ProviderSlug] | None = None
    quantizations: list[Quantization] | None = None
    sort: SortBy | SortSpec | None = None
    max_price: MaxPrice | None = None
    preferred_min_throughput: NonNegative | PercentileTargets | None = None
    preferred_max_latency: NonNegative | PercentileTargets | None = None


def middle_out_choice(transforms: list[str] | None, plugins: list[Any] | None) -> bool | None:
    """Middle-out as the request asks it: `transforms: ["middle-out"]` (2025) or the plugin
    `{"id": "context-compression", "engine": "middle-out"}` (2026); None for the default
    (on for small contexts)."""
    choice: bool | None = None
    if transforms is not None:
        choice = "middle-out" in transforms
    for plugin in plugins or ():
        if isinstance(plugin, dict) and plugin.get("id") == "context-compression":
            engine = plugin.get("engine", "middle-out")
            choice = plugin.get("enabled") is not False and engine == "middle-out"
    return choice


@dataclass(slots=True)
class InferenceRequest:
    """One validated request from any surface, in the gateway's one internal shape."""

    # The chat-shaped body as validated (messages, parameters, provider extras); the
    # planner strips the gateway's own fields before it travels.
    body: dict[str, Any]
    # `model`, then `models`, without repeats.
    models: list[str]
    stream: bool = False
    # True when `models[0]` came from `model` (so an error names the right field).
    model_given: bool = True
    provider: ProviderPreferences | None = None
    # What ties a conversation for stickiness: `session_id` or the `x-session-id` header.
    session_id: str | None = None
    middle_out: bool | None = None
    # The reasoning asked for: the `reasoning` object, `reasoning_effort`, `include_reasoning`.
    reasoning: dict[str, Any] | None = None
    reasoning_effort: str | None = None
    include_reasoning: bool | None = None
    # Output modalities asked for (`modalities`); tools given.
    modalities: list[str] | None = None
    tools: bool = False
    # Where it came in: chat, responses, messages... (records and metrics).
    surface: str = "chat"


def requested_models(model: str | None, models: list[str] | None) -> list[str]:
    requested: list[str] = [model] if model else []
    for extra in models or ():
        if extra not in requested:
            requested.append(extra)
    return requested
