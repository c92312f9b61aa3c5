"""Keys, credits, limits and records on the default backend (SQLite, one process)."""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.accounts_helpers import (
    ADMIN,
    COST_PER_REQUEST,
    MODEL,
    admin,
    chat,
    config,
    create_key,
    generation,
    key_info,
)
from tests.catalog import section
from tests.conftest import GatewayProcess
from tests.upstream_mock import MockUpstream


@pytest.fixture(scope="module")
def gw(
    tmp_path_factory: pytest.TempPathFactory, upstream: MockUpstream
) -> Iterator[GatewayProcess]:
    extra = section("limits", free=["2/1m"], models={"acct/other": "3/1h"})
    process = GatewayProcess(
        tmp_path_factory.mktemp("accounts"),
        config(upstream.url, extra),
        {"MODELYARD_ADMIN_KEY": ADMIN},
    ).start()
    yield process
    process.stop()


def test_key_lifecycle_and_plaintext_shown_once(gw: GatewayProcess) -> None:
    plaintext, data = create_key(gw.base, name="ci", limit=1.5, limit_reset="daily")
    assert plaintext.startswith("sk-my-v1-") and len(plaintext) == len("sk-my-v1-") + 64
    assert data["limit"] == 1.5 and data["limit_remaining"] == 1.5
    assert data["limit_reset"] == "daily" and data["usage"] == 0 and not data["disabled"]
    assert plaintext not in admin(gw.base, "GET", f"/keys/{data['hash']}").text
    listed = admin(gw.base, "GET", "/keys").json()["data"]
    assert data["hash"] in {k["hash"] for k in listed}
    assert all("key" not in k for k in listed)
    # Only a hash is stored: the plaintext appears nowhere in the database file.
    folder = gw.config_path.parent
    database = b"".join(p.read_bytes() for p in folder.glob("modelyard.db*") if p.is_file())
    assert plaintext.encode() not in database and data["hash"].encode() in database

    patched = admin(gw.base, "PATCH", f"/keys/{data['hash']}", {"name": "renamed", "limit": None})
    assert patched.status_code == 200
    assert patched.json()["data"]["name"] == "renamed" and patched.json()["data"]["limit"] is None
    assert admin(gw.base, "DELETE", f"/keys/{data['hash']}").json() == {"deleted": True}
    assert admin(gw.base, "GET", f"/keys/{data['hash']}").status_code == 404
    assert admin(gw.base, "DELETE", f"/keys/{data['hash']}").status_code == 404


