"""The provider protocol: speak one upstream, yield spine events; and provider kinds.

A provider kind is what a module (ours, or a third party's through the `modelyard.providers`
entry-point group) registers: its slug, display name, the environment variables that switch
it on, its default base URL and the factory that builds a provider from its settings. The
gateway never names a concrete provider: it asks the registry.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from modelyard.core.events import Event


@dataclass(slots=True)
class ProviderRequest:
    """A chat request already mapped for one endpoint.

    `body` is an OpenAI Chat Completions body without `model` and `stream`: the provider
    adds its own model id and chooses how to talk to its upstream.
    """

    model: str
    body: dict[str, Any]
    stream: bool


@dataclass(slots=True)
class ReasoningAsk:
    """What the request asked of reasoning, before any provider's dialect.

    `effort` is normalized ("none" when reasoning was switched off); `given` is the
    request's own `reasoning` object, for providers that take it whole.
    """

    effort: str | None = None
    exclude: bool = False
    given: dict[str, Any] | None = None


@dataclass(slots=True)
class ProviderConfig:
    """One configured upstream provider."""

    slug: str
    base_url: str
    api_key: str = field(default="", repr=False)
    name: str = ""
    # The registered kind that speaks to it (its slug); "openai-compatible" by default.
    kind: str = "openai-compatible"
    connect_timeout: float = 10.0
    # Time allowed between two reads (first byte included); generous for slow reasoning models.
    read_timeout: float = 300.0
    max_connections: int = 256


class Provider(Protocol):
    slug: str
    name: str

    def prepare(self, body: dict[str, Any], reasoning: ReasoningAsk, supported: bool) -> None:
        """Fit a planned body to this provider's dialect, in place (its quirks live here,
        not in the planner). `supported`: the endpoint lists a reasoning parameter."""
        ...

    def generate(self, request: ProviderRequest) -> AsyncIterator[Event]:
        """Yield events; raise ProviderError before the first event if the upstream fails."""
        ...

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...


def reasoning_effort_field(body: dict[str, Any], reasoning: ReasoningAsk, supported: bool) -> None:
    """OpenAI's dialect, which most upstreams speak: a flat `reasoning_effort`, at most
    `high` (the gateway's `xhigh` and `max` are OpenRouter's)."""
    effort = reasoning.effort
    if effort and supported and effort != "none":
        body["reasoning_effort"] = "high" if effort in {"xhigh", "max"} else effort


@dataclass(frozen=True, slots=True)
class ProviderKind:
    """A registered provider kind: one module plus this entry adds a provider."""

    slug: str
    name: str
    factory: Callable[[ProviderConfig], Provider]
    # Set in the environment, `key_env` switches the provider on; `base_url_env` moves it.
    key_env: str | None = None
    base_url_env: str | None = None
    default_base_url: str | None = None
    # The surfaces it speaks upstream natively ("chat", and later "responses", "messages"...).
    capabilities: frozenset[str] = frozenset({"chat"})
