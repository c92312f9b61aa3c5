"""Tools and tool history written into the prompt, for chat templates that know no tools.

SmolLM2's template renders roles and text only, so the gateway writes the tool list into
the system message and earlier calls into the assistant's text, in the same
`<tool_call>[...]</tool_call>` form the grammar makes the model produce; `role: tool`
results stay their own turns, which ChatML templates render as they are.
"""

from __future__ import annotations

from typing import Any

import orjson

from modelyard.providers.local.grammar import CALL_CLOSE, CALL_OPEN, CALL_SEPARATOR


def text_of(content: Any) -> str:
    """A message's content as plain text (text parts joined; other parts dropped)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(
        part.get("text") or "" for part in content if isinstance(part, dict) and "text" in part
    )


def tools_instruction(functions: list[dict[str, Any]], forced: str | None, required: bool) -> str:
    listing = [
        {
            "name": f["name"],
            "description": f.get("description") or "",
            "parameters": f.get("parameters") or {"type": "object", "properties": {}},
        }
        for f in functions
    ]
    lines = [
        "You have access to the following tools:",
        "<tools>" + orjson.dumps(listing).decode() + "</tools>",
        'To call tools, answer with <tool_call>[{"name": "tool_name", "arguments": {...}}]'
        "</tool_call>. Tool results come back in messages from the tool.",
    ]
    if forced:
        lines.append(f"Call the tool {forced} now.")
    elif required:
        lines.append("Call one of the tools now.")
    return "\n".join(lines)


def render_call(call: dict[str, Any]) -> str:
    function = call.get("function") or {}
    arguments = function.get("arguments") or "{}"
    return (
        '{"name": '
        + orjson.dumps(function.get("name") or "").decode()
        + (', "arguments": ' + arguments + "}")
    )


def render_messages(
    messages: list[dict[str, Any]], instruction: str | None
) -> list[dict[str, Any]]:
    """Messages the template can render: tool calls as text, the instruction in the system
    message (merged into the client's own, or a new one first)."""
    out: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role == "developer":
            message = {**message, "role": "system"}
        if role == "assistant" and message.get("tool_calls"):
            calls = CALL_SEPARATOR.join(render_call(c) for c in message["tool_calls"])
            content = text_of(message.get("content"))
            written = (content + "\n" if content else "") + CALL_OPEN + calls + CALL_CLOSE
            message = {"role": "assistant", "content": written}
        elif role == "tool":
            message = {"role": "tool", "content": text_of(message.get("content"))}
        out.append(message)
    if instruction:
        if out and out[0].get("role") == "system":
            first = text_of(out[0].get("content"))
            out[0] = {"role": "system", "content": f"{first}\n\n{instruction}".strip()}
        else:
            out.insert(0, {"role": "system", "content": instruction})
    return out
