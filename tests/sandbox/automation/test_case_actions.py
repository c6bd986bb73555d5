"""The remaining Case actions through the official client (type checking on): due date, resolved reason, comment
edit and delete, project update and delete, count and aggregate; the examples' request bodies where they apply."""

from __future__ import annotations

import pytest
from datadog_api_client import ApiClient
from datadog_api_client.exceptions import ApiException, NotFoundException
from datadog_api_client.v2.api.case_management_api import CaseManagementApi
from datadog_api_client.v2.model.case_aggregate_group_by import CaseAggregateGroupBy
from datadog_api_client.v2.model.case_aggregate_request import CaseAggregateRequest
from datadog_api_client.v2.model.case_aggregate_request_attributes import CaseAggregateRequestAttributes
from datadog_api_client.v2.model.case_aggregate_request_data import CaseAggregateRequestData
from datadog_api_client.v2.model.case_aggregate_resource_type import CaseAggregateResourceType
from datadog_api_client.v2.model.case_comment import CaseComment
from datadog_api_client.v2.model.case_comment_attributes import CaseCommentAttributes
from datadog_api_client.v2.model.case_comment_request import CaseCommentRequest
from datadog_api_client.v2.model.case_resource_type import CaseResourceType
from datadog_api_client.v2.model.case_update_comment import CaseUpdateComment
from datadog_api_client.v2.model.case_update_comment_attributes import CaseUpdateCommentAttributes
from datadog_api_client.v2.model.case_update_comment_request import CaseUpdateCommentRequest
from datadog_api_client.v2.model.case_update_due_date import CaseUpdateDueDate
from datadog_api_client.v2.model.case_update_due_date_attributes import CaseUpdateDueDateAttributes
from datadog_api_client.v2.model.case_update_due_date_request import CaseUpdateDueDateRequest
from datadog_api_client.v2.model.case_update_resolved_reason import CaseUpdateResolvedReason
from datadog_api_client.v2.model.case_update_resolved_reason_attributes import CaseUpdateResolvedReasonAttributes
from datadog_api_client.v2.model.case_update_resolved_reason_request import CaseUpdateResolvedReasonRequest
from datadog_api_client.v2.model.project_resource_type import ProjectResourceType
from datadog_api_client.v2.model.project_update import ProjectUpdate
from datadog_api_client.v2.model.project_update_attributes import ProjectUpdateAttributes
from datadog_api_client.v2.model.project_update_request import ProjectUpdateRequest

from autonomic_lib.sandbox.server import SandboxServer

from tests.conftest import raw
from tests.sandbox.automation.test_case_routes import make_case, make_project


@pytest.fixture
def api(api_client: ApiClient) -> CaseManagementApi:
    return CaseManagementApi(api_client)


def due(date: str | None) -> CaseUpdateDueDateRequest:
    return CaseUpdateDueDateRequest(data=CaseUpdateDueDate(type=CaseResourceType.CASE,
                                                           attributes=CaseUpdateDueDateAttributes(due_date=date)))


def test_due_date_and_resolved_reason_are_stored_on_the_case(api: CaseManagementApi) -> None:
    project_id, _ = make_project(api)
    case = make_case(api, project_id, "Refiner gave up")
    updated = api.update_case_due_date(case_id=case.id, body=due("2026-12-31")).data  # the example's body
    assert str(updated.attributes["due_date"]) == "2026-12-31"  # the client reads it as a date
    reason = CaseUpdateResolvedReasonRequest(data=CaseUpdateResolvedReason(
        type=CaseResourceType.CASE,
        attributes=CaseUpdateResolvedReasonAttributes(security_resolved_reason="FALSE_POSITIVE")))
    api.update_case_resolved_reason(case_id=case.id, body=reason)
    again = api.get_case(case.id).data.attributes
    assert (str(again["due_date"]), again["security_resolved_reason"]) == ("2026-12-31", "FALSE_POSITIVE")


@pytest.mark.parametrize("body", [{"due_date": "2026-02-30"}, {"due_date": "31/12/2026"}, {"due_date": 20261231},
                                  {}])
