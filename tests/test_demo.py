"""The demo's failure path: a failing notebook is still rendered with its error, the steps after it are not
run, the index names the failed step, the command exits non-zero, and the sandbox it started is stopped. The index
page from its Jinja2 template: escaped, scrubbed, alt text on every image, numbers and times as a reader wants them."""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from autonomic_lib.demo import run_demo
from autonomic_lib.index_page import write_index
from autonomic_lib.notebook import KEY_PATTERN, NOTEBOOKS, NotebookRun
from autonomic_lib.render import describe, figure_data_uri, png_data_uri

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_a_failing_notebook_is_rendered_with_its_error_and_the_index_names_the_step(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notebooks = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", notebooks)
    broken = nbformat.read(notebooks / "01_import_assets.ipynb", as_version=4)
    broken.cells.insert(3, nbformat.v4.new_code_cell('raise RuntimeError("the import step broke on purpose")'))
    nbformat.write(broken, notebooks / "01_import_assets.ipynb")

    code = run_demo(tmp_path / "reports", scenario="seed-demo", seed=7, progress=False, notebooks_dir=notebooks)

    out = tmp_path / "reports"
    assert code == 1
    assert "FAILED: report at" in capsys.readouterr().out
    page = (out / "01_import_assets.html").read_text()
    assert "the import step broke on purpose" in page and "RuntimeError" in page
    assert not (out / "02_traffic.html").exists() and not (out / "03_analysis.html").exists()
    index = (out / "index.html").read_text()
    assert "step 01_import_assets failed" in index
    assert index.count("not run (an earlier step failed)") == 2
    assert (out / "00_setup.html").is_file()
    for path in out.iterdir():
        assert KEY_PATTERN.search(path.read_text(errors="replace")) is None, path.name
    assert len(NOTEBOOKS) == 4
    assert not list(tmp_path.glob("**/sandbox.json"))  # stopped: the state file is gone with it


# ------------------------------------------------------------------------------------------ the index page
class Images(HTMLParser):
    """The <img> tags of a page, as attribute dicts."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.found.append(dict(attrs))


def chart_uri(title: str) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2])
    return figure_data_uri(describe(fig, title))


SECRET = "s3cr3t-value-of-a-key"
RECORDS = {
    "headline": {"messages": 1.0, "pass rate %": 100.0, "optimization rate %": None, "deployments": 1.0,
                 "optimization failures": 0.0, "LLM cost $": 29.2398, "cost max $": 0.269616,
                 "user latency mean s": 6.4831, "user latency p95 s": 81.88631},
    "monitor_history": [{"monitor": "Budget breach", "group": "agent_id:agent-02", "from": "OK", "to": "Alert",
                         "at": "2026-12-03T06:40:00+00:00", "value": 0.2696}],
    "detection_delays": [{"monitor": "Budget breach", "detection delay min": 0.7}],
    "cases": [{"key": "AUTO-1", "title": "<script>alert(1)</script>", "agent_id": "agent-02",
               "failure_reason": "hallucination_persists", "status": "OPEN"}],
    "cost_estimate": [{"item": "total", "per month $": 28.04}], "cardinality": 1, "reconciled": True, "compared": 578,
    "phase_table": [{"phase": "baseline", "messages": 5676.0, "optimization rate %": None,
                     "refiner latency p50 s": None},
                    {"phase": "recovery", "messages": 495.0, "optimization rate %": 100.0,
                     "refiner latency p50 s": 37.75159}],
    "workflow_runs": [{"instance": "w-1", "started": "2026-12-03T07:27:00+00:00", "status": "Succeeded",
                       "monitor": "Optimization failure", "group": None}],
    "assets": [{"kind": "dashboard", "name": "Autonomic AI Ops Center", "action": "create", "id": "abc-123"}],
    "verdicts": [{"the seed expects": "The assets are imported: 1 dashboard, 4 monitors, 1 workflow",
                  "observed": f"1 dashboard, 4 monitors, 1 workflow ({SECRET})", "verdict": "held"},
                 {"the seed expects": "Nothing is lost", "observed": "578 compared, 1 differs",
                  "verdict": "did not hold"}],
}


def test_the_index_is_rendered_from_its_template_escaped_scrubbed_with_alt_text_and_plain_numbers(
        tmp_path: Path) -> None:
    records = {**RECORDS, "story_png": chart_uri("The run over time: four panels"),
               "dashboard_png": png_data_uri(b"\x89PNG\r\n\x1a\n")}  # a PNG with no description of its own
    runs = [NotebookRun(name, tmp_path / f"{name}.ipynb", tmp_path / f"{name}.html", ok=True, seconds=1.25,
                        records=records if name == "03_analysis" else {}) for name in NOTEBOOKS]
    path, good = write_index(tmp_path, runs, scenario="seed-demo", seed=7, target="sandbox http://127.0.0.1:1",
                             secrets=[SECRET])
    page = path.read_text(encoding="utf-8")
    assert not good and "Verdict: <span class=\"bad\">1 expectation did not hold</span>" in page
    images = Images()
    images.feed(page)
    assert images.found and all(img.get("alt") for img in images.found), images.found
    assert images.found[0]["alt"] == "The run over time: four panels"  # the chart's own description
    assert images.found[1]["alt"].startswith("The Ops Center dashboard drawn from its JSON")
    assert "of 1 audited message<" in page and "1 dashboard, 4 monitors" in page and "dashboard(s)" not in page
    assert ">06:40 UTC<" in page and ">07:27 UTC<" in page and ">5676<" in page and ">37.75<" in page
    assert "NaN" not in page and "None" not in page and "5676.0" not in page
    assert "peak p95 user latency 81.89 s" in page and "most expensive message $0.2696" in page
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert SECRET not in page and "****" in page
    assert page.count(">held<") == 1 and "href='03_analysis.html'" in page


def test_the_template_is_package_data() -> None:
    import tomllib

    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "templates/*.j2" in package_data["autonomic_lib"]
    assert (ROOT / "autonomic_lib" / "templates" / "index.html.j2").is_file()
    assert any(line.startswith("Jinja2==") for line in (ROOT / "requirements.txt").read_text().splitlines())
