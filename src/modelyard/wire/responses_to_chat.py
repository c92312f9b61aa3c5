"""The Responses request as the gateway's one internal shape (a chat-shaped body): input
items become messages, flat function tools become chat tools, `text.format` becomes
`response_format`, and so on."""

from __future__ import annotations

from typing import Any

from modelyard.core.request import InferenceRequest, requested_models
from modelyard.wire.responses_request import (
    AllowedTools,
    FunctionChoice,
    FunctionTool,
    ResponsesRequest,
    TextFormat,
    TextFormatJSONObject,
    TextFormatJSONSchema,
    bad_request,
)

# ---------------------------------------------------------------------------------------
# Items -> chat messages
# ---------------------------------------------------------------------------------------


def _text_of(parts: list[dict[str, Any]] | str) -> str:
    if isinstance(parts, str):
        return parts
    return "".join(p.get("text") or p.get("refusal") or "" for p in parts)


def _user_content(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """Text-only content becomes one string: every chat template understands that."""
    if all(p["type"] == "input_text" for p in parts):
        return "".join(p["text"] for p in parts)
    out: list[dict[str, Any]] = []
    for p in parts:
        if p["type"] == "input_text":
            out.append({"type": "text", "text": p["text"]})
        elif p["type"] == "input_image":
            out.append(
                {"type": "image_url", "image_url": {"url": p["image_url"], "detail": p["detail"]}}
            )
        elif p["type"] == "input_file":
            file = {"file_data": p.get("file_data") or p.get("file_url")}
            if p.get("filename"):
                file["filename"] = p["filename"]
            out.append({"type": "file", "file": file})
    return out


def reasoning_details_of(item: dict[str, Any]) -> list[dict[str, Any]]:
    """A Responses reasoning item as chat `reasoning_details` (summaries, text, and the
    encrypted reasoning under the item's id)."""
    details: list[dict[str, Any]] = []
    for part in item.get("summary") or ():
        details.append(
            {"type": "reasoning.summary", "summary": part.get("text", ""), "format": "unknown"}
        )
    for part in item.get("content") or ():
        text = part.get("text", "")
        details.append({"type": "reasoning.text", "text": text, "format": "unknown"})
    if item.get("encrypted_content"):
        details.append(
            {
                "type": "reasoning.encrypted",
                "data": item["encrypted_content"],
                "id": item.get("id"),
                "format": "unknown",
            }
        )
    for index, detail in enumerate(details):
        detail["index"] = index
    return details


def messages_from_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Normalized items as Chat Completions messages.

    Consecutive function calls join the assistant message before them as `tool_calls`;
    reasoning items become the `reasoning_details` of the assistant message that follows
    them, as OpenRouter's chat surface takes reasoning back.
    """
    messages: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    for item in items:
        kind = item["type"]
        if kind == "reasoning":
            pending += reasoning_details_of(item)
            continue
        if kind == "message":
            role = item["role"]
            if role == "assistant":
                messages.append({"role": "assistant", "content": _text_of(item["content"])})
                if pending:
                    messages[-1]["reasoning_details"], pending = pending, []
            else:
                chat_role = "system" if role == "developer" else role
                content = item["content"]
                messages.append(
                    {
                        "role": chat_role,
                        "content": _text_of(content)
                        if chat_role == "system"
                        else _user_content(content),
                    }
                )
        elif kind == "function_call":
            call = {
                "id": item["call_id"],
                "type": "function",
                "function": {"name": item["name"], "arguments": item["arguments"]},
            }
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant":
                if not last["content"]:
                    last["content"] = None
                last.setdefault("tool_calls", []).append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
            if pending:
                messages[-1].setdefault("reasoning_details", []).extend(pending)
                pending = []
        elif kind == "function_call_output":
            output = item["output"]
            messages.append(
                {"role": "tool", "tool_call_id": item["call_id"], "content": _text_of(output)}
            )
    return messages


# ---------------------------------------------------------------------------------------
# The chat-shaped body
# ---------------------------------------------------------------------------------------


def _chat_tools(tools: list[FunctionTool], allowed: set[str] | None) -> list[dict[str, Any]]:
    out = []
    for tool in tools:
        if allowed is not None and tool.name not in allowed:
            continue
        function: dict[str, Any] = {"name": tool.name}
        if tool.description is not None:
            function["description"] = tool.description
        function["parameters"] = tool.parameters or {"type": "object", "properties": {}}
        if tool.strict is not None:
            function["strict"] = tool.strict
        out.append({"type": "function", "function": function})
    return out


def _response_format(fmt: TextFormat | None) -> dict[str, Any] | None:
    if isinstance(fmt, TextFormatJSONObject):
        return {"type": "json_object"}
    if isinstance(fmt, TextFormatJSONSchema):
        schema: dict[str, Any] = {"name": fmt.name, "schema": fmt.schema}
        if fmt.description is not None:
            schema["description"] = fmt.description
        if fmt.strict is not None:
            schema["strict"] = fmt.strict
        return {"type": "json_schema", "json_schema": schema}
    return None


def inference_request(
    request: ResponsesRequest, raw: dict[str, Any], items: list[dict[str, Any]]
) -> InferenceRequest:
    """The request the gateway plans, its body chat-shaped: `items` is the whole
    conversation (stored history, then this request's input); `instructions` go first as a
    system message."""
    messages = messages_from_items(items)
    if request.instructions:
        messages.insert(0, {"role": "system", "content": request.instructions})
    if not messages:
        raise bad_request("input holds nothing to send to the model", "input")
    body: dict[str, Any] = {"messages": messages}
    # Routing, and OpenRouter's image output (`modalities`, `image_config`) as chat takes it.
    for key in ("model", "models", "provider", "user", "modalities", "image_config"):
        if raw.get(key) is not None:
            body[key] = raw[key]
    for key in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
        value = getattr(request, key)
        if value is not None:
            body[key] = value
    if request.max_output_tokens is not None:
        body["max_tokens"] = request.max_output_tokens
    if request.include and "message.output_text.logprobs" in request.include:
        body["logprobs"] = True
        if request.top_logprobs:
            body["top_logprobs"] = request.top_logprobs
    choice = request.tool_choice
    allowed: set[str] | None = None
    if isinstance(choice, AllowedTools):
        # A hard constraint: only the allowed tools reach the model.
        allowed = {t["name"] for t in choice.tools}
    if request.tools:
        tools = _chat_tools(request.tools, allowed)
        if tools:
            body["tools"] = tools
            if isinstance(choice, str):
                body["tool_choice"] = choice
            elif isinstance(choice, FunctionChoice):
                body["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
            elif isinstance(choice, AllowedTools):
                body["tool_choice"] = choice.mode
            if request.parallel_tool_calls is not None:
                body["parallel_tool_calls"] = request.parallel_tool_calls
    text = request.text
    if text is not None:
        if (response_format := _response_format(text.format)) is not None:
            body["response_format"] = response_format
        if text.verbosity is not None:
            body["verbosity"] = text.verbosity
    if (reasoning := request.reasoning) is not None:
        chat_reasoning = {
            k: v
            for k, v in (
                ("effort", reasoning.effort),
                ("max_tokens", reasoning.max_tokens),
                ("exclude", reasoning.exclude),
                ("enabled", reasoning.enabled),
            )
            if v is not None
        }
        if chat_reasoning:
            body["reasoning"] = chat_reasoning
    modalities = raw.get("modalities")
    return InferenceRequest(
        body=body,
        models=requested_models(request.model, request.models),
        stream=request.stream,
        model_given=request.model is not None,
        provider=request.provider,
        reasoning=body.get("reasoning"),
        modalities=modalities if isinstance(modalities, list) else None,
        tools="tools" in body,
        surface="responses",
    )
