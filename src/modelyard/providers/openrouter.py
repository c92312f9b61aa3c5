"""OpenRouter (`OPENROUTER_API_KEY`): OpenAI-compatible, with its unified `reasoning` object."""

from __future__ import annotations

from typing import Any

from modelyard.core.provider import ProviderKind, ReasoningAsk
from modelyard.providers.openai_compat import OpenAICompatProvider


class OpenRouterProvider(OpenAICompatProvider):
    def prepare(self, body: dict[str, Any], reasoning: ReasoningAsk, supported: bool) -> None:
        """OpenRouter speaks the `reasoning` object itself: the request's own, with the
        effort the gateway settled on and `exclude` when the client hides reasoning."""
        given = dict(reasoning.given) if reasoning.given else {}
        effort = reasoning.effort
        if effort and "effort" not in given and given.get("enabled") is not False:
            given["effort"] = effort
        if reasoning.exclude:
            given["exclude"] = True
        if given and supported:
            body["reasoning"] = given


KIND = ProviderKind(
    slug="openrouter",
    name="OpenRouter",
    factory=OpenRouterProvider,
    key_env="OPENROUTER_API_KEY",
    base_url_env="OPENROUTER_BASE_URL",
    default_base_url="https://openrouter.ai/api/v1",
)
