"""Stored responses in PostgreSQL, shared by two gateway processes: a conversation started
on one process and provider continues on the other. (The default gateway fixture covers
SQLite.) Runs when PostgreSQL is reachable, and must run when CI=true."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import openai
import pytest
from openai import OpenAI

from tests.conftest import MOCK_KEY, GatewayProcess, _models_toml
from tests.upstream_mock import MockUpstream

POSTGRES = os.environ.get(
    "MODELYARD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


async def _run(sql: str) -> None:
    conn = await asyncpg.connect(POSTGRES, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    try:
        asyncio.run(_run("SELECT 1"))
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL is not reachable: {exc}")
    schema = f"responses_test_{secrets.token_hex(4)}"
    yield f"{POSTGRES}?schema={schema}"
    asyncio.run(_run(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


def _start(tmp: Path, url: str, upstream: MockUpstream, upstream2: MockUpstream) -> GatewayProcess:
    config = f"""
[providers.mock]
name = "Mock"
base_url = "{upstream.url}"
api_key = "{MOCK_KEY}"

[providers.mock2]
name = "Mock Two"
base_url = "{upstream2.url}"
api_key = "{MOCK_KEY}"
""" + _models_toml()
    return GatewayProcess(
        tmp, config, {"MODELYARD_DATABASE_URL": url, "MODELYARD_ENGINE": "0"}
    ).start()


@pytest.fixture(scope="module")
def pair(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_url: str,
    upstream: MockUpstream,
    upstream2: MockUpstream,
) -> Iterator[tuple[OpenAI, OpenAI]]:
    first = _start(tmp_path_factory.mktemp("pg-a"), postgres_url, upstream, upstream2)
    second = _start(tmp_path_factory.mktemp("pg-b"), postgres_url, upstream, upstream2)
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
