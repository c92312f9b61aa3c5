"""Fixtures: the real gateway as a subprocess on a loopback port, and a scripted upstream.

Markers (registered in pyproject.toml): `engine` (needs the embedded model), `browser`
(drives Chromium), `postgres` (needs PostgreSQL), `slow` (anything else over ~2 s). A test
that uses the engine, browser or PostgreSQL fixtures gets the marker even if its module
forgot it, so `make test-quick` never starts what it means to leave out.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openai import OpenAI

from tests.catalog import mock_models_toml, mock_provider, providers_toml, section
from tests.postgres import module_postgres_url, postgres_url, redis_url  # noqa: F401 (fixtures)
from tests.upstream_mock import MockUpstream, free_port

LOCAL_MODEL = "huggingfacetb/smollm2-135m-instruct"
OPENAI_KEY = "sk-openai-secret-never-shown"


class GatewayProcess:
    def __init__(self, tmp: Path, config: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.config_path = tmp / "modelyard.toml"
        self.config_path.write_text(config)
        self.log_path = tmp / "gateway.log"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")},
            "MODELYARD_LOG_LEVEL": "info",
            "MODELYARD_ENGINE_SLOTS": "2",
            # Each gateway gets its own database unless the test shares one.
            "MODELYARD_DATABASE_URL": f"sqlite:///{tmp / 'modelyard.db'}",
            **(env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> GatewayProcess:
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "modelyard",
                "serve",
                "--port",
                str(self.port),
                "--config",
                str(self.config_path),
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited: {self.log_path.read_text()}")
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"gateway did not start: {self.log_path.read_text()}")

    def log(self) -> str:
        return self.log_path.read_text()

    def sdk(
        self, *, api_key: str = "unused", timeout: float = 60, prefix: str = "/api/v1"
    ) -> OpenAI:
        """The official SDK against this gateway, validating every response strictly."""
        return OpenAI(
            base_url=f"{self.base}{prefix}",
            api_key=api_key,
            max_retries=0,
            timeout=timeout,
            _strict_response_validation=True,
        )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture(scope="session")
def upstream() -> MockUpstream:
    return MockUpstream().start()


@pytest.fixture(scope="session")
def upstream2() -> MockUpstream:
    return MockUpstream().start()


@pytest.fixture(scope="session")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, upstream: MockUpstream, upstream2: MockUpstream
) -> Iterator[GatewayProcess]:
    config = (
        section("server", keepalive_seconds=0.25, max_body_bytes=1048576)
        + providers_toml(
            mock=mock_provider(upstream.url, read_timeout=2),
            mock2=mock_provider(upstream2.url, "Mock Two"),
        )
        + mock_models_toml()
    )
    process = GatewayProcess(
        tmp_path_factory.mktemp("gateway"),
        config,
        {"OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": upstream.url},
    ).start()
    yield process
    process.stop()


@pytest.fixture()
def client(gateway: GatewayProcess) -> OpenAI:
    return gateway.sdk()


@pytest.fixture(scope="session")
def engine_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """A gateway serving only the embedded model, with 4 slots (batched cases) and the
    engine's own log lines (slot releases) in its log."""
    process = GatewayProcess(
        tmp_path_factory.mktemp("engine"),
        "",
        {"MODELYARD_ENGINE_SLOTS": "4", "MODELYARD_LOG_LEVEL": "debug"},
    ).start()
    yield process
    process.stop()


@pytest.fixture()
def engine_client(engine_gateway: GatewayProcess) -> OpenAI:
    return engine_gateway.sdk(timeout=120)


# Fixtures that start what a marker names: a test that uses one carries the marker.
FIXTURE_MARKERS = {
    "engine_gateway": "engine",
    "engine_client": "engine",
    "browser_context": "browser",
    "postgres_url": "postgres",
    "module_postgres_url": "postgres",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture in FIXTURE_MARKERS.keys() & set(getattr(item, "fixturenames", ())):
            item.add_marker(FIXTURE_MARKERS[fixture])
