"""Stored responses in PostgreSQL, shared by two gateway processes: a conversation started
on one process and provider continues on the other. (The default gateway fixture covers
SQLite.) Runs when PostgreSQL is reachable, and must run when CI=true (tests/postgres.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from openai import OpenAI

from tests.catalog import mock_models_toml, mock_provider, providers_toml
from tests.conftest import GatewayProcess
from tests.upstream_mock import MockUpstream

pytestmark = pytest.mark.postgres


def _start(tmp: Path, url: str, upstream: MockUpstream, upstream2: MockUpstream) -> GatewayProcess:
    config = (
        providers_toml(
            mock=mock_provider(upstream.url), mock2=mock_provider(upstream2.url, "Mock Two")
        )
        + mock_models_toml()
    )
    return GatewayProcess(
        tmp, config, {"MODELYARD_DATABASE_URL": url, "MODELYARD_ENGINE": "0"}
    ).start()


@pytest.fixture(scope="module")
def pair(
    tmp_path_factory: pytest.TempPathFactory,
    module_postgres_url: str,
    upstream: MockUpstream,
    upstream2: MockUpstream,
) -> Iterator[tuple[OpenAI, OpenAI]]:
    url = module_postgres_url
    first = _start(tmp_path_factory.mktemp("pg-a"), url, upstream, upstream2)
    second = _start(tmp_path_factory.mktemp("pg-b"), url, upstream, upstream2)
    try:
        yield tuple(  # type: ignore[misc]
            g.sdk(prefix="/v1") for g in (first, second)
        )
    finally:
        first.stop()
        second.stop()


def test_conversation_continues_on_another_process_and_provider(
    pair: tuple[OpenAI, OpenAI], upstream2: MockUpstream
) -> None:
    a, b = pair
    with a.responses.stream(model="test/normal", input="Hi") as stream:
        started = stream.get_final_response()
    assert (started.model_extra or {})["provider"] == "Mock"
    # Process B reads what process A stored, and serves the next turn on another provider.
    assert b.responses.retrieve(started.id).output_text == "Hello from the mock."
    continued = b.responses.create(
        model="test/fallback", input="More?", previous_response_id=started.id
    )
    assert (continued.model_extra or {})["provider"] == "Mock Two"
    assert upstream2.received("normal")[-1]["messages"] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello from the mock."},
        {"role": "user", "content": "More?"},
    ]
    items = list(a.responses.input_items.list(continued.id, order="asc"))
    assert [i.type for i in items] == ["message", "message", "message"]
    a.responses.delete(started.id)
    with pytest.raises(openai.NotFoundError):
        b.responses.retrieve(started.id)
    assert b.responses.retrieve(continued.id).previous_response_id == started.id
