"""Case Management through the official client (type checking on): projects, cases, search, actions."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
import urllib3
from datadog_api_client import ApiClient
from datadog_api_client.exceptions import ApiException
from datadog_api_client.v2.api.case_management_api import CaseManagementApi
from datadog_api_client.v2.model.case_assign import CaseAssign
from datadog_api_client.v2.model.case_assign_attributes import CaseAssignAttributes
from datadog_api_client.v2.model.case_assign_request import CaseAssignRequest
from datadog_api_client.v2.model.case_comment import CaseComment
from datadog_api_client.v2.model.case_comment_attributes import CaseCommentAttributes
from datadog_api_client.v2.model.case_comment_request import CaseCommentRequest
from datadog_api_client.v2.model.case_create import CaseCreate
from datadog_api_client.v2.model.case_create_attributes import CaseCreateAttributes
from datadog_api_client.v2.model.case_create_relationships import CaseCreateRelationships
from datadog_api_client.v2.model.case_create_request import CaseCreateRequest
from datadog_api_client.v2.model.case_empty import CaseEmpty
from datadog_api_client.v2.model.case_empty_request import CaseEmptyRequest
from datadog_api_client.v2.model.case_priority import CasePriority
from datadog_api_client.v2.model.case_resource_type import CaseResourceType
from datadog_api_client.v2.model.case_sortable_field import CaseSortableField
from datadog_api_client.v2.model.case_status import CaseStatus
from datadog_api_client.v2.model.case_update_priority import CaseUpdatePriority
from datadog_api_client.v2.model.case_update_priority_attributes import CaseUpdatePriorityAttributes
from datadog_api_client.v2.model.case_update_priority_request import CaseUpdatePriorityRequest
from datadog_api_client.v2.model.case_update_status import CaseUpdateStatus
from datadog_api_client.v2.model.case_update_status_attributes import CaseUpdateStatusAttributes
from datadog_api_client.v2.model.case_update_status_request import CaseUpdateStatusRequest
from datadog_api_client.v2.model.project_create import ProjectCreate
from datadog_api_client.v2.model.project_create_attributes import ProjectCreateAttributes
from datadog_api_client.v2.model.project_create_request import ProjectCreateRequest
from datadog_api_client.v2.model.project_relationship import ProjectRelationship
from datadog_api_client.v2.model.project_relationship_data import ProjectRelationshipData
from datadog_api_client.v2.model.project_resource_type import ProjectResourceType

from autonomic_lib.sandbox.server import SandboxServer

STANDARD = "00000000-0000-0000-0000-000000000001"


def unique_key() -> str:
    return "T" + uuid.uuid4().hex[:8].upper()


def make_project(api: CaseManagementApi, key: str | None = None) -> tuple[str, str]:
    key = key or unique_key()
    body = ProjectCreateRequest(data=ProjectCreate(type=ProjectResourceType.PROJECT,
                                                   attributes=ProjectCreateAttributes(key=key, name=f"Project {key}")))
    return api.create_project(body).data.id, key


def make_case(api: CaseManagementApi, project_id: str, title: str, priority: str = "NOT_DEFINED",
              description: str = "") -> object:
    body = CaseCreateRequest(data=CaseCreate(
        type=CaseResourceType.CASE,
        attributes=CaseCreateAttributes(title=title, type_id=STANDARD, priority=CasePriority(priority),
                                        description=description),
        relationships=CaseCreateRelationships(project=ProjectRelationship(
            data=ProjectRelationshipData(id=project_id, type=ProjectResourceType.PROJECT)))))
    return api.create_case(body).data


@pytest.fixture
def api(api_client: ApiClient) -> CaseManagementApi:
    return CaseManagementApi(api_client)


def test_projects_create_list_get(api: CaseManagementApi) -> None:
    project_id, key = make_project(api)
    assert api.get_project(project_id).data.attributes.key == key
    assert project_id in [p.id for p in api.get_projects().data]
    with pytest.raises(ApiException) as err:
        make_project(api, key)
    assert err.value.status == 409
    with pytest.raises(ApiException) as err:
        make_project(api, "CASE")
    assert err.value.status == 400


def test_create_and_get_case_with_key_status_and_timestamps(api: CaseManagementApi) -> None:
    project_id, key = make_project(api)
    case = make_case(api, project_id, "Latency alert", "P2", "Look at it")
    assert case.attributes.key == f"{key}-1"
    assert str(case.attributes.status) == "OPEN" and str(case.attributes.status_group) == "SG_OPEN"
    assert case.attributes.status_name == "Open" and str(case.attributes.priority) == "P2"
    assert str(case.attributes.type) == "STANDARD" and case.attributes.created_at is not None
    assert case.relationships.project.data.id == project_id
    again = api.get_case(case.id).data
    assert again.attributes.title == "Latency alert" and again.attributes.description == "Look at it"
    assert api.get_case(case.attributes.key).data.id == case.id  # the key works as the id, as on Datadog
    assert make_case(api, project_id, "Second").attributes.key == f"{key}-2"


def raw(server: SandboxServer, method: str, path: str, body: Any) -> tuple[int, Any]:
    headers = {"DD-API-KEY": server.config.api_key, "DD-APPLICATION-KEY": server.config.app_key,
               "Content-Type": "application/json"}
    response = urllib3.request(method, server.url + path, body=orjson.dumps(body), headers=headers, retries=False)
    return response.status, orjson.loads(response.data)


def test_create_refusals_are_jsonapi_errors(api: CaseManagementApi, session_sandbox: SandboxServer) -> None:
    with pytest.raises(ApiException) as err:
        make_case(api, str(uuid.uuid4()), "No such project")
    assert err.value.status == 404
    status, body = raw(session_sandbox, "POST", "/api/v2/cases",
                       {"data": {"type": "userx", "attributes": {"title": "x", "type_id": STANDARD}}})
    assert status == 400 and body["errors"][0]["status"] == "400" and "case" in body["errors"][0]["detail"]
    project_id, _ = make_project(api)
    status, body = raw(session_sandbox, "POST", "/api/v2/cases", {"data": {
        "type": "case", "attributes": {"title": "x", "type_id": STANDARD, "priority": "P9"},
        "relationships": {"project": {"data": {"id": project_id, "type": "project"}}}}})
    assert status == 400 and "priority" in body["errors"][0]["detail"]
    status, body = raw(session_sandbox, "POST", "/api/v2/cases", {"data": {  # a pre-2.45 client's body
        "type": "case", "attributes": {"title": "legacy", "type": "STANDARD"},
        "relationships": {"project": {"data": {"id": project_id, "type": "project"}}}}})
    assert status == 201 and body["data"]["attributes"]["type_id"] == STANDARD
    with pytest.raises(ApiException) as err:
        api.get_case(str(uuid.uuid4()))
    assert err.value.status == 404


def test_search_filter_paging_and_sort(api: CaseManagementApi) -> None:
    project_id, key = make_project(api)
    tag = uuid.uuid4().hex[:10]
    made = [make_case(api, project_id, f"{tag} case {i}", priority) for i, priority in
            enumerate(["P3", "P1", "P5", "P2", "NOT_DEFINED"])]
    page1 = api.search_cases(filter=tag, page_size=2, page_number=1)
    assert page1.meta.page.current == 1 and page1.meta.page.size == 2 and page1.meta.page.total == 3
    assert [c.id for c in page1.data] == [made[4].id, made[3].id]  # newest first by default
    page3 = api.search_cases(filter=tag, page_size=2, page_number=3)
    assert [c.id for c in page3.data] == [made[0].id] and page3.meta.page.size == 1
    by_priority = api.search_cases(filter=tag, sort_field=CaseSortableField.PRIORITY, sort_asc=True)
    assert [str(c.attributes.priority) for c in by_priority.data] == ["P1", "P2", "P3", "P5", "NOT_DEFINED"]
    assert len(api.search_cases(filter=f"{tag} priority:p1").data) == 1
    assert len(api.search_cases(filter=f"{tag} project:{key}").data) == 5
    assert api.search_cases(filter=f'"{tag} case 1"').data[0].id == made[1].id
    assert api.search_cases(filter=f"{tag}x").data == []


def test_actions_status_priority_assign_archive_comment(api: CaseManagementApi) -> None:
    project_id, _ = make_project(api)
    tag = uuid.uuid4().hex[:10]
    case = make_case(api, project_id, f"{tag} to act on")
    status = CaseUpdateStatusRequest(data=CaseUpdateStatus(
        type=CaseResourceType.CASE, attributes=CaseUpdateStatusAttributes(status=CaseStatus.IN_PROGRESS)))
    moved = api.update_status(case.id, status).data
    assert str(moved.attributes.status_group) == "SG_IN_PROGRESS" and moved.attributes.status_name == "In Progress"
    assert len(api.search_cases(filter=f"{tag} status:in_progress").data) == 1
    priority = CaseUpdatePriorityRequest(data=CaseUpdatePriority(
        type=CaseResourceType.CASE, attributes=CaseUpdatePriorityAttributes(priority=CasePriority.P1)))
    assert str(api.update_priority(case.id, priority).data.attributes.priority) == "P1"
    user = str(uuid.uuid4())
    assign = CaseAssignRequest(data=CaseAssign(type=CaseResourceType.CASE,
                                               attributes=CaseAssignAttributes(assignee_id=user)))
    assert api.assign_case(case.id, assign).data.relationships.assignee.data.id == user
    empty = CaseEmptyRequest(data=CaseEmpty(type=CaseResourceType.CASE))
    assert api.unassign_case(case.id, empty).data.relationships.assignee.data is None
    comment = CaseCommentRequest(data=CaseComment(type=CaseResourceType.CASE,
                                                  attributes=CaseCommentAttributes(comment="Hello World !")))
    cells = api.comment_case(case.id, comment).data
    assert cells[0].attributes.cell_content.message == "Hello World !"
    archived = api.archive_case(case.id, empty).data
    assert archived.attributes.archived_at is not None
    assert api.search_cases(filter=tag).data == []  # archived cases leave the default search
    assert len(api.search_cases(filter=f"{tag} archived:true").data) == 1
    assert api.unarchive_case(case.id, empty).data.attributes.archived_at is None
    closed = CaseUpdateStatusRequest(data=CaseUpdateStatus(
        type=CaseResourceType.CASE, attributes=CaseUpdateStatusAttributes(status=CaseStatus.CLOSED)))
    done = api.update_status(case.id, closed).data
    assert str(done.attributes.status) == "CLOSED" and done.attributes.closed_at is not None
    assert len(api.search_cases(filter=f"{tag} status:closed").data) == 1
