"""One typed settings object, read from an optional TOML file and the environment.

The environment wins over the file so that a container or CI can override any deployment
file without editing it. Secrets (API keys) are held here and nowhere else; `repr` hides them.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Upstreams enabled by an API key in the environment: slug -> (key var, base URL var, default).
KNOWN_UPSTREAMS: dict[str, tuple[str, str, str, str]] = {
    "openai": ("OPENAI_API_KEY", "OPENAI_BASE_URL", "https://api.openai.com/v1", "OpenAI"),
    "openrouter": (
        "OPENROUTER_API_KEY",
        "OPENROUTER_BASE_URL",
        "https://openrouter.ai/api/v1",
        "OpenRouter",
    ),
    "aimlapi": ("AIMLAPI_API_KEY", "AIMLAPI_BASE_URL", "https://api.aimlapi.com/v1", "AIML API"),
}


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message names it."""


@dataclass(slots=True)
class UpstreamConfig:
    """One OpenAI-compatible upstream provider."""

    slug: str
    base_url: str
    api_key: str = field(default="", repr=False)
    name: str = ""
    connect_timeout: float = 10.0
    # Time allowed between two reads (first byte included); generous for slow reasoning models.
    read_timeout: float = 300.0
    max_connections: int = 256


@dataclass(slots=True)
class LocalModelConfig:
    """A GGUF file served by the embedded engine."""

    id: str
    path: str
    name: str = ""
    context_length: int = 8192
    description: str = ""
    # The chat template has a thinking mode: `reasoning` is mapped onto it.
    reasoning: bool = False
    # What the model holds in memory, counted against the engine's budget (0: the file size).
    memory_mb: int = 0
    # A Jinja chat template used instead of the one in the GGUF file (empty: the file's).
    chat_template: str = ""


@dataclass(slots=True)
class EngineConfig:
    """Embedded llama.cpp engine settings."""

    enabled: bool = True
    slots: int = 4
    threads: int = 0  # 0: all cores
    preload: bool = True  # the default model loads at start; the others on first use
    # Loaded models are unloaded, least recently used first, to stay under this (0: no limit).
    memory_budget_mb: int = 0
    # A model other than the default is unloaded after this long unused (0: never).
    idle_unload_seconds: float = 0.0


