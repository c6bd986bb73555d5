"""Assets as Datadog produces them: recognised by content, read-only fields noted and left out, foreign assets linted
against the catalogue where their metrics are in it, folders walked, and imported and exported without drift."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from datadog_api_client.v1.api.dashboards_api import DashboardsApi
from datadog_api_client.v1.api.monitors_api import MonitorsApi
from datadog_api_client.v2.api.case_management_api import CaseManagementApi
from datadog_api_client.v2.api.workflow_automation_api import WorkflowAutomationApi

from autonomic_lib.assets import MANAGED_TAG, Problem, export_assets, import_assets, lint_assets
from autonomic_lib.assets.model import IMPORT_MARK, INTEGRATION_TAG, SHAPES
from autonomic_lib.cli import main
from autonomic_lib.sandbox.server import SandboxServer
from tests.assets.conftest import DATADOG, settings_for
from tests.conftest import client_for

EXPORTS = sorted(DATADOG.glob("*.json"))
SEED = DATADOG / "monitor_seed_latency_export.json"


def read(path: Path) -> Any:
    return json.loads(path.read_text())


def write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    return path


def copy(source: Path, target: Path) -> Path:
    return write(target, read(source))


def keys(node: Any) -> set[str]:
    """Every key in a JSON value, at any depth."""
    if isinstance(node, dict):
        return set(node) | {k for v in node.values() for k in keys(v)}
    return {k for v in node for k in keys(v)} if isinstance(node, list) else set()


def found(problems: list[Problem], severity: str | None = None) -> set[tuple[str, str]]:
    return {(p.rule, p.severity) for p in problems if severity is None or p.severity == severity}


# ------------------------------------------------------------------------------------ recognising the formats
@pytest.mark.parametrize(("fixture", "kind", "layout", "body_path"), [
    ("monitor_get_answer", "monitor", "body", "$"),
    ("monitor_seed_latency_export", "monitor", "body", "$"),
    ("dashboard_export", "dashboard", "body", "$"),
    ("workflow_get_answer", "workflow", "request", "$.data.attributes"),
    ("workflow_ui_export", "workflow", "attributes", "$"),
])
def test_content_decides_the_kind_and_layout_of_a_datadog_export(fixture: str, kind: str, layout: str,
                                                                  body_path: str) -> None:
    [asset], problems = lint_assets([DATADOG / f"{fixture}.json"])
    assert (asset.kind, asset.layout, asset.body_path, asset.foreign) == (kind, layout, body_path, True)
    assert found(problems, "error") == set()


def test_the_kits_own_files_are_its_own() -> None:
    assets, _ = lint_assets()
    assert [(a.kind, a.layout, a.foreign) for a in assets] == [
        ("dashboard", "body", False), ("monitor", "template", False), ("monitor", "template", False),
        ("monitor", "template", False), ("monitor", "template", False), ("workflow", "request", False)]


def test_the_folder_does_not_decide_the_kind(tmp_path: Path) -> None:
    misplaced = copy(DATADOG / "monitor_get_answer.json", tmp_path / "dashboards" / "workflow_not_dashboard.json")
    [asset], problems = lint_assets([misplaced])
    assert asset.kind == "monitor" and found(problems, "error") == set()


@pytest.mark.parametrize(("content", "path", "words"), [
    ({"hello": "world"}, "$", "cannot tell whether this is a dashboard, a monitor or a workflow"),
    ([{"name": "m", "type": "query alert", "query": "avg(last_5m):avg:x{*} > 1"}], "$", "JSON array"),
    ({"name": "m", "type": "metric monitor", "query": "avg(last_5m):avg:x{*} > 1"}, "$.type",
     "'metric monitor' is not a monitor type"),
])
def test_unrecognised_content_says_what_the_kit_reads(tmp_path: Path, content: Any, path: str, words: str) -> None:
    file = write(tmp_path / "thing.json", content)
    assets, problems = lint_assets([file])
    assert assets == []
    [problem] = problems
    assert (problem.file, problem.path, problem.rule, problem.severity) == (str(file), path, "layout", "error")
    assert words in problem.message
    if path == "$" and "cannot tell" in words:
        assert problem.fix == SHAPES and '"widgets" and "layout_type"' in SHAPES


# ------------------------------------------------------------------------------------ read-only fields
def test_read_only_fields_are_one_note_and_left_out_of_the_body() -> None:
    [asset], problems = lint_assets([DATADOG / "monitor_get_answer.json"])
    [note] = [p for p in problems if p.rule == "read-only"]
    assert note.severity == "info" and note.path == "$"
    for name in ("id", "org_id", "created", "modified", "creator", "overall_state", "multi", "deleted"):
        assert f"$.{name}" in note.message
        assert name not in asset.body
    assert asset.body["priority"] == 3 and asset.body["restricted_roles"] is None  # writable: kept


def test_dashboard_export_notes_widget_ids_and_workflow_answer_its_envelope() -> None:
    (dashboard, workflow), problems = lint_assets([DATADOG / "dashboard_export.json",
                                                   DATADOG / "workflow_get_answer.json"])
    notes = {p.file: p.message for p in problems if p.rule == "read-only"}
    assert "$.url, $.author_handle" in notes[str(dashboard.path)] and "4 widget id(s)" in notes[str(dashboard.path)]
    assert "$.data.id, $.data.relationships, $.data.attributes.createdAt" in notes[str(workflow.path)]
    assert "id" not in keys(dashboard.body["widgets"])
    assert "createdAt" not in workflow.body and "handle" in workflow.body["spec"]


# ------------------------------------------------------------------------------------ foreign assets and the catalogue
def test_seed_latency_monitor_is_linted_and_its_unknown_metric_named() -> None:
    _, problems = lint_assets([SEED])
    [unknown] = [p for p in problems if p.rule == "unknown-metric"]
    assert (unknown.severity, unknown.path) == ("warning", "$.query")
    assert "unknown metric 'autonomic.agent.latency': nothing the kit emits" in unknown.message
    assert "autonomic.agent.latency.avg" in unknown.fix  # the catalogue's nearest names
    assert found(problems) == {("read-only", "info"), ("managed", "info"), ("unknown-metric", "warning")}


def test_the_same_unknown_metric_is_an_error_in_the_kits_own_monitor(tmp_path: Path) -> None:
    own = read(SEED)
    own.update(name="[Autonomic AI] Latency", tags=[MANAGED_TAG, INTEGRATION_TAG])
    _, problems = lint_assets([write(tmp_path / "latency.json", own)])
    assert ("unknown-metric", "error") in found(problems)


@pytest.mark.parametrize(("query", "rule", "words"), [
    ("avg(last_10m):avg:autonomic.agent.latency.95percentile{env:demo} by {role} > 8", "unknown-tag", "'role'"),
    ("avg(last_10m):avg:autonomic.agent.latency.95percentile{env:demo} by {agent_id} > 8000", "threshold-unit",
     "seconds, not milliseconds"),
])
def test_catalogue_metrics_in_a_foreign_monitor_are_checked_as_strictly(tmp_path: Path, query: str, rule: str,
                                                                        words: str) -> None:
    monitor = read(DATADOG / "monitor_get_answer.json")
    threshold = float(query.rsplit(" ", 1)[1])
    monitor.update(query=query, options={**monitor["options"], "thresholds": {"critical": threshold}})
    _, problems = lint_assets([write(tmp_path / "monitor.json", monitor)])
    [problem] = [p for p in problems if p.rule == rule]
    assert problem.severity == "error" and words in str(problem)


def test_legacy_anomaly_query_without_alert_window_is_one_clear_error(tmp_path: Path) -> None:
    seed = read(SEED)
    seed["query"] = "avg(last_15m):anomalies(avg:autonomic.agent.latency{*}, 'agile', 2) >= 1"
    _, problems = lint_assets([write(tmp_path / "seed.json", seed)])
    [error] = [p for p in problems if p.severity == "error"]
    assert (error.rule, error.path) == ("anomaly-window", "$.query")
    assert "no alert_window" in error.message and "alert_window='last_15m'" in error.fix
    assert ("unknown-metric", "warning") in found(problems)


def test_a_foreign_log_monitor_is_not_parsed_as_a_metric_query(tmp_path: Path) -> None:
    monitor = read(DATADOG / "monitor_get_answer.json")
    monitor.update(type="log alert", query='logs("service:chatbot status:error").index("*").rollup("count")'
                                           '.by("agent_id").last("5m") > 10', options={"thresholds": {"critical": 10}},
                   message="{{agent_id.name}} and {{role.name}}")
    _, problems = lint_assets([write(tmp_path / "log_monitor.json", monitor)])
    assert found(problems) == {("read-only", "info"), ("managed", "info"), ("message-variable", "error")}
    assert [p.message for p in problems if p.rule == "message-variable"] == [
        "{{role.name}} renders empty: the query is not grouped by role"]


def test_a_monitor_of_a_type_the_sandbox_does_not_evaluate_is_a_warning(tmp_path: Path) -> None:
    monitor = read(DATADOG / "monitor_get_answer.json")
    monitor.update(type="trace-analytics alert", options={"thresholds": {"critical": 10}},
                   query='trace-analytics("env:prod operation_name:flask.request").rollup("count").last("5m") > 10')
    _, problems = lint_assets([write(tmp_path / "apm_monitor.json", monitor)])
    assert found(problems) == {("read-only", "info"), ("managed", "info"), ("sandbox-monitor", "warning")}
    [warning] = [p for p in problems if p.rule == "sandbox-monitor"]
    assert "not evaluated by the sandbox" in warning.message and "No Data" in warning.fix


def test_a_formula_metric_monitor_is_a_warning_not_a_parse_error(tmp_path: Path) -> None:
    """The client example's `formula("query1").rollup("sum").last("5m") > 100`: stored, not evaluated."""
    monitor = read(DATADOG / "monitor_get_answer.json")
    monitor.update(type="query alert", query='formula("query1").rollup("sum").last("5m") > 100', options={
        "thresholds": {"critical": 100}, "variables": [{"data_source": "metrics", "name": "query1",
                                                        "query": "sum:container.cpu.usage{*}"}]})
    _, problems = lint_assets([write(tmp_path / "formula_monitor.json", monitor)])
    assert found(problems) == {("read-only", "info"), ("managed", "info"), ("sandbox-monitor", "warning")}
    [warning] = [p for p in problems if p.rule == "sandbox-monitor"]
    assert "not evaluated by the sandbox" in warning.message and "one metric query" in warning.fix


