"""The gateway: catalog, providers and health, built once per process from the settings."""

from __future__ import annotations

import logging
from typing import Any

from modelyard.catalog.catalog import Catalog, load_catalog
from modelyard.config import KNOWN_UPSTREAMS, LocalModelConfig, Settings
from modelyard.gateway.planner import Plan, plan_chat
from modelyard.gateway.routing import Router
from modelyard.providers.base import Provider
from modelyard.providers.local.engine import (
    DEFAULT_ENGINE_MODEL,
    DEFAULT_MODEL_ID,
    LocalProvider,
    default_gguf_path,
)
from modelyard.providers.local.engine_body import SUPPORTED_PARAMETERS
from modelyard.providers.openai_compat import OpenAICompatProvider
from modelyard.stats.health import Health

logger = logging.getLogger("modelyard")


def local_models(settings: Settings) -> list[LocalModelConfig]:
    """The shipped default model (when its wheel is installed) plus operator GGUFs."""
    models = list(settings.local_models)
    path = default_gguf_path()
    if path is not None and all(m.id != DEFAULT_MODEL_ID for m in models):
        models.insert(0, LocalModelConfig(id=DEFAULT_MODEL_ID, path=str(path)))
    return models


def _catalog_entry(model: LocalModelConfig) -> dict[str, Any]:
    # A template with a thinking mode gets `reasoning` mapped onto it.
    reasoning = ["reasoning", "include_reasoning"] if model.reasoning else []
    return {
        "id": model.id,
        "name": model.name or model.id,
        "description": model.description or f"{model.id}, served by the embedded engine.",
        "context_length": model.context_length,
        "max_completion_tokens": model.context_length,
        "tokenizer": "Other",
        "supported_parameters": [*SUPPORTED_PARAMETERS, *reasoning],
        "endpoints": [{"provider": "local", "model": model.id, "quantization": "unknown"}],
    }


class Gateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.providers: dict[str, Provider] = {}
        self.disabled_reason: dict[str, str] = {}
        extra = list(settings.extra_models)
        locals_ = local_models(settings) if settings.engine.enabled else []
        for model in locals_:
            if model.id != DEFAULT_MODEL_ID:
                extra.append(_catalog_entry(model))
        self.catalog: Catalog = load_catalog(extra)
        if locals_:
            self.providers["local"] = LocalProvider(settings.engine, locals_)
        else:
            self.disabled_reason["local"] = (
                "the embedded engine is disabled"
                if not settings.engine.enabled
                else "no local model is installed"
            )
        for slug, upstream in settings.upstreams.items():
            self.providers[slug] = OpenAICompatProvider(upstream)
        for slug, (key_var, *_rest) in KNOWN_UPSTREAMS.items():
            if slug not in self.providers:
                self.disabled_reason[slug] = f"provider is not configured (set {key_var})"
        self.health = Health(settings.failure_window_seconds)
        self.enabled = set(self.providers)
        self.router = Router(self.health, self._provider_names(), settings.sticky_seconds)

    async def start(self) -> None:
        for provider in self.providers.values():
            await provider.start()

    async def aclose(self) -> None:
        for provider in self.providers.values():
            await provider.aclose()

    def _provider_names(self) -> dict[str, str]:
        """Every provider slug a request may name, configured or not, with its name."""
        names = {slug: meta[-1] for slug, meta in KNOWN_UPSTREAMS.items()}
        names["local"] = "Local"
        for model in self.catalog:
            for endpoint in model.endpoints:
                names.setdefault(endpoint.provider, endpoint.provider)
        for slug, provider in self.providers.items():
            names[slug] = provider.name
        return names

    def plan(self, raw: dict[str, Any], session_header: str | None = None) -> Plan:
        return plan_chat(
            raw, self.catalog, self.router, self.enabled, self.disabled_reason, session_header
        )

    def served_models(self) -> list[str]:
        """Model ids with at least one configured endpoint."""
        return [m.id for m in self.catalog if any(e.provider in self.enabled for e in m.endpoints)]


__all__ = ["DEFAULT_ENGINE_MODEL", "Gateway"]
