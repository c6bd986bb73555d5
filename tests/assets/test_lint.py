"""Lint: the shipped assets are clean, and each rule's tiny broken fixture fails with a clear message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autonomic_lib.assets import SANDBOX_ACTIONS, AssetError, lint_assets, load_assets, shipped_paths
from tests.assets.conftest import FIXTURES

# fixture -> (rule, JSON path, words the message must contain)
CASES = {
    "dashboard_bad_json": ("json", "$", "invalid JSON at line 1"),
    "dashboard_unknown_widget_type": ("widget-type", "$.widgets[0].definition.type", "'pie_chart'"),
    "dashboard_model_enum": ("model", "$.widgets[0].definition.requests[0].conditional_formats[0].palette", "'purple'"),
    "dashboard_unknown_metric": ("unknown-metric", "$.widgets[0].definition.requests[0].queries[0].query",
                                 "autonomic.agent.latency"),
    "dashboard_unknown_tag": ("unknown-tag", "$.widgets[0].definition.requests[0].queries[0].query", "'role'"),
    "dashboard_template_variable": ("template-variable", "$.widgets[0].definition.requests[0].queries[0].query",
                                    "$environment"),
    "dashboard_formula": ("query-parse", "$.widgets[0].definition.requests[0].formulas[0].formula", "'b'"),
    "dashboard_percent_range": ("threshold-unit", "$.widgets[0].definition.requests[0].conditional_formats[1].value",
                                "0-100"),
    "dashboard_manage_status": ("managed", "$.widgets[0].definition.query", "not filtered"),
    "monitor_layout": ("layout", "$", "version, title, description, tags"),
    "monitor_model_type": ("model", "$.definition.options.thresholds.critical", "float"),
    "monitor_query_parse": ("query-parse", "$.definition.query", "position 47"),
    "monitor_unknown_metric": ("unknown-metric", "$.definition.query", "autonomic.agent.costs"),
    "monitor_unknown_tag": ("unknown-tag", "$.definition.query", "'role'"),
    "monitor_tag_value": ("tag-value", "$.definition.query", "verdict:maybe"),
    "monitor_threshold_unit": ("threshold-unit", "$.definition.query", "dollar"),
    "monitor_threshold_mismatch": ("threshold-mismatch", "$.definition.options.thresholds.critical", "0.2"),
    "monitor_anomaly_window": ("anomaly-window", "$.definition.options.threshold_windows", "last_30m"),
    "monitor_workflow_mention": ("workflow-mention", "$.definition.message", "@workflow-open-a-ticket"),
    "monitor_message_variable": ("message-variable", "$.definition.message", "agent_id"),
    "monitor_not_managed": ("managed", "$.definition.tags", "managed-by:autonomic-kit"),
    "workflow_layout": ("layout", "$.data.type", "'workflow'"),
    "workflow_step": ("workflow-step", "$.data.attributes.spec.steps[0].outboundEdges", "'Find_case'"),
    "workflow_input": ("workflow-input", "$.data.attributes.spec.steps[4].parameters", "Trigger.team"),
}


def test_shipped_assets_lint_clean() -> None:
    assets, problems = lint_assets()
    assert problems == []
    assert sorted(a.kind for a in assets) == ["dashboard", "monitor", "monitor", "monitor", "monitor", "workflow"]


def test_every_fixture_has_a_case() -> None:
    on_disk = {p.stem for p in FIXTURES.glob("*.json")}
    assert on_disk == set(CASES) | {"workflow_sandbox_action"}


@pytest.mark.parametrize("fixture", sorted(CASES))
def test_rule_fixture_fails_with_a_clear_message(fixture: str) -> None:
    rule, path, words = CASES[fixture]
    _, problems = lint_assets([FIXTURES / f"{fixture}.json"])
    errors = [p for p in problems if p.severity == "error"]
    match = [p for p in errors if p.rule == rule and p.path == path]
    assert match, f"expected {rule} at {path}, got: {[str(p) for p in errors]}"
    text = str(match[0])
    assert words in text and "Fix: " in text and fixture in text


def test_unsupported_workflow_action_is_a_warning_not_an_error() -> None:
    _, problems = lint_assets([FIXTURES / "workflow_sandbox_action.json"])
    assert [(p.rule, p.severity) for p in problems] == [("sandbox-action", "warning")]
    assert "com.datadoghq.slack.postMessage" in problems[0].message
    assert "com.datadoghq.dd.casem.createCase" in SANDBOX_ACTIONS


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    bad = [FIXTURES / "monitor_unknown_metric.json", FIXTURES / "dashboard_unknown_tag.json",
           FIXTURES / "dashboard_bad_json.json"]
    with pytest.raises(AssetError) as caught:
        load_assets(bad)
    message = str(caught.value)
    assert "3 problem(s)" in message
    assert all(p.name in message for p in bad)


def test_monitor_mentions_the_shipped_workflow_handle() -> None:
    workflow = json.loads((shipped_paths()[-1]).read_text())
    handle = workflow["data"]["attributes"]["spec"]["handle"]
    monitor = json.loads(Path(shipped_paths()[0].parent.parent / "monitors" / "optimization_failure.json").read_text())
    assert f"@workflow-{handle}(" in monitor["definition"]["message"]
    assert "{{#is_alert}}" in monitor["definition"]["message"]


def test_lint_of_explicit_paths_checks_mentions_against_shipped_workflows() -> None:
    monitor = shipped_paths()[0].parent.parent / "monitors" / "optimization_failure.json"
    _, problems = lint_assets([monitor])
    assert problems == []
