"""The routing time windows, shortened by configuration: a failure stops counting against
an endpoint once its window has passed, and a conversation's stickiness lapses."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.conftest import GatewayProcess
from tests.routing_upstreams import Upstreams, chat, served_by, start_gateway, three_upstreams

WINDOW = 0.5


@pytest.fixture(scope="module")
def upstreams() -> Upstreams:
    return three_upstreams()


@pytest.fixture(scope="module")
def short(
    tmp_path_factory: pytest.TempPathFactory, upstreams: Upstreams
) -> Iterator[GatewayProcess]:
    routing = {"failure_window_seconds": WINDOW, "sticky_seconds": WINDOW}
    process = start_gateway(tmp_path_factory.mktemp("windows"), upstreams, routing)
    yield process
    process.stop()


def test_flapping_endpoint_returns_after_the_failure_window(
    short: GatewayProcess, upstreams: Upstreams
) -> None:
    upstreams["openai"].script["flapper"] = "flap"  # fails, then answers, then fails...
    body = {"model": "route/flapper", "provider": {"sort": "price"}}
    assert served_by(chat(short, body)) == "OpenRouter"  # the first call failed over
    time.sleep(WINDOW * 1.5)
    assert served_by(chat(short, body)) == "OpenAI"  # the failure has aged out
    assert upstreams.calls("flapper") == ["openai", "openrouter", "openai"]


def test_stickiness_lapses_after_inactivity(short: GatewayProcess) -> None:
    # OpenRouter costs 100x OpenAI: only stickiness sends this conversation there.
    pinned = {"model": "route/sticky", "session_id": "s", "provider": {"only": ["openrouter"]}}
    assert served_by(chat(short, pinned)) == "OpenRouter"
    free = {"model": "route/sticky", "session_id": "s"}
    assert served_by(chat(short, free)) == "OpenRouter"
    time.sleep(WINDOW * 1.5)
    assert served_by(chat(short, free)) == "OpenAI"