def test_a_mention_resolves_against_a_workflow_linted_alongside() -> None:
    _, alone = lint_assets([DATADOG / "monitor_get_answer.json"])
    assert ("workflow-mention", "warning") in found(alone)
    _, together = lint_assets([DATADOG / "monitor_get_answer.json", DATADOG / "workflow_get_answer.json"])
    assert "workflow-mention" not in {p.rule for p in together}


@pytest.mark.parametrize(("fixture", "path"), [("workflow_ui_export", "$.published"),
                                              ("workflow_get_answer", "$.data.attributes.published")])
def test_model_errors_point_into_the_file_whatever_its_layout(tmp_path: Path, fixture: str, path: str) -> None:
    export = read(DATADOG / f"{fixture}.json")
    (export["data"]["attributes"] if "data" in export else export)["published"] = "yes"
    _, problems = lint_assets([write(tmp_path / "workflow.json", export)])
    [error] = [p for p in problems if p.severity == "error"]
    assert (error.rule, error.path) == ("model", path) and "bool" in error.message


# ------------------------------------------------------------------------------------ folders
def test_a_folder_is_walked_and_each_file_judged_on_its_own(tmp_path: Path) -> None:
    for export in EXPORTS:
        copy(export, tmp_path / export.name)
    write(tmp_path / "nested" / "z_dashboard.json", read(DATADOG / "dashboard_export.json") | {"title": "Nested"})
    (tmp_path / "broken.json").write_text('{"name": "m",}')
    write(tmp_path / ".ipynb_checkpoints" / "skipped.json", {"hello": "world"})
    assets, problems = lint_assets([tmp_path])
    assert sorted(a.path.name for a in assets) == sorted([p.name for p in EXPORTS] + ["z_dashboard.json"])
    [broken] = [p for p in problems if p.severity == "error"]
    assert broken.file == str(tmp_path / "broken.json") and "invalid JSON at line 1" in broken.message
    files = list(dict.fromkeys(p.file for p in problems))
    assert files == sorted(files) and str(tmp_path / "nested" / "z_dashboard.json") in files


