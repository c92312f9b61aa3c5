"""The provider protocol: speak one upstream, yield normalized events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from modelyard.gateway.events import Event


@dataclass(slots=True)
class ProviderRequest:
    """A chat request already mapped for one endpoint.

    `body` is an OpenAI Chat Completions body without `model` and `stream`: the provider
    adds its own model id and chooses how to talk to its upstream.
    """

    model: str
    body: dict[str, Any]
    stream: bool


class Provider(Protocol):
    slug: str
    name: str

    def generate(self, request: ProviderRequest) -> AsyncIterator[Event]:
        """Yield events; raise ProviderError before the first event if the upstream fails."""
        ...

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...
