"""The web UI in a real browser against a real gateway (embedded model plus a scripted
upstream): every page loads, the model tabs click through, /models filters, the playground
streams answers side by side, and the numbers shown match the API."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser import browser_context, screenshot  # noqa: F401  (fixture)
from tests.catalog import endpoint, mock_provider, model_toml, providers_toml
from tests.conftest import LOCAL_MODEL, GatewayProcess
from tests.upstream_mock import MockUpstream

pytestmark = pytest.mark.browser

PAGES = {
    "home": "/",
    "models": "/models",
    "model-overview": f"/models/{LOCAL_MODEL}",
    "chat": "/chat",
    "rankings": "/rankings",
    "activity": "/activity",
    "signin": "/signin",
}
TABS = ["Providers", "Performance", "Pricing", "Activity", "Uptime", "Apps", "API", "Overview"]


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    upstream = MockUpstream().start()
    config = providers_toml(mock=mock_provider(upstream.url)) + model_toml(
        "test/normal",
        name="Test Normal",
        context_length=4096,
        released=dt.date(2025, 1, 31),
        supported_parameters=["max_tokens", "temperature"],
        pricing={"prompt": 1.0, "completion": 2.0},
        endpoints=[endpoint("mock", "normal")],
    )
    process = GatewayProcess(tmp_path_factory.mktemp("web"), config).start()
    yield process
    process.stop()


@pytest.fixture()
def page(browser_context: Any) -> Iterator[Any]:  # noqa: F811
    tab = browser_context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    tab.errors = errors  # a test that expects an error clears it
    yield tab
    tab.close()
    assert errors == [], f"the page logged errors: {errors}"


def _chat(web: GatewayProcess, model: str, title: str | None = None) -> httpx.Response:
    headers = {"HTTP-Referer": "https://tests.example", "X-Title": title} if title else {}
    response = httpx.post(
        f"{web.base}/api/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8},
        headers=headers,
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return response


def _wait_for(page: Any, url: str, predicate: Any, attempts: int = 40) -> None:
    """Reload `url` until `predicate(page)` holds (records are written in batches)."""
    for _ in range(attempts):
        page.goto(url)
        if predicate(page):
            return
        page.wait_for_timeout(250)
    raise AssertionError(f"{url} never showed the expected data")


def test_every_page_loads_and_is_labelled(web: GatewayProcess, page: Any) -> None:
    for name, path in PAGES.items():
        response = page.goto(web.base + path)
        assert response is not None and response.status == 200, path
        assert page.locator("h1").count() == 1, path
        assert page.title().endswith("modelyard")
        # Every form control has a label a screen reader can read.
        unlabelled = page.evaluate(
            """() => Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))
                .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
                .map(el => el.id || el.name)"""
        )
        assert unlabelled == [], f"{path}: unlabelled controls {unlabelled}"
        screenshot(page, name)
    missing = page.goto(web.base + "/models/nobody/nothing")
    assert missing is not None and missing.status == 404
    assert "no model page" in page.inner_text("main")
    page.errors.clear()  # the browser logs the 404 it was asked for


def test_model_page_overview_matches_the_catalog(web: GatewayProcess, page: Any) -> None:
    api = httpx.get(f"{web.base}/api/v1/models/test/normal").json()
    page.goto(f"{web.base}/models/test/normal")
    assert page.inner_text("h1") == api["name"]
    stats = page.inner_text("dl.stats")
    assert "$1" in stats and "$2" in stats  # input / output per 1M
    assert "4K" in stats  # context
    assert "Jan 31, 2025" in stats
    assert "text → text" in stats


def test_tabs_click_through_by_mouse_and_keyboard(web: GatewayProcess, page: Any) -> None:
    page.goto(f"{web.base}/models/{LOCAL_MODEL}")
    for label in TABS:
        sections = page.get_by_role("navigation", name="Model sections")
        sections.get_by_role("link", name=label, exact=True).click()
        page.wait_for_load_state()
        current = page.locator('.tabs a[aria-current="page"]')
        assert current.inner_text() == label
        assert page.locator("#tab-heading").is_visible()
        screenshot(page, f"model-{label.lower()}")
    # Keyboard: tab to the Pricing link and press Enter.
    page.goto(f"{web.base}/models/{LOCAL_MODEL}")
    page.locator(".tabs a", has_text="Pricing").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/pricing$"))
    assert page.locator('.tabs a[aria-current="page"]').inner_text() == "Pricing"


def test_api_tab_samples_use_this_gateway(web: GatewayProcess, page: Any) -> None:
    page.goto(f"{web.base}/models/{LOCAL_MODEL}/api")
    base = f"{web.base}/api/v1"
    assert page.inner_text("#base-url") == base
    python = page.inner_text("#code-python")
    assert f'base_url="{base}"' in python and f'model="{LOCAL_MODEL}"' in python
    # The language tabs are an ARIA tablist: arrow keys move between them.
    page.locator("#tab-python").focus()
    page.keyboard.press("ArrowRight")
    assert page.locator("#tab-javascript").get_attribute("aria-selected") == "true"
    assert page.locator("#code-javascript").is_visible()
    assert not page.locator("#code-python").is_visible()
    assert f'baseURL: "{base}"' in page.inner_text("#code-javascript")
    params = page.locator("#parameters tbody th").all_inner_texts()
    api = httpx.get(f"{web.base}/api/v1/models/{LOCAL_MODEL}").json()
    assert params == api["supported_parameters"]
    assert "upper limit" in page.inner_text("#parameters")


@pytest.mark.engine
def test_api_tab_python_sample_runs(web: GatewayProcess, page: Any, tmp_path: Path) -> None:
    """The Python sample, pasted as shown, gets an answer from the gateway."""
    import subprocess
    import sys

    page.goto(f"{web.base}/models/{LOCAL_MODEL}/api")
    code = page.inner_text("#code-python").replace(
        '"content": "What is the meaning of life?"}]', '"content": "Hi"}], max_tokens=5'
    )
    script = tmp_path / "sample.py"
    script.write_text(code)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()


def test_models_search_filter_and_sort(web: GatewayProcess, page: Any) -> None:
    page.goto(f"{web.base}/models")
    everything = page.locator("#model-list > li[data-model]").count()
    assert everything >= 7
    page.fill("#q", "mini")
    page.select_option("#output", "image")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r"q=mini"))
    assert page.locator("#model-list > li[data-model]").evaluate_all(
        "els => els.map(e => e.dataset.model)"
    ) == ["openai/gpt-5-image-mini"]
    page.goto(f"{web.base}/models?sort=price-low&served=1")
    served = page.locator("#model-list > li[data-model]").evaluate_all(
        "els => els.map(e => e.dataset.model)"
    )
    assert served == [LOCAL_MODEL, "test/normal"]  # $0 before $1
    page.goto(f"{web.base}/models?min_context=300000&parameter=tools&sort=context")
    ids = page.locator("#model-list > li[data-model]").evaluate_all(
        "els => els.map(e => e.dataset.model)"
    )
    assert ids and all(i.startswith("openai/") for i in ids)
    assert "openai/o3-mini" not in ids  # 200K context
    page.goto(f"{web.base}/models?max_price=0.5")
    ids = page.locator("#model-list > li[data-model]").evaluate_all(
        "els => els.map(e => e.dataset.model)"
    )
    assert "openai/gpt-5-mini" in ids and "openai/o3-mini" not in ids


def _answers(page: Any) -> dict[str, dict[str, str]]:
    return page.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll('.answer-col')).map(col => {
            const turns = col.querySelectorAll('.turn.assistant');
            const last = turns[turns.length - 1];
            return [col.dataset.model, {...last.dataset, text: last.querySelector('.content').textContent,
                                         meta: last.querySelector('.meta').textContent}];
        }))"""
    )