def test_a_folder_without_json_is_a_problem(tmp_path: Path) -> None:
    _, problems = lint_assets([tmp_path])
    assert [(p.file, p.severity, p.message) for p in problems] == [
        (str(tmp_path), "error", "the folder holds no .json file")]


# ------------------------------------------------------------------------------------ import and export
def test_import_leaves_read_only_fields_out_and_marks_foreign_assets(sandbox: SandboxServer) -> None:
    settings = settings_for(sandbox)
    assert [c.action for c in import_assets(settings, [DATADOG])] == ["create"] * 5
    assert [c.action for c in import_assets(settings, [DATADOG])] == ["unchanged"] * 5
    with client_for(sandbox) as client:
        monitors = {m.name: m for m in MonitorsApi(client).list_monitors()}
        [summary] = DashboardsApi(client).list_dashboards().dashboards
        dashboard = DashboardsApi(client).get_dashboard(summary.id)
        workflows = WorkflowAutomationApi(client)
        tags = [workflows.get_workflow(w.id).data.attributes.tags for w in workflows.list_workflows().data]
        projects = CaseManagementApi(client).get_projects().data
    p95 = monitors["Chatbot p95 latency over 8 s"]
    assert sorted(p95.tags) == sorted(["env:demo", "team:sre", MANAGED_TAG]) and p95.id != 181440223
    assert dashboard.id != "q7x-2ab-k9z" and dashboard.description.endswith(IMPORT_MARK)
    assert all(MANAGED_TAG in t for t in tags)
    assert projects == []  # neither workflow opens cases: the kit's case project is not created for them


