"""The workflow runner: the kit's remediation workflow started by the kit's monitor, instances through the client."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from datadog_api_client import ApiClient
from datadog_api_client.exceptions import ApiException
from datadog_api_client.v1.api.monitors_api import MonitorsApi
from datadog_api_client.v2.api.case_management_api import CaseManagementApi
from datadog_api_client.v2.api.workflow_automation_api import WorkflowAutomationApi
from datadog_api_client.v2.model.workflow_instance_create_meta import WorkflowInstanceCreateMeta
from datadog_api_client.v2.model.workflow_instance_create_request import WorkflowInstanceCreateRequest

from autonomic_lib.assets.model import to_model
from autonomic_lib.sandbox.automation import notifications
from autonomic_lib.sandbox.monitors.evaluator import Transition
from autonomic_lib.sandbox.server import SandboxServer
from tests.conftest import client_for, start_sandbox
from tests.sandbox.automation.test_case_routes import make_project

ROOT = Path(__file__).resolve().parents[3]
MONITOR_FILE = ROOT / "assets/monitors/optimization_failure.json"
WORKFLOW_FILE = ROOT / "assets/workflows/optimization_failure_remediation.json"


def alert(monitor: dict[str, Any], agent: str, reason: str, at: float, current: str = "Alert",
          previous: str = "OK") -> Transition:
    tags = (f"agent_id:{agent}", f"failure_reason:{reason}")
    return Transition(monitor["id"], ",".join(tags), tags, previous, current, at, 2.0, 1.0, at - 300, at)


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    """Its own sandbox: the kit's workflow handle is unique per org, and other tests import the kit too."""
    server = start_sandbox(None)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(server: SandboxServer) -> Iterator[ApiClient]:
    with client_for(server) as client:
        yield client


@dataclass
class Kit:
    monitor: dict[str, Any]
    workflow_id: str
    project_id: str


def create_workflow(client: ApiClient, attributes: dict[str, Any]) -> str:
    return WorkflowAutomationApi(client).create_workflow(body=to_model("workflow", attributes)).data.id


@pytest.fixture(scope="module")
def kit(server: SandboxServer, client: ApiClient) -> Kit:
    """The kit's monitor and workflow as `import --case-project <uuid>` creates them, through the client."""
    project_id, _ = make_project(CaseManagementApi(client), "AUTO")
    attributes = json.loads(WORKFLOW_FILE.read_text())["data"]["attributes"]
    for param in attributes["spec"]["inputSchema"]["parameters"]:
        if param["name"] == "project_id":
            param["defaultValue"] = project_id
        elif param["name"] == "app_url":
            param["defaultValue"] = server.url
    workflow_id = create_workflow(client, attributes)
    definition = json.loads(MONITOR_FILE.read_text())["definition"]
    monitor_id = MonitorsApi(client).create_monitor(body=to_model("monitor", definition)).id
    monitor = server.sandbox.documents.get("monitor", monitor_id)
    assert monitor is not None
    return Kit(monitor, workflow_id, project_id)


def cases_of(client: ApiClient, text: str) -> list[Any]:
    return CaseManagementApi(client).search_cases(filter=text, page_size=100).data


def test_alert_runs_the_kit_workflow_and_opens_one_case(server: SandboxServer, client: ApiClient, kit: Kit) -> None:
    now = time.time()
    note = notifications.on_transition(server.sandbox.automation, kit.monitor,
                                       alert(kit.monitor, "a1", "eval_rejected", now))
    assert note is not None
    started = [h for h in note["handles"] if h["kind"] == "workflow"]
    assert len(started) == 1 and started[0]["status"] == "started", started
    assert started[0]["params"] == {"agent_id": "a1", "failure_reason": "eval_rejected"}
    api = WorkflowAutomationApi(client)
    instance = api.get_workflow_instance(kit.workflow_id, started[0]["instance_id"]).data
    attrs = instance.attributes.to_dict()
    assert attrs["instanceStatus"] == {"detailsKind": "SUCCEEDED", "displayName": "Succeeded"}
    assert [(s["stepName"], s["stepState"]) for s in attrs["stepStateAssociations"]] == [
        ("Extract_alert_context", "SUCCEEDED"), ("Find_open_case", "SUCCEEDED"), ("Case_already_open", "SUCCEEDED"),
        ("Create_case", "SUCCEEDED")]
    found = cases_of(client, "agent_id:a1")
    assert len(found) == 1
    case = found[0].attributes
    assert case.attributes["agent_id"] == ["a1"] and case.attributes["failure_reason"] == ["eval_rejected"]
    assert case.attributes["monitor_id"] == [str(kit.monitor["id"])]
    assert case.title == "[Autonomic AI] Agent a1 stuck in its self-healing loop" and str(case.priority) == "P2"
    assert f"{server.url}/logs?query=" in case.description and "agent_id%3Aa1" in case.description
    assert f"/monitors/{kit.monitor['id']}" in case.description and "`eval_rejected`" in case.description
    assert case.key.startswith("AUTO-")


