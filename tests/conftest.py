"""Fixtures: the real gateway as a subprocess on a loopback port, and a scripted upstream."""

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

from tests.upstream_mock import MockUpstream, free_port

LOCAL_MODEL = "huggingfacetb/smollm2-135m-instruct"
MOCK_KEY = "sk-mock-secret-never-shown"
OPENAI_KEY = "sk-openai-secret-never-shown"


def _models_toml() -> str:
    """Test models whose upstream id names the mock's behaviour."""
    out = []
    for name in [
        "normal",
        "slow",
        "error500",
        "error429",
        "error400",
        "badjson",
        "cut",
        "hang",
        "stall",
        "slowfail",
        "tools",
        "long",
        "json",
        "agent",
    ]:
        out.append(
            f"""
[[models]]
id = "test/{name}"
name = "Test {name}"
context_length = 4096
supported_parameters = ["max_tokens", "temperature", "tools", "tool_choice"]
[models.pricing]
prompt = 1.0
completion = 2.0
input_cache_read = 0.5
[[models.endpoints]]
provider = "mock"
model = "{name}"
"""
        )
    for name, upstream_model in [("priced", "normal"), ("reasoning", "reasoning")]:
        # Every price dimension set apart, so cost tests see which tokens got which price.
        out.append(
            f"""
[[models]]
id = "test/{name}"
name = "Test {name}"
context_length = 4096
supported_parameters = ["max_tokens", "temperature", "reasoning", "include_reasoning"]
[models.pricing]
prompt = 1.0
completion = 2.0
input_cache_read = 0.1
input_cache_write = 1.25
internal_reasoning = 3.0
[[models.endpoints]]
provider = "mock"
model = "{upstream_model}"
"""
        )
    out.append(
        """
[[models]]
id = "test/fallback"
context_length = 4096
[models.pricing]
prompt = 1.0
completion = 2.0
[[models.endpoints]]
provider = "mock"
model = "error500"
[[models.endpoints]]
provider = "mock2"
model = "normal"
"""
    )
    return "".join(out)


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
    config = f"""
[server]
keepalive_seconds = 0.25
max_body_bytes = 1048576

[providers.mock]
name = "Mock"
base_url = "{upstream.url}"
api_key = "{MOCK_KEY}"
read_timeout = 2

[providers.mock2]
name = "Mock Two"
base_url = "{upstream2.url}"
api_key = "{MOCK_KEY}"
""" + _models_toml()
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
