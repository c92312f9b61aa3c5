"""Several local models under a memory budget, idle unloading, and the fair slot queue."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from modelyard.providers.local.engine import default_gguf_path
from tests.catalog import local_model_toml, section
from tests.conftest import LOCAL_MODEL, GatewayProcess

pytestmark = pytest.mark.engine

EOS = "2"  # SmolLM2's <|im_end|>


def _extra(model_id: str, memory_mb: int) -> str:
    return local_model_toml(
        model_id, str(default_gguf_path()), context_length=2048, memory_mb=memory_mb
    )


@pytest.fixture(scope="module")
def models_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """One slot; the default model (its file size) plus two 150 MB models fit in 400 MB."""
    config = section("server", keepalive_seconds=0.25) + section("engine", memory_budget_mb=400)
    config += "".join(_extra(f"test/smol-{n}", 150) for n in "abc")
    process = GatewayProcess(
        tmp_path_factory.mktemp("models"),
        config,
        {"MODELYARD_ENGINE_SLOTS": "1", "MODELYARD_LOG_LEVEL": "debug"},
    ).start()
    yield process
    process.stop()


def _ask(gateway: GatewayProcess, model: str) -> None:
    response = httpx.post(
        f"{gateway.base}/api/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2},
        timeout=120,
    )
    assert response.status_code == 200, response.text


def _wait_for(gateway: GatewayProcess, pattern: str, count: int = 1) -> None:
    deadline = time.monotonic() + 60
    while len(re.findall(pattern, gateway.log())) < count:
        assert time.monotonic() < deadline, f"never logged {pattern!r}: {gateway.log()[-3000:]}"
        time.sleep(0.05)


def test_models_load_on_first_use_and_the_budget_unloads_the_least_recently_used(
    models_gateway: GatewayProcess,
) -> None:
    log = models_gateway.log
    assert "engine ready: huggingfacetb/smollm2-135m-instruct" in log()
    assert "engine ready: test/smol-a" not in log()
    _ask(models_gateway, "test/smol-a")
    assert "engine ready: test/smol-a" in log()
    _ask(models_gateway, "test/smol-b")
    _ask(models_gateway, "test/smol-a")  # b is now the least recently used
    assert "unloaded" not in log()
    _ask(models_gateway, "test/smol-c")
    assert re.findall(r"engine unloaded: (\S+) \(memory budget\)", log()) == ["test/smol-b"]
    _ask(models_gateway, "test/smol-b")  # loads again, in a's place
    assert re.findall(r"engine unloaded: (\S+) \(memory budget\)", log()) == [
        "test/smol-b",
        "test/smol-a",
    ]
    assert log().count("engine ready: test/smol-b") == 2
    assert "engine unloaded: huggingfacetb" not in log()  # the default model stays


def _stream(gateway: GatewayProcess, body: dict[str, Any]) -> Any:
    return httpx.stream(
        "POST",
        f"{gateway.base}/api/v1/chat/completions",
        json={"model": LOCAL_MODEL, "stream": True, **body},
        timeout=120,
    )


def test_requests_beyond_the_slots_queue_in_order_and_leave_when_the_client_does(
    models_gateway: GatewayProcess,
) -> None:
    finished: list[str] = []

    def queued(name: str) -> None:
        body = {"messages": [{"role": "user", "content": f"Say {name}"}], "max_tokens": 4}
        with _stream(models_gateway, body) as response:
            for line in response.iter_lines():
                if line == "data: [DONE]":
                    finished.append(name)

    queued_before = len(re.findall("queued for a slot", models_gateway.log()))
    left_before = len(re.findall("left the slot queue", models_gateway.log()))
    holder_body = {
        "messages": [{"role": "user", "content": "Count to a million."}],
        "max_tokens": 4000,
        "logit_bias": {EOS: -100},
    }
    with _stream(models_gateway, holder_body) as holder:
        lines = holder.iter_lines()
        while not next(lines).startswith('data: {"'):
            pass  # the holder has the only slot
        threads = []
        for n, name in enumerate(["first", "second"], start=1):
            threads.append(threading.Thread(target=queued, args=(name,)))
            threads[-1].start()
            _wait_for(models_gateway, "queued for a slot", queued_before + n)
        with _stream(models_gateway, {"messages": [{"role": "user", "content": "Hi"}]}) as gone:
            assert gone.status_code == 200
            _wait_for(models_gateway, "queued for a slot", queued_before + 3)
        # The third client left: it is out of the line before any slot frees.
        _wait_for(models_gateway, r"left the slot queue: 2 waiting", left_before + 1)
    for thread in threads:
        thread.join(120)
    assert finished == ["first", "second"]
    assert len(re.findall("queued for a slot", models_gateway.log())) == queued_before + 3


def test_an_idle_model_is_unloaded_and_loads_again_on_use(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    config = section("engine", idle_unload_seconds=0.5) + _extra("test/smol-idle", 0)
    gateway = GatewayProcess(tmp_path_factory.mktemp("idle"), config).start()
    try:
        _ask(gateway, "test/smol-idle")
        _wait_for(gateway, r"engine unloaded: test/smol-idle \(idle\)")
        _ask(gateway, "test/smol-idle")
        assert gateway.log().count("engine ready: test/smol-idle") == 2
        models = httpx.get(f"{gateway.base}/api/v1/models", timeout=10).json()["data"]
        assert "test/smol-idle" in {m["id"] for m in models}  # listed, loaded or not
    finally:
        gateway.stop()