def test_second_alert_for_the_same_agent_opens_no_second_case(server: SandboxServer, client: ApiClient,
                                                               kit: Kit) -> None:
    now = time.time()
    notifications.on_transition(server.sandbox.automation, kit.monitor, alert(kit.monitor, "a2", "no_progress", now))
    note = notifications.on_transition(server.sandbox.automation, kit.monitor,
                                       alert(kit.monitor, "a2", "no_progress", now + 600))
    assert note is not None
    handle = next(h for h in note["handles"] if h["kind"] == "workflow")
    attrs = WorkflowAutomationApi(client).get_workflow_instance(kit.workflow_id, handle["instance_id"]).data.attributes
    assert [s["stepName"] for s in attrs["stepStateAssociations"]][-1] == "Already_tracked"
    assert len(cases_of(client, "agent_id:a2")) == 1
    assert len(cases_of(client, "agent_id:a20")) == 0  # the dedupe search is exact: a2 is not a20
    notifications.on_transition(server.sandbox.automation, kit.monitor,
                                alert(kit.monitor, "a20", "no_progress", now + 700))
    assert len(cases_of(client, "agent_id:a20")) == 1 and len(cases_of(client, "agent_id:a2")) == 1


def test_recovery_renders_the_recovery_text_and_starts_nothing(server: SandboxServer, kit: Kit) -> None:
    note = notifications.on_transition(server.sandbox.automation, kit.monitor,
                                       alert(kit.monitor, "a3", "x", time.time(), current="OK", previous="Alert"))
    assert note is not None and note["handles"] == []
    assert note["message"].strip() == "Agent a3 has had no optimization failure for 5 minutes."
    assert note["title"].startswith("[Recovered on {agent_id:a3,failure_reason:x}]")


def test_rate_limit_skips_runs_over_the_limit_with_a_reason(server: SandboxServer, client: ApiClient) -> None:
    handle = f"rl-{uuid.uuid4().hex[:8]}"
    attributes = {"name": f"rate limited {handle}", "published": True, "spec": {
        "handle": handle, "triggers": [{"monitorTrigger": {"rateLimit": {"count": 2, "interval": "3600s"}},
                                        "startStepNames": ["Nothing"]}],
        "steps": [{"name": "Nothing", "actionId": "com.datadoghq.core.noop", "parameters": []}]}}
    workflow_id = create_workflow(client, attributes)
    monitor = {"id": 999_001, "name": "rl", "message": f"@workflow-{handle}", "query": "avg(last_5m):avg:m{*} > 1",
               "options": {"thresholds": {"critical": 1}}, "tags": []}
    base = time.time()
    statuses = [notifications.on_transition(server.sandbox.automation, monitor,
                                            alert(monitor, f"r{i}", "x", base + i * 60))
                for i in range(3)]
    results = [n["handles"][0] for n in statuses if n]
    assert [r["status"] for r in results] == ["started", "started", "rate_limited"]
    assert "2 run(s) per 3600s" in results[2]["reason"]
    later = notifications.on_transition(server.sandbox.automation, monitor, alert(monitor, "r9", "x", base + 3600 + 1))
    assert later is not None and later["handles"][0]["status"] == "started"  # the window has moved on
    listed = WorkflowAutomationApi(client).list_workflow_instances(workflow_id)
    assert listed.meta.page.total_count == 3


