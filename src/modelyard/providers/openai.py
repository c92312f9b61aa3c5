"""OpenAI (`OPENAI_API_KEY`): the OpenAI-compatible transport with OpenAI's own quirks."""

from __future__ import annotations

from typing import Any

from modelyard.core.provider import ProviderKind, ReasoningAsk
from modelyard.providers.openai_compat import OpenAICompatProvider


class OpenAIProvider(OpenAICompatProvider):
    def prepare(self, body: dict[str, Any], reasoning: ReasoningAsk, supported: bool) -> None:
        super().prepare(body, reasoning, supported)
        if "max_tokens" in body:
            # OpenAI's reasoning models accept only max_completion_tokens.
            body.setdefault("max_completion_tokens", body.pop("max_tokens"))


KIND = ProviderKind(
    slug="openai",
    name="OpenAI",
    factory=OpenAIProvider,
    key_env="OPENAI_API_KEY",
    base_url_env="OPENAI_BASE_URL",
    default_base_url="https://api.openai.com/v1",
)
