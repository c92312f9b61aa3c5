"""Signing in to the pages with an API key, on a gateway that requires keys: the admin key
opens key management, an inference key sees only its own activity, the playground sends the
key it signed in with, and disabling a key signs its sessions out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.browser import browser_context, screenshot  # noqa: F401  (fixture)
from tests.catalog import endpoint, mock_provider, model_toml, providers_toml
from tests.conftest import GatewayProcess
from tests.upstream_mock import MockUpstream

pytestmark = pytest.mark.browser

ADMIN_KEY = "sk-admin-for-web-tests"


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    upstream = MockUpstream().start()
    config = providers_toml(mock=mock_provider(upstream.url)) + model_toml(
        "test/normal",
        name="Test Normal",
        context_length=4096,
        pricing={"prompt": 1.0, "completion": 2.0},
        endpoints=[endpoint("mock", "normal")],
    )
    process = GatewayProcess(
        tmp_path_factory.mktemp("web-locked"),
        config,
        {"MODELYARD_ADMIN_KEY": ADMIN_KEY, "MODELYARD_ENGINE": "0"},
    ).start()
    yield process
    process.stop()


def _sign_in(page: Any, base: str, key: str) -> None:
    page.goto(f"{base}/signin")
    page.fill("#key", key)
    page.click("#signin-form button[type=submit]")
    page.wait_for_load_state()


def test_keys_sign_in_activity_and_playground(locked: GatewayProcess, browser_context: Any) -> None:  # noqa: F811
    base = locked.base
    page = browser_context.new_page()
    try:
        # Activity needs a key here.
        page.goto(f"{base}/activity")
        assert page.url.startswith(f"{base}/signin")
        assert page.goto(f"{base}/keys").url.startswith(f"{base}/signin")  # type: ignore[union-attr]

        _sign_in(page, base, "sk-wrong")
        assert "not accepted" in page.inner_text("#signin-error")

        # The admin key opens key management; create a key with a $1 limit.
        _sign_in(page, base, ADMIN_KEY)
        assert page.url == f"{base}/keys"
        page.fill("#k-name", "alice")
        page.fill("#k-limit", "1")
        page.select_option("#k-reset", "monthly")
        page.click("form[aria-label='Create a key'] button[type=submit]")
        page.wait_for_load_state()
        plaintext = page.input_value("#new-key")
        assert plaintext.startswith("sk-")
        row = page.locator("#keys tbody tr", has_text="alice")
        assert "$1" in row.inner_text() and "monthly" in row.inner_text()
        alice_hash = row.get_attribute("data-hash")
        screenshot(page, "keys")
        listed = httpx.get(
            f"{base}/api/v1/keys", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        ).json()["data"]
        assert [k["name"] for k in listed] == ["alice"]
        page.click("header form button[type=submit]")  # sign out
        page.wait_for_url(f"{base}/")

        # alice signs in: her activity, and a playground that sends her key.
        _sign_in(page, base, plaintext)
        assert page.url == f"{base}/activity"
        assert "alice" in page.inner_text("main")
        page.goto(f"{base}/chat")
        assert page.input_value("#api-key") == plaintext
        page.fill("#message", "Hi")
        page.click("#send")
        page.wait_for_function("document.querySelector('.turn.assistant[data-done]') !== null")
        answer = page.locator(".turn.assistant").first
        assert answer.get_attribute("data-error") is None
        assert page.inner_text(".turn.assistant .content") == "Hello from the mock."

        for _ in range(40):
            page.goto(f"{base}/activity")
            if page.get_attribute("#total-requests", "data-value") == "1":
                break
            page.wait_for_timeout(250)
        assert page.get_attribute("#total-requests", "data-value") == "1"
        assert float(page.get_attribute("#total-spend", "data-value") or 0) == pytest.approx(0.002)
        assert page.locator("#generations tbody tr").count() == 1
        screenshot(page, "activity-signed-in")
        key_info = httpx.get(
            f"{base}/api/v1/key", headers={"Authorization": f"Bearer {plaintext}"}
        ).json()["data"]
        assert key_info["usage"] == pytest.approx(0.002)

        # The admin disables alice (the Disable button's form): her session ends at once.
        with httpx.Client(base_url=base, follow_redirects=False) as admin:
            signed = admin.post("/signin", data={"key": ADMIN_KEY, "next": "/keys"})
            assert signed.status_code == 303 and signed.headers["location"] == "/keys"
            done = admin.post(f"/keys/{alice_hash}", data={"action": "disable"})
            assert done.status_code == 303
            assert "disabled" in admin.get("/keys").text
        page.goto(f"{base}/activity")
        assert page.url.startswith(f"{base}/signin")
    finally:
        page.close()
