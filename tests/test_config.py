"""Settings from a TOML file and the environment; the environment wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.config import ConfigError, load_settings


def test_file_then_environment(tmp_path: Path) -> None:
    config = tmp_path / "modelyard.toml"
    config.write_text("[server]\nport = 9001\n[engine]\nslots = 3\nthreads = 1\n")
    settings = load_settings(str(config), env={})
    assert (settings.port, settings.engine.slots, settings.engine.threads) == (9001, 3, 1)
    settings = load_settings(
        str(config), env={"MODELYARD_PORT": "9002", "MODELYARD_ENGINE_THREADS": "2"}
    )
    assert (settings.port, settings.engine.slots, settings.engine.threads) == (9002, 3, 2)
    assert load_settings(None, env={}).engine.threads == 0


def test_upstream_from_environment_keeps_its_key_out_of_repr() -> None:
    settings = load_settings(
        None, env={"OPENAI_API_KEY": "sk-secret", "OPENAI_BASE_URL": "http://127.0.0.1:1/v1/"}
    )
    upstream = settings.upstreams["openai"]
    assert upstream.base_url == "http://127.0.0.1:1/v1" and upstream.api_key == "sk-secret"
    assert "sk-secret" not in repr(settings)


def test_missing_provider_base_url_is_named(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[providers.mine]\napi_key = 'x'\n")
    with pytest.raises(ConfigError, match=r"providers\.mine\.base_url"):
        load_settings(str(config), env={})