def test_a_bad_due_date_is_a_400_naming_it(api: CaseManagementApi, session_sandbox: SandboxServer, body) -> None:
    project_id, _ = make_project(api)
    case = make_case(api, project_id, "c")
    status, answer = raw(session_sandbox, "POST", f"/api/v2/cases/{case.id}/due_date",
                         {"data": {"type": "case", "attributes": body}})
    assert status == 400 and "due_date" in answer["errors"][0]["detail"]
    assert "due_date" not in raw(session_sandbox, "GET", f"/api/v2/cases/{case.id}")[1]["data"]["attributes"]


def comment(text: str) -> CaseCommentRequest:
    return CaseCommentRequest(data=CaseComment(type=CaseResourceType.CASE,
                                               attributes=CaseCommentAttributes(comment=text)))


def test_a_comment_is_edited_and_deleted_in_the_timeline(api: CaseManagementApi) -> None:
    project_id, _ = make_project(api)
    case = make_case(api, project_id, "c")
    first = api.comment_case(case.id, comment("first")).data[0]
    api.comment_case(case.id, comment("second"))
    edit = CaseUpdateCommentRequest(data=CaseUpdateComment(type=CaseResourceType.CASE,
                                                          attributes=CaseUpdateCommentAttributes(comment="edited")))
    api.update_case_comment(case_id=case.id, cell_id=first.id, body=edit)
    messages = [c.attributes.cell_content.message for c in api.list_case_timeline(case.id).data]
    assert messages == ["edited", "second"]
    api.delete_case_comment(case_id=case.id, cell_id=first.id)
    assert [c.attributes.cell_content.message for c in api.list_case_timeline(case.id).data] == ["second"]
    assert api.get_case(case.id).data.attributes["comment_count"] == 1
    with pytest.raises(NotFoundException):
        api.delete_case_comment(case_id=case.id, cell_id=first.id)
    other = make_case(api, project_id, "other")
    second = api.list_case_timeline(case.id).data[0]
    with pytest.raises(NotFoundException):  # a comment is reached through its own case only
        api.update_case_comment(case_id=other.id, cell_id=second.id, body=edit)


def test_a_project_is_renamed_and_an_empty_one_deleted(api: CaseManagementApi) -> None:
    project_id, key = make_project(api)
    body = ProjectUpdateRequest(data=ProjectUpdate(type=ProjectResourceType.PROJECT, attributes=ProjectUpdateAttributes(
        name="Updated Project Name Example-Case-Management")))  # the example's body
    renamed = api.update_project(project_id=project_id, body=body).data
    assert renamed.attributes.name == "Updated Project Name Example-Case-Management"
    assert renamed.attributes.key == key
    case = make_case(api, project_id, "keeps the project")
    with pytest.raises(ApiException) as exc:
        api.delete_project(project_id=project_id)
    assert exc.value.status == 409 and api.get_case(case.id).data.id == case.id
    empty_id, _ = make_project(api)
    api.delete_project(project_id=empty_id)
    with pytest.raises(NotFoundException):
        api.get_project(empty_id)


def test_count_and_aggregate_group_the_matching_cases(api: CaseManagementApi) -> None:
    project_id, key = make_project(api)
    for title, priority in (("a", "P1"), ("b", "P1"), ("c", "P3")):
        make_case(api, project_id, title, priority)
    counted = api.count_cases(query_filter=f"project:{key}", group_bys="priority,status", limit=5).data
    by_field = {g.group: {v.value: v.count for v in g.group_values} for g in counted.attributes.groups}
    assert by_field == {"priority": {"P1": 2, "P3": 1}, "status": {"OPEN": 3}}
    body = CaseAggregateRequest(data=CaseAggregateRequestData(
        type=CaseAggregateResourceType.AGGREGATE, attributes=CaseAggregateRequestAttributes(
            group_by=CaseAggregateGroupBy(groups=["priority"], limit=14), query_filter=f"project:{key}")))
    aggregated = api.aggregate_cases(body=body).data.attributes
    assert aggregated.total == 3.0
    assert [(g.group, g.value) for g in aggregated.groups] == [("P1", [2.0]), ("P3", [1.0])]