@pytest.mark.engine
def test_playground_streams_side_by_side_then_activity_and_rankings(
    web: GatewayProcess, page: Any
) -> None:
    page.goto(f"{web.base}/models/{LOCAL_MODEL}/activity")
    before = _today_tokens(page)
    page.goto(f"{web.base}/chat?model={LOCAL_MODEL}&model=test/normal")
    assert page.locator(f'input[name=model][value="{LOCAL_MODEL}"]').is_checked()
    page.fill("#max-tokens", "16")
    page.check("#temperature-set")
    page.fill("#system", "You are terse.")
    page.fill("#message", "Say hello.")
    page.keyboard.press("Control+Enter")
    page.wait_for_function(
        "document.querySelectorAll('.turn.assistant[data-done]').length === 2", timeout=120_000
    )
    screenshot(page, "chat-answered")
    answers = _answers(page)
    assert set(answers) == {LOCAL_MODEL, "test/normal"}
    assert answers["test/normal"]["text"] == "Hello from the mock."
    for model, answer in answers.items():
        assert "error" not in answer, answer
        assert answer["text"].strip(), model
        assert int(answer["completionTokens"]) > 0
        assert "s to first token" in answer["meta"] and "tokens" in answer["meta"]
        # The numbers shown are the generation record's.
        record = _generation(web, answer["generationId"])
        assert record["tokens_prompt"] == int(answer["promptTokens"])
        assert record["tokens_completion"] == int(answer["completionTokens"])
        assert record["total_cost"] == pytest.approx(float(answer["cost"]), abs=1e-9)
        assert record["app_title"] == "modelyard Playground"
    # The mock's usage is 1000 in + 500 out at $1/$2 per 1M: $0.002.
    assert float(answers["test/normal"]["cost"]) == pytest.approx(0.002)

    # The traffic shows on the model's Activity tab (on top of what earlier tests sent),
    # in /rankings and in /activity.
    record = _generation(web, answers[LOCAL_MODEL]["generationId"])
    wanted = (
        before[0] + record["tokens_prompt"],
        before[1] + record["tokens_completion"],
    )

    def activity_shows(p: Any) -> bool:
        today = _today_tokens(p)
        return today[0] >= wanted[0] and today[1] >= wanted[1]

    _wait_for(page, f"{web.base}/models/{LOCAL_MODEL}/activity", activity_shows)
    assert page.locator("#activity-chart").get_attribute("data-drawn") == "1"
    screenshot(page, "model-activity-after-chat")

    page.goto(f"{web.base}/rankings?period=day")
    row = page.locator(f'#top-models tr[data-model="{LOCAL_MODEL}"]')
    assert row.count() == 1
    playground = page.locator("#top-apps tbody tr", has_text="modelyard Playground")
    assert playground.count() == 1  # one app, keyed by the gateway's origin
    assert f"{web.base}/" in playground.inner_text()
    screenshot(page, "rankings-after-chat")

    page.goto(f"{web.base}/models/{LOCAL_MODEL}/apps")
    assert "modelyard Playground" in page.inner_text("#apps")
    page.goto(f"{web.base}/models/{LOCAL_MODEL}")
    assert int(page.locator("#weekly-tokens").get_attribute("data-value")) >= (
        record["tokens_prompt"] + record["tokens_completion"]
    )