def test_usage_matches_records(gw: GatewayProcess) -> None:
    key, data = create_key(gw.base, limit=1)
    ids = []
    for stream in (False, True, False):
        response = chat(gw.base, key, stream=stream)
        assert response.status_code == 200, response.text
        ids.append(response.headers["x-generation-id"])
    records = [generation(gw.base, key, i) for i in ids]
    assert [r["streamed"] for r in records] == [False, True, False]
    for record in records:
        assert record["model"] == MODEL and record["provider_name"] == "Mock"
        assert record["tokens_prompt"] == 1000 and record["tokens_completion"] == 500
        assert record["native_tokens_cached"] == 200 and record["finish_reason"] == "stop"
        assert record["total_cost"] == pytest.approx(COST_PER_REQUEST)
        assert record["latency"] is not None and record["generation_time"] is not None
        assert record["app_title"] == "accounts-test" and not record["cancelled"]
    info = key_info(gw.base, key)
    total = sum(r["total_cost"] for r in records)
    assert info["usage"] == pytest.approx(total) and info["usage_daily"] == pytest.approx(total)
    assert info["limit_remaining"] == pytest.approx(1 - total)
    assert info["label"] == data["label"] and info["is_provisioning_key"] is False
    legacy = httpx.get(
        f"{gw.base}/api/v1/auth/key", headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    assert legacy.json()["data"] == info
    credits = httpx.get(
        f"{gw.base}/api/v1/credits", headers={"Authorization": f"Bearer {key}"}, timeout=30
    ).json()["data"]
    assert credits == {"total_credits": 1.0, "total_usage": pytest.approx(total)}
    # Another key cannot read these records.
    other, _ = create_key(gw.base)
    response = httpx.get(
        f"{gw.base}/api/v1/generation",
        params={"id": ids[0]},
        headers={"Authorization": f"Bearer {other}"},
        timeout=30,
    )
    assert response.status_code == 404


def test_insufficient_credits_402_with_numbers(gw: GatewayProcess) -> None:
    key, _ = create_key(gw.base, limit=0.004)
    assert chat(gw.base, key).status_code == 200
    refused = chat(gw.base, key, max_tokens=1000)
    assert refused.status_code == 402, refused.text
    error = refused.json()["error"]
    assert "You requested up to 1000 tokens, but can only afford" in error["message"]
    meta = error["metadata"]
    assert meta["limit"] == 0.004 and meta["requested_tokens"] == 1000
    assert 0 <= meta["affordable_tokens"] < 1000
    assert meta["required"] > meta["limit_remaining"]
    # Unset max_tokens reserves the endpoint's max output (1000 here).
    assert "up to 1000 tokens" in chat(gw.base, key, max_tokens=None).json()["error"]["message"]
    # Fewer max_tokens fits what is left.
    affordable = meta["affordable_tokens"]
    if affordable >= 1:
        response = chat(gw.base, key, max_tokens=affordable)
        assert response.status_code in (200, 402)
    assert key_info(gw.base, key)["usage"] <= 0.004


def test_disabled_and_deleted_keys_are_refused_at_once(gw: GatewayProcess) -> None:
    key, data = create_key(gw.base)
    assert chat(gw.base, key).status_code == 200
    admin(gw.base, "PATCH", f"/keys/{data['hash']}", {"disabled": True})
    refused = chat(gw.base, key)
    assert refused.status_code == 401 and refused.json()["error"]["message"] == "Invalid API key"
    admin(gw.base, "PATCH", f"/keys/{data['hash']}", {"disabled": False})
    assert chat(gw.base, key).status_code == 200
    admin(gw.base, "DELETE", f"/keys/{data['hash']}")
    assert chat(gw.base, key).status_code == 401
    assert httpx.get(f"{gw.base}/api/v1/key", timeout=10).status_code == 401


def test_allowed_models(gw: GatewayProcess) -> None:
    key, _ = create_key(gw.base, allowed_models=[MODEL])
    assert chat(gw.base, key).status_code == 200
    refused = chat(gw.base, key, model="acct/other")
    assert refused.status_code == 403 and "acct/other" in refused.json()["error"]["message"]


def test_rate_limits_429_with_headers(gw: GatewayProcess) -> None:
    key, _ = create_key(gw.base, rate_limit={"requests": 2, "interval": "1h"})
    assert [chat(gw.base, key).status_code for _ in range(2)] == [200, 200]
    limited = chat(gw.base, key)
    assert limited.status_code == 429
    headers = limited.headers
    assert headers["x-ratelimit-limit"] == "2" and headers["x-ratelimit-remaining"] == "0"
    assert 0 < int(headers["retry-after"]) <= 3600
    assert int(headers["x-ratelimit-reset"]) > 0
    assert limited.json()["error"]["metadata"]["headers"]["X-RateLimit-Limit"] == "2"
    # Per key and model (3 an hour for acct/other), and :free variants (2 a minute).
    other, _ = create_key(gw.base)
    codes = [chat(gw.base, other, model="acct/other").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert chat(gw.base, other).status_code == 200
    free = [chat(gw.base, other, model="acct/gratis:free").status_code for _ in range(3)]
    assert free == [200, 200, 429]


def test_concurrent_requests_never_overspend(gw: GatewayProcess) -> None:
    limit = 0.03
    key, _ = create_key(gw.base, limit=limit)
    with ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(lambda _i: chat(gw.base, key), range(30)))
    codes = [r.status_code for r in responses]
    assert set(codes) <= {200, 402} and 402 in codes
    ok = [r.headers["x-generation-id"] for r in responses if r.status_code == 200]
    spent = sum(generation(gw.base, key, i)["total_cost"] for i in ok)
    assert spent <= limit
    assert len(ok) <= math.floor(limit / COST_PER_REQUEST)
    assert key_info(gw.base, key)["usage"] == pytest.approx(spent)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": 5}, "name"),
        ({"name": "x", "limit": -1}, "limit"),
        ({"name": "x", "limit": "10"}, "limit"),
        ({"name": "x", "limit": True}, "limit"),
        ({"name": "x", "limit_reset": "hourly"}, "limit_reset"),
        ({"name": "x", "allowed_models": "acct/priced"}, "allowed_models"),
        ({"name": "x", "allowed_models": ["nope/nope"]}, "allowed_models[0]"),
        ({"name": "x", "rate_limit": {"requests": 0}}, "rate_limit.requests"),
        ({"name": "x", "rate_limit": {"requests": 5, "interval": "soon"}}, "rate_limit.interval"),
        ({"name": "x", "disabled": "yes"}, "disabled"),
        ({"name": "x", "expires_at": "tomorrow"}, "expires_at"),
        ({"name": "x", "colour": "red"}, "colour"),
    ],
)
def test_bad_key_input_400_names_the_field(gw: GatewayProcess, body: dict, param: str) -> None:
    response = admin(gw.base, "POST", "/keys", body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


def test_bad_key_api_requests(gw: GatewayProcess) -> None:
    assert admin(gw.base, "POST", "/keys", [1]).status_code == 400
    raw = httpx.post(
        f"{gw.base}/api/v1/keys",
        content=b"{not json",
        headers={"Authorization": f"Bearer {ADMIN}"},
        timeout=10,
    )
    assert raw.status_code == 400
    assert admin(gw.base, "GET", "/keys?offset=-1").json()["error"]["param"] == "offset"
    _, data = create_key(gw.base)
    patch = admin(gw.base, "PATCH", f"/keys/{data['hash']}", {"limit": "lots"})
    assert patch.status_code == 400 and patch.json()["error"]["param"] == "limit"
    missing = httpx.get(
        f"{gw.base}/api/v1/generation", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10
    )
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "id"
    # Key management needs the provisioning key; inference keys get 401.
    key, _ = create_key(gw.base)
    for headers in ({}, {"Authorization": f"Bearer {key}"}):
        assert httpx.get(f"{gw.base}/api/v1/keys", headers=headers, timeout=10).status_code == 401
    # The provisioning key cannot run inference.
    assert chat(gw.base, ADMIN).status_code == 403


def test_cli_keys(gw: GatewayProcess) -> None:
    env = {**gw.env}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "modelyard", "keys", *args, "--config", str(gw.config_path)],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )

    created = cli("create", "--name", "from-cli", "--limit", "2", "--limit-reset", "weekly")
    assert created.returncode == 0, created.stderr
    plaintext = created.stdout.strip().splitlines()[-1]
    assert plaintext.startswith("sk-my-v1-")
    assert chat(gw.base, plaintext).status_code == 200
    listed = cli("list")
    assert "from-cli" in listed.stdout and plaintext not in listed.stdout
    assert cli("disable", "from-cli").returncode == 0
    assert chat(gw.base, plaintext).status_code == 401
    assert cli("disable", "no-such-key").returncode != 0
