"""The Responses request: its shape, validated with msgspec, and its input items
normalized into the item shape the API lists back (ids, content lists, statuses), which is
what is stored and replayed by `previous_response_id`. responses_to_chat.py translates it
into the gateway's request."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from modelyard.core.errors import BadRequest
from modelyard.core.ids import random_hex
from modelyard.core.request import ProviderPreferences
from modelyard.wire.chat import FUNCTION_NAME, validation_error

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


def bad_request(message: str, param: str, code: str | None = None) -> BadRequest:
    return BadRequest(f"Invalid request: {message}", param=param, code=code)


def _check_cross_fields(request: ResponsesRequest) -> None:
    if request.model is None and not request.models:
        raise bad_request("model is required", "model")
    if request.input is None and request.previous_response_id is None:
        raise bad_request("input is required", "input")
    if request.conversation is not None:
        raise bad_request("conversation is not supported; use previous_response_id", "conversation")
    if request.background and not request.store:
        raise bad_request("background responses must be stored (store: true)", "background")
    names: set[str] = set()
    for i, tool in enumerate(request.tools or ()):
        if not FUNCTION_NAME.match(tool.name):
            raise bad_request(
                f"tools[{i}].name must match ^[a-zA-Z0-9_-]{{1,64}}$", f"tools[{i}].name"
            )
        names.add(tool.name)
    choice = request.tool_choice
    if isinstance(choice, FunctionChoice) and choice.name not in names:
        raise bad_request(
            f"tool_choice names {choice.name!r}, which is not among tools", "tool_choice.name"
        )
    if isinstance(choice, AllowedTools):
        for i, allowed in enumerate(choice.tools):
            if allowed.get("type") != "function" or allowed.get("name") not in names:
                raise bad_request(
                    "allowed_tools may only name function tools given in tools",
                    f"tool_choice.tools[{i}]",
                )
    for i, item in enumerate(request.input if isinstance(request.input, list) else ()):
        _check_item(item, f"input[{i}]")


def _check_item(item: InputItem, where: str) -> None:
    if isinstance(item, ItemReference):
        raise bad_request(
            "item_reference is not supported; use previous_response_id", f"{where}.type"
        )
    if isinstance(item, MessageItem) and isinstance(item.content, list):
        for j, part in enumerate(item.content):
            at = f"{where}.content[{j}]"
            if isinstance(part, InputImage) and part.image_url is None:
                raise bad_request("input_image needs image_url (file ids are not supported)", at)
            if isinstance(part, InputFile) and part.file_data is None and part.file_url is None:
                raise bad_request("input_file needs file_data or file_url", at)
            if item.role == "assistant" and isinstance(part, InputImage | InputFile):
                raise bad_request("assistant messages carry text only", f"{at}.type")


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
