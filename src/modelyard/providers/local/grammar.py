"""Grammars that force the embedded model's output into the shape a request asks for.

Small local models do not follow formats by themselves, so `response_format` and tool
calls are enforced while sampling. The engine is built with llguidance, whose Lark dialect
embeds JSON Schemas (`%json {...}`); we write that dialect and check every grammar with
llguidance's own compiler first, because the engine silently samples free text when a
grammar does not compile. A grammar that does not compile is the client's 400.

Tool calls are written the way SmolLM2 was tuned to write them:
`<tool_call>[{"name": "f", "arguments": {...}}]</tool_call>`, the arguments constrained
by each function's parameters schema.
"""

from __future__ import annotations

from typing import Any

import orjson
from llguidance import LLMatcher

from modelyard.core.errors import BadRequest

CALL_OPEN = "<tool_call>["
CALL_CLOSE = "]</tool_call>"
CALL_SEPARATOR = ", "
# Parallel calls in one turn; a small model left unbounded may repeat a call forever.
MAX_PARALLEL_CALLS = 4
# Compact JSON, no free whitespace: fewer tokens, and nothing for a small model to loop on.
_JSON_STYLE = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}
# The longest string the model may write where the schema sets no bound (see `tightened`).
MAX_FREE_STRING = 64
MAX_FREE_ITEMS = 8
ANY_OBJECT: dict[str, Any] = {"type": "object"}
EMPTY_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}


# Keywords whose value is one subschema, or a list or a map of them.
_ONE = ("items", "not", "if", "then", "else", "contains", "additionalItems")
_LIST = ("anyOf", "oneOf", "prefixItems")
_MAP = ("properties", "$defs", "definitions", "patternProperties", "dependentSchemas")


def tightened(schema: Any) -> Any:
    """`schema` narrowed where a small model would otherwise run away.

    - Objects that list `properties` are closed to other keys: JSON Schema allows any
      undeclared key unless told otherwise, and a small model given that freedom invents
      keys until it runs out of tokens (OpenAI's strict mode demands closed objects anyway).
      Branches of `allOf` stay open: closing each would make their intersection empty.
    - Strings with no `maxLength` (and no `pattern`, `enum` or `const`) get one of
      MAX_FREE_STRING characters, and arrays with no `maxItems` one of MAX_FREE_ITEMS: a
      135M model can write digits, or add list items, until max_tokens cuts it off.

    Every output stays valid against the client's schema: it is a subset of what it allows.
    """
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    for key in _ONE:
        if isinstance(out.get(key), dict):
            out[key] = tightened(out[key])
    for key in _LIST:
        if isinstance(out.get(key), list):
            out[key] = [tightened(s) for s in out[key]]
    for key in _MAP:
        if isinstance(out.get(key), dict):
            out[key] = {name: tightened(s) for name, s in out[key].items()}
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = tightened(out["additionalProperties"])
    if (
        "properties" in out
        and "additionalProperties" not in out
        and "patternProperties" not in out
        and "allOf" not in out
        and "unevaluatedProperties" not in out
    ):
        out["additionalProperties"] = False
    if _is_free_string(out):
        out["maxLength"] = max(MAX_FREE_STRING, int(out.get("minLength") or 0))
    if _is_free_array(out):
        out["maxItems"] = max(MAX_FREE_ITEMS, int(out.get("minItems") or 0))
    return out


def _is_free_array(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    is_array = kind == "array" or (isinstance(kind, list) and "array" in kind)
    return is_array and "maxItems" not in schema and "prefixItems" not in schema


def _is_free_string(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    is_string = kind == "string" or (isinstance(kind, list) and "string" in kind)
    return is_string and not any(k in schema for k in ("maxLength", "pattern", "enum", "const"))


def _json(schema: dict[str, Any] | bool) -> str:
    """A `%json` item with our output style (the client's own x-guidance wins)."""
    if schema is True:
        schema = {}
    if not isinstance(schema, dict):
        raise BadRequest("Invalid request: a JSON schema must be an object")
    styled = tightened(schema)
    styled["x-guidance"] = {**_JSON_STYLE, **(schema.get("x-guidance") or {})}
    return "%json " + orjson.dumps(styled).decode()


def _literal(text: str) -> str:
    return orjson.dumps(text).decode()


def check(grammar: str, param: str) -> str:
    """Compile `grammar` with llguidance; a failure is a 400 naming `param`."""
    error = LLMatcher.validate_grammar(grammar)
    if error:
        first = error.strip().splitlines()[0] if error.strip() else "invalid grammar"
        first = first.split(": ", 1)[1] if first.startswith("at ") and ": " in first else first
        raise BadRequest(
            f"Invalid request: {param} cannot be enforced: {first}",
            param=param,
            code="invalid_json_schema",
        )
    return grammar


def json_grammar(schema: dict[str, Any] | bool, param: str) -> str:
    """A grammar for one JSON value valid against `schema`."""
    return check(f"%llguidance {{}}\nstart: {_json(schema)}\n", param)


def tool_grammar(
    functions: list[tuple[int, dict[str, Any]]],
    *,
    required: bool,
    parallel: bool,
    text_schema: dict[str, Any] | None = None,
) -> str:
    """Calls to `functions` (`required`), or free text or calls (`auto`); under `auto`
    with a response format, the text alternative is that JSON instead. `functions` pairs
    each function with its index in the request's `tools`, to name it in errors."""
    lines = ["%llguidance {}"]
    start = ["calls"]
    if not required:
        if text_schema is not None:
            lines.append(f"text: {_json(text_schema)}")
        else:
            # Anything that does not open a call: the model chose to answer in words.
            lines.append(r"text: /[^<][\s\S]*/")
        start.insert(0, "text")
    lines.insert(1, "start: " + " | ".join(start))
    more = f"({_literal(CALL_SEPARATOR)} call){{0,{MAX_PARALLEL_CALLS - 1}}} " if parallel else ""
    lines.append(f"calls: {_literal(CALL_OPEN)} call {more}{_literal(CALL_CLOSE)}")
    alternatives = []
    for i, (_, function) in enumerate(functions):
        name = function["name"]
        head = _literal('{"name": ' + orjson.dumps(name).decode() + ', "arguments": ')
        parameters = function.get("parameters") or EMPTY_PARAMETERS
        lines.append(f"call_{i}: {head} args_{i} {_literal('}')}")
        lines.append(f"args_{i}: {_json(parameters)}")
        alternatives.append(f"call_{i}")
    lines.append("call: " + " | ".join(alternatives))
    grammar = "\n".join(lines) + "\n"
    try:
        return check(grammar, "tools")
    except BadRequest:
        # Name the function whose schema failed, not just the list.
        for index, function in functions:
            parameters = function.get("parameters") or EMPTY_PARAMETERS
            json_grammar(parameters, f"tools[{index}].function.parameters")
        raise
