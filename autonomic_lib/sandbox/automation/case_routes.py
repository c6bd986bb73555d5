"""Case Management routes of the sandbox: cases, projects and case actions (the client's CaseManagementApi).

Paths and bodies follow datadog_api_client.v2.api.case_management_api; errors are JSON:API objects
(`{"errors": [{"status", "title", "detail"}]}`) as recorded for create_a_case_returns_bad_request. Handlers parse
and render; the rules live in the backend (`automation.cases`, cases.py), shared with the workflow runner's casem
actions and monitor notifications.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.automation import cases
from autonomic_lib.sandbox.automation.backend import Automation
from autonomic_lib.sandbox.http.params import int_field, int_param
from autonomic_lib.sandbox.http.routing import JSONAPI, Handler, json_body, json_response, route


async def _data(request: Request) -> dict[str, Any]:
    body = await json_body(request)
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise IntakeError(400, "data: required object")
    return data


def _expect_type(data: dict[str, Any], kind: str) -> dict[str, Any]:
    if data.get("type") != kind:
        raise IntakeError(400, f'data.type: got type {data.get("type")!r} expected one of "{kind}"')
    attrs = data.get("attributes")
    return attrs if isinstance(attrs, dict) else {}


def _case(doc: dict[str, Any], status: int = 200) -> Response:
    return json_response({"data": doc}, status, media_type=JSONAPI)


# ------------------------------------------------------------------------------------------------ cases
async def create_case(request: Request, automation: Automation) -> Response:
    data = await _data(request)
    doc = await run_in_threadpool(automation.cases.create_case, data=data, now=automation.clock())
    return _case(doc, 201)


async def get_case(request: Request, automation: Automation) -> Response:
    return _case(await run_in_threadpool(automation.cases.get_case, request.path_params["case_id"]))


async def search_cases(request: Request, automation: Automation) -> Response:
    """GET /api/v2/cases: page[size] (default 10, max 100), page[number] (from 1), sort[field], sort[asc], filter."""
    params = request.query_params
    ascending = (params.get("sort[asc]") or "false").lower()
    if ascending not in ("true", "false"):
        raise IntakeError(400, "sort[asc]: must be true or false")
    result = await run_in_threadpool(
        automation.cases.search, query=params.get("filter") or "",
        sort_field=params.get("sort[field]") or "created_at", ascending=ascending == "true",
        page_size=int_param(request, "page[size]", 10), page_number=int_param(request, "page[number]", 1))
    return json_response(result, media_type=JSONAPI)


Changes = Callable[[dict[str, Any]], dict[str, Any]]


def _action(changes_of: Changes) -> Handler[Automation]:
    """A POST /api/v2/cases/{case_id}/<action> route: check the body's type, read the change, answer CaseResponse."""
    async def handler(request: Request, automation: Automation) -> Response:
        changes = changes_of(_expect_type(await _data(request), "case"))
        doc = await run_in_threadpool(automation.cases.update_case, request.path_params["case_id"],
                                      now=automation.clock(), **changes)
        return _case(doc)
    return handler


def _status(attrs: dict[str, Any]) -> dict[str, Any]:
    return {"status": cases.status_from(attrs.get("status_name"), attrs.get("status"))}


def _priority(attrs: dict[str, Any]) -> dict[str, Any]:
    if "priority" not in attrs:
        raise IntakeError(400, "data.attributes.priority: required")
    return {"priority": attrs["priority"]}


def _assign(attrs: dict[str, Any]) -> dict[str, Any]:
    assignee = attrs.get("assignee_id")
    if not isinstance(assignee, str) or not assignee:
        raise IntakeError(400, "data.attributes.assignee_id: required user UUID")
    return {"assignee": assignee}


