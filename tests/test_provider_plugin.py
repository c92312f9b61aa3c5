"""A third party adds a provider kind with one module and one entry point.

The plugin package below is what a contributor writes: a module defining a `ProviderKind`
for an OpenAI-compatible service with a quirk of its own, and the entry point in its
metadata (`[project.entry-points."modelyard.providers"]`). It is installed the way pip
lays a package out (a `*.dist-info` folder beside it on the path), the gateway is started
with nothing else, and the kind is switched on by its own environment variable.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import GatewayProcess
from tests.upstream_mock import MockUpstream

# A gateway process of its own: a few seconds to start.
pytestmark = pytest.mark.slow

PLUGIN = '''
"""Acme: an OpenAI-compatible service that wants `max_output` instead of `max_tokens`."""

from modelyard.core.provider import ProviderKind
from modelyard.providers.openai_compat import OpenAICompatProvider


class AcmeProvider(OpenAICompatProvider):
    def prepare(self, body, reasoning, supported):
        super().prepare(body, reasoning, supported)
        if "max_tokens" in body:
            body["max_output"] = body.pop("max_tokens")


KIND = ProviderKind(
    slug="acme",
    name="Acme Cloud",
    factory=AcmeProvider,
    key_env="ACME_API_KEY",
    base_url_env="ACME_BASE_URL",
    default_base_url="https://api.acme.invalid/v1",
)
'''

CATALOG = """
[[models]]
id = "acme/rocket-1"
context_length = 8192
supported_parameters = ["max_tokens", "temperature"]
[models.pricing]
prompt = 1.0
completion = 2.0
[[models.endpoints]]
provider = "acme"
model = "normal"
"""


def install_plugin(site: Path) -> None:
    """Lay the package out as an installer would: the module and its dist-info."""
    (site / "acme_modelyard").mkdir()
    (site / "acme_modelyard" / "__init__.py").write_text(PLUGIN)
    info = site / "acme_modelyard-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-modelyard\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[modelyard.providers]\nacme = acme_modelyard:KIND\n")


@pytest.fixture(scope="module")
def acme_gateway(
    tmp_path_factory: pytest.TempPathFactory, upstream: MockUpstream
) -> Iterator[GatewayProcess]:
    site = tmp_path_factory.mktemp("site")
    install_plugin(site)
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    env = {
        "PYTHONPATH": path,
        "ACME_API_KEY": "sk-acme-secret",
        "ACME_BASE_URL": upstream.url,
        "MODELYARD_ENGINE": "0",
    }
    process = GatewayProcess(tmp_path_factory.mktemp("acme"), CATALOG, env).start()
    yield process
    process.stop()


def test_a_plugin_kind_serves_through_its_own_quirk(
    acme_gateway: GatewayProcess, upstream: MockUpstream
) -> None:
    client = acme_gateway.sdk()
    reply = client.chat.completions.create(
        model="acme/rocket-1",
        messages=[{"role": "user", "content": "Hi"}],
        max_tokens=7,
        extra_body={"provider": {"only": ["acme"]}},
    )
    assert reply.choices[0].message.content == "Hello from the mock."
    assert reply.provider == "Acme Cloud"
    sent = upstream.received("normal")[-1]
    assert sent["max_output"] == 7 and "max_tokens" not in sent


def test_a_plugin_kind_is_listed_with_its_name(acme_gateway: GatewayProcess) -> None:
    client = acme_gateway.sdk()
    endpoints = client.get("/models/acme/rocket-1/endpoints", cast_to=object)
    (endpoint,) = endpoints["data"]["endpoints"]  # type: ignore[index]
    assert endpoint["provider_name"] == "Acme Cloud" and endpoint["status"] == 0
