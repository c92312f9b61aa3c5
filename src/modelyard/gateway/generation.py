"""One generation: attempts with fallback before the first event, then accounting.

Fallback happens only while nothing has reached the client: once a provider has yielded
its first event the generation is bound to it, and a later failure ends the stream.
Whatever way the generation ends (finish, error, client gone), `finally` settles usage,
cost and the record.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from modelyard.catalog.catalog import Endpoint, Model
from modelyard.core.errors import GatewayError, NoEndpoint, ProviderError
from modelyard.core.events import (
    Event,
    Finish,
    ReasoningDelta,
    StreamError,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from modelyard.core.generation import Cost
from modelyard.core.ids import generation_id
from modelyard.core.provider import Provider, ProviderRequest
from modelyard.gateway import transforms
from modelyard.gateway.cost import cost_of
from modelyard.gateway.planner import Attempt, Plan
from modelyard.gateway.ranking import Router, caches

logger = logging.getLogger("modelyard.gateway")


@dataclass(slots=True)
class Generation:
    """What is known of one request, filled in as it runs; the record is made from it."""

    plan: Plan
    stream: bool
    app: dict[str, str] = field(default_factory=dict)
    id: str = field(default_factory=generation_id)
    created: int = field(default_factory=lambda: int(time.time()))
    started_at: float = field(default_factory=time.perf_counter)
    model: Model | None = None
    endpoint: Endpoint | None = None
    provider_name: str = ""
    usage: Usage | None = None
    finish: Finish | None = None
    error: GatewayError | StreamError | None = None
    first_token_at: float | None = None
    attempt_started_at: float | None = None  # when the attempt that answered began
    ended_at: float | None = None
    cancelled: bool = False
    cost: Cost | None = None
    output_chars: int = 0
    attempts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def model_id(self) -> str:
        return self.model.id if self.model is not None else self.plan.requested

    @property
    def latency_ms(self) -> float | None:
        if self.first_token_at is None:
            return None
        return (self.first_token_at - self.started_at) * 1000

    @property
    def generation_ms(self) -> float | None:
        if self.ended_at is None or self.first_token_at is None:
            return None
        return (self.ended_at - self.first_token_at) * 1000


def _estimated_usage(generation: Generation) -> Usage:
    """A rough count (4 characters a token) when the upstream reported none."""
    prompt_chars = sum(len(str(m.get("content") or "")) for m in _messages(generation))
    return Usage(
        prompt_tokens=max(1, prompt_chars // 4),
        completion_tokens=(generation.output_chars + 3) // 4,
    )


def _messages(generation: Generation) -> list[dict[str, Any]]:
    if not generation.plan.attempts:
        return []
    return generation.plan.attempts[0].body.get("messages") or []


# Admits a generation (a refusal raises) and returns what to call when it ends.
Admit = Callable[[], Awaitable[Callable[[Generation], None]]]


@dataclass(slots=True)
class Started:
    """A planned generation, ready to run: nothing runs until its first event is asked
    for, and closing `events` stops the provider."""

    generation: Generation
    events: AsyncIterator[Event]

    async def stop(self) -> None:
        """Stop a generation nobody waits for any more (frees an engine slot, closes the
        upstream request); its admission settles and records it."""
        await self.events.aclose()  # type: ignore[attr-defined]


async def run_generation(
    providers: Mapping[str, Provider],
    router: Router,
    generation: Generation,
    admit: Admit | None = None,
) -> AsyncIterator[Event]:
    """Yield the events of the first endpoint that starts; raise before the first event
    if none can (the last provider error, or a 503 listing every failure). `admit` runs
    first, here rather than in a generator around this one, which every event would
    travel through."""
    on_end = await admit() if admit is not None else None
    failures: list[ProviderError] = []
    refused: set[str] = set()  # models whose provider refused the request itself (a 4xx)
    attempts = generation.plan.attempts
    try:
        for number, attempt in enumerate(attempts):
            if attempt.model.id in refused:
                continue
            provider = providers[attempt.endpoint.provider]
            attempt_started = time.perf_counter()
            try:
                events, first = await _start(provider, attempt, generation)
            except ProviderError as exc:
                router.health.failure(attempt.model.id, attempt.endpoint.provider, exc.status)
                generation.attempts.append(
                    {"provider": provider.name, "model": attempt.model.id, "status": exc.status}
                )
                failures.append(exc)
                logger.info("attempt failed: %s at %s: %s", attempt.model.id, provider.slug, exc)
                if not exc.retryable:
                    # Another provider of this model would refuse it too; a fallback model in
                    # `models` is tried, as OpenRouter does on any error (context length...).
                    refused.add(attempt.model.id)
                    if all(later.model.id in refused for later in attempts[number + 1 :]):
                        raise
                continue
            except StopAsyncIteration:
                router.health.failure(attempt.model.id, attempt.endpoint.provider)
                failures.append(
                    ProviderError(f"{provider.name} returned nothing", provider=provider.name)
                )
                continue
            async with aclosing(events):
                generation.model = attempt.model
                generation.endpoint = attempt.endpoint
                generation.provider_name = provider.name
                generation.first_token_at = time.perf_counter()
                generation.attempt_started_at = attempt_started
                generation.attempts.append(
                    {"provider": provider.name, "model": attempt.model.id, "status": 200}
                )
                _observe(generation, first)
                yield first
                async for event in events:
                    _observe(generation, event)
                    yield event
                return
        if len(failures) == 1:
            raise failures[0]
        if failures:
            raise NoEndpoint(
                "Every endpoint failed: " + "; ".join(f.message for f in failures),
                status=failures[-1].status if failures[-1].status != 400 else 502,
                # The last provider error in both of OpenRouter's forms, then every attempt.
                metadata={
                    **(failures[-1].metadata or {}),
                    "attempts": [
                        {**(f.metadata or {}), "status": f.status, "message": f.message}
                        for f in failures
                    ],
                },
            )
    except GatewayError as exc:
        generation.error = exc
        raise
    except BaseException:
        # GeneratorExit / CancelledError: the client went away mid-generation.
        if generation.finish is None and generation.error is None:
            generation.cancelled = True
        raise
    finally:
        _settle(generation)
        _feed_routing(router, generation)
        if on_end is not None:
            on_end(generation)


async def _start(
    provider: Any, attempt: Attempt, generation: Generation
) -> tuple[AsyncIterator[Event], Event]:
    """Open the attempt and wait for its first event. Under middle-out the prompt is first
    compressed to the endpoint's context by estimate; if the provider still finds it over
    and says by how much, it is compressed again with the provider's own ratio."""
    endpoint = attempt.endpoint
    body = attempt.body
    compress = transforms.enabled(generation.plan.middle_out, endpoint.context_length)
    budget = transforms.budget_for(body, endpoint.context_length)
    for retry in range(3):
        if compress:
            body, removed = transforms.middle_out(attempt.body, budget)
            if body is not attempt.body:
                logger.info("middle-out: %s messages removed to fit %s", removed, budget)
        events: Any = provider.generate(ProviderRequest(endpoint.model, body, generation.stream))
        try:
            return events, await anext(events)
        except ProviderError as exc:
            await events.aclose()
            numbers = transforms.overflow(exc.metadata)
            if not compress or numbers is None or retry == 2:
                raise
            prompt, context = numbers
            sent = transforms.estimate(body)
            budget = transforms.budget_for(attempt.body, context) * sent * 9 // (10 * prompt)
        except BaseException:
            await events.aclose()
            raise
    raise AssertionError("unreachable")


