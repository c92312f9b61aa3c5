"""The Responses request: validated with msgspec, then translated into a chat-shaped body.

The gateway speaks one internal shape (a Chat Completions body) to every provider, so the
Responses surface is a translator in front of it: input items become messages, flat
function tools become chat tools, `text.format` becomes `response_format`, and so on. Input
items are also normalized into the item shape the API lists back (ids, content lists,
statuses), which is what is stored and replayed by `previous_response_id`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from modelyard.gateway.errors import BadRequest
from modelyard.gateway.ids import random_hex
from modelyard.wire.chat import FUNCTION_NAME, ProviderPreferences, validation_error

# ---------------------------------------------------------------------------------------
# Input items
# ---------------------------------------------------------------------------------------


class InputText(Struct, tag_field="type", tag="input_text"):
    text: str


class OutputText(Struct, tag_field="type", tag="output_text"):
    text: str
    annotations: list[Any] | None = None
    logprobs: list[Any] | None = None


class RefusalContent(Struct, tag_field="type", tag="refusal"):
    refusal: str


class InputImage(Struct, tag_field="type", tag="input_image"):
    image_url: Annotated[str, Meta(min_length=1)] | None = None
    file_id: str | None = None
    detail: Literal["low", "high", "auto", "original"] | None = None


class InputFile(Struct, tag_field="type", tag="input_file"):
    file_data: str | None = None
    file_url: str | None = None
    file_id: str | None = None
    filename: str | None = None


ContentPart = InputText | OutputText | RefusalContent | InputImage | InputFile
ToolOutputPart = InputText | InputImage | InputFile


class MessageItem(Struct, tag_field="type", tag="message"):
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[ContentPart]
    id: str | None = None
    status: str | None = None
    phase: str | None = None


class FunctionCallItem(Struct, tag_field="type", tag="function_call"):
    call_id: Annotated[str, Meta(min_length=1)]
    name: str
    arguments: str
    id: str | None = None
    status: str | None = None


class FunctionCallOutputItem(Struct, tag_field="type", tag="function_call_output"):
    call_id: Annotated[str, Meta(min_length=1)]
    output: str | list[ToolOutputPart]
    id: str | None = None
    status: str | None = None


class SummaryText(Struct, tag_field="type", tag="summary_text"):
    text: str


class ReasoningText(Struct, tag_field="type", tag="reasoning_text"):
    text: str


class ReasoningItem(Struct, tag_field="type", tag="reasoning"):
    id: str | None = None
    summary: list[SummaryText] = []
    content: list[ReasoningText] | None = None
    encrypted_content: str | None = None
    status: str | None = None


class ItemReference(Struct, tag_field="type", tag="item_reference"):
    id: str


InputItem = MessageItem | FunctionCallItem | FunctionCallOutputItem | ReasoningItem | ItemReference

# ---------------------------------------------------------------------------------------
# Tools, text format, reasoning
# ---------------------------------------------------------------------------------------


class FunctionTool(Struct, tag_field="type", tag="function"):
    name: str
    parameters: dict[str, Any] | None = None
    description: str | None = None
    strict: bool | None = None


class FunctionChoice(Struct, tag_field="type", tag="function"):
    name: str


class AllowedTools(Struct, tag_field="type", tag="allowed_tools"):
    mode: Literal["auto", "required"]
    tools: list[dict[str, Any]]


ToolChoice = Literal["none", "auto", "required"] | FunctionChoice | AllowedTools


class TextFormatText(Struct, tag_field="type", tag="text"):
    pass


class TextFormatJSONObject(Struct, tag_field="type", tag="json_object"):
    pass


class TextFormatJSONSchema(Struct, tag_field="type", tag="json_schema"):
    name: Annotated[str, Meta(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]
    schema: dict[str, Any]
    description: str | None = None
    strict: bool | None = None


TextFormat = TextFormatText | TextFormatJSONObject | TextFormatJSONSchema


class TextConfig(Struct):
    format: TextFormat | None = None
    verbosity: Literal["low", "medium", "high"] | None = None


Effort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]


class ReasoningConfig(Struct):
    effort: Effort | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None
    generate_summary: Literal["auto", "concise", "detailed"] | None = None
    # OpenRouter's extensions of the same object.
    max_tokens: Annotated[int, Meta(ge=0)] | None = None
    exclude: bool | None = None
    enabled: bool | None = None


Metadata = Annotated[
    dict[Annotated[str, Meta(max_length=64)], Annotated[str, Meta(max_length=512)]],
    Meta(max_length=16),
]


class ResponsesRequest(Struct):
    """The fields we check and use; unknown fields are accepted and ignored."""

    model: Annotated[str, Meta(min_length=1)] | None = None
    models: list[Annotated[str, Meta(min_length=1)]] | None = None
    input: str | list[InputItem] | None = None
    instructions: str | None = None
    previous_response_id: Annotated[str, Meta(min_length=1)] | None = None
    conversation: Any = None
    store: bool = True
    background: bool = False
    stream: bool = False
    reasoning: ReasoningConfig | None = None
    text: TextConfig | None = None
    tools: list[FunctionTool] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    max_output_tokens: Annotated[int, Meta(ge=1)] | None = None
    max_tool_calls: Annotated[int, Meta(ge=1)] | None = None
    temperature: Annotated[float, Meta(ge=0, le=2)] | None = None
    top_p: Annotated[float, Meta(ge=0, le=1)] | None = None
    top_logprobs: Annotated[int, Meta(ge=0, le=20)] | None = None
    presence_penalty: Annotated[float, Meta(ge=-2, le=2)] | None = None
    frequency_penalty: Annotated[float, Meta(ge=-2, le=2)] | None = None
    metadata: Metadata | None = None
    truncation: Literal["auto", "disabled"] | None = None
    include: list[str] | None = None
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    service_tier: str | None = None
    stream_options: dict[str, Any] | None = None
    provider: ProviderPreferences | None = None


def item_id(prefix: str) -> str:
    """An OpenAI-looking item id: `msg_...`, `fc_...`, `rs_...`, `resp_...`."""
    return f"{prefix}_{random_hex(24)}"


def _with_message_types(raw: dict[str, Any]) -> dict[str, Any]:
    """Items may omit `type` when they are messages (EasyInputMessage); make it explicit so
    that one tagged union validates every item and errors name `input[i]...`."""
    items = raw.get("input")
    if not isinstance(items, list):
        return raw
    fixed = [
        {**item, "type": "message"} if isinstance(item, dict) and "type" not in item else item
        for item in items
    ]
    return {**raw, "input": fixed}


def parse_responses_request(raw: Any) -> ResponsesRequest:
    """Validate a decoded JSON body; raise BadRequest naming the first problem."""
    if not isinstance(raw, dict):
        raise BadRequest("Invalid request: the body must be a JSON object")
    try:
        request = msgspec.convert(_with_message_types(raw), ResponsesRequest)
    except msgspec.ValidationError as exc:
        raise validation_error(exc) from None
    _check_cross_fields(request)
    return request


def _bad(message: str, param: str, code: str | None = None) -> BadRequest:
    return BadRequest(f"Invalid request: {message}", param=param, code=code)


def _check_cross_fields(request: ResponsesRequest) -> None:
    if request.model is None and not request.models:
        raise _bad("model is required", "model")
    if request.input is None and request.previous_response_id is None:
        raise _bad("input is required", "input")
    if request.conversation is not None:
        raise _bad("conversation is not supported; use previous_response_id", "conversation")
    if request.background and not request.store:
        raise _bad("background responses must be stored (store: true)", "background")
    names: set[str] = set()
    for i, tool in enumerate(request.tools or ()):
        if not FUNCTION_NAME.match(tool.name):
            raise _bad(f"tools[{i}].name must match ^[a-zA-Z0-9_-]{{1,64}}$", f"tools[{i}].name")
        names.add(tool.name)
    choice = request.tool_choice
    if isinstance(choice, FunctionChoice) and choice.name not in names:
        raise _bad(
            f"tool_choice names {choice.name!r}, which is not among tools", "tool_choice.name"
        )
    if isinstance(choice, AllowedTools):
        for i, allowed in enumerate(choice.tools):
            if allowed.get("type") != "function" or allowed.get("name") not in names:
                raise _bad(
                    "allowed_tools may only name function tools given in tools",
                    f"tool_choice.tools[{i}]",
                )
    for i, item in enumerate(request.input if isinstance(request.input, list) else ()):
        _check_item(item, f"input[{i}]")


def _check_item(item: InputItem, where: str) -> None:
    if isinstance(item, ItemReference):
        raise _bad("item_reference is not supported; use previous_response_id", f"{where}.type")
    if isinstance(item, MessageItem) and isinstance(item.content, list):
        for j, part in enumerate(item.content):
            at = f"{where}.content[{j}]"
            if isinstance(part, InputImage) and part.image_url is None:
                raise _bad("input_image needs image_url (file ids are not supported)", at)
            if isinstance(part, InputFile) and part.file_data is None and part.file_url is None:
                raise _bad("input_file needs file_data or file_url", at)
            if item.role == "assistant" and isinstance(part, InputImage | InputFile):
                raise _bad("assistant messages carry text only", f"{at}.type")


# ---------------------------------------------------------------------------------------
# Normalized items: what is stored, listed and replayed
# ---------------------------------------------------------------------------------------


def _part(part: ContentPart, assistant: bool) -> dict[str, Any]:
    if isinstance(part, InputText | OutputText):
        if assistant:
            return {"type": "output_text", "text": part.text, "annotations": [], "logprobs": []}
        return {"type": "input_text", "text": part.text}
    if isinstance(part, RefusalContent):
        return {"type": "refusal", "refusal": part.refusal}
    return msgspec.to_builtins(part) | (
        {"detail": part.detail or "auto"} if isinstance(part, InputImage) else {}
    )


def normalize_item(item: InputItem) -> dict[str, Any]:
    """One input item in the shape `GET /responses/{id}/input_items` returns."""
    if isinstance(item, MessageItem):
        assistant = item.role == "assistant"
        parts = (
            [_part(InputText(item.content), assistant)]
            if isinstance(item.content, str)
            else [_part(p, assistant) for p in item.content]
        )
        return {
            "id": item.id or item_id("msg"),
            "type": "message",
            "role": item.role,
            "status": "completed",
            "content": parts,
        }
    if isinstance(item, FunctionCallItem):
        return {
            "id": item.id or item_id("fc"),
            "type": "function_call",
            "call_id": item.call_id,
            "name": item.name,
            "arguments": item.arguments,
            "status": "completed",
        }
    if isinstance(item, FunctionCallOutputItem):
        output = item.output if isinstance(item.output, str) else msgspec.to_builtins(item.output)
        return {
            "id": item.id or item_id("fco"),
            "type": "function_call_output",
            "call_id": item.call_id,
            "output": output,
            "status": "completed",
        }
    assert isinstance(item, ReasoningItem)
    reasoning: dict[str, Any] = {
        "id": item.id or item_id("rs"),
        "type": "reasoning",
        "summary": msgspec.to_builtins(item.summary),
    }
    if item.content is not None:
        reasoning["content"] = msgspec.to_builtins(item.content)
    if item.encrypted_content is not None:
        reasoning["encrypted_content"] = item.encrypted_content
    return reasoning


def input_items(request: ResponsesRequest) -> list[dict[str, Any]]:
    """The request's own input as normalized items (the history is not included)."""
    if request.input is None:
        return []
    if isinstance(request.input, str):
        return [normalize_item(MessageItem(role="user", content=request.input))]
    return [normalize_item(item) for item in request.input]


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


def chat_body(
    request: ResponsesRequest, raw: dict[str, Any], items: list[dict[str, Any]]
) -> dict[str, Any]:
    """The chat-shaped body the gateway plans: `items` is the whole conversation (stored
    history, then this request's input); `instructions` go first as a system message."""
    messages = messages_from_items(items)
    if request.instructions:
        messages.insert(0, {"role": "system", "content": request.instructions})
    if not messages:
        raise _bad("input holds nothing to send to the model", "input")
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
    return body
