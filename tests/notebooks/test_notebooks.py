"""The four notebooks, headless with papermill against a sandbox fixture, on a short version of the seed's story;
assertions on what each notebook records (read back as the report index reads them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from autonomic_lib.notebook import KEY_PATTERN, render_html
from autonomic_lib.sandbox.server import SandboxServer
from tests.notebooks.conftest import SHORT_STORY, execute

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def story(notebooks: dict[str, Path], notebook_sandbox: SandboxServer) -> dict[str, tuple[Path, dict[str, Any]]]:
    """00 -> 01 -> 02 -> 02 -> 03 in order, as a user runs them; 02 and 03 get no scenario: they read 00's plan."""
    folder = str(notebook_sandbox.config.data_dir)
    return {
        "setup": execute(notebooks["setup"], "00_setup", SANDBOX_DIR=folder, SCENARIO=str(SHORT_STORY), SEED=3),
        "import": execute(notebooks["import"], "01_import_assets", SANDBOX_DIR=folder),
        # 02 twice, as a user re-running it does: the second run replaces the first instead of piling onto it
        "traffic_first": execute(notebooks["traffic"], "02_traffic_first", SANDBOX_DIR=folder),
        "traffic": execute(notebooks["traffic"], "02_traffic", SANDBOX_DIR=folder),
        "analysis": execute(notebooks["analysis"], "03_analysis", SANDBOX_DIR=folder),
    }


@pytest.fixture(scope="module")
def explicit_muted(story: dict, notebooks: dict[str, Path],
                   notebook_sandbox: SandboxServer) -> tuple[Path, dict[str, Any]]:
    """02 once more after the story, with every parameter a user may pass: an explicit scenario and seed (not 00's
    plan) and a muted phase. One kernel run read by two tests (explicit parameters, muting); it starts a new run in
    the story's sandbox, so it comes after the story's five runs."""
    return execute(notebooks["traffic"], "02_traffic_explicit_muted", SANDBOX_DIR=str(notebook_sandbox.config.data_dir),
                   SCENARIO=str(SHORT_STORY), SEED=7, MUTE_PHASE="optimization_failure")


def test_setup_finds_the_running_sandbox_and_writes_the_plan(story: dict, notebook_sandbox: SandboxServer) -> None:
    _, records = story["setup"]
    assert records["backend"] == "sandbox"
    assert records["target"] == f"sandbox {notebook_sandbox.url}"
    assert records["sandbox_started"] is False  # reused, not a second one
    assert (records["scenario"], records["seed"], records["pacing"]) == (str(SHORT_STORY), 3, "backfill")
    assert records["phases"] == ["baseline", "budget_breach", "latency_spike", "optimization_failure", "recovery"]
    assert (Path(notebook_sandbox.config.data_dir) / "run.json").is_file()


def test_import_lints_clean_and_creates_the_six_assets_with_links(story: dict) -> None:
    _, records = story["import"]
    assert records["lint_errors"] == 0
    assert sorted(a["action"] for a in records["dry_run"]) == ["create"] * 6
    assets = records["assets"]
    assert sorted(a["kind"] for a in assets) == ["dashboard", "monitor", "monitor", "monitor", "monitor", "workflow"]
    assert all(a["id"] and a["link"].startswith("http://127.0.0.1:") for a in assets)


def test_traffic_uses_the_plan_of_setup_and_sends_every_phase(story: dict) -> None:
    _path, records = story["traffic"]
    sent = {row["phase"]: row for row in records["phases_sent"]}
    assert list(sent) == ["baseline", "budget_breach", "latency_spike", "optimization_failure", "recovery"]
    assert sent["budget_breach"]["budget_breaches"] == 3
    assert sent["optimization_failure"]["optimization_failures"] == 2
    assert records["points"] == sum(row["points"] for row in sent.values()) > 0
    assert records["logs"] > 0
    states = {row["monitor"]: row["state"] for row in records["monitor_states"]}
    assert set(states) == {"Budget breach", "Latency anomaly", "Optimization failure", "Refiner errors"}
    assert (records["scenario"], records["seed"]) == (str(SHORT_STORY), 3)  # 00's plan, not parameters
    traces = records["traces"]  # the short story is traced whole: a trace and a verdict per message
    assert traces["sample_rate"] == 1.0 and traces["traces"] == traces["evaluations"] == sum(
        row["messages"] for row in sent.values())
    assert traces["spans"] >= 3 * traces["traces"]


def test_analysis_reads_back_the_story_and_gives_verdicts(story: dict) -> None:
    _, records = story["analysis"]
    phases = {row["phase"]: row for row in records["phase_table"]}
    assert phases["budget_breach"]["cost max $"] > 0.10
    assert phases["optimization_failure"]["optimization failures"] == pytest.approx(2)
    assert records["reconciled"] is True and records["compared"] > 0
    fired = {row["monitor"] for row in records["monitor_history"] if row["to"] == "Alert"}
    assert {"Budget breach", "Optimization failure", "Refiner errors"} <= fired
    assert [(c["agent_id"], c["failure_reason"]) for c in records["cases"]] == [("agent-02", "hallucination_persists")]
    assert any(run["status"] == "Succeeded" for run in records["workflow_runs"])
    verdicts = {v["the seed expects"]: v["verdict"] for v in records["verdicts"]}
    assert verdicts["Nothing is lost: the backend holds exactly what was acknowledged"] == "held"
    assert verdicts["Budget breach (3x): messages over $0.10 trip the Budget Breach monitor"] == "held"
    assert records["cardinality"] > 0
    assert records["cost_estimate"][-1]["item"] == "total" and records["cost_estimate"][-1]["per month $"] > 0
    assert records["dashboard_png"].startswith("data:image/png;base64,")


