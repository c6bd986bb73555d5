"""Workflow Automation routes of the sandbox: workflows (v2 CRUD), their instances, and the notification list.

Workflows and instances follow the client's WorkflowAutomationApi and the recorded cassettes; runs execute
synchronously (runner.py), so an instance is finished when its id comes back. Errors are JSON:API objects.
`GET /sandbox/notifications` is **sandbox-only** (Datadog has no API listing sent notifications): every monitor
notification with its rendered message and what each @-handle did. Case routes are in case_routes.py.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.automation import case_routes, runner
from autonomic_lib.sandbox.automation import workflows as wm
from autonomic_lib.sandbox.automation.backend import Automation
from autonomic_lib.sandbox.http.identity import SANDBOX_USER, SANDBOX_USER_UUID
from autonomic_lib.sandbox.http.params import flag, int_param, iso_time
from autonomic_lib.sandbox.http.routing import JSONAPI, Handler, json_body, json_response, route

MAX_PAGE = 100


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
    given = _workflow_data(await json_body(request), update=False)
    attrs = {"description": "", "published": False, **given, "tags": given.get("tags") or []}
    if problems := wm.check_attributes(attrs, other_handles=wm.handles(automation.documents)):
        raise IntakeError(400, *problems)
    now = iso_time(automation.clock(), zulu=True)
    user = {"data": {"id": SANDBOX_USER_UUID, "type": "users"}}
    doc = {"id": str(uuid.uuid4()), "type": "workflows",
           "attributes": {**{k: attrs[k] for k in wm.ATTRIBUTES if k in attrs}, "tags": sorted(attrs["tags"]),
                          "createdAt": now, "updatedAt": now},
           "relationships": {"creator": user, "owner": user}}
    automation.documents.put("workflow", doc["id"], doc)
    return json_response({"data": doc}, 201, media_type=JSONAPI)


def _stored_workflow(request: Request, automation: Automation) -> dict[str, Any]:
    doc = automation.documents.get("workflow", request.path_params["workflow_id"])
    if doc is None:
        raise IntakeError(404, "workflow not found")  # recorded wording
    return doc


async def get_workflow(request: Request, automation: Automation) -> Response:
    return json_response({"data": _stored_workflow(request, automation)}, media_type=JSONAPI)


async def update_workflow(request: Request, automation: Automation) -> Response:
    doc = _stored_workflow(request, automation)
    attrs = {**doc["attributes"], **_workflow_data(await json_body(request), update=True)}
    if problems := wm.check_attributes(attrs, other_handles=wm.handles(automation.documents, except_id=doc["id"])):
        raise IntakeError(400, *problems)
    attrs["tags"] = sorted(attrs.get("tags") or [])
    doc = {**doc, "attributes": {**attrs, "updatedAt": iso_time(automation.clock(), zulu=True)}}
    automation.documents.put("workflow", doc["id"], doc)
    return json_response({"data": doc}, media_type=JSONAPI)


async def delete_workflow(request: Request, automation: Automation) -> Response:
    _stored_workflow(request, automation)
    automation.documents.delete("workflow", request.path_params["workflow_id"])
    return Response(status_code=204)


# one sandbox user owns everything and runs are not tracked here, so those three sort keys tie
_WORKFLOW_SORT: dict[str, Callable[[dict[str, Any]], str]] = {
    "name": lambda w: w["attributes"]["name"].lower(), "createdAt": lambda w: w["attributes"]["createdAt"],
    "updatedAt": lambda w: w["attributes"]["updatedAt"], "creatorName": lambda w: "", "ownerName": lambda w: "",
    "lastExecutedAt": lambda w: ""}


async def list_workflows(request: Request, automation: Automation) -> Response:
    """GET /api/v2/workflows as the client's list_workflows documents it (specs null unless asked for)."""
    docs = automation.documents.list("workflow")
    total = len(docs)
    if not flag(request, "filter[includeUnpublished]"):
        docs = [d for d in docs if d["attributes"].get("published")]
    query = (request.query_params.get("filter[query]") or "").strip().lower()
    if ":" in query:
        docs = [d for d in docs if query in {t.lower() for t in d["attributes"].get("tags") or []}]
    elif query:
        docs = [d for d in docs if query in d["attributes"]["name"].lower() or query in (wm.handle_of(d) or "").lower()
                or query in SANDBOX_USER["name"].lower()]
    kinds = request.query_params.getlist("filter[triggerIds]")
    if kinds:
        docs = [d for d in docs if any(f"{k}Trigger" in t for t in d["attributes"]["spec"].get("triggers", [])
                                       for k in kinds)]
    for field in reversed([f.strip() for f in (request.query_params.get("sort") or "").split(",") if f.strip()]):
        if field.lstrip("-") not in _WORKFLOW_SORT:
            raise IntakeError(400, f"sort: unknown field {field!r}; expected {', '.join(_WORKFLOW_SORT)}")
        docs.sort(key=_WORKFLOW_SORT[field.lstrip("-")], reverse=field.startswith("-"))
    filtered = len(docs)
    limit, page = int_param(request, "limit", 50, low=1) or 50, int_param(request, "page", 0) or 0
    specs = bool(flag(request, "filter[includeSpecs]"))
    items = [{**d, "attributes": {**d["attributes"], "spec": d["attributes"]["spec"] if specs else None}}
             for d in docs[page * limit:(page + 1) * limit]]
    return json_response({"data": items, "meta": {"page": {"totalCount": total, "totalFilteredCount": filtered}}},
                         media_type=JSONAPI)


