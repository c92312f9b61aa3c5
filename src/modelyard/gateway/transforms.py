"""Middle-out context compression, as OpenRouter does it.

`transforms: ["middle-out"]` (2025) or the plugin `{"id": "context-compression",
"engine": "middle-out"}` (2026): when the prompt is over the endpoint's context length,
messages are removed from the middle, then the middle of the longest text is cut, until it
fits. The start (system prompt, first turn) and the end (the latest turn) are kept. It is on
by default for endpoints with 8k of context or less, unless `transforms: []` or the plugin
with `enabled: false` turns it off.

The count is an estimate (3 characters a token, plus a few tokens a message), conservative
for most text; a provider that reports the real numbers after all (the embedded engine's
`exceed_context_size_error` does) gets the prompt compressed again with its own ratio.
"""

from __future__ import annotations

import json
from typing import Any

DEFAULT_MAX_CONTEXT = 8192
CHARS_PER_TOKEN = 3
MESSAGE_OVERHEAD = 4  # role markers and separators, a few tokens a message
IMAGE_TOKENS = 85
CUT = "\n…\n"


def requested(raw: dict[str, Any]) -> bool | None:
    """True or False when the request says, None for the default (by context length)."""
    choice: bool | None = None
    transforms = raw.get("transforms")
    if isinstance(transforms, list):
        choice = "middle-out" in transforms
    for plugin in raw.get("plugins") or ():
        if isinstance(plugin, dict) and plugin.get("id") == "context-compression":
            engine = plugin.get("engine", "middle-out")
            choice = plugin.get("enabled") is not False and engine == "middle-out"
    return choice


def enabled(choice: bool | None, context_length: int) -> bool:
    return choice if choice is not None else context_length <= DEFAULT_MAX_CONTEXT


def _text_parts(message: dict[str, Any]) -> list[tuple[dict[str, Any] | None, str]]:
    content = message.get("content")
    if isinstance(content, str):
        return [(None, content)]
    if isinstance(content, list):
        return [
            (part, str(part.get("text") or ""))
            for part in content
            if isinstance(part, dict) and part.get("type") in {"text", "input_text"}
        ]
    return []


def message_tokens(message: dict[str, Any]) -> int:
    chars = sum(len(text) for _, text in _text_parts(message))
    content = message.get("content")
    images = 0
    if isinstance(content, list):
        images = sum(
            1 for part in content if isinstance(part, dict) and part.get("type") == "image_url"
        )
    if message.get("tool_calls"):
        chars += len(json.dumps(message["tool_calls"]))
    return -(-chars // CHARS_PER_TOKEN) + MESSAGE_OVERHEAD + images * IMAGE_TOKENS


def estimate(body: dict[str, Any]) -> int:
    """Estimated prompt tokens of a chat body: messages, plus the tool definitions."""
    fixed = len(json.dumps(body["tools"])) // CHARS_PER_TOKEN if body.get("tools") else 0
    return fixed + sum(message_tokens(m) for m in body.get("messages") or ())


def _units(messages: list[dict[str, Any]]) -> list[list[int]]:
    """Indices grouped so that an assistant's tool calls and their results go together."""
    units: list[list[int]] = []
    for i, message in enumerate(messages):
        if message.get("role") == "tool" and units:
            units[-1].append(i)
        else:
            units.append([i])
    return units


def _cut_middle(text: str, drop: int) -> str:
    keep = max(0, len(text) - drop - len(CUT))
    head = (keep + 1) // 2
    return text[:head] + CUT + text[len(text) - (keep - head) :]


def middle_out(body: dict[str, Any], budget: int) -> tuple[dict[str, Any], int]:
    """The body with its messages compressed to `budget` estimated tokens, and how many
    messages were removed. A body that fits is returned as it is."""
    messages = list(body.get("messages") or ())
    total = estimate(body)
    if total <= budget or not messages:
        return body, 0
    # The leading system/developer prompt and the last turn stay; whole turns go from the
    # middle outwards.
    head = 0
    while head < len(messages) - 1 and messages[head].get("role") in {"system", "developer"}:
        head += 1
    units = _units(messages[head:])
    middle = units[1:-1] if len(units) > 2 else []
    removed: set[int] = set()
    while total > budget and middle:
        unit = middle.pop(len(middle) // 2)
        removed.update(head + i for i in unit)
        total -= sum(message_tokens(messages[head + i]) for i in unit)
    kept = [dict(m) for i, m in enumerate(messages) if i not in removed]
    # Still over: cut the middle out of the longest texts, the first and last turns included.
    while total > budget:
        parts = [
            (len(text), index, part)
            for index, message in enumerate(kept)
            for part, text in _text_parts(message)
        ]
        if not parts:
            break
        length, index, part = max(parts, key=lambda p: p[0])
        text = kept[index]["content"] if part is None else part["text"]
        if length <= len(CUT) * 4:
            break
        over_chars = (total - budget) * CHARS_PER_TOKEN
        drop = min(length - len(CUT) * 2, max(over_chars, CHARS_PER_TOKEN))
        before = message_tokens(kept[index])
        if part is None:
            kept[index]["content"] = _cut_middle(kept[index]["content"], drop)
        else:
            kept[index]["content"] = [
                {**p, "text": _cut_middle(text, drop)} if p is part else p
                for p in kept[index]["content"]
            ]
        total -= before - message_tokens(kept[index])
    return {**body, "messages": kept}, len(removed)


def budget_for(body: dict[str, Any], context_length: int) -> int:
    """Tokens the prompt may use: the context, less room for a short requested answer."""
    answer = body.get("max_completion_tokens") or body.get("max_tokens") or 0
    if not isinstance(answer, int) or answer > context_length // 2:
        answer = 0
    return context_length - answer


def overflow(metadata: dict[str, Any] | None) -> tuple[int, int] | None:
    """(prompt tokens, context) from a provider's over-context error, when it says them."""
    raw = (metadata or {}).get("raw")
    if not isinstance(raw, dict):
        return None
    prompt, context = raw.get("n_prompt_tokens"), raw.get("n_ctx")
    if isinstance(prompt, int) and isinstance(context, int) and prompt > context > 0:
        return prompt, context
    return None
