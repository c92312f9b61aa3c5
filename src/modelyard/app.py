"""Builds the ASGI app and wires the lifespan: one Gateway per process."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from modelyard.accounts.service import Accounts
from modelyard.api.account import routes as account_routes
from modelyard.api.auth import Authenticator, AuthMiddleware
from modelyard.api.chat import chat_completions
from modelyard.api.direct import DirectApp, Handler
from modelyard.api.errors import (
    gateway_error_handler,
    http_error_handler,
    unexpected_error_handler,
)
from modelyard.api.models import get_model, list_models, model_endpoints
from modelyard.api.responses import create_response
from modelyard.api.responses import routes as responses_routes
from modelyard.api.web import routes as web_routes
from modelyard.config import Settings, load_settings
from modelyard.core.errors import GatewayError
from modelyard.gateway.gateway import Gateway
from modelyard.gateway.generation import Generation
from modelyard.responses.service import ResponsesService
from modelyard.schema import MIGRATIONS
from modelyard.stats.rollup import Rollup
from modelyard.store.database import Database, redact

logger = logging.getLogger("modelyard")

API_PREFIXES = ("/api/v1", "/v1")


async def health(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def _direct() -> dict[str, Handler]:
    """The inference routes, served before Starlette's router (api/direct.py)."""
    direct: dict[str, Handler] = {}
    for prefix in API_PREFIXES:
        direct[f"{prefix}/chat/completions"] = chat_completions
        direct[f"{prefix}/responses"] = create_response
    return direct


def _routes() -> list[Route]:
    routes: list[Route] = [Route("/health", health)]
    for prefix in API_PREFIXES:
        # Listed here too, so that another method gets Starlette's 405.
        routes += [
            Route(f"{prefix}/chat/completions", chat_completions, methods=["POST"]),
            Route(f"{prefix}/models", list_models, methods=["GET"]),
            Route(
                f"{prefix}/models/{{author}}/{{slug}}/endpoints", model_endpoints, methods=["GET"]
            ),
            Route(f"{prefix}/models/{{model_id:path}}", get_model, methods=["GET"]),
        ]
        routes += responses_routes(prefix)
        routes += account_routes(prefix)
    return routes + web_routes()


def _log_generation(generation: Generation) -> None:
    """The end-of-generation hook; the accounts room records here."""
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "generation %s model=%s provider=%s finish=%s cancelled=%s usage=%s",
            generation.id,
            generation.model_id,
            generation.provider_name,
            generation.finish.reason if generation.finish else None,
            generation.cancelled,
            generation.usage,
        )


async def _redis(url: str | None) -> Any:
    """A Redis client when configured (shared limits and key invalidation); checked now so
    that a wrong URL stops the start instead of every request."""
    if not url:
        return None
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    await client.ping()
    return client


# Young collections run after this many net allocations (Python's default is 700).
GC_YOUNG_THRESHOLD = 20_000


def _tune_gc() -> None:
    """What is loaded at start lives as long as the process: frozen, the collector stops
    walking it (a full collection took ~25 ms with it, several a second under load). Most
    request objects die by reference count, so young collections can be rarer too: ~300
    a second under load at the default threshold, 12% of the worker's CPU in all."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 50, 100)


def create_app(settings: Settings | None = None) -> DirectApp:
    settings = settings or load_settings()
    gateway = Gateway(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if not settings.api_keys and not settings.admin_key:
            logger.warning(
                "no API keys are configured: the gateway is open to anyone who can reach "
                "%s:%s (set MODELYARD_API_KEYS to require a key)",
                settings.host,
                settings.port,
            )
        database = Database(settings.database_url)
        await database.connect(migrations=MIGRATIONS)
        logger.info("database: %s", redact(database.url))
        app.state.database = database
        redis = await _redis(settings.redis_url)
        # The end-of-generation hook stays app.state.on_generation_end, called after the
        # record is queued and the reservation settled.
        accounts = Accounts(settings, database, redis, lambda g: app.state.on_generation_end(g))
        await accounts.start()
        app.state.accounts = accounts
        app.state.responses = responses = ResponsesService(database)
        await gateway.start()
        _tune_gc()
        app.state.web_rollup = rollup = Rollup(database)
        warming = asyncio.create_task(rollup.warm())
        try:
            yield
        finally:
            warming.cancel()
            await gateway.aclose()
            await responses.aclose()
            await accounts.aclose()
            if redis is not None:
                await redis.aclose()
            await database.close()

    app = DirectApp(
        direct=_direct(),
        routes=_routes(),
        lifespan=lifespan,
        middleware=[Middleware(AuthMiddleware)],
        exception_handlers={
            GatewayError: gateway_error_handler,
            HTTPException: http_error_handler,
            Exception: unexpected_error_handler,
        },
    )
    app.state.gateway = gateway
    app.state.auth = Authenticator()
    app.state.on_generation_end = _log_generation
    return app
