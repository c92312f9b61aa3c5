"""The tests' TOML builder (tests/catalog.py) writes what it is given: every value reads
back as itself, and a model table loads as the config file's loader reads it."""

from __future__ import annotations

import datetime as dt
import tomllib

from tests.catalog import (
    catalog_of,
    endpoint,
    local_model_toml,
    mock_provider,
    model_toml,
    providers_toml,
    section,
)

AWKWARD = 'quote " backslash \\ newline \n tab \t bell \x07 del \x7f emoji \U0001f600 é {% x %}'


def test_values_read_back_as_themselves() -> None:
    fields = {
        "text": AWKWARD,
        "flag": False,
        "count": 3,
        "ratio": 1e-07,
        "day": dt.date(2025, 1, 31),
        "names": ["a", "b/c"],
        "inline": {"training": False, "days": 30},
        "table": {"acct/other": "3/1h", "plain": 1.0},
    }
    assert tomllib.loads(section("top", **fields)) == {"top": fields}
    assert tomllib.loads(local_model_toml("x/y", "/p", chat_template=AWKWARD)) == {
        "local_models": [{"id": "x/y", "path": "/p", "chat_template": AWKWARD}]
    }


def test_models_and_providers_load() -> None:
    text = providers_toml(mock=mock_provider("http://127.0.0.1:1/v1", read_timeout=2))
    assert tomllib.loads(text)["providers"]["mock"] == {
        "name": "Mock",
        "base_url": "http://127.0.0.1:1/v1",
        "api_key": "sk-mock-secret-never-shown",
        "read_timeout": 2,
    }
    model = catalog_of(
        model_toml(
            "unit/built",
            context_length=1024,
            released=dt.date(2025, 1, 31),
            default_params={"temperature": 0.5},
            pricing={"prompt": 1.0, "completion": 2.0},
            endpoints=[
                endpoint("a", "up-a", data_policy={"training": False}),
                endpoint("b", pricing={"prompt": 0.0, "completion": 0.0}, quantization="fp8"),
            ],
        )
    ).get("unit/built")
    assert model is not None and model.default_params == {"temperature": 0.5}
    first, second = model.endpoints
    assert (first.model, first.data_policy, first.pricing) == (
        "up-a",
        {"training": False},
        model.pricing,
    )
    assert (second.model, second.quantization, second.pricing.is_free) == (
        "unit/built",
        "fp8",
        True,
    )
