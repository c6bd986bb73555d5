"""The sandbox's read-only pages opened in real headless Chromium (Debian's chromium driven by playwright, as the
report's test does): each renders its title, its tables and its charts (images with alt text that loaded), with
no console error under the pages' Content-Security-Policy; a screenshot of each goes to test-artifacts/."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

import pytest

from autonomic_lib.sandbox.server import SandboxServer
from tests.browser.test_report import ARTIFACTS, CHROMIUM, LAUNCH_ARGS
from tests.sandbox.pages.seed import Seeded, page_urls, seeded_sandbox

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"),
    reason=f"no Chromium at {CHROMIUM} (make test installs Debian's chromium when run as root)")]

# page -> (a fragment of its <title>, the ids of tables it must show, how many charts at least)
EXPECTED: dict[str, tuple[str, tuple[str, ...], int]] = {
    "anomaly monitor": ("Latency anomaly", ("groups", "history"), 1),
    "grouped monitor": ("Agent stuck", ("groups", "history"), 0),
    "dashboard": ("Pages ops", ("not-drawn",), 3),
    "workflow": ("Pages fix", ("triggers", "runs"), 0),
    "case": ("Agent a1 is stuck", ("attributes", "timeline"), 0),
}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SandboxServer, Seeded]]:
    with seeded_sandbox(Path(tmp_path_factory.mktemp("pages"))) as pair:
        yield pair


@pytest.fixture(scope="module")
def opened(seeded: tuple[SandboxServer, Seeded]) -> dict[str, dict[str, Any]]:
    """Every page (and a link without its token) opened in Chromium: what it showed and the console's errors."""
    from playwright.sync_api import sync_playwright

    server, run = seeded
    urls = {**page_urls(server, run), "not found": f"{server.url}/monitors/{run.grouped_id}"}
    found: dict[str, dict[str, Any]] = {}
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            for name, url in urls.items():
                page = browser.new_page(viewport={"width": 1200, "height": 900})
                errors: list[str] = []
                page.on("console", lambda m, e=errors: e.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda error, e=errors: e.append(str(error)))
                response = page.goto(url, wait_until="load")
                found[name] = {
                    "status": response.status if response else None, "title": page.title(),
                    "tables": page.evaluate("Array.from(document.querySelectorAll('table[id]')).map(t => t.id)"),
                    "images": page.evaluate("Array.from(document.images).map(i => [i.alt, i.complete, "
                                            "i.naturalWidth])"),
                    "header": page.inner_text("#sandbox-header") if name != "not found" else "",
                    "text": page.inner_text("body"), "errors": errors}
                page.screenshot(path=str(ARTIFACTS / f"page-{name.replace(' ', '-')}.png"), full_page=True)
                page.close()
        finally:
            browser.close()
    return found


@pytest.mark.parametrize("name", list(EXPECTED))
def test_each_page_renders_in_chromium_with_its_tables_and_charts(opened: dict[str, dict[str, Any]],
                                                                  seeded: tuple[SandboxServer, Seeded],
                                                                  name: str) -> None:
    server, _ = seeded
    title, tables, charts = EXPECTED[name]
    shown = opened[name]
    assert shown["status"] == 200 and title in shown["title"], shown["title"]
    assert set(tables) <= set(shown["tables"]), shown["tables"]
    assert len(shown["images"]) >= charts
    assert all(alt and complete and width > 0 for alt, complete, width in shown["images"]), shown["images"]
    assert server.url in shown["header"] and "read-only" in shown["header"] and "env demo" in shown["header"]
    if name != "grouped monitor":  # the others show stored text holding markup: as text, never run
        assert "<script>alert('x')</script>" in shown["text"]
    assert shown["errors"] == []
    assert (ARTIFACTS / f"page-{name.replace(' ', '-')}.png").is_file()


def test_a_link_without_its_token_shows_a_plain_not_found_page(opened: dict[str, dict[str, Any]]) -> None:
    shown = opened["not found"]
    assert shown["status"] == 404 and "Not found" in shown["title"] and "token" in shown["text"]
    assert shown["errors"] == ["Failed to load resource: the server responded with a status of 404 (Not Found)"]
