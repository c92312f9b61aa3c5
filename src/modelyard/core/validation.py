"""msgspec's validation errors as a field path and a problem, for every room that
validates with it (request bodies, the config file, the catalog)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import msgspec

_MISSING = re.compile(r"Object missing required field `([^`]+)`")
_UNKNOWN = re.compile(r"Object contains unknown field `([^`]+)`")


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """Where (`a.b[0].c`; "" for the root) and what: a missing or unknown key joins the
    path, so the path always names the key at fault."""

    path: str
    kind: Literal["missing", "unknown", "invalid"]
    message: str


def field_problem(exc: msgspec.ValidationError, prefix: str = "") -> FieldProblem:
    """Read msgspec's "<message> - at `$.a.b[0]`"; `prefix` is where the value validated
    sits in a larger document."""
    text = str(exc)
    message, _, where = text.rpartition(" - at ")
    if not message:
        message, where = text, "$"
    path = where.strip("`").removeprefix("$").removeprefix(".")
    if prefix:
        path = f"{prefix}.{path}" if path and not path.startswith("[") else prefix + path
    for pattern, kind in ((_MISSING, "missing"), (_UNKNOWN, "unknown")):
        found = pattern.match(message)
        if found:
            key = found.group(1)
            return FieldProblem(f"{path}.{key}" if path else key, kind, message)  # type: ignore[arg-type]
    return FieldProblem(path, "invalid", message)
