"""The dashboard in a real headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from reviewbot.web import create_app
from tests.web.browser import CHROMIUM, chromium, served
from tests.web.conftest import TOKEN, Loaded
from tests.web.screenshots import take

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed"),
]

PROBE = """() => ({
    pwned: typeof window.__pwned,
    scripts: document.querySelectorAll('script').length,
    imgs: document.querySelectorAll('img').length,
    injected: document.querySelectorAll(
        '[data-injected], [onmouseover], [onerror], [onclick]').length,
})"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def base(app: Flask) -> Iterator[str]:
    with served(app) as url:
        yield url


def _titles(page: Any) -> list[str]:
    return [t.strip() for t in page.locator("td.title > a").all_inner_texts()]


def test_index_filter_series_compare_and_rerun(page: Any, base: str, loaded: Loaded) -> None:
    page.goto(base + "/")
    assert len(_titles(page)) == 4
    page.select_option("select[name=state]", "not-applied")
    page.click("form.filters button[type=submit]")
    assert _titles(page) == ["mm: vmscan: fix a stall"]
    assert "state=not-applied" in page.url

    page.fill("input[name=q]", "large folios")
    page.select_option("select[name=state]", "")
    page.click("form.filters button[type=submit]")
    assert _titles(page) == ["mm: swap: map large folios found in the swap cache in one fault"]
    page.click("td.title > a")
    assert page.locator("h1").inner_text().startswith("mm: swap: map large folios")

    page.select_option("select[name=from]", "1")
    page.select_option("select[name=to]", "2")
    page.click("#compare button[type=submit]")
    new = page.locator("#new-findings")
    assert "New in v2" in new.locator("h3").inner_text()
    assert new.locator("li.finding").count() == 1
    assert "arch_do_swap_page" in new.inner_text()
    fixed = page.locator("#fixed-findings")
    assert fixed.locator("li.finding").count() == 3
    assert sorted(fixed.locator(".checker").all_inner_texts()) == [
        "batch-bounds",
        "incomplete-batch-conversion",
        "ptep-naming",
    ]
    assert page.locator("#still-findings li.finding").count() == 4

    # refused without the right token: nothing queued, nothing marked
    row = page.locator("#rev-v2")
    row.locator("input[name=token]").fill("not-the-token")
    row.locator("button[name=rerun]").click()
    assert "403" in page.locator("h1").inner_text()
    assert "needs the dashboard token" in page.content()
    assert loaded.queued == []

    page.goto(f"{base}/series/{loaded.sample_id}")
    row = page.locator("#rev-v2")
    row.locator("input[name=token]").fill(TOKEN)
    row.locator("button[name=rerun]").click()
    assert "Re-run requested" in page.locator(".notice").inner_text()
    assert "re-run requested" in page.locator("#rev-v2").inner_text()
    assert loaded.queued == [loaded.revision_ids[2]]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_pages_read_without_javascript(browser: Any, base: str, loaded: Loaded) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{base}/series/{loaded.sample_id}?from=1&to=2")
    assert page.locator("#new-findings li.finding").count() == 1
    page.locator("#findings-v1 > summary").click()  # <details> needs no script
    assert page.locator("#findings-v1 li.finding").first.is_visible()
    context.close()


@pytest.mark.parametrize("csp", [True, False], ids=["csp", "no-csp"])
def test_hostile_series_renders_inert(browser: Any, db_url: str, loaded: Loaded, csp: bool) -> None:
    # Without the CSP header, only escaping stands between the payload and the page.
    app = create_app({"DATABASE_URL": db_url, "REVIEWBOT_WEB_TOKEN": TOKEN, "CSP": csp})
    context = browser.new_context()
    page = context.new_page()
    with served(app) as base:
        for url in ["/", f"/series/{loaded.hostile_id}", "/?q=%3Cscript%3E"]:
            page.goto(base + url)
            for link in page.locator("a").all()[:20]:
                link.hover()
            assert page.evaluate(PROBE) == {
                "pwned": "undefined",
                "scripts": 0,
                "imgs": 0,
                "injected": 0,
            }
            assert "<script>window.__pwned=1</script>" in page.locator("main").inner_text()
        page.goto(f"{base}/series/{loaded.hostile_id}")
        page.locator("a.fid").first.click()
        assert page.evaluate(PROBE)["pwned"] == "undefined"
        assert page.evaluate(PROBE)["injected"] == 0
    context.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_screenshots(page: Any, base: str, loaded: Loaded, tmp_path: Path) -> None:
    index, series = take(page, base, loaded, tmp_path)
    for png in (index, series):
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
