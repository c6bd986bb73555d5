"""Import and export against a real sandbox through the official client: idempotent, and nothing sent on lint errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datadog_api_client.v1.api.monitors_api import MonitorsApi

import autonomic_lib.assets
from autonomic_lib.assets import AssetError, export_assets, import_assets, lint_assets, shipped_paths
from autonomic_lib.assets.sync import diff, format_table
from autonomic_lib.cli import main
from autonomic_lib.sandbox.server import SandboxServer
from autonomic_lib.settings import Settings
from tests.assets.conftest import FIXTURES, settings_for
from tests.conftest import client_for


def test_import_twice_creates_nothing_new(sandbox: SandboxServer) -> None:
    settings = settings_for(sandbox)
    first = import_assets(settings)
    assert [(c.kind, c.action) for c in first] == [("workflow", "create"), ("monitor", "create"), ("monitor", "create"),
                                                   ("monitor", "create"), ("monitor", "create"), ("dashboard", "create")]
    assert all(c.id and c.url and c.url.startswith(sandbox.url) for c in first)
    second = import_assets(settings)
    assert [c.action for c in second] == ["unchanged"] * 6, format_table(second)
    assert [c.id for c in second] == [c.id for c in first]
    with client_for(sandbox) as client:
        assert len(MonitorsApi(client).list_monitors()) == 4


def test_dry_run_shows_the_diff_and_sends_nothing(sandbox: SandboxServer, tmp_path: Path) -> None:
    settings = settings_for(sandbox)
    assert [c.action for c in import_assets(settings, dry_run=True)] == ["create"] * 6
    with client_for(sandbox) as client:
        assert MonitorsApi(client).list_monitors() == []
    import_assets(settings)
    edited = tmp_path / "monitors" / "budget_breach.json"
    edited.parent.mkdir()
    data = json.loads((shipped_paths()[0].parent.parent / "monitors" / "budget_breach.json").read_text())
    data["definition"]["priority"] = 3
    edited.write_text(json.dumps(data))
    [change] = import_assets(settings, [edited], dry_run=True)
    assert change.action == "update" and change.diff == ["$.priority: 2 -> 3"]
    assert [c.action for c in import_assets(settings, [edited], dry_run=True)] == ["update"]  # still not sent
    assert [c.action for c in import_assets(settings, [edited])] == ["update"]
    assert [c.action for c in import_assets(settings, [edited])] == ["unchanged"]


def test_export_then_reimport_is_a_noop(sandbox: SandboxServer, tmp_path: Path) -> None:
    settings = settings_for(sandbox)
    import_assets(settings)
    written = export_assets(settings, tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == sorted(
        p.relative_to(shipped_paths()[0].parent.parent).as_posix() for p in shipped_paths())
    assert [c.action for c in import_assets(settings, written)] == ["unchanged"] * 6
    dashboard = json.loads((tmp_path / "dashboards" / "autonomic_ops_center.json").read_text())
    assert "id" not in dashboard["widgets"][0] and "id" not in dashboard["widgets"][0]["definition"]["widgets"][0]
    assert lint_assets(written)[1] == []  # what comes home lints clean


def test_export_brings_an_edit_made_in_the_backend_home(sandbox: SandboxServer, tmp_path: Path) -> None:
    settings = settings_for(sandbox)
    changes = import_assets(settings)
    monitor_id = int(next(c.id for c in changes if "Budget" in c.name))  # type: ignore[arg-type]
    from datadog_api_client.v1.model.monitor_update_request import MonitorUpdateRequest

    with client_for(sandbox) as client:
        MonitorsApi(client).update_monitor(monitor_id, body=MonitorUpdateRequest(priority=4))
    export_assets(settings, tmp_path)
    exported = json.loads((tmp_path / "monitors" / "budget_breach.json").read_text())
    assert exported["definition"]["priority"] == 4
    assert exported["title"] == "A chatbot message cost more than its budget"  # the template keeps its own text


@pytest.mark.parametrize("fixture", ["dashboard_bad_json", "dashboard_unknown_widget_type"])
def test_a_broken_asset_is_refused_before_anything_is_sent(fixture: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_sync(*args: object, **kwargs: object) -> None:
        raise AssertionError("import reached the backend despite a broken asset")

    monkeypatch.setattr(autonomic_lib.assets, "sync", no_sync)

    with pytest.raises(AssetError) as caught:
        import_assets(Settings(api_key="a" * 32, app_key="b" * 40, host="http://127.0.0.1:9"),  # type: ignore[arg-type]
                      [FIXTURES / f"{fixture}.json"])
    assert fixture in str(caught.value)


def test_cli_import_refuses_broken_assets_with_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", str(FIXTURES / "dashboard_unknown_widget_type.json")]) == 1
    assert "unknown WidgetDefinition type 'pie_chart'" in capsys.readouterr().err


def test_cli_import_and_export_against_the_running_sandbox(cli_on_sandbox: SandboxServer, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    sandbox = cli_on_sandbox
    assert main(["import"]) == 0
    assert main(["import", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.count("unchanged") == 6 and f"{sandbox.url}/monitors/" in out
    assert main(["export", "--out", str(tmp_path / "out")]) == 0
    assert "Exported 6 asset(s)" in capsys.readouterr().out


def test_lint_cli_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint"]) == 0
    assert main(["lint", str(FIXTURES / "monitor_unknown_metric.json")]) == 1
    assert "autonomic.agent.costs" in capsys.readouterr().err
    assert main(["lint", str(FIXTURES / "workflow_sandbox_action.json")]) == 0  # a warning does not fail lint


def test_diff_ignores_backend_only_fields_and_keeps_bool_apart_from_int() -> None:
    assert diff({"a": 1, "b": [{"c": True}]}, {"a": 1.0, "b": [{"c": True, "id": 7}], "created": "x"}) == []
    assert diff({"c": True}, {"c": 1}) == ["$.c: 1 -> true"]
    assert diff({"w": [1, 2]}, {"w": [1]}) == ["$.w: [1] -> [1, 2]"]


def test_workflow_links_follow_the_target_and_keep_the_case_project(sandbox: SandboxServer) -> None:
    settings = settings_for(sandbox)
    workflow = [p for p in shipped_paths() if p.parent.name == "workflows"]
    import_assets(settings, workflow, case_project="3f1c0d8e-0000-4000-8000-000000000001")
    assert [c.action for c in import_assets(settings, workflow)] == ["unchanged"]  # project kept without the option
    from datadog_api_client.v2.api.workflow_automation_api import WorkflowAutomationApi

    with client_for(sandbox) as client:
        api = WorkflowAutomationApi(client)
        [item] = api.list_workflows().data
        spec = api.get_workflow(item.id).data.attributes.spec
    defaults = {p.name: p.get("default_value") for p in spec.input_schema.parameters}
    assert defaults["app_url"] == sandbox.url
    assert defaults["project_id"] == "3f1c0d8e-0000-4000-8000-000000000001"


def test_without_a_case_project_import_uses_the_kits_own_and_creates_it_once(sandbox: SandboxServer) -> None:
    from datadog_api_client.v2.api.case_management_api import CaseManagementApi
    from datadog_api_client.v2.api.workflow_automation_api import WorkflowAutomationApi

    settings = settings_for(sandbox)
    workflow = [p for p in shipped_paths() if p.parent.name == "workflows"]
    assert [c.action for c in import_assets(settings, workflow, dry_run=True)] == ["create"]
    with client_for(sandbox) as client:
        assert CaseManagementApi(client).get_projects().data == []  # a dry run creates no project either
    import_assets(settings, workflow)
    assert [c.action for c in import_assets(settings, workflow)] == ["unchanged"]
    with client_for(sandbox) as client:
        projects = CaseManagementApi(client).get_projects().data
        api = WorkflowAutomationApi(client)
        [item] = api.list_workflows().data
        spec = api.get_workflow(item.id).data.attributes.spec
    assert [(p.attributes.name, p.attributes.key) for p in projects] == [("Autonomic AI", "AUTO")]
    assert {p.name: p.get("default_value") for p in spec.input_schema.parameters}["project_id"] == projects[0].id
