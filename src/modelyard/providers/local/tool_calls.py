"""Read the model's grammar-shaped output back into text and tool-call events, as it streams.

Under a tool grammar the output is either plain text (it cannot open with `<`) or
`<tool_call>[{"name": "f", "arguments": {...}}, ...]</tool_call>`, written exactly so. The
reader emits each call's id and name as soon as the name is complete, then its arguments
fragment by fragment, so a client sees index-keyed deltas while the model writes.
"""

from __future__ import annotations

import secrets

import orjson

from modelyard.core.events import Event, TextDelta, ToolCallDelta
from modelyard.providers.local.grammar import CALL_CLOSE, CALL_OPEN, CALL_SEPARATOR

_NAME_OPEN = '{"name": '
_ARGS_OPEN = ', "arguments": '


def call_id() -> str:
    return "call_" + secrets.token_hex(12)


class ToolCallReader:
    """Feed text deltas in; get TextDelta / ToolCallDelta events out."""

    __slots__ = ("_buf", "_depth", "_escape", "_in_string", "_state", "calls")

    def __init__(self) -> None:
        self._buf = ""
        self._state = "start"
        self._depth = 0
        self._in_string = False
        self._escape = False
        self.calls = 0

    def feed(self, text: str) -> list[Event]:
        if self._state == "text":
            return [TextDelta(text)] if text else []
        self._buf += text
        events: list[Event] = []
        while self._step(events):
            pass
        return events

    def _take(self, literal: str) -> bool | None:
        """Consume `literal` from the buffer: True done, None wait for more, False mismatch."""
        if len(self._buf) < len(literal):
            return None if literal.startswith(self._buf) else False
        if self._buf.startswith(literal):
            self._buf = self._buf[len(literal) :]
            return True
        return False

    def _step(self, events: list[Event]) -> bool:
        """Advance one state if the buffer allows; False when it must wait for more."""
        state = self._state
        if state == "start":
            if not self._buf:
                return False
            if not self._buf.startswith("<"):
                self._state = "text"
                events.append(TextDelta(self._buf))
                self._buf = ""
                return False
            return self._advance(CALL_OPEN, "name", events)
        if state == "name":
            if not self._buf.startswith(_NAME_OPEN[: len(self._buf)]):
                return self._give_up()
            end = self._buf.find(_ARGS_OPEN, len(_NAME_OPEN))
            if end < 0:
                return False
            name = orjson.loads(self._buf[len(_NAME_OPEN) : end])
            self._buf = self._buf[end + len(_ARGS_OPEN) :]
            events.append(ToolCallDelta(index=self.calls, id=call_id(), name=str(name)))
            self._state = "args"
            self._depth = 0
            return True
        if state == "args":
            return self._args(events)
        if state == "after":
            taken = self._take("}")
            if taken is None:
                return False
            if not taken:
                return self._give_up()
            self.calls += 1
            self._state = "between"
            return True
        if state == "between":
            for literal, following in ((CALL_SEPARATOR, "name"), (CALL_CLOSE, "done")):
                if self._buf.startswith(literal):
                    self._buf = self._buf[len(literal) :]
                    self._state = following
                    return following != "done"
            if CALL_SEPARATOR.startswith(self._buf) or CALL_CLOSE.startswith(self._buf):
                return False
            return self._give_up()
        return False  # done: whatever follows the calls is not shown

    def _advance(self, literal: str, next_state: str, events: list[Event]) -> bool:
        taken = self._take(literal)
        if taken:
            self._state = next_state
            return True
        if taken is False:  # not a call after all: show it as text
            self._state = "text"
            events.append(TextDelta(self._buf))
            self._buf = ""
        return False

    def _give_up(self) -> bool:
        """Output that breaks the call format (only possible without the grammar, or cut
        short): the calls so far stand, the rest is dropped."""
        self._state = "done"
        self._buf = ""
        return False

    def _args(self, events: list[Event]) -> bool:
        buf = self._buf
        end = None
        for i, ch in enumerate(buf):
            if self._in_string:
                if self._escape:
                    self._escape = False
                elif ch == "\\":
                    self._escape = True
                elif ch == '"':
                    self._in_string = False
            elif ch == '"':
                self._in_string = True
            elif ch in "{[":
                self._depth += 1
            elif ch in "}]":
                self._depth -= 1
                if self._depth == 0:
                    end = i + 1
                    break
        piece = buf if end is None else buf[:end]
        if piece:
            events.append(ToolCallDelta(index=self.calls, arguments=piece))
        self._buf = "" if end is None else buf[end:]
        if end is None:
            return False
        self._state = "after"
        return True

    def finish(self) -> list[Event]:
        """Whatever is still held back when the output ends."""
        if self._state in {"start", "text"} and self._buf:
            text, self._buf = self._buf, ""
            return [TextDelta(text)]
        return []