def test_unsupported_action_fails_the_instance_naming_it(client: ApiClient) -> None:
    attributes = {"name": "unsupported", "published": True, "spec": {
        "triggers": [{"apiTrigger": {}, "startStepNames": ["Echo"]}],
        "steps": [{"name": "Echo", "actionId": "com.datadoghq.core.echo", "parameters": [{"name": "value", "value": "hi"}],
                   "outboundEdges": [{"nextStepName": "Page", "branchName": "main"}]},
                  {"name": "Page", "actionId": "com.datadoghq.pagerduty.createIncident", "parameters": []}]}}
    api = WorkflowAutomationApi(client)
    workflow_id = create_workflow(client, attributes)
    created = api.create_workflow_instance(workflow_id, WorkflowInstanceCreateRequest())
    attrs = api.get_workflow_instance(workflow_id, created.data.id).data.attributes.to_dict()
    assert attrs["instanceStatus"]["detailsKind"] == "FAILED"
    assert [(s["stepName"], s["stepState"]) for s in attrs["stepStateAssociations"]] == [
        ("Echo", "SUCCEEDED"), ("Page", "FAILED")]
    assert "com.datadoghq.pagerduty.createIncident" in attrs["failure"]["reason"]
    listed = api.list_workflow_instances(workflow_id).to_dict()
    assert listed["meta"]["failedCount"] == 1 and listed["data"][0]["id"] == created.data.id


def test_api_run_with_payload_sleep_variables_and_branches(client: ApiClient) -> None:
    steps = [
        {"name": "Set", "actionId": "com.datadoghq.core.setVariable",
         "parameters": [{"name": "variableName", "value": "n"}, {"name": "value", "value": "{{ Trigger.count }}"}],
         "outboundEdges": [{"nextStepName": "Wait", "branchName": "main"}]},
        {"name": "Wait", "actionId": "com.datadoghq.core.sleep", "parameters": [{"name": "durationSeconds", "value": 300}],
         "outboundEdges": [{"nextStepName": "Big", "branchName": "main"}]},
        {"name": "Big", "actionId": "com.datadoghq.core.if", "parameters": [
            {"name": "joinOperator", "value": "or"},
            {"name": "conditions", "value": [{"leftValue": "{{ Variables.n }}", "comparisonOperator": "gte",
                                              "rightValue": 10}]}],
         "outboundEdges": [{"nextStepName": "Yes", "branchName": "true"}, {"nextStepName": "No", "branchName": "false"}]},
        {"name": "Yes", "actionId": "com.datadoghq.core.echo", "parameters": [
            {"name": "value", "value": "{{ WorkflowName }} got {{ Variables.n }} from {{ Source.type }}"}]},
        {"name": "No", "actionId": "com.datadoghq.core.noop", "parameters": []}]
    attributes = {"name": "branches", "published": False, "spec": {
        "triggers": [{"apiTrigger": {}, "startStepNames": ["Set"]}], "steps": steps,
        "inputSchema": {"parameters": [{"name": "count", "type": "NUMBER", "defaultValue": 1}]}}}
    api = WorkflowAutomationApi(client)
    workflow_id = create_workflow(client, attributes)
    body = WorkflowInstanceCreateRequest(meta=WorkflowInstanceCreateMeta(payload={"count": 12}))
    attrs = api.get_workflow_instance(workflow_id, api.create_workflow_instance(workflow_id, body).data.id
                                      ).data.attributes.to_dict()
    assert [s["stepName"] for s in attrs["stepStateAssociations"]] == ["Set", "Wait", "Big", "Yes"]
    assert attrs["steps"][-1]["outputs"] == {"value": "branches got 12 from api"}
    start, end = attrs["startTimestamp"], attrs["endTimestamp"]
    assert (end - start).total_seconds() == pytest.approx(300)  # virtual sleep: the run itself took no time
    default = api.get_workflow_instance(workflow_id, api.create_workflow_instance(
        workflow_id, WorkflowInstanceCreateRequest()).data.id).data.attributes.to_dict()
    assert [s["stepName"] for s in default["stepStateAssociations"]][-1] == "No"  # count defaults to 1


