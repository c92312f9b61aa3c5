"""The engine in-process: its own HTTP listener is locked, its logs reach our logger."""

from __future__ import annotations

import logging
import urllib.error
import urllib.request

import pytest

from modelyard.core.settings import EngineConfig, LocalModelConfig
from modelyard.providers.local.engine import DEFAULT_MODEL_ID, LocalModel, default_gguf_path

pytestmark = pytest.mark.engine


def test_default_model_ships_in_a_wheel() -> None:
    path = default_gguf_path()
    assert path is not None and path.stat().st_size > 50_000_000


def test_engine_listener_refuses_requests(caplog: pytest.LogCaptureFixture) -> None:
    path = default_gguf_path()
    assert path is not None
    model = LocalModel(
        LocalModelConfig(id=DEFAULT_MODEL_ID, path=str(path), context_length=512),
        EngineConfig(slots=1, threads=1),
    )
    with caplog.at_level(logging.INFO, logger="modelyard.engine"):
        server = model.load()
    assert any("engine ready" in r.message for r in caplog.records)
    address = server.listening_address
    assert address.startswith("http://127.0.0.1:")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{address}/v1/models", timeout=5)
    assert info.value.code == 401