def _today_tokens(page: Any) -> tuple[int, int]:
    """(prompt, completion) tokens in the Activity table's last row: today, or none yet."""
    rows = page.locator("#activity-chart tbody tr")
    if rows.count() == 0:
        return (0, 0)
    cells = rows.last.locator("td[data-value]").evaluate_all(
        "els => els.map(e => Number(e.dataset.value || 0))"
    )
    return (int(cells[0]), int(cells[1])) if len(cells) >= 2 else (0, 0)


def _generation(web: GatewayProcess, generation_id: str) -> dict[str, Any]:
    for _ in range(40):
        response = httpx.get(f"{web.base}/api/v1/generation", params={"id": generation_id})
        if response.status_code == 200:
            return response.json()["data"]  # type: ignore[no-any-return]
        import time

        time.sleep(0.25)
    raise AssertionError(f"no record for {generation_id}")


def test_providers_tab_shows_the_endpoints_api_numbers(web: GatewayProcess, page: Any) -> None:
    _chat(web, "test/normal")
    api = httpx.get(f"{web.base}/api/v1/models/test/normal/endpoints").json()["data"]
    endpoint = api["endpoints"][0]
    page.goto(f"{web.base}/models/test/normal/providers")
    row = page.locator('#providers tr[data-provider="mock"]')
    assert "Mock" in row.inner_text()
    assert row.locator('[data-field="uptime"]').inner_text() == "100%"
    assert endpoint["uptime_last_1d"] == 100
    latency = row.locator('[data-field="latency"]').inner_text()
    assert latency.endswith("s") and latency != "—"
    page.goto(f"{web.base}/models/test/normal/pricing")
    pricing = page.inner_text('table.pricing[data-provider="mock"]')
    assert "Input" in pricing and "$1" in pricing and "$2" in pricing
    for label in ["Output", "Cached input (read)", "Reasoning", "Image input", "Request"]:
        assert label in pricing
    page.goto(f"{web.base}/models/test/normal/uptime")
    assert page.locator("#uptime-chart").count() == 1
    page.goto(f"{web.base}/models/test/normal/performance")
    assert page.locator("#latency-chart").get_attribute("data-drawn") == "1"
    screenshot(page, "model-performance-after-traffic")


def test_activity_log_filters_and_csv(web: GatewayProcess, page: Any) -> None:
    _chat(web, "test/normal", title="Filter App")
    page.goto(f"{web.base}/activity")
    assert int(page.locator("#total-requests").get_attribute("data-value")) >= 1
    page.fill("#f-app", "Filter App")
    page.click("form.filters[aria-label='Filter generations'] button[type=submit]")
    page.wait_for_url(re.compile(r"app=Filter"))
    rows = page.locator("#generations tbody tr")
    assert rows.count() >= 1
    assert all("Filter App" in t for t in rows.all_inner_texts())
    with page.expect_download() as download:
        page.click("#export")
    text = Path(download.value.path()).read_text()
    table = list(csv.DictReader(io.StringIO(text)))
    assert table and all(r["app"] == "Filter App" for r in table)
    shown = set(rows.evaluate_all("els => els.map(e => e.dataset.id)"))
    assert {r["id"] for r in table} == shown
    screenshot(page, "activity-filtered")


def test_phone_width_has_no_sideways_scroll(web: GatewayProcess, page: Any) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ["/", "/models", f"/models/{LOCAL_MODEL}", "/chat", "/rankings"]:
        page.goto(web.base + path)
        wide = page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1")
        assert not wide, f"{path} scrolls sideways on a phone"
    screenshot(page, "phone-chat")