def _observe(generation: Generation, event: Event) -> None:
    if isinstance(event, (TextDelta, ReasoningDelta)):  # a tuple: quicker than a union
        generation.output_chars += len(event.text)
    elif isinstance(event, ToolCallDelta):
        generation.output_chars += len(event.arguments) + len(event.name or "")
    elif isinstance(event, Usage):
        generation.usage = event
    elif isinstance(event, Finish):
        generation.finish = event
    elif isinstance(event, StreamError):
        generation.error = event


def _settle(generation: Generation) -> None:
    generation.ended_at = time.perf_counter()
    if generation.endpoint is None:
        return
    if generation.usage is None:
        generation.usage = _estimated_usage(generation)
    generation.cost = cost_of(generation.usage, generation.endpoint.pricing)


def _feed_routing(router: Router, generation: Generation) -> None:
    """At generation end: feed health (latency, throughput, a mid-stream failure) and
    remember the conversation's provider."""
    model, endpoint = generation.model, generation.endpoint
    if model is None or endpoint is None or generation.first_token_at is None:
        return
    if isinstance(generation.error, StreamError):
        router.health.failure(model.id, endpoint.provider, generation.error.status)
        return
    started = generation.attempt_started_at or generation.started_at
    latency = generation.first_token_at - started
    throughput = None
    if not generation.cancelled and generation.usage and generation.ended_at:
        since = generation.first_token_at if generation.stream else started
        seconds = generation.ended_at - since
        if seconds > 0 and generation.usage.completion_tokens > 0:
            throughput = generation.usage.completion_tokens / seconds
    router.health.success(model.id, endpoint.provider, latency, throughput)
    key = generation.plan.sticky_key
    if key is not None and caches(endpoint):
        router.sticky.set(model.id, key, endpoint.provider)
