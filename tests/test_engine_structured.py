"""Structured outputs on the embedded model: every answer parses and validates.

The schema table runs through the real model, batched across the engine's slots; the
suite stops on the first case whose answer does not parse or validate.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import httpx
import jsonschema
import pytest
from openai import OpenAI
from pydantic import BaseModel

from tests.conftest import LOCAL_MODEL, GatewayProcess
from tests.engine_cases import SCHEMAS

pytestmark = pytest.mark.engine

MAX_TOKENS = 400


def _answer(client: OpenAI, name: str, prompt: str, schema: dict[str, Any]) -> tuple[str, Any]:
    completion = client.chat.completions.create(
        model=LOCAL_MODEL,
        messages=[{"role": "user", "content": prompt}],
        max_tokens=MAX_TOKENS,
        seed=7,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": name, "schema": schema, "strict": True},
        },
    )
    choice = completion.choices[0]
    return choice.finish_reason, choice.message.content


def test_schema_table_parses_and_validates(engine_client: OpenAI) -> None:
    assert len(SCHEMAS) >= 30
    with ThreadPoolExecutor(4) as pool:
        futures = [
            (name, schema, pool.submit(_answer, engine_client, name, prompt, schema))
            for name, prompt, schema in SCHEMAS
        ]
        for name, schema, future in futures:
            finish, content = future.result()
            assert finish == "stop", (name, finish, content)
            jsonschema.validate(json.loads(content), schema)


class Step(BaseModel):
    explanation: str
    output: str


class MathAnswer(BaseModel):
    steps: list[Step]
    final_answer: str
    confidence: Literal["low", "medium", "high"]


def test_sdk_parse_with_pydantic(engine_client: OpenAI) -> None:
    """The SDK's parse(): a strict schema with $defs, enums and nested arrays."""
    for seed in (1, 2, 3):
        completion = engine_client.chat.completions.parse(
            model=LOCAL_MODEL,
            messages=[
                {"role": "system", "content": "You are a helpful math tutor."},
                {"role": "user", "content": "Solve 8x + 7 = -23."},
            ],
            response_format=MathAnswer,
            max_tokens=2 * MAX_TOKENS,
            seed=seed,
        )
        parsed = completion.choices[0].message.parsed
        assert isinstance(parsed, MathAnswer)
        assert completion.choices[0].finish_reason == "stop"


def test_json_object_streamed(engine_client: OpenAI) -> None:
    stream = engine_client.chat.completions.create(
        model=LOCAL_MODEL,
        messages=[{"role": "user", "content": "Describe a cat as JSON."}],
        response_format={"type": "json_object"},
        max_tokens=MAX_TOKENS,
        seed=3,
        stream=True,
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert isinstance(json.loads(text), dict)


@pytest.mark.parametrize(
    ("response_format", "param"),
    [
        (
            {
                "type": "json_schema",
                "json_schema": {
                    "name": "x",
                    "schema": {"type": "object", "properties": {"a": {"$ref": "#/$defs/nope"}}},
                },
            },
            "response_format.json_schema.schema",
        ),
        (
            {
                "type": "json_schema",
                "json_schema": {
                    "name": "x",
                    "schema": {"type": "string", "format": "no-such-format"},
                },
            },
            "response_format.json_schema.schema",
        ),
        (
            {
                "type": "json_schema",
                "json_schema": {
                    "name": "x",
                    "schema": {"type": "integer", "minimum": 5, "maximum": 1},
                },
            },
            "response_format.json_schema.schema",
        ),
    ],
)
def test_unenforceable_schema_is_a_400(
    engine_gateway: GatewayProcess, response_format: dict[str, Any], param: str
) -> None:
    response = httpx.post(
        f"{engine_gateway.base}/api/v1/chat/completions",
        json={
            "model": LOCAL_MODEL,
            "messages": [{"role": "user", "content": "Hi"}],
            "response_format": response_format,
        },
        timeout=60,
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param
    assert "cannot be enforced" in error["message"]
