"""Workflows (v2 CRUD) through the official client against the session sandbox (type checks on)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from datadog_api_client import ApiClient
from datadog_api_client.exceptions import ApiException, ForbiddenException, NotFoundException
from datadog_api_client.v2.api.workflow_automation_api import WorkflowAutomationApi
from datadog_api_client.v2.model.create_workflow_request import CreateWorkflowRequest
from datadog_api_client.v2.model.monitor_trigger import MonitorTrigger
from datadog_api_client.v2.model.monitor_trigger_wrapper import MonitorTriggerWrapper
from datadog_api_client.v2.model.outbound_edge import OutboundEdge
from datadog_api_client.v2.model.parameter import Parameter
from datadog_api_client.v2.model.spec import Spec
from datadog_api_client.v2.model.step import Step
from datadog_api_client.v2.model.trigger_rate_limit import TriggerRateLimit
from datadog_api_client.v2.model.update_workflow_request import UpdateWorkflowRequest
from datadog_api_client.v2.model.workflow_data import WorkflowData
from datadog_api_client.v2.model.workflow_data_attributes import WorkflowDataAttributes
from datadog_api_client.v2.model.workflow_data_type import WorkflowDataType
from datadog_api_client.v2.model.workflow_data_update import WorkflowDataUpdate
from datadog_api_client.v2.model.workflow_data_update_attributes import WorkflowDataUpdateAttributes

from autonomic_lib.sandbox.automation import workflows as workflow_model
from autonomic_lib.sandbox.server import SandboxServer
from tests.conftest import client_for, errors_of, raw, unique

pytestmark = pytest.mark.api


def case_workflow(name: str, handle: str | None, published: bool = True) -> CreateWorkflowRequest:
    spec = Spec(
        triggers=[MonitorTriggerWrapper(monitor_trigger=MonitorTrigger(rate_limit=TriggerRateLimit(
            count=1, interval="600s")), start_step_names=["Create_case"])],
        steps=[Step(name="Create_case", action_id="com.datadoghq.dd.casem.createCase",
                    parameters=[Parameter(name="title", value="{{ Source.monitor.name }}")],
                    outbound_edges=[OutboundEdge(next_step_name="Done", branch_name="main")]),
               Step(name="Done", action_id="com.datadoghq.core.noop")],
        **({"handle": handle} if handle else {}))
    return CreateWorkflowRequest(data=WorkflowData(type=WorkflowDataType.WORKFLOWS, attributes=WorkflowDataAttributes(
        name=name, description="Opens a case when optimization fails.", tags=["service:autonomic", "env:demo"],
        published=published, spec=spec)))


def test_workflow_round_trip_and_handle_resolution(api_client: ApiClient, session_sandbox: SandboxServer) -> None:
    api, name, handle = WorkflowAutomationApi(api_client), unique("Open case"), unique("open-case")
    created = api.create_workflow(body=case_workflow(name, handle)).data
    assert str(uuid.UUID(created.id)) == created.id and created.type == WorkflowDataType.WORKFLOWS
    assert created.attributes.spec.handle == handle and created.attributes.tags == ["env:demo", "service:autonomic"]
    assert created.attributes.created_at == created.attributes.updated_at
    assert created.relationships.creator.data.type.value == "users"

    found = session_sandbox.sandbox.automation.workflow_by_handle(handle)
    assert found is not None and found["id"] == created.id and workflow_model.monitor_triggerable(found)

    fetched = api.get_workflow(created.id).data
    assert fetched.attributes.spec.steps[0].action_id == "com.datadoghq.dd.casem.createCase"

    update = UpdateWorkflowRequest(data=WorkflowDataUpdate(
        type=WorkflowDataType.WORKFLOWS, attributes=WorkflowDataUpdateAttributes(name=name + " v2", published=False)))
    updated = api.update_workflow(created.id, body=update).data
    assert updated.attributes.name == name + " v2" and updated.attributes.published is False
    assert updated.attributes.spec.handle == handle
    assert not workflow_model.monitor_triggerable(session_sandbox.sandbox.documents.get("workflow", created.id))

    api.delete_workflow(created.id)
    with pytest.raises(NotFoundException) as exc:
        api.get_workflow(created.id)
    assert errors_of(exc) == [{"detail": "workflow not found"}]
    assert session_sandbox.sandbox.automation.workflow_by_handle(handle) is None


def test_list_workflows_filters_and_hides_specs(api_client: ApiClient) -> None:
    api, stem = WorkflowAutomationApi(api_client), unique("listwf")
    published = api.create_workflow(body=case_workflow(f"{stem} live", None)).data
    draft = api.create_workflow(body=case_workflow(f"{stem} draft", None, published=False)).data

    listed = api.list_workflows(filter_query=stem)
    assert [w.id for w in listed.data] == [published.id] and listed.data[0].attributes.spec is None
    both = api.list_workflows(filter_query=stem, filter_include_unpublished=True, filter_include_specs=True,
                              sort="-name", filter_trigger_ids=["monitor"])
    assert [w.id for w in both.data] == [published.id, draft.id]
    assert both.data[0].attributes.spec.steps[1].name == "Done"
    assert both.meta.page.total_filtered_count == 2
    assert api.list_workflows(filter_query=stem, filter_trigger_ids=["schedule"]).data == []
    for wf in (published, draft):
        api.delete_workflow(wf.id)


def bad_spec(**spec: Any) -> dict[str, Any]:
    base = {"triggers": [{"monitorTrigger": {}, "startStepNames": ["A"]}],
            "steps": [{"name": "A", "actionId": "com.datadoghq.core.noop"}]}
    return {"data": {"type": "workflows", "attributes": {"name": unique("bad"), "spec": {**base, **spec}}}}


@pytest.mark.parametrize("body, fragment", [
    (bad_spec(triggers=[]), "no trigger found. At least one trigger is required."),
    (bad_spec(steps=[{"name": "A", "actionId": "x"}, {"name": "A", "actionId": "y"}]),
     "data.attributes.spec.steps[1].name: step name 'A' is used twice"),
    (bad_spec(steps=[{"name": "A", "actionId": "x", "outboundEdges": [{"nextStepName": "B", "branchName": "main"}]}]),
     "data.attributes.spec.steps[0].outboundEdges[0].nextStepName: no step is named 'B'"),
    (bad_spec(steps=[{"name": "A"}]), "data.attributes.spec.steps[0].actionId: a step needs an actionId string"),
    (bad_spec(triggers=[{"pagerTrigger": {}}]), "data.attributes.spec.triggers[0]: a trigger holds exactly one of"),
    (bad_spec(triggers=[{"monitorTrigger": {"rateLimit": {"count": "x"}}}]),
     "data.attributes.spec.triggers[0].monitorTrigger.rateLimit.count: Invalid type"),
    (bad_spec(handle="has space"), "data.attributes.spec.handle: 'has space' must be letters"),
    ({"data": {"type": "workflow", "attributes": {}}}, 'data.type: invalid type, expected "workflows"'),
])
def test_malformed_workflows_are_refused_with_json_paths(session_sandbox: SandboxServer, body: dict[str, Any],
                                                         fragment: str) -> None:
    status, answer = raw(session_sandbox, "POST", "/api/v2/workflows", body)
    assert status == 400
    details = [e["detail"] for e in answer["errors"]]
    assert any(fragment in d for d in details), details
    name = body["data"]["attributes"].get("name")
    if name:
        _, listed = raw(session_sandbox, "GET", f"/api/v2/workflows?filter[query]={name}"
                                                "&filter[includeUnpublished]=true")
        assert listed["data"] == []


def test_workflow_handles_are_unique(api_client: ApiClient) -> None:
    api, handle = WorkflowAutomationApi(api_client), unique("handle")
    first = api.create_workflow(body=case_workflow(unique("wf"), handle)).data
    with pytest.raises(ApiException) as exc:
        api.create_workflow(body=case_workflow(unique("wf"), handle))
    assert exc.value.status == 400 and any(f"already the handle of workflow {first.id}" in e["detail"]
                                           for e in errors_of(exc))
    api.delete_workflow(first.id)


@pytest.mark.parametrize("method, path", [("GET", "/api/v2/workflows")])
def test_resources_need_the_application_key(session_sandbox: SandboxServer, method: str, path: str) -> None:
    status, answer = raw(session_sandbox, method, path, {} if method == "POST" else None, app_key=False)
    assert status == 403 and answer == {"errors": ["Application key required"]}


def test_wrong_application_key_is_forbidden_through_the_client(session_sandbox: SandboxServer) -> None:
    with client_for(session_sandbox, app_key="not-the-key") as client, pytest.raises(ForbiddenException):
        WorkflowAutomationApi(client).list_workflows()
