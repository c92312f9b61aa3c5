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


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            "[providers.myvllm]\nbase_urll = 'http://x'\n",
            r"providers\.myvllm\.base_urll: unknown key",
        ),
        ("[server]\nprot = 1\n", r"server\.prot: unknown key"),
        ("[server]\nport = 'eighty'\n", r"server\.port: Expected `int`, got `str`"),
        ("[engine]\nslots = 1.5\n", r"engine\.slots: Expected `int`"),
        ("[[local_models]]\nid = 'a'\n", r"local_models\[0\]\.path: required key is missing"),
        (
            "[[models]]\nid = 'a/b'\ncontext_length = 1\ncontext = 2\n",
            r"models\[0\]\.context: unknown key",
        ),
        (
            "[[models]]\nid = 'a/b'\ncontext_length = 1\n[[models.endpoints]]\nprovidr = 'x'\n",
            r"models\[0\]\.endpoints\[0\]\.providr: unknown key",
        ),
        ("[routing]\nsticky = 1\n", r"routing\.sticky: unknown key"),
        ("[limits]\nfree = '20/1m'\n", r"limits\.free: Expected `array`"),
        (
            "[providers.x]\nbase_url = 'http://x'\nkind = 'nope'\n",
            r"providers\.x\.kind: unknown provider kind 'nope'",
        ),
        ("serverr = 1\n", r"serverr: unknown key"),
    ],
)
def test_a_wrong_key_or_type_stops_the_start_naming_its_path(
    tmp_path: Path, toml: str, message: str
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(toml)
    with pytest.raises(ConfigError, match=message):
        load_settings(str(config), env={})


def test_a_known_kind_needs_no_base_url(tmp_path: Path) -> None:
    config = tmp_path / "modelyard.toml"
    config.write_text("[providers.openrouter]\napi_key = 'sk-or'\n")
    upstream = load_settings(str(config), env={}).upstreams["openrouter"]
    assert upstream.base_url == "https://openrouter.ai/api/v1"
    assert (upstream.kind, upstream.name) == ("openrouter", "OpenRouter")


def test_a_bad_number_in_the_environment_is_named() -> None:
    with pytest.raises(ConfigError, match="MODELYARD_PORT"):
        load_settings(None, env={"MODELYARD_PORT": "eighty"})
