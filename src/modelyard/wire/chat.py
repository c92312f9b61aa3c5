"""The Chat Completions request: its shape, validated with msgspec (fast, and its errors
name the field), plus the cross-field rules a schema cannot say.

Validation only checks; the client's original dict is what travels on, so fields we do not
model (provider-specific extras) still reach the upstream, as OpenRouter forwards them.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from modelyard.core.errors import BadRequest
from modelyard.core.request import (
    InferenceRequest,
    ProviderPreferences,
    middle_out_choice,
    requested_models,
)
from modelyard.core.validation import field_problem

Float02 = Annotated[float, Meta(ge=0, le=2)]
PosInt = Annotated[int, Meta(ge=1)]
Penalty = Annotated[float, Meta(ge=-2, le=2)]


class TextPart(Struct, tag_field="type", tag="text"):
    text: str
    cache_control: dict[str, Any] | None = None


class ImageURL(Struct):
    url: Annotated[str, Meta(min_length=1)]
    detail: Literal["auto", "low", "high", "original"] | None = None


class ImagePart(Struct, tag_field="type", tag="image_url"):
    image_url: ImageURL


class InputAudio(Struct):
    data: str
    format: str


class AudioPart(Struct, tag_field="type", tag="input_audio"):
    input_audio: InputAudio


class FileBody(Struct):
    filename: str | None = None
    file_data: str | None = None
    file_id: str | None = None


class FilePart(Struct, tag_field="type", tag="file"):
    file: FileBody


class VideoURL(Struct):
    url: str


class VideoPart(Struct, tag_field="type", tag="video_url"):
    video_url: VideoURL


class LegacyVideoPart(Struct, tag_field="type", tag="input_video"):
    video_url: VideoURL


class RefusalPart(Struct, tag_field="type", tag="refusal"):
    refusal: str


UserPart = TextPart | ImagePart | AudioPart | FilePart | VideoPart | LegacyVideoPart
AssistantPart = TextPart | RefusalPart


class FunctionCall(Struct):
    name: str
    arguments: str


class ToolCall(Struct):
    id: str
    function: FunctionCall
    type: Literal["function"] = "function"


class SystemMessage(Struct, tag_field="role", tag="system"):
    content: str | list[TextPart]
    name: str | None = None


class DeveloperMessage(Struct, tag_field="role", tag="developer"):
    content: str | list[TextPart]
    name: str | None = None


class UserMessage(Struct, tag_field="role", tag="user"):
    content: str | list[UserPart]
    name: str | None = None


class AssistantMessage(Struct, tag_field="role", tag="assistant"):
    content: str | list[AssistantPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    refusal: str | None = None
    reasoning: str | None = None
    reasoning_content: str | None = None


class ToolMessage(Struct, tag_field="role", tag="tool"):
    content: str | list[TextPart]
    tool_call_id: str


Message = SystemMessage | DeveloperMessage | UserMessage | AssistantMessage | ToolMessage

FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


class FunctionDef(Struct):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(Struct):
    type: str
    function: FunctionDef | None = None


class NamedFunction(Struct):
    name: str


class NamedToolChoice(Struct):
    type: str
    function: NamedFunction | None = None


class JSONSchemaFormat(Struct):
    name: Annotated[str, Meta(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]
    schema: dict[str, Any] | None = None
    description: str | None = None
    strict: bool | None = None


class TextFormat(Struct, tag_field="type", tag="text"):
    pass


class JSONObjectFormat(Struct, tag_field="type", tag="json_object"):
    pass


class JSONSchemaResponseFormat(Struct, tag_field="type", tag="json_schema"):
    json_schema: JSONSchemaFormat


class GrammarFormat(Struct, tag_field="type", tag="grammar"):
    grammar: str


class PythonFormat(Struct, tag_field="type", tag="python"):
    pass


ResponseFormat = (
    TextFormat | JSONObjectFormat | JSONSchemaResponseFormat | GrammarFormat | PythonFormat
)

Effort = Literal["xhigh", "max", "high", "medium", "low", "minimal", "none"]


class Reasoning(Struct):
    effort: Effort | None = None
    max_tokens: Annotated[int, Meta(ge=0)] | None = None
    exclude: bool | None = None
    enabled: bool | None = None
    summary: str | None = None


class ChatRequest(Struct):
    """The fields we check. Absent optional fields stay None: never defaulted upstream."""

    messages: Annotated[list[Message], Meta(min_length=1)]
    model: Annotated[str, Meta(min_length=1)] | None = None
    models: list[Annotated[str, Meta(min_length=1)]] | None = None
    stream: bool = False
    max_tokens: PosInt | None = None
    max_completion_tokens: PosInt | None = None
    temperature: Float02 | None = None
    top_p: Annotated[float, Meta(ge=0, le=1)] | None = None
    top_k: Annotated[int, Meta(ge=0)] | None = None
    min_p: Annotated[float, Meta(ge=0, le=1)] | None = None
    top_a: Annotated[float, Meta(ge=0, le=1)] | None = None
    frequency_penalty: Penalty | None = None
    presence_penalty: Penalty | None = None
    repetition_penalty: Annotated[float, Meta(gt=0, le=2)] | None = None
    seed: int | None = None
    stop: str | Annotated[list[str], Meta(max_length=4)] | None = None
    logit_bias: dict[str, Annotated[float, Meta(ge=-100, le=100)]] | None = None
    logprobs: bool | None = None
    top_logprobs: Annotated[int, Meta(ge=0, le=20)] | None = None
    n: Annotated[int, Meta(ge=1, le=1)] | None = None
    response_format: ResponseFormat | None = None
    tools: list[Tool] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    reasoning: Reasoning | None = None
    reasoning_effort: Effort | None = None
    include_reasoning: bool | None = None
    verbosity: Literal["low", "medium", "high", "xhigh", "max"] | None = None
    provider: ProviderPreferences | None = None
    user: str | None = None
    session_id: Annotated[str, Meta(max_length=256)] | None = None
    metadata: dict[str, str] | None = None
    transforms: list[str] | None = None
    plugins: list[dict[str, Any]] | None = None
    modalities: list[str] | None = None
    stream_options: dict[str, Any] | None = None


def validation_error(exc: msgspec.ValidationError) -> BadRequest:
    """A msgspec error ("... - at `$.messages[0].role`") as a 400 naming the field."""
    problem = field_problem(exc)
    if problem.kind == "missing":
        return BadRequest(f"Invalid request: {problem.path} is required", param=problem.path)
    param = problem.path or None
    return BadRequest(f"Invalid request: {problem.path}: {problem.message}", param=param)


def parse_chat_request(raw: Any) -> InferenceRequest:
    """Validate a decoded JSON body into the typed request; raise BadRequest naming the
    first problem."""
    if not isinstance(raw, dict):
        raise BadRequest("Invalid request: the body must be a JSON object")
    if "messages" not in raw and isinstance(raw.get("prompt"), str):
        raw["messages"] = [{"role": "user", "content": raw.pop("prompt")}]
    try:
        request = msgspec.convert(raw, ChatRequest)
    except msgspec.ValidationError as exc:
        raise validation_error(exc) from None
    _check_cross_fields(request)
    return inference_request(request, raw)


def inference_request(request: ChatRequest, raw: dict[str, Any]) -> InferenceRequest:
    return InferenceRequest(
        body=raw,
        models=requested_models(request.model, request.models),
        stream=request.stream,
        model_given=request.model is not None,
        provider=request.provider,
        session_id=request.session_id,
        middle_out=middle_out_choice(request.transforms, request.plugins),
        reasoning=raw.get("reasoning") if request.reasoning is not None else None,
        reasoning_effort=request.reasoning_effort,
        include_reasoning=request.include_reasoning,
        modalities=request.modalities,
        tools=bool(request.tools),
    )


def _check_cross_fields(request: ChatRequest) -> None:
    if request.model is None and not request.models:
        raise BadRequest("Invalid request: model is required", param="model")
    if request.top_logprobs is not None and request.top_logprobs > 0 and not request.logprobs:
        raise BadRequest(
            "Invalid request: top_logprobs requires logprobs to be true", param="top_logprobs"
        )
    if (
        request.reasoning is not None
        and request.reasoning.effort is not None
        and request.reasoning_effort is not None
        and request.reasoning.effort != request.reasoning_effort
    ):
        raise BadRequest(
            "Invalid request: reasoning_effort conflicts with reasoning.effort",
            param="reasoning_effort",
        )
    if request.logit_bias:
        for key in request.logit_bias:
            if not key.lstrip("-").isdigit():
                raise BadRequest(
                    f"Invalid request: logit_bias keys must be token ids, got {key!r}",
                    param="logit_bias",
                )
    names: set[str] = set()
    for i, tool in enumerate(request.tools or ()):
        if tool.type == "function":
            if tool.function is None:
                raise BadRequest(
                    f"Invalid request: tools[{i}].function is required",
                    param=f"tools[{i}].function",
                )
            if not FUNCTION_NAME.match(tool.function.name):
                raise BadRequest(
                    f"Invalid request: tools[{i}].function.name must match ^[a-zA-Z0-9_-]{{1,64}}$",
                    param=f"tools[{i}].function.name",
                )
            names.add(tool.function.name)
        elif not tool.type.startswith("openrouter:") and tool.type not in {
            "web_search",
            "web_search_preview",
        }:
            raise BadRequest(
                f"Invalid request: tools[{i}].type {tool.type!r} is not supported",
                param=f"tools[{i}].type",
            )
    choice = request.tool_choice
    if isinstance(choice, NamedToolChoice) and choice.type == "function":
        if choice.function is None:
            raise BadRequest(
                "Invalid request: tool_choice.function is required", param="tool_choice.function"
            )
        if choice.function.name not in names:
            raise BadRequest(
                f"Invalid request: tool_choice names {choice.function.name!r}, "
                "which is not among tools",
                param="tool_choice.function.name",
            )
    if choice is not None and choice != "none" and not request.tools:
        raise BadRequest(
            "Invalid request: tool_choice is set but no tools are given", param="tool_choice"
        )
