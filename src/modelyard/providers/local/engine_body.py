"""The client's Chat Completions body as the embedded engine should receive it.

Sampling fields pass through (llama.cpp's server reads OpenAI's names). Output formats and
tools become a grammar the gateway writes and checks itself (grammar.py), the tools and
earlier calls go into the prompt (tool_prompt.py), and the output is read back into
tool-call events (tool_calls.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelyard.core.errors import BadRequest
from modelyard.providers.local import grammar
from modelyard.providers.local.tool_calls import ToolCallReader
from modelyard.providers.local.tool_prompt import render_messages, tools_instruction

# Fields the engine reads as they are; everything else (gateway extras) is dropped.
PASSTHROUGH = frozenset(
    {
        "max_tokens",
        "temperature",
        "top_p",
        "top_k",
        "min_p",
        "stop",
        "seed",
        "frequency_penalty",
        "presence_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
    }
)


# What the engine honours, as its catalog entries list it: the fields above, the two it
# renames, and what the gateway enforces with its own grammars, whatever the chat template.
SUPPORTED_PARAMETERS = (
    *sorted(PASSTHROUGH),
    "max_completion_tokens",
    "repetition_penalty",
    "response_format",
    "structured_outputs",
    "tools",
    "tool_choice",
)
PENALTIES = frozenset({"frequency_penalty", "presence_penalty", "repetition_penalty"})
DRY_MULTIPLIER = 0.8


@dataclass(slots=True)
class EngineRequest:
    body: dict[str, Any]
    # Reads tool calls back out of the text; None when the request offers no tools.
    reader: ToolCallReader | None = None
    # The model thinks, but the client asked not to see it (still counted).
    hide_reasoning: bool = False


def _response_format_grammar(response_format: Any) -> str | None:
    if not isinstance(response_format, dict):
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        return grammar.json_grammar(grammar.ANY_OBJECT, "response_format")
    if kind == "json_schema":
        spec = response_format.get("json_schema") or {}
        schema = spec.get("schema")
        return grammar.json_grammar(
            grammar.ANY_OBJECT if schema is None else schema, "response_format.json_schema.schema"
        )
    if kind == "grammar":
        text = str(response_format.get("grammar") or "")
        if text.lstrip().startswith("%llguidance"):
            return grammar.check(text, "response_format.grammar")
        return text  # GBNF: the engine answers 400 itself when it does not parse
    return None


def _text_schema(response_format: Any) -> dict[str, Any] | None:
    if not isinstance(response_format, dict):
        return None
    if response_format.get("type") == "json_object":
        return grammar.ANY_OBJECT
    if response_format.get("type") == "json_schema":
        return (response_format.get("json_schema") or {}).get("schema") or grammar.ANY_OBJECT
    return None


def _functions(body: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """Function tools with their index in `tools` (other tool types are not for the model)."""
    return [
        (i, tool["function"])
        for i, tool in enumerate(body.get("tools") or ())
        if isinstance(tool, dict)
        and tool.get("type") == "function"
        and isinstance(tool.get("function"), dict)
    ]


def engine_request(body: dict[str, Any]) -> EngineRequest:
    """Map a validated chat body; a format or tool schema that cannot be enforced is a 400."""
    out = {k: v for k, v in body.items() if k in PASSTHROUGH}
    if "repetition_penalty" in body:
        out["repeat_penalty"] = body["repetition_penalty"]  # llama.cpp's name for it
    if "max_completion_tokens" in body:
        out["max_tokens"] = body["max_completion_tokens"]
    if "seed" in body:
        # Reusing another request's cached prefix changes how the prompt is batched, and
        # with it the floating-point path and the sampled text: a seeded request is
        # computed from scratch so that the same seed always gives the same bytes.
        out["cache_prompt"] = False
    if out.get("top_logprobs") and not out.get("logprobs"):
        out["logprobs"] = True
    response_format = body.get("response_format")
    functions = _functions(body)
    choice = body.get("tool_choice", "auto")
    instruction = None
    reader = None
    if functions and choice != "none":
        forced = None
        if isinstance(choice, dict):
            forced = (choice.get("function") or {}).get("name")
            functions = [(i, f) for i, f in functions if f.get("name") == forced]
            if not functions:
                raise BadRequest(
                    f"Invalid request: tool_choice names {forced!r}, which is not among tools",
                    param="tool_choice.function.name",
                )
        required = forced is not None or choice == "required"
        out["grammar"] = grammar.tool_grammar(
            functions,
            required=required,
            parallel=body.get("parallel_tool_calls") is not False,
            text_schema=_text_schema(response_format),
        )
        instruction = tools_instruction([f for _, f in functions], forced, required)
        reader = ToolCallReader()
    elif (text := _response_format_grammar(response_format)) is not None:
        out["grammar"] = text
    if "grammar" in out and not PENALTIES & body.keys():
        # A small model inside a JSON string or number can repeat itself until max_tokens
        # ("1111...", the same emoji); DRY penalizes repeated sequences, and quotes, colons
        # and newlines break its matches, so the grammar's own repeated keys are spared.
        out["dry_multiplier"] = DRY_MULTIPLIER
    if (effort := body.get("reasoning_effort")) is not None:
        # Templates with a thinking mode (Qwen3 and the like) read `enable_thinking`; the
        # engine returns the thinking as `reasoning_content`.
        out["chat_template_kwargs"] = {"enable_thinking": effort != "none"}
    out["messages"] = render_messages(list(body.get("messages") or ()), instruction)
    return EngineRequest(out, reader, hide_reasoning=body.get("include_reasoning") is False)
