"""The demo command end to end in a temporary folder (aimed by DD_HOST at a sandbox of this process), and its index
opened in real headless Chromium (Debian's chromium driven by playwright through executable_path; no `playwright
install`). Every test of the suite's one demo run is in this file, so `make test` (one worker per file) runs it once."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from autonomic_lib.notebook import KEY_PATTERN, NOTEBOOKS
from tests.conftest import DemoRun

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("AUTONOMIC_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "test-artifacts"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report(demo_run: DemoRun) -> tuple[subprocess.CompletedProcess[str], Path]:
    """`python -m autonomic_lib demo --out <tmp>` as a user runs it (its own process, four kernels): the session's
    one demo run (tests/conftest.py)."""
    return demo_run.done, demo_run.out


def test_demo_command_writes_the_four_rendered_notebooks_and_the_index(report) -> None:
    done, out = report
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"OK: report at {out / 'index.html'}" in done.stdout
    for name in NOTEBOOKS:
        assert (out / f"{name}.html").is_file() and (out / f"{name}.ipynb").is_file()
    index = (out / "index.html").read_text()
    assert "every expectation held" in index
    for name in NOTEBOOKS:
        assert f"href='{name}.html'" in index


def test_no_key_string_in_any_report_or_output(report) -> None:
    done, out = report
    for path in [*out.iterdir()]:
        found = KEY_PATTERN.search(path.read_text(errors="replace"))
        assert found is None, (path.name, found)
    assert KEY_PATTERN.search(done.stdout + done.stderr) is None


@pytest.mark.skipif(not CHROMIUM.exists() and not os.environ.get("CI"),
                    reason=f"no Chromium at {CHROMIUM} (make test installs Debian's chromium when run as root)")
def test_index_opens_in_chromium_with_summary_images_and_no_console_error(report) -> None:
    from playwright.sync_api import sync_playwright

    _, out = report
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto((out / "index.html").as_uri(), wait_until="load")
            summary = page.inner_text("#summary")
            images = page.evaluate("Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])")
            verdicts = page.locator("#verdicts tr").count()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report-index.png"), full_page=True)
        finally:
            browser.close()
    for heading in ("Monitors fired", "The Case", "Pass rate", "Optimization rate", "Cost", "Latency", "Nothing lost"):
        assert heading in summary
    assert "every expectation held" in summary
    assert len(images) >= 2 and all(complete and width > 0 for _, complete, width in images), images
    assert verdicts >= 8
    assert errors == []


def test_demo_aimed_by_dd_host_at_a_running_sandbox_writes_a_self_contained_report_without_keys(
        demo_run: DemoRun) -> None:
    """DD_HOST + keys is one way to aim at any backend: the demo uses that sandbox with backfill pacing (it once
    announced live pacing and 00 refused). The run is tests/conftest.py's `demo_run`, shared with the report tests
    above; the demo starting its own sandbox is tests/test_demo.py's."""
    done, server = demo_run.done, demo_run.server
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert demo_run.points_stored > 0  # the traffic went to that sandbox
    assert "with backfill pacing" in done.stdout
    page = (demo_run.out / "index.html").read_text()
    assert "every expectation held" in page and "data:image/png;base64," in page
    assert "Nothing is lost" in page and page.count(">held<") >= 7
    assert "http://" not in page.replace("http://127.0.0.1", "")  # nothing to fetch: images are embedded
    assert not KEY_PATTERN.search(page), "a key-shaped string reached the report"
    assert not any(key in page for key in (server.config.api_key, server.config.app_key))
