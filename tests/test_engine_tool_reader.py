"""The tool-call reader on text split at every possible place (no model needed)."""

from __future__ import annotations

import json

import pytest

from modelyard.core.events import TextDelta, ToolCallDelta
from modelyard.providers.local.tool_calls import ToolCallReader

CALLS = (
    '<tool_call>[{"name": "a", "arguments": {"x": "}]</tool_call>\\"{", "n": [1, {"y": 2}]}}, '
    '{"name": "b_2", "arguments": {}}]</tool_call>'
)


def _read(pieces: list[str]) -> tuple[str, dict[int, dict[str, str]], int]:
    reader = ToolCallReader()
    text = ""
    calls: dict[int, dict[str, str]] = {}
    for piece in pieces:
        for event in reader.feed(piece):
            if isinstance(event, TextDelta):
                text += event.text
            elif isinstance(event, ToolCallDelta):
                if event.index not in calls:
                    assert event.id and event.id.startswith("call_") and event.name
                    calls[event.index] = {"name": event.name, "arguments": ""}
                else:
                    assert event.id is None and event.name is None
                calls[event.index]["arguments"] += event.arguments
    for event in reader.finish():
        assert isinstance(event, TextDelta)
        text += event.text
    return text, calls, reader.calls


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
def test_calls_survive_any_split(size: int) -> None:
    pieces = [CALLS[i : i + size] for i in range(0, len(CALLS), size)]
    text, calls, count = _read(pieces)
    assert text == "" and count == 2
    assert calls[0]["name"] == "a" and calls[1]["name"] == "b_2"
    assert json.loads(calls[0]["arguments"]) == {"x": '}]</tool_call>"{', "n": [1, {"y": 2}]}
    assert json.loads(calls[1]["arguments"]) == {}


@pytest.mark.parametrize("answer", ["Hello there.", "x", "<b>bold</b> text"])
def test_text_answers_pass_through(answer: str) -> None:
    text, calls, count = _read(list(answer))
    assert text == answer and calls == {} and count == 0
