"""The Responses stream on the wire: framing, ordering, stable item ids, joined deltas."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conftest import LOCAL_MODEL, GatewayProcess

TOOL = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}


def raw_stream(gateway: GatewayProcess, body: dict[str, Any]) -> tuple[bytes, list[dict[str, Any]]]:
    with httpx.stream(
        "POST", f"{gateway.base}/v1/responses", json={**body, "stream": True}, timeout=60
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = response.read()
    assert b"\r" not in raw  # LF framing only
    assert raw.endswith(b"\n\ndata: [DONE]\n\n")
    events = []
    for frame in raw.decode().split("\n\n"):
        if not frame or frame.startswith(":") or frame == "data: [DONE]":
            continue
        lines = frame.split("\n")
        assert len(lines) == 2, frame  # `event:` then one-line JSON `data:`
        assert lines[0].startswith("event: ") and lines[1].startswith("data: ")
        payload = json.loads(lines[1][6:])
        assert lines[0][7:] == payload["type"]  # event: equals type
        events.append(payload)
    return raw, events


def check_lifecycle(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The rules every Responses stream keeps; returns the terminal response."""
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[0]["type"] == "response.created" and events[1]["type"] == "response.in_progress"
    assert (
        events[0]["response"]["status"] == "in_progress" and events[0]["response"]["output"] == []
    )
    terminal = events[-1]
    assert terminal["type"] in {"response.completed", "response.incomplete", "response.failed"}
    assert all(e["type"] not in {"response.completed", "response.incomplete"} for e in events[:-1])
    ids = {e["response"]["id"] for e in events if "response" in e}
    assert len(ids) == 1
    final = terminal["response"]
    # Each item: added (in progress, empty) ... done, with one stable id and its index.
    added = {
        e["output_index"]: e["item"] for e in events if e["type"] == "response.output_item.added"
    }
    done = {
        e["output_index"]: e["item"] for e in events if e["type"] == "response.output_item.done"
    }
    assert sorted(added) == sorted(done) == list(range(len(final["output"])))
    for index, item in added.items():
        assert item["status"] == "in_progress"
        assert done[index]["id"] == item["id"] == final["output"][index]["id"]
        assert done[index] == final["output"][index]
        position = [
            i for i, e in enumerate(events) if e.get("output_index") == index and "item_id" in e
        ]
        assert all(events[i]["item_id"] == item["id"] for i in position)
        first_added = next(
            i
            for i, e in enumerate(events)
            if e["type"] == "response.output_item.added" and e["output_index"] == index
        )
        last_done = next(
            i
            for i, e in enumerate(events)
            if e["type"] == "response.output_item.done" and e["output_index"] == index
        )
        assert all(first_added < i < last_done for i in position)
    return final


def test_text_stream_on_the_wire(gateway: GatewayProcess) -> None:
    _raw, events = raw_stream(gateway, {"model": "test/normal", "input": "Hi"})
    final = check_lifecycle(events)
    types = [e["type"] for e in events]
    assert types[:5] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
    ]
    assert types[-5:] == [
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    added = events[2]["item"]
    assert added["type"] == "message" and added["content"] == [] and added["role"] == "assistant"
    assert events[3]["part"] == {
        "type": "output_text",
        "text": "",
        "annotations": [],
        "logprobs": [],
    }
    deltas = [e for e in events if e["type"] == "response.output_text.delta"]
    assert all(d["logprobs"] == [] and d["content_index"] == 0 for d in deltas)
    joined = "".join(d["delta"] for d in deltas)
    text_done = next(e for e in events if e["type"] == "response.output_text.done")
    part_done = next(e for e in events if e["type"] == "response.content_part.done")
    assert joined == text_done["text"] == part_done["part"]["text"] == "Hello from the mock."
    assert final["output"][0]["content"][0]["text"] == joined
    assert final["status"] == "completed" and final["usage"]["total_tokens"] == 1500


def test_tool_call_stream_on_the_wire(gateway: GatewayProcess) -> None:
    _raw, events = raw_stream(gateway, {"model": "test/tools", "input": "Hi", "tools": [TOOL]})
    final = check_lifecycle(events)
    added = next(e for e in events if e["type"] == "response.output_item.added")["item"]
    assert added["type"] == "function_call" and added["arguments"] == ""
    assert added["name"] == "get_weather" and added["call_id"] == "call_1"
    deltas = [e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta"]
    done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert "".join(deltas) == done["arguments"] == final["output"][0]["arguments"]
    assert done["name"] == "get_weather"
    assert json.loads(done["arguments"]) == {"city": "Paris"}


@pytest.mark.engine
def test_local_stream_on_the_wire(gateway: GatewayProcess) -> None:
    _raw, events = raw_stream(
        gateway,
        {
            "model": LOCAL_MODEL,
            "input": "Count to five.",
            "max_output_tokens": 20,
            "temperature": 0,
        },
    )
    final = check_lifecycle(events)
    joined = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert joined and joined == final["output"][0]["content"][0]["text"]


@pytest.mark.parametrize("prefix", ["/api/v1", "/v1"])
def test_both_prefixes_serve_responses(gateway: GatewayProcess, prefix: str) -> None:
    response = httpx.post(
        f"{gateway.base}{prefix}/responses", json={"model": "test/normal", "input": "Hi"}
    )
    assert response.status_code == 200 and response.json()["object"] == "response"
    assert response.headers["x-generation-id"].startswith("gen-")