# ---------------------------------------------------------------------------------------------------- instances
def _workflow(request: Request, automation: Automation) -> dict[str, Any]:
    doc = automation.documents.get("workflow", request.path_params["workflow_id"])
    if doc is None:
        raise IntakeError(404, "workflow not found")  # recorded wording
    return doc


def _public(instance: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in instance.items() if k not in ("workflow_id", "trigger_kind", "triggered_at")}


async def create_instance(request: Request, automation: Automation) -> Response:
    """POST .../instances {"meta": {"payload": {...}}}: run now; 200 {"data": {"id"}, "meta": {"workflowId"}}."""
    workflow = _workflow(request, automation)
    raw = await request.body()
    body = await json_body(request) if raw.strip() else {}
    meta = body.get("meta") if isinstance(body, dict) else None
    payload = (meta or {}).get("payload") if isinstance(meta, dict) else None
    if payload is not None and not isinstance(payload, dict):
        raise IntakeError(400, "meta.payload: must be an object of input parameter values")
    source = {"type": "api", "name": workflow["attributes"]["name"], "initiator": {
        "email": SANDBOX_USER["email"], "name": SANDBOX_USER["name"], "id": SANDBOX_USER_UUID}}
    instance = await run_in_threadpool(runner.start, automation, workflow, payload=payload or {},
                                       source=source, kind="api", at=automation.clock())
    return json_response({"data": {"id": instance["id"], "type": "instances", "attributes": {}},
                          "meta": {"workflowId": workflow["id"]}}, media_type=JSONAPI)


def _page_param(request: Request, name: str, default: int, low: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < low:
        raise IntakeError(400, f"{name}: must be an integer of at least {low}, not {raw!r}")
    return int(raw)


async def list_instances(request: Request, automation: Automation) -> Response:
    """Newest first; page[size] (default 10, max 100) and page[number] (from 0); counts per outcome in meta."""
    workflow = _workflow(request, automation)
    size = _page_param(request, "page[size]", 10, 1)
    if size > MAX_PAGE:
        raise IntakeError(400, f"page[size]: the maximum allowed value is {MAX_PAGE}")
    number = _page_param(request, "page[number]", 0, 0)
    docs = [d for d in await run_in_threadpool(automation.documents.list, "workflow_instance", newest_first=True)
            if d["workflow_id"] == workflow["id"]]
    docs.sort(key=lambda d: d["triggered_at"], reverse=True)
    kinds = [d["attributes"]["instanceStatus"]["detailsKind"] for d in docs]
    items = [{"id": d["id"], "type": "instances",
              "attributes": {k: d["attributes"][k] for k in ("instanceStatus", "source", "startTimestamp",
                                                             "endTimestamp")}}
             for d in docs[number * size:(number + 1) * size]]
    return json_response({"data": items, "meta": {
        "canceledCount": kinds.count("CANCELED"), "failedCount": kinds.count("FAILED"),
        "succeededCount": kinds.count("SUCCEEDED"),
        "page": {"totalCount": len(docs), "totalFilteredCount": len(docs)}}}, media_type=JSONAPI)


async def get_instance(request: Request, automation: Automation) -> Response:
    workflow = _workflow(request, automation)
    doc = automation.documents.get("workflow_instance", request.path_params["instance_id"])
    if doc is None or doc["workflow_id"] != workflow["id"]:
        raise IntakeError(404, "instance not found")
    return json_response({"data": _public(doc)}, media_type=JSONAPI)


async def cancel_instance(request: Request, automation: Automation) -> Response:
    """Runs finish before their id is returned, so there is never anything left to cancel."""
    workflow = _workflow(request, automation)
    doc = automation.documents.get("workflow_instance", request.path_params["instance_id"])
    if doc is None or doc["workflow_id"] != workflow["id"]:
        raise IntakeError(404, "instance not found")
    status = doc["attributes"]["instanceStatus"]["displayName"]
    raise IntakeError(400, f"instance {doc['id']} already finished ({status}); it cannot be canceled")


async def list_notifications(request: Request, automation: Automation) -> Response:
    """SANDBOX-ONLY: notifications sent on monitor transitions, oldest first; ?monitor_id= filters."""
    wanted = request.query_params.get("monitor_id")
    docs = await run_in_threadpool(automation.documents.list, "notification")
    if wanted:
        docs = [d for d in docs if str(d["monitor_id"]) == wanted]
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
