"""API keys, and the refusal to serve an open gateway on a public address."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from openai import OpenAI

from tests.conftest import LOCAL_MODEL, GatewayProcess

KEY = "sk-my-test-key-0123456789"


@pytest.fixture(scope="module")
def keyed_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    process = GatewayProcess(
        tmp_path_factory.mktemp("keyed"),
        "[engine]\npreload = false\n",
        {"MODELYARD_API_KEYS": f"{KEY}, another-key"},
    ).start()
    yield process
    process.stop()


def _post(gateway: GatewayProcess, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(
        f"{gateway.base}/api/v1/chat/completions",
        json={
            "model": LOCAL_MODEL,
            "messages": [{"role": "user", "content": "Hi"}],
            "max_tokens": 2,
        },
        headers=headers,
        timeout=60,
    )


@pytest.mark.engine
def test_missing_and_wrong_keys_get_401(keyed_gateway: GatewayProcess) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": KEY}):
        response = _post(keyed_gateway, headers)
        assert response.status_code == 401
        error = response.json()["error"]
        assert error["type"] == "authentication_error" and error["message"]
    assert _post(keyed_gateway, {"Authorization": f"Bearer {KEY}"}).status_code == 200
    assert _post(keyed_gateway, {"Authorization": "Bearer another-key"}).status_code == 200


@pytest.mark.engine
def test_sdk_with_key(keyed_gateway: GatewayProcess) -> None:
    good = OpenAI(
        base_url=f"{keyed_gateway.base}/v1", api_key=KEY, _strict_response_validation=True
    )
    assert good.chat.completions.create(
        model=LOCAL_MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=2
    ).choices
    bad = OpenAI(base_url=f"{keyed_gateway.base}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model=LOCAL_MODEL, messages=[{"role": "user", "content": "Hi"}])


def test_models_listing_needs_no_key(keyed_gateway: GatewayProcess) -> None:
    assert httpx.get(f"{keyed_gateway.base}/api/v1/models", timeout=10).status_code == 200


def test_responses_do_not_name_the_server_software(keyed_gateway: GatewayProcess) -> None:
    for response in (
        httpx.get(f"{keyed_gateway.base}/api/v1/models", timeout=10),
        _post(keyed_gateway, {}),
    ):
        assert "server" not in response.headers, response.headers


def test_public_address_without_keys_refuses_to_start(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "modelyard", "serve", "--host", "0.0.0.0", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 2
    assert "refusing to serve on 0.0.0.0" in result.stderr
    assert "--insecure-no-auth" in result.stderr


def test_bad_config_file_is_reported(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[server\nport = 1")
    result = subprocess.run(
        [sys.executable, "-m", "modelyard", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "not valid TOML" in result.stderr
