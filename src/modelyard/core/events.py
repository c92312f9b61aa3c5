"""The normalized event stream: the spine every provider yields and every surface encodes.

N providers and M API surfaces meet here instead of in N x M translators. Events are plain
slotted dataclasses: cheap to create on the hot path, no validation round trips.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class TextDelta:
    text: str
    # OpenAI-shaped `logprobs.content` entries for the tokens of this delta, when asked for.
    logprobs: list[dict[str, Any]] | None = None


@dataclass(slots=True)
class ReasoningDelta:
    text: str


@dataclass(slots=True)
class ReasoningDetails:
    """`reasoning_details` entries as the upstream sent them (summaries, encrypted blobs,
    signed text): passed on unchanged, since clients must send them back as they came."""

    details: list[dict[str, Any]]


@dataclass(slots=True)
class Images:
    """Generated images, `{type: "image_url", image_url: {url: "data:..."}}` each."""

    images: list[dict[str, Any]]


@dataclass(slots=True)
class ToolCallDelta:
    """A fragment of one tool call; `id` and `name` arrive only on the call's first fragment."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    image_tokens: int = 0  # image output tokens, part of completion_tokens


@dataclass(slots=True)
class Finish:
    """The model stopped: `reason` is normalized (stop, length, tool_calls, content_filter)."""

    reason: str
    native: str | None = None


@dataclass(slots=True)
class StreamError:
    """The upstream failed after the stream began; it ends the generation."""

    status: int
    message: str
    metadata: dict[str, Any] = field(default_factory=dict)


Event = (
    TextDelta
    | ReasoningDelta
    | ReasoningDetails
    | Images
    | ToolCallDelta
    | Usage
    | Finish
    | StreamError
)

FINISH_REASONS = {"stop", "length", "tool_calls", "content_filter", "error"}

# Native finish reasons (OpenAI, Anthropic, Gemini, Bedrock, Mistral, vLLM...), lowercased.
NATIVE_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "eos": "stop",
    "eos_token": "stop",
    "complete": "stop",
    "finish_reason_stop": "stop",
    "max_tokens": "length",
    "max_output_tokens": "length",
    "max_completion_tokens": "length",
    "model_length": "length",
    "model_context_window_exceeded": "length",
    "token_limit": "length",
    "function_call": "tool_calls",
    "tool_use": "tool_calls",
    "tool_call": "tool_calls",
    "safety": "content_filter",
    "recitation": "content_filter",
    "blocklist": "content_filter",
    "prohibited_content": "content_filter",
    "spii": "content_filter",
    "image_safety": "content_filter",
    "content_filtered": "content_filter",
    "guardrail_intervened": "content_filter",
    "refusal": "content_filter",
}


def normalize_finish(native: str | None) -> str:
    """Map a provider's finish reason onto OpenRouter's normalized set."""
    if native is None:
        return "stop"
    lowered = native.lower()
    if lowered in FINISH_REASONS:
        return lowered
    return NATIVE_FINISH.get(lowered, "stop")
