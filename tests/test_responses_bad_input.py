"""Malformed Responses requests get a 400 naming the field; the server keeps serving."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import GatewayProcess

M = "test/normal"
FN = {"type": "function", "name": "f", "parameters": {}}

# (body, the param the error must name, a fragment of the message)
CASES: list[tuple[object, str | None, str]] = [
    ([1], None, "JSON object"),
    ({"input": "Hi"}, "model", "model is required"),
    ({"model": M}, "input", "input is required"),
    ({"model": M, "input": 5}, "input", "int"),
    ({"model": M, "input": [{"role": "wizard", "content": "x"}]}, "input[0].role", "wizard"),
    ({"model": M, "input": [{"role": "user"}]}, "input[0].content", "required"),
    ({"model": M, "input": [{"type": "nonsense"}]}, "input[0].type", "nonsense"),
    (
        {"model": M, "input": [{"role": "user", "content": [{"type": "input_text"}]}]},
        "input[0].content[0].text",
        "required",
    ),
    (
        {"model": M, "input": [{"role": "user", "content": [{"type": "input_image"}]}]},
        "input[0].content[0]",
        "image_url",
    ),
    (
        {"model": M, "input": [{"type": "function_call_output", "output": "x"}]},
        "input[0].call_id",
        "required",
    ),
    (
        {"model": M, "input": [{"type": "function_call", "call_id": "c", "name": "f"}]},
        "input[0].arguments",
        "required",
    ),
    (
        {"model": M, "input": [{"type": "item_reference", "id": "x"}]},
        "input[0].type",
        "item_reference",
    ),
    ({"model": M, "input": "Hi", "temperature": 3}, "temperature", "<= 2"),
    ({"model": M, "input": "Hi", "top_p": -1}, "top_p", ">= 0"),
    ({"model": M, "input": "Hi", "max_output_tokens": 0}, "max_output_tokens", ">= 1"),
    ({"model": M, "input": "Hi", "store": "yes"}, "store", "bool"),
    ({"model": M, "input": "Hi", "truncation": "sometimes"}, "truncation", "sometimes"),
    ({"model": M, "input": "Hi", "metadata": {"k": 1}}, "metadata[...]", "int"),
    (
        {"model": M, "input": "Hi", "metadata": {f"k{i}": "v" for i in range(17)}},
        "metadata",
        "length",
    ),
    ({"model": M, "input": "Hi", "reasoning": {"effort": "huge"}}, "reasoning.effort", "huge"),
    ({"model": M, "input": "Hi", "text": {"format": {"type": "yaml"}}}, "text.format.type", "yaml"),
    (
        {"model": M, "input": "Hi", "text": {"format": {"type": "json_schema", "schema": {}}}},
        "text.format.name",
        "required",
    ),
    ({"model": M, "input": "Hi", "tools": [{"type": "web_search"}]}, "tools[0].type", "web_search"),
    ({"model": M, "input": "Hi", "tools": [{"type": "function"}]}, "tools[0].name", "required"),
    (
        {"model": M, "input": "Hi", "tools": [{**FN, "name": "bad name"}]},
        "tools[0].name",
        "must match",
    ),
    ({"model": M, "input": "Hi", "tool_choice": "sometimes"}, "tool_choice", "sometimes"),
    (
        {
            "model": M,
            "input": "Hi",
            "tools": [FN],
            "tool_choice": {"type": "function", "name": "g"},
        },
        "tool_choice.name",
        "not among tools",
    ),
    ({"model": M, "input": "Hi", "conversation": "conv_1"}, "conversation", "not supported"),
    ({"model": M, "input": "Hi", "background": True, "store": False}, "background", "store"),
    ({"model": "nobody/nothing", "input": "Hi"}, "model", "not a valid model"),
    ({"model": M, "input": []}, "input", "nothing to send"),
]


@pytest.mark.parametrize(("body", "param", "fragment"), CASES)
def test_bad_request(
    gateway: GatewayProcess, body: object, param: str | None, fragment: str
) -> None:
    response = httpx.post(f"{gateway.base}/api/v1/responses", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param
    assert fragment in error["message"]
    assert error["type"] == "invalid_request_error"


def test_unknown_previous_response_is_404(gateway: GatewayProcess) -> None:
    response = httpx.post(
        f"{gateway.base}/api/v1/responses",
        json={"model": M, "input": "Hi", "previous_response_id": "resp_nothing"},
    )
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "previous_response_not_found"
    assert error["param"] == "previous_response_id"
    assert "resp_nothing" in error["message"]


@pytest.mark.parametrize(
    ("query", "param"),
    [("limit=0", "limit"), ("limit=101", "limit"), ("order=up", "order"), ("after=nope", "after")],
)
def test_bad_input_items_query(gateway: GatewayProcess, query: str, param: str) -> None:
    created = httpx.post(f"{gateway.base}/v1/responses", json={"model": M, "input": "Hi"}).json()
    response = httpx.get(f"{gateway.base}/v1/responses/{created['id']}/input_items?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_unknown_response_routes_are_404(gateway: GatewayProcess) -> None:
    for method, path in [
        ("GET", "/v1/responses/resp_x"),
        ("DELETE", "/v1/responses/resp_x"),
        ("GET", "/v1/responses/resp_x/input_items"),
        ("POST", "/v1/responses/resp_x/cancel"),
    ]:
        response = httpx.request(method, f"{gateway.base}{path}")
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["type"] == "not_found_error"
    assert gateway.alive()
