"""Read the settings from an optional TOML file and the environment.

The environment wins over the file so that a container or CI can override any deployment
file without editing it. The file is typed: an unknown key or a wrong type stops the start
with an error that names its path (`providers.myvllm.base_urll: unknown key`). Providers
switched on by an environment key come from the provider registry, so a registered kind
(ours or a plugin's) is configured the same way as the built-in ones. Secrets (API keys)
are held in the settings and nowhere else; `repr` hides them.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from msgspec import Struct

from modelyard.catalog.catalog import ModelTable
from modelyard.core.provider import ProviderConfig
from modelyard.core.settings import EngineConfig, LocalModelConfig
from modelyard.core.validation import field_problem
from modelyard.providers import registry

__all__ = [
    "ConfigError",
    "EngineConfig",
    "LocalModelConfig",
    "ProviderConfig",
    "Settings",
    "load_settings",
]


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
    upstreams: dict[str, ProviderConfig] = field(default_factory=dict)
    engine: EngineConfig = field(default_factory=EngineConfig)
    local_models: list[LocalModelConfig] = field(default_factory=list)
    # Extra catalog entries, in the same shape as catalog/models.toml's [[models]].
    extra_models: list[ModelTable] = field(default_factory=list)
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


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message names it."""


class _Table(Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class ServerTable(_Table):
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    api_keys: list[str] = []
    max_body_bytes: int = 8 * 1024 * 1024
    keepalive_seconds: float = 2.0
    log_level: str = "info"
    database_url: str | None = None
    redis_url: str | None = None
    admin_key: str | None = None
    spool_dir: str | None = None


class ProviderTable(_Table):
    base_url: str | None = None
    api_key: str = ""
    api_key_env: str | None = None
    name: str | None = None
    kind: str | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 300.0
    max_connections: int = 256


class RoutingTable(_Table):
    failure_window_seconds: float = 30.0
    sticky_seconds: float = 600.0


class LimitsTable(_Table):
    key: str | None = None
    models: dict[str, str] = {}
    free: list[str] = msgspec.field(default_factory=lambda: ["20/1m", "50/1d"])


class ConfigFile(_Table):
    server: ServerTable = msgspec.field(default_factory=ServerTable)
    engine: EngineConfig = msgspec.field(default_factory=EngineConfig)
    local_models: list[LocalModelConfig] = []
    # Checked table by table, so that an error names the provider's slug.
    providers: dict[str, dict[str, Any]] = {}
    models: list[ModelTable] = []
    routing: RoutingTable = msgspec.field(default_factory=RoutingTable)
    limits: LimitsTable = msgspec.field(default_factory=LimitsTable)


def _convert(value: Any, kind: type[Any], where: str = "") -> Any:
    try:
        return msgspec.convert(value, kind)
    except msgspec.ValidationError as exc:
        problem = field_problem(exc, where)
        if problem.kind == "unknown":
            raise ConfigError(f"{problem.path}: unknown key") from None
        if problem.kind == "missing":
            raise ConfigError(f"{problem.path}: required key is missing") from None
        raise ConfigError(f"{problem.path or 'the config file'}: {problem.message}") from None


def _as_bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int_env(env: dict[str, str], name: str) -> int | None:
    value = env.get(name)
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None


def _provider(slug: str, raw: dict[str, Any], env: dict[str, str]) -> ProviderConfig:
    where = f"providers.{slug}"
    table: ProviderTable = _convert(raw, ProviderTable, where)
    kind_slug = table.kind or (slug if registry.kind(slug) else registry.DEFAULT_KIND)
    kind = registry.kind(kind_slug)
    if kind is None:
        known = ", ".join(sorted(registry.kinds()))
        raise ConfigError(f"{where}.kind: unknown provider kind {kind_slug!r} (known: {known})")
    base_url = table.base_url or kind.default_base_url
    if not base_url:
        raise ConfigError(f"{where}.base_url is required")
    api_key = table.api_key
    if table.api_key_env:
        api_key = env.get(table.api_key_env, "")
    return ProviderConfig(
        slug=slug,
        base_url=base_url.rstrip("/"),
        api_key=api_key,
        name=table.name or (kind.name if kind_slug == slug else slug),
        kind=kind_slug,
        connect_timeout=table.connect_timeout,
        read_timeout=table.read_timeout,
        max_connections=table.max_connections,
    )


def read_config_file(path: Path) -> ConfigFile:
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    return _convert(data, ConfigFile)


def load_settings(config_file: str | None = None, env: dict[str, str] | None = None) -> Settings:
    """Build the settings from `config_file` (TOML) and then the environment."""
    env = dict(os.environ if env is None else env)
    config_file = config_file or env.get("MODELYARD_CONFIG") or None
    file = read_config_file(Path(config_file)) if config_file else ConfigFile()
    server = file.server
    settings = Settings(
        host=server.host,
        port=server.port,
        workers=server.workers,
        api_keys=list(server.api_keys),
        max_body_bytes=server.max_body_bytes,
        keepalive_seconds=server.keepalive_seconds,
        log_level=server.log_level,
        config_file=config_file,
        database_url=server.database_url or None,
        redis_url=server.redis_url or None,
        admin_key=server.admin_key or None,
        spool_dir=server.spool_dir or None,
        engine=file.engine,
        local_models=list(file.local_models),
        extra_models=list(file.models),
        failure_window_seconds=file.routing.failure_window_seconds,
        sticky_seconds=file.routing.sticky_seconds,
        key_rate_limit=file.limits.key or None,
        model_rate_limits=dict(file.limits.models),
        free_rate_limits=list(file.limits.free),
    )
    for slug, table in file.providers.items():
        if not isinstance(table, dict):
            raise ConfigError(f"providers.{slug}: expected a table")
        settings.upstreams[slug] = _provider(slug, table, env)

    # The environment: a registered kind's key switches it on.
    for kind in registry.kinds().values():
        if kind.key_env is None:
            continue
        configured = settings.upstreams.get(kind.slug)
        if key := env.get(kind.key_env):
            base = (
                (env.get(kind.base_url_env) if kind.base_url_env else None)
                or (configured.base_url if configured else None)
                or kind.default_base_url
            )
            if not base:
                raise ConfigError(f"{kind.base_url_env or kind.slug} needs a base URL")
            settings.upstreams[kind.slug] = ProviderConfig(
                slug=kind.slug,
                base_url=base.rstrip("/"),
                api_key=key,
                name=kind.name,
                kind=kind.slug,
            )
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
    if (port := _int_env(env, "MODELYARD_PORT")) is not None:
        settings.port = port
    if "MODELYARD_ENGINE" in env:
        settings.engine.enabled = _as_bool(env["MODELYARD_ENGINE"])
    if (slots := _int_env(env, "MODELYARD_ENGINE_SLOTS")) is not None:
        settings.engine.slots = slots
    if (threads := _int_env(env, "MODELYARD_ENGINE_THREADS")) is not None:
        settings.engine.threads = threads
    if level := env.get("MODELYARD_LOG_LEVEL"):
        settings.log_level = level
    if "MODELYARD_INSECURE_NO_AUTH" in env:
        settings.insecure_no_auth = _as_bool(env["MODELYARD_INSECURE_NO_AUTH"])
    return settings