def _title(attrs: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(attrs.get("title"), str) or not attrs["title"].strip():
        raise IntakeError(400, "data.attributes.title: required non-empty string")
    return {"title": attrs["title"]}


def _description(attrs: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(attrs.get("description"), str):
        raise IntakeError(400, "data.attributes.description: required string")
    return {"description": attrs["description"]}


def _attributes(attrs: dict[str, Any]) -> dict[str, Any]:
    values = attrs.get("attributes")
    if not isinstance(values, dict) or not all(isinstance(v, list) and all(isinstance(x, str) for x in v)
                                               for v in values.values()):
        raise IntakeError(400, "data.attributes.attributes: required map of string arrays")
    return {"attributes": values}


async def comment_case(request: Request, automation: Automation) -> Response:
    """POST .../comment answers a TimelineResponse with the new COMMENT cell (recorded)."""
    attrs = _expect_type(await _data(request), "case")
    cell = await run_in_threadpool(automation.cases.add_comment, request.path_params["case_id"],
                                   message=attrs.get("comment"), now=automation.clock())
    return json_response({"data": [cell]}, media_type=JSONAPI)


def _due_date(attrs: dict[str, Any]) -> dict[str, Any]:
    if "due_date" not in attrs:
        raise IntakeError(400, "data.attributes.due_date: required (YYYY-MM-DD, or null to clear it)")
    return {"due_date": cases.due_date(attrs["due_date"])}


def _resolved_reason(attrs: dict[str, Any]) -> dict[str, Any]:
    return {"security_resolved_reason": cases.resolved_reason(attrs.get("security_resolved_reason"))}


async def update_comment(request: Request, automation: Automation) -> Response:
    """PUT .../comment/{cell_id}: the comment's text changes (the client reads no body: 204, UNCONFIRMED)."""
    attrs = _expect_type(await _data(request), "case")
    await run_in_threadpool(automation.cases.update_comment, request.path_params["case_id"],
                            request.path_params["cell_id"], message=attrs.get("comment"), now=automation.clock())
    return Response(status_code=204)


async def delete_comment(request: Request, automation: Automation) -> Response:
    await run_in_threadpool(automation.cases.delete_comment, request.path_params["case_id"],
                            request.path_params["cell_id"], now=automation.clock())
    return Response(status_code=204)


async def count_cases(request: Request, automation: Automation) -> Response:
    """GET /api/v2/cases/count?query_filter=&group_bys=a,b&limit=: CaseCountResponse."""
    params = request.query_params
    fields = [f.strip() for f in (params.get("group_bys") or "").split(",") if f.strip()]
    groups = await run_in_threadpool(automation.cases.count, query=params.get("query_filter") or "",
                                     group_bys=fields[:10], limit=int_param(request, "limit", 10, low=1,
                                                                            high=cases.MAX_GROUP_VALUES))
    return json_response({"data": {"id": "count", "type": "count", "attributes": {"groups": groups}}},
                         media_type=JSONAPI)


async def aggregate_cases(request: Request, automation: Automation) -> Response:
    """POST /api/v2/cases/aggregate: CaseAggregateResponse (total, and counts per value of one field)."""
    attrs = _expect_type(await _data(request), "aggregate")
    query, group_by = attrs.get("query_filter", ""), attrs.get("group_by") or {}
    if not isinstance(query, str) or not isinstance(group_by, dict):
        raise IntakeError(400, "data.attributes: query_filter must be a string and group_by an object")
    fields = group_by.get("groups", [])
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise IntakeError(400, "data.attributes.group_by.groups: must be an array of field names")
    limit = int_field(group_by.get("limit", 10), "data.attributes.group_by.limit", low=1, high=cases.MAX_GROUP_VALUES)
    result = await run_in_threadpool(automation.cases.aggregate, query=query, group_by=fields, limit=limit)
    return json_response({"data": {"id": "aggregate", "type": "aggregate", "attributes": result}},
                         media_type=JSONAPI)


async def list_timeline(request: Request, automation: Automation) -> Response:
    cells = await run_in_threadpool(automation.cases.timeline, request.path_params["case_id"])
    return json_response({"data": cells}, media_type=JSONAPI)


# ------------------------------------------------------------------------------------------------ projects
async def create_project(request: Request, automation: Automation) -> Response:
    attrs = _expect_type(await _data(request), "project")
    doc = await run_in_threadpool(automation.cases.create_project, attributes=attrs)
    return json_response({"data": doc}, 201, media_type=JSONAPI)


async def get_projects(request: Request, automation: Automation) -> Response:
    return json_response({"data": automation.cases.list_projects()}, media_type=JSONAPI)


async def update_project(request: Request, automation: Automation) -> Response:
    project_id = request.path_params["project_id"]
    automation.cases.get_project(project_id)  # an unknown project is a 404 before its body is read
    attrs = _expect_type(await _data(request), "project")
    doc = await run_in_threadpool(automation.cases.update_project, project_id, attributes=attrs)
    return json_response({"data": doc}, media_type=JSONAPI)


async def delete_project(request: Request, automation: Automation) -> Response:
    await run_in_threadpool(automation.cases.delete_project, request.path_params["project_id"])
    return Response(status_code=204)


async def get_project(request: Request, automation: Automation) -> Response:
    doc = await run_in_threadpool(automation.cases.get_project, request.path_params["project_id"])
    return json_response({"data": doc}, media_type=JSONAPI)


def routes(automation: Automation) -> list[Route]:
    def case(path: str, method: str, handler: Handler[Automation]) -> Route:
        return route(path, method, handler, automation, app_key=True, errors="jsonapi")

    return [
        # fixed paths before {case_id}, so that "projects" never reads as a case id
        case("/api/v2/cases/projects", "POST", create_project),
        case("/api/v2/cases/projects", "GET", get_projects),
        case("/api/v2/cases/projects/{project_id}", "GET", get_project),
        case("/api/v2/cases/projects/{project_id}", "PATCH", update_project),
        case("/api/v2/cases/projects/{project_id}", "DELETE", delete_project),
        case("/api/v2/cases/count", "GET", count_cases),
        case("/api/v2/cases/aggregate", "POST", aggregate_cases),
        case("/api/v2/cases", "POST", create_case),
        case("/api/v2/cases", "GET", search_cases),
        case("/api/v2/cases/{case_id}", "GET", get_case),
        case("/api/v2/cases/{case_id}/status", "POST", _action(_status)),
        case("/api/v2/cases/{case_id}/priority", "POST", _action(_priority)),
        case("/api/v2/cases/{case_id}/assign", "POST", _action(_assign)),
        case("/api/v2/cases/{case_id}/unassign", "POST", _action(lambda attrs: {"assignee": None})),
        case("/api/v2/cases/{case_id}/archive", "POST", _action(lambda attrs: {"archived": True})),
        case("/api/v2/cases/{case_id}/unarchive", "POST", _action(lambda attrs: {"archived": False})),
        case("/api/v2/cases/{case_id}/title", "POST", _action(_title)),
        case("/api/v2/cases/{case_id}/description", "POST", _action(_description)),
        case("/api/v2/cases/{case_id}/attributes", "POST", _action(_attributes)),
        case("/api/v2/cases/{case_id}/comment", "POST", comment_case),
        case("/api/v2/cases/{case_id}/comment/{cell_id}", "PUT", update_comment),
        case("/api/v2/cases/{case_id}/comment/{cell_id}", "DELETE", delete_comment),
        case("/api/v2/cases/{case_id}/due_date", "POST", _action(_due_date)),
        case("/api/v2/cases/{case_id}/resolved_reason", "POST", _action(_resolved_reason)),
        case("/api/v2/cases/{case_id}/timelines", "GET", list_timeline),
    ]
