"""Canceling a workflow instance while its steps run: the runner looks before each step; the API answers 200 `{}`
for a running instance and 400 for a finished one. A test action (registered for the test only) holds a run at a
step, so the instance is really running when the cancel arrives."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from datadog_api_client import ApiClient
from datadog_api_client.exceptions import ApiException
from datadog_api_client.v2.api.workflow_automation_api import WorkflowAutomationApi
from datadog_api_client.v2.model.workflow_instance_create_meta import WorkflowInstanceCreateMeta
from datadog_api_client.v2.model.workflow_instance_create_request import WorkflowInstanceCreateRequest

from autonomic_lib.sandbox.automation import runner
from autonomic_lib.sandbox.automation.backend import Automation
from autonomic_lib.sandbox.server import SandboxServer

from tests.conftest import raw, unique
from tests.sandbox.automation.test_backend import automation  # noqa: F401  (the backend fixture)

HOLD = "sandbox.test.hold"


def held_workflow(name: str) -> dict[str, Any]:
    """Hold -> After: the first step is the test's action, the second must not run once canceled."""
    return {"name": name, "published": True, "spec": {
        "triggers": [{"apiTrigger": {}, "startStepNames": ["Hold"]}],
        "steps": [{"name": "Hold", "actionId": HOLD, "parameters": [],
                   "outboundEdges": [{"nextStepName": "After", "branchName": "main"}]},
                  {"name": "After", "actionId": "com.datadoghq.core.noop", "parameters": []}]}}


def test_a_cancel_during_a_step_stops_the_run_before_the_next(automation: Automation,  # noqa: F811
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    workflow = automation.create_workflow(attributes=held_workflow("held"))
    seen: dict[str, Any] = {}

    def cancel_me(run: runner.Run, params: dict[str, Any]) -> dict[str, Any]:
        seen["while running"] = automation.get_instance(workflow["id"], run.instance_id)
        automation.cancel_instance(workflow["id"], run.instance_id)
        return {}

    monkeypatch.setitem(runner.ACTIONS, HOLD, cancel_me)
    done = automation.start_instance(workflow["id"], payload={})
    assert seen["while running"]["attributes"]["instanceStatus"]["detailsKind"] == "IN_PROGRESS"
    assert "endTimestamp" not in seen["while running"]["attributes"]
    status = done["attributes"]["instanceStatus"]
    assert (status["detailsKind"], status["displayName"]) == ("CANCELED", "Canceled")
    assert [s["stepName"] for s in done["attributes"]["stepStateAssociations"]] == ["Hold"]
    assert automation.list_instances(workflow["id"]).outcomes == {"CANCELED": 1}
    with pytest.raises(Exception, match="already finished \\(Canceled\\)"):
        automation.cancel_instance(workflow["id"], done["id"])


def test_an_instance_left_running_by_a_stopped_sandbox_is_canceled_at_once(automation: Automation) -> None:  # noqa: F811
    workflow = automation.create_workflow(attributes=held_workflow("orphan"))
    orphan = runner.pending(workflow, runner.new_instance_id(), payload={}, source={"type": "api"}, kind="api",
                            at=automation.clock())
    automation._documents.put("workflow_instance", orphan["id"], orphan)  # as a restart would find it
    automation.cancel_instance(workflow["id"], orphan["id"])
    assert automation.get_instance(workflow["id"], orphan["id"])["attributes"]["instanceStatus"]["detailsKind"] \
        == "CANCELED"


def test_the_api_cancels_a_running_instance_and_refuses_a_finished_one(api_client: ApiClient,
                                                                       session_sandbox: SandboxServer,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    entered, release = threading.Event(), threading.Event()

    def hold(run: runner.Run, params: dict[str, Any]) -> dict[str, Any]:
        entered.set()
        assert release.wait(30)
        return {}

    monkeypatch.setitem(runner.ACTIONS, HOLD, hold)
    status, created = raw(session_sandbox, "POST", "/api/v2/workflows",
                          {"data": {"type": "workflows", "attributes": held_workflow(unique("held"))}})
    assert status == 201, created
    workflow_id = created["data"]["id"]
    api = WorkflowAutomationApi(api_client)
    started: dict[str, Any] = {}
    run = threading.Thread(target=lambda: started.update(answer=api.create_workflow_instance(
        workflow_id, WorkflowInstanceCreateRequest(meta=WorkflowInstanceCreateMeta(payload={})))))
    run.start()
    try:
        assert entered.wait(30)
        [running] = api.list_workflow_instances(workflow_id).data
        assert running.attributes["instanceStatus"]["detailsKind"] == "IN_PROGRESS"  # the model keeps a dict
        api.cancel_workflow_instance(workflow_id, running.id)
    finally:
        release.set()
        run.join(30)
    instance = api.get_workflow_instance(workflow_id, started["answer"].data.id).data
    assert instance.attributes["instanceStatus"]["detailsKind"] == "CANCELED"
    assert [s["stepName"] for s in instance.attributes["stepStateAssociations"]] == ["Hold"]
    with pytest.raises(ApiException) as exc:
        api.cancel_workflow_instance(workflow_id, instance.id)
    assert exc.value.status == 400