def test_traffic_runs_headless_with_explicit_scenario_and_seed(story: dict, explicit_muted: tuple) -> None:
    """The issue's command: papermill notebooks/02_traffic.ipynb out.ipynb -p SCENARIO ... -p SEED 7."""
    _, records = explicit_muted
    _, planned = story["traffic"]
    assert (records["scenario"], records["seed"]) == (str(SHORT_STORY), 7)
    assert records["points"] > 0 and records["points"] != planned["points"]  # another seed, another run


def test_no_key_in_any_executed_notebook_or_rendered_page(story: dict, notebook_sandbox: SandboxServer,
                                                          tmp_path: Path) -> None:
    keys = (notebook_sandbox.config.api_key, notebook_sandbox.config.app_key)
    for path, _ in story.values():
        text = path.read_text()
        page = render_html(path, tmp_path / f"{path.stem}.html").read_text()
        for content in (text, page):
            assert not any(key in content for key in keys), path
            assert not KEY_PATTERN.search(content), (path, KEY_PATTERN.search(content))


def _charts(path: Path) -> int:
    """Images a reader sees in an executed notebook: PNG outputs and embedded <img> data URIs."""
    import nbformat

    count = 0
    for cell in nbformat.read(path, as_version=4).cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            count += "image/png" in data
            count += str(data.get("text/html", "")).count("<img src=\"data:image/png")
    return count


def test_every_chart_a_notebook_builds_is_shown(story: dict) -> None:
    """01 draws the dashboard; 03 the story, the dashboard, two snapshots, the monitor timeline and the band
    (three of them were built and never shown while the library forced a headless backend)."""
    assert _charts(story["import"][0]) >= 1
    assert _charts(story["analysis"][0]) >= 6


def test_running_traffic_again_starts_a_new_run_and_the_analysis_sees_exactly_one(story: dict) -> None:
    """00, 01, 02, 02, 03: the second 02 clears the first run from the sandbox (assets kept), so 03 reconciles
    exactly one run (once: 574 rows differed, 2 deployments, 4 failures)."""
    import nbformat

    first, second = story["traffic_first"][1], story["traffic"][1]
    assert first["points"] == second["points"]  # same plan, same seed: the same run again
    text = "".join(str(o.get("data", {}).get("text/markdown", "")) for cell in
                   nbformat.read(story["traffic"][0], as_version=4).cells for o in cell.get("outputs", []))
    assert "A new run: the previous one" in text
    records = story["analysis"][1]
    assert records["reconciled"] is True
    phases = {row["phase"]: row for row in records["phase_table"]}
    assert phases["optimization_failure"]["optimization failures"] == pytest.approx(2)
    assert [(c["agent_id"], c["failure_reason"]) for c in records["cases"]] == [("agent-02", "hallucination_persists")]


def test_an_unknown_papermill_parameter_fails_the_notebook_naming_it(notebooks: dict[str, Path],
                                                                    notebook_sandbox: SandboxServer) -> None:
    """`-p SEEED 3` once only warned, and the run went on with the default seed."""
    import papermill

    with pytest.raises(papermill.PapermillExecutionError, match="SEEED.*did you mean SEED"):
        execute(notebooks["traffic"], "02_traffic_typo", SANDBOX_DIR=str(notebook_sandbox.config.data_dir), SEEED=3)


def test_analysis_shows_each_incidents_worst_trace_and_the_two_pass_rates_agree(story: dict) -> None:
    _, records = story["analysis"]
    found = {row["monitor"]: row for row in records["incident_traces"]}
    assert {"Budget breach", "Optimization failure"} <= set(found)
    breach, failure = found["Budget breach"], found["Optimization failure"]
    assert breach["trace_id"] and breach["cost $"] > 0.10 and breach["why"] == "budget_breach"
    assert breach["link"].startswith("http://127.0.0.1:") and "/llm-obs/traces/" in breach["link"]
    assert failure["trace_id"] and failure["verdict"] == "fail"
    tree = [row["span"].strip() for row in records["incident_trace_spans"][failure["trace_id"]]]
    assert tree[:4] == ["message", "chatbot", "auditor", "self_heal"] and {"refiner", "evaluator"} <= set(tree)
    rates = records["pass_rates"]
    assert rates["evaluations"] > 0 and rates["agree"] is True
    # the short story is traced whole (fewer messages than a run's trace budget): the two rates are equal
    assert rates["tolerance"] == 0.0 and rates["evaluation"] == pytest.approx(rates["metric"])


def test_traffic_can_mute_a_monitor_for_a_phase(story: dict, explicit_muted: tuple,
                                                notebook_sandbox: SandboxServer) -> None:
    """MUTE_PHASE (off by default): a v2 downtime over the phase; the monitor still changes state inside it (its
    history shows it) but nothing inside it is notified, so the workflow does not run for it. The sandbox holds
    `explicit_muted`'s run: the last that sent anything there."""
    _, records = explicit_muted
    muted, sandbox = records["muted"], notebook_sandbox.sandbox
    downtime = sandbox.downtimes.get(muted["downtime"])
    assert muted["phase"] == "optimization_failure" and downtime is not None
    start, end = downtime["schedule"]["start"], downtime["schedule"]["end"]
    inside = [t for t in sandbox.monitors.history(muted["monitor_id"]) if start <= t["at"] < end]
    assert inside and all(t["notified"] and "downtime" in t["silenced"] for t in inside)
    notified = sandbox.automation.list_notifications(monitor_id=str(muted["monitor_id"]))
    assert not [n for n in notified if start <= n["at"] < end]
    assert story["traffic"][1]["muted"] == {"phase": None, "monitor_id": None, "downtime": None}  # the default