def test_instance_paging_and_unknown_ids(client: ApiClient) -> None:
    attributes = {"name": "paging", "published": True, "spec": {
        "triggers": [{"apiTrigger": {}, "startStepNames": ["N"]}],
        "steps": [{"name": "N", "actionId": "com.datadoghq.core.noop", "parameters": []}]}}
    api = WorkflowAutomationApi(client)
    workflow_id = create_workflow(client, attributes)
    ids = [api.create_workflow_instance(workflow_id, WorkflowInstanceCreateRequest()).data.id for _ in range(3)]
    first = api.list_workflow_instances(workflow_id, page_size=2, page_number=0)
    second = api.list_workflow_instances(workflow_id, page_size=2, page_number=1)
    assert first.meta.page.total_count == 3 and len(first.data) == 2 and len(second.data) == 1
    assert {i.id for i in first.data + second.data} == set(ids)
    with pytest.raises(ApiException) as err:
        api.get_workflow_instance(workflow_id, str(uuid.uuid4()))
    assert err.value.status == 404
    with pytest.raises(ApiException) as err:
        api.create_workflow_instance(str(uuid.uuid4()), WorkflowInstanceCreateRequest())
    assert err.value.status == 404


def test_monitor_cannot_start_an_unpublished_workflow(server: SandboxServer, client: ApiClient) -> None:
    handle = f"draft-{uuid.uuid4().hex[:8]}"
    create_workflow(client, {"name": handle, "published": False, "spec": {
        "handle": handle, "triggers": [{"monitorTrigger": {}, "startStepNames": ["N"]}],
        "steps": [{"name": "N", "actionId": "com.datadoghq.core.noop", "parameters": []}]}})
    monitor = {"id": 999_002, "name": "draft", "message": f"@workflow-{handle} @workflow-nope-{handle}",
               "query": "avg(last_5m):avg:m{*} > 1", "options": {}, "tags": []}
    note = notifications.on_transition(server.sandbox.automation, monitor, alert(monitor, "d", "x", time.time()))
    assert note is not None
    assert [h["status"] for h in note["handles"]] == ["not_triggerable", "not_found"]


def test_template_rendering_keeps_types_and_reports_unknown_paths() -> None:
    from autonomic_lib.sandbox.automation.runner import Run, StepError, render
    run = Run(cases=None, workflow={"id": "w", "attributes": {"name": "W"}}, instance_id="i",  # type: ignore[arg-type]
              trigger={"n": 3, "tags": ["a", "b"]}, source={"monitor": {"tag_value": {"a.b": "x"}}}, now=0.0)
    run.steps["S"] = {"data": [{"id": 1}, {"id": 2}]}
    assert render("{{ Trigger.n }}", run) == 3
    assert render("{{Steps.S.data.length}}", run) == 2 and render("{{ Steps.S.data.[1].id }}", run) == 2
    assert render("n={{ Trigger.n }} tags={{ Trigger.tags }}", run) == "n=3 tags=a,b"
    assert render("{{ Source.monitor.tag_value.[a.b] }}", run) == "x"
    assert render({"k": ["{{ InstanceId }}"]}, run) == {"k": ["i"]}
    assert render("x{{ Trigger.missing }}y", run) == "xy" and run.unresolved == ["Trigger.missing"]
    with pytest.raises(StepError, match="JavaScript"):
        render("${ Trigger.n + 1 }", run)


def test_real_evaluation_of_submitted_failures_opens_the_case(server: SandboxServer, client: ApiClient,
                                                               kit: Kit) -> None:
    """The whole chain: count points in, the evaluator alerts, notifications run the workflow, a case exists."""
    from datadog_api_client.v2.api.metrics_api import MetricsApi
    from datadog_api_client.v2.model.metric_intake_type import MetricIntakeType
    from datadog_api_client.v2.model.metric_payload import MetricPayload
    from datadog_api_client.v2.model.metric_point import MetricPoint
    from datadog_api_client.v2.model.metric_series import MetricSeries

    at = int(time.time()) // 60 * 60 - 300
    MetricsApi(client).submit_metrics(body=MetricPayload(series=[MetricSeries(
        metric="autonomic.optimization.failed", type=MetricIntakeType.COUNT, interval=10,
        points=[MetricPoint(timestamp=at, value=1.0)],
        tags=["env:demo", "agent_id:e1", "failure_reason:eval_rejected", "service:autonomic-refiner"])]))
    deadline = time.time() + 20
    while time.time() < deadline and not cases_of(client, "agent_id:e1"):
        server.sandbox.evaluator.run()
        time.sleep(0.2)
    found = cases_of(client, "agent_id:e1")
    assert len(found) == 1 and found[0].attributes.attributes["failure_reason"] == ["eval_rejected"]
    listed = WorkflowAutomationApi(client).list_workflow_instances(kit.workflow_id, page_size=100).to_dict()
    assert listed["meta"]["failedCount"] == 0
