"""Workflow Automation routes of the sandbox: workflows (v2 CRUD), their instances, and the notification list.

Workflows and instances follow the client's WorkflowAutomationApi and the recorded cassettes; runs execute
synchronously (runner.py), so an instance is finished when its id comes back. Errors are JSON:API objects.
`GET /sandbox/notifications` is **sandbox-only** (Datadog has no API listing sent notifications): every monitor
notification with its rendered message and what each @-handle did. Case routes are in case_routes.py.

Handlers parse the request, call the backend (backend.py) with keyword arguments and render its answer; an
unknown workflow is refused before its body or paging parameters are read.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.automation import case_routes
from autonomic_lib.sandbox.automation import workflows as wm
from autonomic_lib.sandbox.automation.backend import Automation
from autonomic_lib.sandbox.http.params import flag, int_param
from autonomic_lib.sandbox.http.routing import JSONAPI, Handler, json_body, json_response, route

MAX_PAGE = 100  # page[size] of list_workflow_instances
_INTERNAL = ("workflow_id", "trigger_kind", "triggered_at")  # instance fields the API does not show
_SUMMARY = ("instanceStatus", "source", "startTimestamp", "endTimestamp")  # an instance's attributes in a list


# ---------------------------------------------------------------------------------------------------- workflows
def _workflow_data(body: Any, *, update: bool) -> dict[str, Any]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or data.get("type") != "workflows":
        raise IntakeError(400, 'data.type: invalid type, expected "workflows"')
    attrs = data.get("attributes")
    if not isinstance(attrs, dict):
        raise IntakeError(400, "data.attributes: required object")
    return {k: attrs[k] for k in wm.ATTRIBUTES if k in attrs} if update else attrs


async def create_workflow(request: Request, automation: Automation) -> Response:
    attributes = _workflow_data(await json_body(request), update=False)
    doc = automation.create_workflow(attributes=attributes)
    return json_response({"data": doc}, 201, media_type=JSONAPI)


async def get_workflow(request: Request, automation: Automation) -> Response:
    return json_response({"data": automation.get_workflow(request.path_params["workflow_id"])}, media_type=JSONAPI)


async def update_workflow(request: Request, automation: Automation) -> Response:
    workflow_id = request.path_params["workflow_id"]
    automation.get_workflow(workflow_id)
    changes = _workflow_data(await json_body(request), update=True)
    return json_response({"data": automation.update_workflow(workflow_id, changes=changes)}, media_type=JSONAPI)


async def delete_workflow(request: Request, automation: Automation) -> Response:
    automation.delete_workflow(request.path_params["workflow_id"])
    return Response(status_code=204)


async def list_workflows(request: Request, automation: Automation) -> Response:
    """GET /api/v2/workflows as the client's list_workflows documents it (specs null unless asked for)."""
    params = request.query_params
    sort = wm.sort_fields(params.get("sort"))
    listed = automation.list_workflows(
        include_unpublished=bool(flag(request, "filter[includeUnpublished]")),
        query=params.get("filter[query]") or "", trigger_kinds=params.getlist("filter[triggerIds]"), sort=sort,
        limit=int_param(request, "limit", 50, low=1), page=int_param(request, "page", 0))
    specs = bool(flag(request, "filter[includeSpecs]"))
    items = [{**d, "attributes": {**d["attributes"], "spec": d["attributes"]["spec"] if specs else None}}
             for d in listed.items]
    return json_response({"data": items, "meta": {"page": {"totalCount": listed.total,
                                                            "totalFilteredCount": listed.filtered}}},
                         media_type=JSONAPI)


# ---------------------------------------------------------------------------------------------------- instances
async def create_instance(request: Request, automation: Automation) -> Response:
    """POST .../instances {"meta": {"payload": {...}}}: run now; 200 {"data": {"id"}, "meta": {"workflowId"}}."""
    workflow_id = request.path_params["workflow_id"]
    automation.get_workflow(workflow_id)
    body = await json_body(request, blank={})
    meta = body.get("meta") if isinstance(body, dict) else None
    payload = (meta or {}).get("payload") if isinstance(meta, dict) else None
    if payload is not None and not isinstance(payload, dict):
        raise IntakeError(400, "meta.payload: must be an object of input parameter values")
    instance = await run_in_threadpool(automation.start_instance, workflow_id, payload=payload or {})
    return json_response({"data": {"id": instance["id"], "type": "instances", "attributes": {}},
                          "meta": {"workflowId": workflow_id}}, media_type=JSONAPI)


async def list_instances(request: Request, automation: Automation) -> Response:
    """Newest first; page[size] (default 10, max 100) and page[number] (from 0); counts per outcome in meta."""
    workflow_id = request.path_params["workflow_id"]
    automation.get_workflow(workflow_id)
    size = int_param(request, "page[size]", 10, low=1, high=MAX_PAGE)
    number = int_param(request, "page[number]", 0)
    listed = await run_in_threadpool(automation.list_instances, workflow_id, page_size=size, page_number=number)
    items = [{"id": d["id"], "type": "instances", "attributes": {k: d["attributes"][k] for k in _SUMMARY}}
             for d in listed.items]
    outcomes = listed.outcomes
    return json_response({"data": items, "meta": {
        "canceledCount": outcomes.get("CANCELED", 0), "failedCount": outcomes.get("FAILED", 0),
        "succeededCount": outcomes.get("SUCCEEDED", 0),
        "page": {"totalCount": listed.total, "totalFilteredCount": listed.total}}}, media_type=JSONAPI)


async def get_instance(request: Request, automation: Automation) -> Response:
    doc = automation.get_instance(request.path_params["workflow_id"], request.path_params["instance_id"])
    return json_response({"data": {k: v for k, v in doc.items() if k not in _INTERNAL}}, media_type=JSONAPI)


async def cancel_instance(request: Request, automation: Automation) -> Response:
    automation.cancel_instance(request.path_params["workflow_id"], request.path_params["instance_id"])


async def list_notifications(request: Request, automation: Automation) -> Response:
    """SANDBOX-ONLY: notifications sent on monitor transitions, oldest first; ?monitor_id= filters."""
    docs = await run_in_threadpool(automation.list_notifications, monitor_id=request.query_params.get("monitor_id"))
    return json_response({"data": docs, "meta": {"total": len(docs), "sandbox_only": True}})


def routes(automation: Automation) -> list[Route]:
    def jsonapi(path: str, method: str, handler: Handler[Automation]) -> Route:
        return route(path, method, handler, automation, app_key=True, errors="detail")

    return [
        jsonapi("/api/v2/workflows", "POST", create_workflow),
        jsonapi("/api/v2/workflows", "GET", list_workflows),
        jsonapi("/api/v2/workflows/{workflow_id}", "GET", get_workflow),
        jsonapi("/api/v2/workflows/{workflow_id}", "PATCH", update_workflow),
        jsonapi("/api/v2/workflows/{workflow_id}", "DELETE", delete_workflow),
        jsonapi("/api/v2/workflows/{workflow_id}/instances", "POST", create_instance),
        jsonapi("/api/v2/workflows/{workflow_id}/instances", "GET", list_instances),
        jsonapi("/api/v2/workflows/{workflow_id}/instances/{instance_id}", "GET", get_instance),
        jsonapi("/api/v2/workflows/{workflow_id}/instances/{instance_id}/cancel", "PUT", cancel_instance),
        route("/sandbox/notifications", "GET", list_notifications, automation, app_key=True),
        *case_routes.routes(automation),
    ]
