"""Workflow-instance and graph-snapshot routes of the sandbox, and the sandbox-only notification list.

Workflow instances follow the client's WorkflowAutomationApi (create_workflow_instance ->
WorkflowInstanceCreateResponse, list_workflow_instances -> WorkflowListInstancesResponse, get_workflow_instance
-> WorklflowGetInstanceResponse) and the recorded cassettes; runs execute synchronously (workflow_runner.py), so
an instance is finished when its id comes back. `GET /sandbox/notifications` is **sandbox-only** (Datadog has
no API listing sent notifications): every monitor notification with its rendered message and what each @-handle
did. Snapshots: `GET /api/v1/graph/snapshot` and the key-less PNG at `/snapshot/<token>.png` (snapshots.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import IntakeError
from . import snapshots, workflow_runner
from . import workflow_model as wm
from .http import Handler, error_response, json_body, json_response, route

if TYPE_CHECKING:
    from .app import Sandbox

JSONAPI = "application/vnd.api+json"
MAX_PAGE = 100


def _remember_url(request: Request, sandbox: Sandbox) -> None:
    """Links the sandbox writes outside a request (monitor URLs in workflow context) use its own address."""
    if not sandbox.app_url:  # a sandbox served without SandboxServer (an ASGI test client)
        sandbox.app_url = str(request.base_url).rstrip("/")


def _workflow_route(path: str, method: str, handler: Handler) -> Route:
    async def wrapped(request: Request, sandbox: Sandbox) -> Response:
        _remember_url(request, sandbox)
        try:
            return await handler(request, sandbox)
        except wm.WorkflowError as exc:
            return json_response({"errors": [{"detail": d} for d in exc.details]}, exc.status, media_type=JSONAPI)
        except IntakeError as exc:
            return json_response({"errors": [{"detail": str(exc)}]}, exc.status, media_type=JSONAPI)
    return route(path, method, wrapped, app_key=True)


def _workflow(request: Request, sandbox: Sandbox) -> dict[str, Any]:
    doc = sandbox.documents.get("workflow", request.path_params["workflow_id"])
    if doc is None:
        raise wm.WorkflowError(["workflow not found"], 404)  # recorded wording
    return doc


def _public(instance: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in instance.items() if k not in ("workflow_id", "trigger_kind", "triggered_at")}


async def create_instance(request: Request, sandbox: Sandbox) -> Response:
    """POST .../instances {"meta": {"payload": {...}}}: run now; 200 {"data": {"id"}, "meta": {"workflowId"}}."""
    workflow = _workflow(request, sandbox)
    raw = await request.body()
    body = await json_body(request) if raw.strip() else {}
    meta = body.get("meta") if isinstance(body, dict) else None
    payload = (meta or {}).get("payload") if isinstance(meta, dict) else None
    if payload is not None and not isinstance(payload, dict):
        raise wm.WorkflowError(["meta.payload: must be an object of input parameter values"])
    source = {"type": "api", "name": workflow["attributes"]["name"], "initiator": {
        "email": "sandbox@autonomic-kit.local", "name": "Autonomic Sandbox", "id": "00000000-0000-4000-8000-00000000a11c"}}
    instance = await run_in_threadpool(workflow_runner.start, sandbox, workflow, payload=payload or {},
                                       source=source, kind="api", at=sandbox.policy.clock())
    return json_response({"data": {"id": instance["id"], "type": "instances", "attributes": {}},
                          "meta": {"workflowId": workflow["id"]}}, media_type=JSONAPI)


def _page_param(request: Request, name: str, default: int, low: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < low:
        raise IntakeError(400, f"{name}: must be an integer of at least {low}, not {raw!r}")
    return int(raw)


async def list_instances(request: Request, sandbox: Sandbox) -> Response:
    """Newest first; page[size] (default 10, max 100) and page[number] (from 0); counts per outcome in meta."""
    workflow = _workflow(request, sandbox)
    size = _page_param(request, "page[size]", 10, 1)
    if size > MAX_PAGE:
        raise IntakeError(400, f"page[size]: the maximum allowed value is {MAX_PAGE}")
    number = _page_param(request, "page[number]", 0, 0)
    docs = [d for d in await run_in_threadpool(sandbox.documents.list, "workflow_instance", newest_first=True)
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


async def get_instance(request: Request, sandbox: Sandbox) -> Response:
    workflow = _workflow(request, sandbox)
    doc = sandbox.documents.get("workflow_instance", request.path_params["instance_id"])
    if doc is None or doc["workflow_id"] != workflow["id"]:
        raise wm.WorkflowError(["instance not found"], 404)
    return json_response({"data": _public(doc)}, media_type=JSONAPI)


async def cancel_instance(request: Request, sandbox: Sandbox) -> Response:
    """Runs finish before their id is returned, so there is never anything left to cancel."""
    workflow = _workflow(request, sandbox)
    doc = sandbox.documents.get("workflow_instance", request.path_params["instance_id"])
    if doc is None or doc["workflow_id"] != workflow["id"]:
        raise wm.WorkflowError(["instance not found"], 404)
    status = doc["attributes"]["instanceStatus"]["displayName"]
    raise wm.WorkflowError([f"instance {doc['id']} already finished ({status}); it cannot be canceled"])


async def list_notifications(request: Request, sandbox: Sandbox) -> Response:
    """SANDBOX-ONLY: notifications sent on monitor transitions, oldest first; ?monitor_id= filters."""
    wanted = request.query_params.get("monitor_id")
    docs = await run_in_threadpool(sandbox.documents.list, "notification")
    if wanted:
        docs = [d for d in docs if str(d["monitor_id"]) == wanted]
    return json_response({"data": docs, "meta": {"total": len(docs), "sandbox_only": True}})


async def graph_snapshot(request: Request, sandbox: Sandbox) -> Response:
    _remember_url(request, sandbox)
    params = dict(request.query_params)
    doc = await run_in_threadpool(snapshots.create, sandbox, params)
    return json_response(snapshots.response(doc, str(request.base_url)))


async def snapshot_png(request: Request) -> Response:
    """The PNG itself, without keys (like Datadog's public snapshot links); drawn on first fetch."""
    sandbox = request.app.state.sandbox
    token = request.path_params["token"]
    doc = await run_in_threadpool(sandbox.documents.get, "snapshot", token)
    if doc is None:
        return error_response(404, "Snapshot not found")
    png = await run_in_threadpool(snapshots.render_png, sandbox, doc)
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


ROUTES: list[Route] = [
    _workflow_route("/api/v2/workflows/{workflow_id}/instances", "POST", create_instance),
    _workflow_route("/api/v2/workflows/{workflow_id}/instances", "GET", list_instances),
    _workflow_route("/api/v2/workflows/{workflow_id}/instances/{instance_id}", "GET", get_instance),
    _workflow_route("/api/v2/workflows/{workflow_id}/instances/{instance_id}/cancel", "PUT", cancel_instance),
    route("/sandbox/notifications", "GET", list_notifications, app_key=True),
    route("/api/v1/graph/snapshot", "GET", graph_snapshot, app_key=True),
    Route("/snapshot/{token}.png", snapshot_png, methods=["GET"]),
]
