"""The gateway: catalog, providers and health, built once per process from the settings.

Providers come from the registry (providers/registry.py) by the kind each configured
upstream names; the embedded engine is the `local` provider when a model is installed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from modelyard.catalog.catalog import Catalog, EndpointTable, ModelTable, load_catalog
from modelyard.config import Settings
from modelyard.core.events import Event
from modelyard.core.provider import Provider
from modelyard.core.request import InferenceRequest
from modelyard.core.settings import LocalModelConfig
from modelyard.gateway.generation import Admit, Generation, run_generation
from modelyard.gateway.planner import Plan, plan
from modelyard.gateway.ranking import Router
from modelyard.providers import registry
from modelyard.providers.local.engine import (
    DEFAULT_MODEL_ID,
    LOCAL,
    LocalProvider,
    default_gguf_path,
)
from modelyard.providers.local.engine_body import SUPPORTED_PARAMETERS
from modelyard.stats.health import Health

logger = logging.getLogger("modelyard")


def local_models(settings: Settings) -> list[LocalModelConfig]:
    """The shipped default model (when its wheel is installed) plus operator GGUFs."""
    models = list(settings.local_models)
    path = default_gguf_path()
    if path is not None and all(m.id != DEFAULT_MODEL_ID for m in models):
        models.insert(0, LocalModelConfig(id=DEFAULT_MODEL_ID, path=str(path)))
    return models


def _catalog_entry(model: LocalModelConfig) -> ModelTable:
    # A template with a thinking mode gets `reasoning` mapped onto it.
    reasoning = ["reasoning", "include_reasoning"] if model.reasoning else []
    return ModelTable(
        id=model.id,
        name=model.name or model.id,
        description=model.description or f"{model.id}, served by the embedded engine.",
        context_length=model.context_length,
        max_completion_tokens=model.context_length,
        tokenizer="Other",
        supported_parameters=[*SUPPORTED_PARAMETERS, *reasoning],
        endpoints=[EndpointTable(provider=LOCAL, model=model.id, quantization="unknown")],
    )


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
            self.providers[LOCAL] = LocalProvider(settings.engine, locals_)
        else:
            self.disabled_reason[LOCAL] = (
                "the embedded engine is disabled"
                if not settings.engine.enabled
                else "no local model is installed"
            )
        kinds = registry.kinds()
        for slug, upstream in settings.upstreams.items():
            self.providers[slug] = kinds[upstream.kind].factory(upstream)
        for kind in kinds.values():
            if kind.key_env and kind.slug not in self.providers:
                self.disabled_reason[kind.slug] = f"provider is not configured (set {kind.key_env})"
        self.health = Health(settings.failure_window_seconds)
        self.enabled = set(self.providers)
        self.router = Router(self.health, self.provider_names(), settings.sticky_seconds)

    async def start(self) -> None:
        for provider in self.providers.values():
            await provider.start()

    async def aclose(self) -> None:
        for provider in self.providers.values():
            await provider.aclose()

    def provider_names(self) -> dict[str, str]:
        """Every provider slug a request may name, configured or not, with its name."""
        names = {k.slug: k.name for k in registry.kinds().values() if k.key_env}
        names[LOCAL] = "Local"
        for model in self.catalog:
            for endpoint in model.endpoints:
                names.setdefault(endpoint.provider, endpoint.provider)
        for slug, provider in self.providers.items():
            names[slug] = provider.name
        return names

    def provider_name(self, slug: str) -> str:
        return self.router.provider_names.get(slug, slug)

    def plan(self, request: InferenceRequest, session_header: str | None = None) -> Plan:
        return plan(
            request,
            self.catalog,
            self.router,
            self.providers,
            self.disabled_reason,
            session_header,
        )

    def run(self, generation: Generation, admit: Admit | None = None) -> AsyncIterator[Event]:
        """The generation's events, from the first endpoint that starts (see generation.py)."""
        return run_generation(self.providers, self.router, generation, admit)

    def served_models(self) -> list[str]:
        """Model ids with at least one configured endpoint."""
        return [m.id for m in self.catalog if any(e.provider in self.enabled for e in m.endpoints)]
