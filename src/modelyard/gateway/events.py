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


Event = TextDelta | ReasoningDelta | ToolCallDelta | Usage | Finish | StreamError

FINISH_REASONS = {"stop", "length", "tool_calls", "content_filter", "error"}


def normalize_finish(native: str | None) -> str:
    """Map a provider's finish reason onto OpenRouter's normalized set."""
    if native is None:
        return "stop"
    lowered = native.lower()
    if lowered in FINISH_REASONS:
        return lowered
    if lowered in {"max_tokens", "max_output_tokens", "model_length"}:
        return "length"
    if lowered in {"function_call", "tool_use", "tool_call"}:
        return "tool_calls"
    if lowered in {"safety", "recitation", "content_filtered", "blocklist"}:
        return "content_filter"
    return "stop"