def test_round_trip_through_the_datadog_format_changes_nothing(sandbox: SandboxServer, tmp_path: Path) -> None:
    settings = settings_for(sandbox)
    import_assets(settings)
    import_assets(settings, [DATADOG])
    written = export_assets(settings, tmp_path, form="datadog")
    assert len(written) == 11
    budget = read(tmp_path / "monitors" / "budget_breach.json")
    assert "definition" not in budget and budget["type"] == "query alert"  # Datadog's body, not the template
    assets, problems = lint_assets([tmp_path])
    assert found(problems, "error") == set()
    own = {str(a.path) for a in assets if not a.foreign}
    assert len(own) == 6 and not [p for p in problems if p.file in own]  # the kit's assets come home clean
    assert [c.action for c in import_assets(settings, [tmp_path])] == ["unchanged"] * 11


# ------------------------------------------------------------------------------------ the command line
def test_cli_lint_of_a_folder_of_exports(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(DATADOG)]) == 0
    out = capsys.readouterr().out
    assert all(str(p) in out for p in EXPORTS)
    assert out.rstrip().endswith("0 error(s), 5 warning(s), 9 note(s)")


def test_cli_lint_of_the_seed_export_outside_assets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = copy(SEED, tmp_path / "x" / "latency_monitor_export.json")
    assert main(["lint", str(export)]) == 0  # a foreign asset's unknown metric is a warning
    out = capsys.readouterr().out
    assert f"{export}: $.query: warning: unknown metric 'autonomic.agent.latency'" in out
    assert main(["lint", "--strict", str(export)]) == 1


def test_cli_lint_of_a_file_nobody_can_read_as_an_asset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(write(tmp_path / "notes.json", {"todo": []}))]) == 1
    assert "cannot tell whether this is a dashboard, a monitor or a workflow" in capsys.readouterr().err


def test_cli_import_dry_run_of_datadog_exports(cli_on_sandbox: SandboxServer,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", "--dry-run", str(DATADOG)]) == 0
    out = capsys.readouterr().out
    assert out.count(" create ") == 5 and "unknown metric 'autonomic.agent.latency'" in out
    with client_for(cli_on_sandbox) as client:
        assert MonitorsApi(client).list_monitors() == []


def test_cli_export_in_datadog_format_imports_back_unchanged(cli_on_sandbox: SandboxServer, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", str(DATADOG)]) == 0
    assert main(["export", "--format", "datadog", "--out", str(tmp_path / "out")]) == 0
    assert "Exported 5 asset(s)" in capsys.readouterr().out
    seed = read(tmp_path / "out" / "monitors" / "agent_latency_anomaly.json")
    assert set(seed) == {"name", "type", "query", "message", "tags", "options"} and MANAGED_TAG in seed["tags"]
    assert main(["import", "--dry-run", str(tmp_path / "out")]) == 0
    assert capsys.readouterr().out.count(" unchanged ") == 5

