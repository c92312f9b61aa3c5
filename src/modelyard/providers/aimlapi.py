"""AIML API (`AIMLAPI_API_KEY`): an OpenAI-compatible upstream with no quirks of its own."""

from __future__ import annotations

from modelyard.core.provider import ProviderKind
from modelyard.providers.openai_compat import OpenAICompatProvider

KIND = ProviderKind(
    slug="aimlapi",
    name="AIML API",
    factory=OpenAICompatProvider,
    key_env="AIMLAPI_API_KEY",
    base_url_env="AIMLAPI_BASE_URL",
    default_base_url="https://api.aimlapi.com/v1",
)