@dataclass(slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    api_keys: list[str] = field(default_factory=list, repr=False)
    insecure_no_auth: bool = False
    max_body_bytes: int = 8 * 1024 * 1024
    # While no token has arrived, an SSE comment is sent this often so proxies keep the line.
    keepalive_seconds: float = 2.0
    log_level: str = "info"
    upstreams: dict[str, UpstreamConfig] = field(default_factory=dict)
    engine: EngineConfig = field(default_factory=EngineConfig)
    local_models: list[LocalModelConfig] = field(default_factory=list)
    # Extra catalog entries, in the same shape as catalog/models.toml's [[models]].
    extra_models: list[dict[str, Any]] = field(default_factory=list)
    config_file: str | None = None
    # Routing: how long a failure keeps an endpoint out of first place, and how long a
    # conversation stays on the provider that served it (OpenRouter: 30 s and 10 min).
    failure_window_seconds: float = 30.0
    sticky_seconds: float = 600.0
    # Storage: unset means SQLite under the user's data dir; postgresql://... for N processes.
    database_url: str | None = field(default=None, repr=False)
    # Optional; shares rate limits and key invalidations across processes.
    redis_url: str | None = field(default=None, repr=False)
    # The provisioning key that manages inference keys (/api/v1/keys); never used for inference.
    admin_key: str | None = field(default=None, repr=False)
    # Where generation records wait while the database is down (default: the data dir).
    spool_dir: str | None = None
    # Request limits as "requests/interval" ("600/1m"): per key (a key's own setting wins),
    # per key and model (by model id), and per key across `:free` variants.
    key_rate_limit: str | None = None
    model_rate_limits: dict[str, str] = field(default_factory=dict)
    free_rate_limits: list[str] = field(default_factory=lambda: ["20/1m", "50/1d"])


def _as_bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _upstream_from_table(slug: str, table: dict[str, Any]) -> UpstreamConfig:
    if "base_url" not in table:
        raise ConfigError(f"providers.{slug}.base_url is required")
    api_key = table.get("api_key", "")
    if env_name := table.get("api_key_env"):
        api_key = os.environ.get(env_name, "")
    return UpstreamConfig(
        slug=slug,
        base_url=str(table["base_url"]).rstrip("/"),
        api_key=api_key,
        name=table.get("name", slug),
        connect_timeout=float(table.get("connect_timeout", 10.0)),
        read_timeout=float(table.get("read_timeout", 300.0)),
        max_connections=int(table.get("max_connections", 256)),
    )


def load_settings(config_file: str | None = None, env: dict[str, str] | None = None) -> Settings:
    """Build the settings from `config_file` (TOML) and then the environment."""
    env = dict(os.environ if env is None else env)
    config_file = config_file or env.get("MODELYARD_CONFIG") or None
    data: dict[str, Any] = {}
    if config_file:
        path = Path(config_file)
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError as exc:
            raise ConfigError(f"config file not found: {path}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc

    server = data.get("server", {})
    settings = Settings(
        host=server.get("host", "127.0.0.1"),
        port=int(server.get("port", 8080)),
        workers=int(server.get("workers", 1)),
        api_keys=list(server.get("api_keys", [])),
        max_body_bytes=int(server.get("max_body_bytes", 8 * 1024 * 1024)),
        keepalive_seconds=float(server.get("keepalive_seconds", 2.0)),
        log_level=str(server.get("log_level", "info")),
        config_file=config_file,
        database_url=server.get("database_url") or None,
        redis_url=server.get("redis_url") or None,
        admin_key=server.get("admin_key") or None,
    )
    engine = data.get("engine", {})
    settings.engine = EngineConfig(
        enabled=bool(engine.get("enabled", True)),
        slots=int(engine.get("slots", 4)),
        threads=int(engine.get("threads", 0)),
        preload=bool(engine.get("preload", True)),
        memory_budget_mb=int(engine.get("memory_budget_mb", 0)),
        idle_unload_seconds=float(engine.get("idle_unload_seconds", 0.0)),
    )
    for item in data.get("local_models", []):
        if "id" not in item or "path" not in item:
            raise ConfigError("each [[local_models]] needs an id and a path")
        settings.local_models.append(
            LocalModelConfig(
                id=item["id"],
                path=item["path"],
                name=item.get("name", ""),
                context_length=int(item.get("context_length", 8192)),
                description=item.get("description", ""),
                reasoning=bool(item.get("reasoning", False)),
                memory_mb=int(item.get("memory_mb", 0)),
                chat_template=str(item.get("chat_template", "")),
            )
        )
    settings.extra_models = list(data.get("models", []))
    routing = data.get("routing", {})
    settings.failure_window_seconds = float(routing.get("failure_window_seconds", 30.0))
    settings.sticky_seconds = float(routing.get("sticky_seconds", 600.0))
    limits = data.get("limits", {})
    settings.key_rate_limit = limits.get("key") or None
    settings.model_rate_limits = dict(limits.get("models", {}))
    settings.free_rate_limits = list(limits.get("free", settings.free_rate_limits))
    settings.spool_dir = server.get("spool_dir") or None
    for slug, table in data.get("providers", {}).items():
        settings.upstreams[slug] = _upstream_from_table(slug, table)

    # The environment.
    for slug, (key_var, url_var, default_url, name) in KNOWN_UPSTREAMS.items():
        if key := env.get(key_var):
            base = env.get(url_var) or (
                settings.upstreams[slug].base_url if slug in settings.upstreams else default_url
            )
            settings.upstreams[slug] = UpstreamConfig(
                slug=slug, base_url=base.rstrip("/"), api_key=key, name=name
            )
        elif slug in settings.upstreams and not settings.upstreams[slug].name:
            settings.upstreams[slug].name = name
    if keys := env.get("MODELYARD_API_KEYS"):
        settings.api_keys = [k.strip() for k in keys.split(",") if k.strip()]
    if url := env.get("MODELYARD_DATABASE_URL"):
        settings.database_url = url
    if url := env.get("MODELYARD_REDIS_URL"):
        settings.redis_url = url
    if admin := env.get("MODELYARD_ADMIN_KEY"):
        settings.admin_key = admin
    if spool := env.get("MODELYARD_SPOOL_DIR"):
        settings.spool_dir = spool
    if host := env.get("MODELYARD_HOST"):
        settings.host = host
    if port := env.get("MODELYARD_PORT"):
        settings.port = int(port)
    if "MODELYARD_ENGINE" in env:
        settings.engine.enabled = _as_bool(env["MODELYARD_ENGINE"])
    if slots := env.get("MODELYARD_ENGINE_SLOTS"):
        settings.engine.slots = int(slots)
    if threads := env.get("MODELYARD_ENGINE_THREADS"):
        settings.engine.threads = int(threads)
    if level := env.get("MODELYARD_LOG_LEVEL"):
        settings.log_level = level
    if "MODELYARD_INSECURE_NO_AUTH" in env:
        settings.insecure_no_auth = _as_bool(env["MODELYARD_INSECURE_NO_AUTH"])
    return settings
