"""Three scripted upstreams standing in for openai, openrouter and aimlapi, and a gateway
configured with all three and the routing test models."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.catalog import endpoint, model_toml, section
from tests.conftest import GatewayProcess
from tests.upstream_mock import MockUpstream

PROVIDERS = ("openai", "openrouter", "aimlapi")
NAMES = {"openai": "OpenAI", "openrouter": "OpenRouter", "aimlapi": "AIML API"}
KEYS = {p: f"sk-{p}-routing-secret" for p in PROVIDERS}
PARAMS = ["max_tokens", "temperature", "tools", "tool_choice", "reasoning", "seed"]
HI = [{"role": "user", "content": "Hi"}]
# One keep-alive client for every routing test request.
HTTP = httpx.Client(timeout=30)


def route_model(name: str, endpoints: dict[str, dict[str, Any]], cache: bool = False) -> str:
    """A `[[models]]` table `route/<name>`; every endpoint's upstream id is `name`, so each
    mock's script decides how it answers. Endpoint keys: price (prompt, completion),
    quantization, params, data_policy, model."""
    tables = []
    for slug, spec in endpoints.items():
        prompt, completion = spec.get("price", (1.0, 1.0))
        pricing = {"prompt": float(prompt), "completion": float(completion)}
        if cache:
            pricing["input_cache_read"] = float(prompt) / 10
        tables.append(
            endpoint(
                slug,
                spec.get("model", name),
                quantization=spec.get("quantization", "unknown"),
                supported_parameters=spec.get("params"),
                data_policy=spec.get("data_policy"),
                pricing=pricing,
            )
        )
    return model_toml(
        f"route/{name}",
        context_length=8192,
        supported_parameters=PARAMS,
        pricing={"prompt": 1.0, "completion": 1.0},
        endpoints=tables,
    )


def three(**overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """All three providers, openai cheapest, then openrouter, then aimlapi."""
    base = {
        "openai": {"price": (1, 1)},
        "openrouter": {"price": (2, 2)},
        "aimlapi": {"price": (3, 3)},
    }
    for provider, spec in overrides.items():
        base[provider] = {**base[provider], **spec}
    return base


ROUTE_MODELS = "".join(
    [
        route_model("chain", three()),
        route_model("allfail", three()),
        route_model("refused", three()),
        route_model("pinned", three()),
        route_model("cut", three()),
        route_model("health", three()),
        route_model(
            "params",
            three(
                openai={"params": ["max_tokens", "temperature"]},
                openrouter={"params": ["max_tokens"]},
                aimlapi={"params": ["max_tokens", "temperature"]},
            ),
        ),
        route_model(
            "filters",
            three(
                openai={
                    "quantization": "fp8",
                    "data_policy": {"training": False, "retains_prompts": True},
                },
                openrouter={
                    "price": (5, 10),
                    "quantization": "bf16",
                    "data_policy": {"training": True, "retains_prompts": True},
                },
                aimlapi={
                    "quantization": "int4",
                    "data_policy": {"training": False, "retains_prompts": False},
                },
            ),
        ),
        route_model("speed", three()),
        route_model("free", three(aimlapi={"price": (0, 0)})),
        route_model("balance", {"openai": {"price": (1, 1)}, "openrouter": {"price": (2, 2)}}),
        route_model(
            "sticky",
            {"openai": {"price": (1, 1)}, "openrouter": {"price": (100, 100)}},
            cache=True,
        ),
        route_model("stickyfail", three(), cache=True),
        route_model("dear", {"openai": {"price": (50, 50)}}),
        route_model("cheap", {"openrouter": {"price": (1, 1)}}),
        route_model("flapper", three()),
    ]
)


@dataclass
class Upstreams:
    mocks: dict[str, MockUpstream]
    journal: list[tuple[str, str]]

    def __getitem__(self, provider: str) -> MockUpstream:
        return self.mocks[provider]

    def env(self) -> dict[str, str]:
        env = {"MODELYARD_ENGINE": "0"}
        for provider, mock in self.mocks.items():
            env[f"{provider.upper()}_API_KEY"] = KEYS[provider]
            env[f"{provider.upper()}_BASE_URL"] = mock.url
        return env

    def calls(self, model: str) -> list[str]:
        """Which providers received `model`, in arrival order."""
        return [name for name, m in self.journal if m == model]


def start_gateway(
    tmp: Path, upstreams: Upstreams, routing: dict[str, Any] | None = None
) -> GatewayProcess:
    """A gateway with the routing models and `[routing]` settings (window lengths...)."""
    config = section("server", keepalive_seconds=0.25)
    if routing:
        config += section("routing", **routing)
    return GatewayProcess(tmp, config + ROUTE_MODELS, upstreams.env()).start()


def three_upstreams() -> Upstreams:
    journal: list[tuple[str, str]] = []
    mocks = {p: MockUpstream(p, journal).start() for p in PROVIDERS}
    return Upstreams(mocks, journal)


def chat(gateway: GatewayProcess, body: dict[str, Any], **headers: str) -> httpx.Response:
    body = {"messages": HI, **body}
    return HTTP.post(f"{gateway.base}/api/v1/chat/completions", json=body, headers=headers)


def served_by(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["provider"]
