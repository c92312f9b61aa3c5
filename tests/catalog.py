"""Catalog and config TOML for tests, built rather than pasted: one writer for the
`[[models]]`, `[[local_models]]` and `[providers.*]` tables every gateway test configures,
and the same tables parsed into a `Catalog` for the in-process unit tests (through the
config file's own `ModelTable`, so a unit test's catalog is one a gateway would load)."""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from modelyard.catalog.catalog import Catalog, ModelTable, load_catalog

# The key every scripted upstream is configured with; tests check it never leaks.
MOCK_KEY = "sk-mock-secret-never-shown"
# The parameters the shared gateway's mock models declare.
MOCK_PARAMS = ["max_tokens", "temperature", "tools", "tool_choice"]
REASONING_PARAMS = ["max_tokens", "temperature", "reasoning", "include_reasoning"]


def toml_value(value: Any) -> str:
    """One TOML value: strings as basic strings, dicts as inline tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        # JSON's escapes are TOML's, once non-ASCII stays literal (no surrogate pairs).
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, Iterable):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def key(name: str) -> str:
    """A bare key when TOML allows one, else a quoted one (`"acct/other"`)."""
    bare = name and all(c.isascii() and (c.isalnum() or c in "-_") for c in name)
    return name if bare else toml_value(name)


def section(header: str, **fields: Any) -> str:
    """`[header]` and its fields; a dict field becomes its own `[header.field]` table."""
    return _table(f"[{header}]", header, fields)


def _table(opening: str, path: str, fields: Mapping[str, Any]) -> str:
    lines = [opening]
    tables = []
    for name, value in fields.items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            tables.append(_table(f"[{path}.{key(name)}]", f"{path}.{key(name)}", value))
        else:
            lines.append(f"{key(name)} = {toml_value(value)}")
    return "\n".join(lines) + "\n" + "".join(tables)


def endpoint(provider: str, model: str | None = None, **fields: Any) -> dict[str, Any]:
    """One `[[models.endpoints]]` table (`pricing` a dict, `data_policy` a dict)."""
    return {"provider": provider, "model": model, **fields}


def model_toml(
    id: str,
    endpoints: Iterable[Mapping[str, Any]] = (),
    pricing: Mapping[str, float] | None = None,
    **fields: Any,
) -> str:
    """One `[[models]]` table: scalar and list fields as given, `[models.pricing]`, then each
    endpoint (see `endpoint`) with its own pricing table when it has one. Inline dicts
    (`default_params`, an endpoint's `data_policy`) stay inline."""
    lines = ["[[models]]", f"id = {toml_value(id)}"]
    lines += [f"{key(k)} = {toml_value(v)}" for k, v in fields.items() if v is not None]
    if pricing is not None:
        lines += ["[models.pricing]", *(f"{key(k)} = {toml_value(v)}" for k, v in pricing.items())]
    for spec in endpoints:
        lines.append("[[models.endpoints]]")
        own_pricing = spec.get("pricing")
        lines += [
            f"{key(k)} = {toml_value(v)}"
            for k, v in spec.items()
            if k != "pricing" and v is not None
        ]
        if own_pricing is not None:
            lines.append("[models.endpoints.pricing]")
            lines += [f"{key(k)} = {toml_value(v)}" for k, v in own_pricing.items()]
    return "\n".join(lines) + "\n\n"


def local_model_toml(id: str, path: str, **fields: Any) -> str:
    """One `[[local_models]]` table: a GGUF served by the embedded engine."""
    lines = ["[[local_models]]", f"id = {toml_value(id)}", f"path = {toml_value(path)}"]
    lines += [f"{key(k)} = {toml_value(v)}" for k, v in fields.items() if v is not None]
    return "\n".join(lines) + "\n\n"


def provider(base_url: str, name: str | None = None, **fields: Any) -> dict[str, Any]:
    """One provider's settings, for `providers_toml`."""
    return {"name": name, "base_url": base_url, **fields}


def mock_provider(base_url: str, name: str = "Mock", **fields: Any) -> dict[str, Any]:
    """A scripted upstream (tests/upstream_mock.py) as a provider, with the mock key."""
    return provider(base_url, name, api_key=MOCK_KEY, **fields)


def providers_toml(**providers: Mapping[str, Any]) -> str:
    """`[providers.<slug>]` tables, one a keyword: `providers_toml(mock=mock_provider(url))`."""
    return "\n".join(section(f"providers.{key(slug)}", **spec) for slug, spec in providers.items())


def mock_models_toml() -> str:
    """The shared gateway's test models: each upstream id names the mock's behaviour."""
    out = []
    for name in [
        "normal",
        "slow",
        "error500",
        "error429",
        "error400",
        "badjson",
        "cut",
        "hang",
        "stall",
        "slowfail",
        "tools",
        "long",
        "json",
        "agent",
    ]:
        out.append(
            model_toml(
                f"test/{name}",
                name=f"Test {name}",
                context_length=4096,
                supported_parameters=MOCK_PARAMS,
                pricing={"prompt": 1.0, "completion": 2.0, "input_cache_read": 0.5},
                endpoints=[endpoint("mock", name)],
            )
        )
    for name, upstream_model in [("priced", "normal"), ("reasoning", "reasoning")]:
        # Every price dimension set apart, so cost tests see which tokens got which price.
        out.append(
            model_toml(
                f"test/{name}",
                name=f"Test {name}",
                context_length=4096,
                supported_parameters=REASONING_PARAMS,
                pricing={
                    "prompt": 1.0,
                    "completion": 2.0,
                    "input_cache_read": 0.1,
                    "input_cache_write": 1.25,
                    "internal_reasoning": 3.0,
                },
                endpoints=[endpoint("mock", upstream_model)],
            )
        )
    out.append(
        model_toml(
            "test/fallback",
            context_length=4096,
            pricing={"prompt": 1.0, "completion": 2.0},
            endpoints=[endpoint("mock", "error500"), endpoint("mock2", "normal")],
        )
    )
    return "".join(out)


def model_tables(*models: str) -> list[ModelTable]:
    """`model_toml` tables as the config file's loader reads them."""
    parsed = tomllib.loads("".join(models)).get("models", [])
    return msgspec.convert(parsed, list[ModelTable])


def catalog_of(*models: str) -> Catalog:
    """The built-in catalog plus these `model_toml` tables, as a gateway would load it."""
    return load_catalog(model_tables(*models))
