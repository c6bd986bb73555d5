"""Dashboard, monitor and workflow routes of the sandbox: Datadog's CRUD shapes, status codes and refusals.

Validation lives in monitor_model.py and workflow_model.py; this module maps HTTP to the document store.
Monitors are refused at creation when the sandbox could not evaluate them, so nothing sits silently unevaluated.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from starlette.requests import Request
from starlette.responses import Response

from ..errors import IntakeError
from . import monitor_model as mm
from . import workflow_model as wm
from .http import Handler, error_response, json_body, json_response, route

if TYPE_CHECKING:
    from .app import Sandbox

SANDBOX_USER = {"id": 1, "handle": "sandbox@autonomic-kit.local", "name": "Autonomic Sandbox",
                "email": "sandbox@autonomic-kit.local"}
SANDBOX_USER_UUID = "00000000-0000-4000-8000-00000000a11c"  # the workflows' creator/owner (a v2 user id)
ORG_ID = 1
_ID_SPACE, _ID_STEP, _ID_SALT = 36 ** 9, 1_000_003_111, 2_812_915_309  # a step coprime with 36: ids never repeat
_GROUP_STATES = {"all": None, "alert": "Alert", "warn": "Warn", "no data": "No Data"}
JSONAPI = "application/vnd.api+json"


def _iso(ts: float, *, zulu: bool = False) -> str:
    text = datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="microseconds")
    return text.replace("+00:00", "Z") if zulu else text


def _flag(request: Request, name: str) -> bool | None:
    value = request.query_params.get(name)
    return None if value is None else value.strip().lower() == "true"


def _int_param(request: Request, name: str, default: int | None = None, *, low: int = 0) -> int | None:
    value = request.query_params.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise IntakeError(400, f"Parameter '{name}' must be an integer, not {value!r}") from None
    if number < low:
        raise IntakeError(400, f"Parameter '{name}' must be at least {low}")
    return number


# ---------------------------------------------------------------------------------------------------- dashboards
def dashboard_id(n: int) -> str:
    """Datadog-style `abc-def-ghi` from a never-reused counter (a bijection of it, so ids never collide)."""
    value, chars = (n * _ID_STEP + _ID_SALT) % _ID_SPACE, []
    for _ in range(9):
        value, digit = divmod(value, 36)
        chars.append("0123456789abcdefghijklmnopqrstuvwxyz"[digit])
    text = "".join(chars)
    return f"{text[:3]}-{text[3:6]}-{text[6:]}"


def _slug(title: str) -> str:
    """The url slug as recorded: lower case, spaces to '-', other punctuation dropped."""
    return re.sub(r"[^a-z0-9-]", "", title.lower().replace(" ", "-"))


def _dashboard_404(dash_id: str) -> Response:
    return error_response(404, f"Dashboard {dash_id} not found")


def _store_dashboard(sandbox: Sandbox, body: Any, dash_id: str, old: dict[str, Any] | None) -> dict[str, Any]:
    keep = frozenset(mm.widget_ids(old["widgets"])) if old else frozenset()
    checked = mm.check_dashboard(body, lambda: sandbox.documents.next_id("widget"), keep)
    now = _iso(sandbox.policy.clock())
    for read_only in ("id", "url", "author_handle", "author_name", "created_at", "modified_at"):
        checked.pop(read_only, None)
    doc = {"id": dash_id, **checked, "description": checked.get("description"),
           "url": f"/dashboard/{dash_id}/{_slug(checked['title'])}", "is_read_only": bool(checked.get("is_read_only")),
           "author_handle": SANDBOX_USER["handle"], "author_name": SANDBOX_USER["name"],
           "created_at": old["created_at"] if old else now, "modified_at": now}
    doc.setdefault("template_variables", [])
    doc.setdefault("notify_list", [])
    doc.setdefault("restricted_roles", [])
    sandbox.documents.put("dashboard", dash_id, doc)
    return doc


async def create_dashboard(request: Request, sandbox: Sandbox) -> Response:
    body = await json_body(request)
    return json_response(_store_dashboard(sandbox, body, dashboard_id(sandbox.documents.next_id("dashboard")), None))


async def get_dashboard(request: Request, sandbox: Sandbox) -> Response:
    doc = sandbox.documents.get("dashboard", request.path_params["dashboard_id"])
    return json_response(doc) if doc else _dashboard_404(request.path_params["dashboard_id"])


async def update_dashboard(request: Request, sandbox: Sandbox) -> Response:
    dash_id = request.path_params["dashboard_id"]
    old = sandbox.documents.get("dashboard", dash_id)
    if old is None:
        return _dashboard_404(dash_id)
    return json_response(_store_dashboard(sandbox, await json_body(request), dash_id, old))


async def delete_dashboard(request: Request, sandbox: Sandbox) -> Response:
    """Datadog keeps deleted dashboards restorable; the sandbox keeps them listable with filter[deleted]."""
    dash_id = request.path_params["dashboard_id"]
    doc = sandbox.documents.get("dashboard", dash_id)
    if doc is None:
        return _dashboard_404(dash_id)
    sandbox.documents.put("dashboard_deleted", dash_id, {**doc, "deleted_at": _iso(sandbox.policy.clock())})
    sandbox.documents.delete("dashboard", dash_id)
    return json_response({"deleted_dashboard_id": dash_id})


async def list_dashboards(request: Request, sandbox: Sandbox) -> Response:
    """DashboardSummary; nothing is shared in the sandbox, so filter[shared]=true lists nothing."""
    kind = "dashboard_deleted" if _flag(request, "filter[deleted]") else "dashboard"
    docs = [] if _flag(request, "filter[shared]") else sandbox.documents.list(kind)
    start = _int_param(request, "start", 0) or 0
    count = _int_param(request, "count", None, low=1)
    docs = docs[start:start + count if count is not None else None]
    fields = ("id", "title", "description", "layout_type", "url", "created_at", "modified_at", "author_handle",
              "is_read_only")
    return json_response({"dashboards": [{k: d.get(k) for k in fields} for d in docs]})


# ---------------------------------------------------------------------------------------------------- monitors
def _monitor_404() -> Response:
    return error_response(404, "Monitor not found")


def _monitor_view(doc: dict[str, Any], request: Request) -> dict[str, Any]:
    """A stored monitor as the API shows it: group states only when asked for (group_states=...)."""
    view = {k: v for k, v in doc.items() if k != "state"}
    wanted = _group_states(request)
    if wanted is not None:
        groups = (doc.get("state") or {}).get("groups") or {}
        view["state"] = {"groups": {name: g for name, g in groups.items()
                                    if "all" in wanted or g.get("status") in {_GROUP_STATES[w] for w in wanted}}}
    return view


def _group_states(request: Request) -> set[str] | None:
    text = request.query_params.get("group_states")
    if text is None:
        return None
    wanted = {part.strip().lower() for part in text.split(",") if part.strip()}
    unknown = wanted - set(_GROUP_STATES)
    if unknown:
        raise IntakeError(400, f"Invalid group_states {sorted(unknown)}; expected a comma list of "
                               f"{', '.join(_GROUP_STATES)}")
    return wanted


def _get_monitor(request: Request, sandbox: Sandbox) -> dict[str, Any] | None:
    return sandbox.documents.get("monitor", request.path_params["monitor_id"])


async def create_monitor(request: Request, sandbox: Sandbox) -> Response:
    fields = mm.normalise_monitor(await json_body(request))
    now = sandbox.policy.clock()
    monitor_id = sandbox.documents.next_id("monitor")
    doc = {"id": monitor_id, "org_id": ORG_ID, **fields, "created": _iso(now), "modified": _iso(now),
           "created_at": int(now * 1000), "creator": dict(SANDBOX_USER), "deleted": None, "matching_downtimes": [],
           "overall_state": "No Data", "overall_state_modified": None, "state": {"groups": {}}}
    sandbox.documents.put("monitor", monitor_id, doc)
    return json_response(_monitor_view(doc, request))


async def get_monitor(request: Request, sandbox: Sandbox) -> Response:
    doc = _get_monitor(request, sandbox)
    return json_response(_monitor_view(doc, request)) if doc else _monitor_404()


async def update_monitor(request: Request, sandbox: Sandbox) -> Response:
    """A partial update: given fields replace the stored ones; evaluation state is kept."""
    doc = _get_monitor(request, sandbox)
    if doc is None:
        return _monitor_404()
    body = await json_body(request)
    user_fields = {k: doc[k] for k in ("type", "query", "name", "message", "tags", "priority", "options",
                                       "restricted_roles")}
    fields = mm.normalise_monitor(body, existing=user_fields)
    doc = {**doc, **fields, "modified": _iso(sandbox.policy.clock())}
    sandbox.documents.put("monitor", doc["id"], doc)
    return json_response(_monitor_view(doc, request))


async def delete_monitor(request: Request, sandbox: Sandbox) -> Response:
    monitor_id = request.path_params["monitor_id"]
    if not sandbox.documents.delete("monitor", monitor_id):
        return _monitor_404()
    return json_response({"deleted_monitor_id": monitor_id})


async def list_monitors(request: Request, sandbox: Sandbox) -> Response:
    params = request.query_params
    name = (params.get("name") or "").lower()
    monitor_tags = {t.strip() for t in (params.get("monitor_tags") or "").split(",") if t.strip()}
    scope = {t.strip().lower() for t in (params.get("tags") or "").split(",") if t.strip()}
    id_offset = _int_param(request, "id_offset", 0) or 0
    page = _int_param(request, "page")
    page_size = _int_param(request, "page_size", 100 if page is not None else None, low=1)
    if page_size is not None and page_size > 1000:
        raise IntakeError(400, "Parameter 'page_size' must be at most 1000")
    docs = sorted(sandbox.documents.list("monitor"), key=lambda d: d["id"])
    docs = [d for d in docs if d["id"] > id_offset and name in d["name"].lower()
            and monitor_tags <= set(d["tags"]) and scope <= mm.scope_tags(d["query"])]
    if page_size is not None:
        docs = docs[(page or 0) * page_size:((page or 0) + 1) * page_size]
    return json_response([_monitor_view(d, request) for d in docs])


async def validate_monitor(request: Request, sandbox: Sandbox) -> Response:
    mm.normalise_monitor(await json_body(request))
    return json_response({})


async def validate_existing_monitor(request: Request, sandbox: Sandbox) -> Response:
    if _get_monitor(request, sandbox) is None:
        return _monitor_404()
    mm.normalise_monitor(await json_body(request))
    return json_response({})


async def can_delete_monitors(request: Request, sandbox: Sandbox) -> Response:
    """Nothing in the sandbox references a monitor (no composites, no SLOs), so every existing one may go."""
    text = request.query_params.get("monitor_ids") or ""
    try:
        ids = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise IntakeError(400, f"Parameter 'monitor_ids' must be a comma list of monitor ids, not {text!r}") from None
    if not ids:
        raise IntakeError(400, "Missing required parameter 'monitor_ids'")
    ok = [i for i in ids if sandbox.documents.get("monitor", i) is not None]
    errors = {str(i): ["Monitor not found"] for i in ids if i not in ok}
    return json_response({"data": {"ok": ok}, "errors": errors or None})


# ---------------------------------------------------------------------------------------------------- workflows
def _jsonapi_errors(status: int, *details: str) -> Response:
    return json_response({"errors": [{"detail": d} for d in details]}, status, media_type=JSONAPI)


def _workflow_route(handler: Handler) -> Handler:
    """Workflow errors are JSON:API objects (`{"errors": [{"detail": ...}]}`), unlike v1's strings."""
    async def wrapped(request: Request, sandbox: Sandbox) -> Response:
        try:
            return await handler(request, sandbox)
        except wm.WorkflowError as exc:
            return _jsonapi_errors(exc.status, *exc.details)
        except IntakeError as exc:
            return _jsonapi_errors(exc.status, str(exc))
    return wrapped


def _workflow_data(body: Any, *, update: bool) -> dict[str, Any]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or data.get("type") != "workflows":
        raise wm.WorkflowError(['data.type: invalid type, expected "workflows"'])
    attrs = data.get("attributes")
    if not isinstance(attrs, dict):
        raise wm.WorkflowError(["data.attributes: required object"])
    return {k: attrs[k] for k in wm.ATTRIBUTES if k in attrs} if update else attrs


async def create_workflow(request: Request, sandbox: Sandbox) -> Response:
    given = _workflow_data(await json_body(request), update=False)
    attrs = {"description": "", "published": False, **given, "tags": given.get("tags") or []}
    if problems := wm.check_attributes(attrs, other_handles=wm.handles(sandbox.documents)):
        raise wm.WorkflowError(problems)
    now = _iso(sandbox.policy.clock(), zulu=True)
    user = {"data": {"id": SANDBOX_USER_UUID, "type": "users"}}
    doc = {"id": str(uuid.uuid4()), "type": "workflows",
           "attributes": {**{k: attrs[k] for k in wm.ATTRIBUTES if k in attrs}, "tags": sorted(attrs["tags"]),
                          "createdAt": now, "updatedAt": now},
           "relationships": {"creator": user, "owner": user}}
    sandbox.documents.put("workflow", doc["id"], doc)
    return json_response({"data": doc}, 201, media_type=JSONAPI)


def _stored_workflow(request: Request, sandbox: Sandbox) -> dict[str, Any]:
    doc = sandbox.documents.get("workflow", request.path_params["workflow_id"])
    if doc is None:
        raise wm.WorkflowError(["workflow not found"], 404)  # recorded wording
    return doc


async def get_workflow(request: Request, sandbox: Sandbox) -> Response:
    return json_response({"data": _stored_workflow(request, sandbox)}, media_type=JSONAPI)


async def update_workflow(request: Request, sandbox: Sandbox) -> Response:
    doc = _stored_workflow(request, sandbox)
    attrs = {**doc["attributes"], **_workflow_data(await json_body(request), update=True)}
    if problems := wm.check_attributes(attrs, other_handles=wm.handles(sandbox.documents, except_id=doc["id"])):
        raise wm.WorkflowError(problems)
    attrs["tags"] = sorted(attrs.get("tags") or [])
    doc = {**doc, "attributes": {**attrs, "updatedAt": _iso(sandbox.policy.clock(), zulu=True)}}
    sandbox.documents.put("workflow", doc["id"], doc)
    return json_response({"data": doc}, media_type=JSONAPI)


async def delete_workflow(request: Request, sandbox: Sandbox) -> Response:
    _stored_workflow(request, sandbox)
    sandbox.documents.delete("workflow", request.path_params["workflow_id"])
    return Response(status_code=204)


# one sandbox user owns everything and runs are not tracked here, so those three sort keys tie
_WORKFLOW_SORT: dict[str, Callable[[dict[str, Any]], str]] = {
    "name": lambda w: w["attributes"]["name"].lower(), "createdAt": lambda w: w["attributes"]["createdAt"],
    "updatedAt": lambda w: w["attributes"]["updatedAt"], "creatorName": lambda w: "", "ownerName": lambda w: "",
    "lastExecutedAt": lambda w: ""}


async def list_workflows(request: Request, sandbox: Sandbox) -> Response:
    """GET /api/v2/workflows as the client's list_workflows documents it (specs null unless asked for)."""
    docs = sandbox.documents.list("workflow")
    total = len(docs)
    if not _flag(request, "filter[includeUnpublished]"):
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
            raise wm.WorkflowError([f"sort: unknown field {field!r}; expected {', '.join(_WORKFLOW_SORT)}"])
        docs.sort(key=_WORKFLOW_SORT[field.lstrip("-")], reverse=field.startswith("-"))
    filtered = len(docs)
    limit, page = _int_param(request, "limit", 50, low=1) or 50, _int_param(request, "page", 0) or 0
    specs = bool(_flag(request, "filter[includeSpecs]"))
    items = [{**d, "attributes": {**d["attributes"], "spec": d["attributes"]["spec"] if specs else None}}
             for d in docs[page * limit:(page + 1) * limit]]
    return json_response({"data": items, "meta": {"page": {"totalCount": total, "totalFilteredCount": filtered}}},
                         media_type=JSONAPI)


ROUTES = [
    route("/api/v1/dashboard", "POST", create_dashboard, app_key=True),
    route("/api/v1/dashboard", "GET", list_dashboards, app_key=True),
    route("/api/v1/dashboard/{dashboard_id}", "GET", get_dashboard, app_key=True),
    route("/api/v1/dashboard/{dashboard_id}", "PUT", update_dashboard, app_key=True),
    route("/api/v1/dashboard/{dashboard_id}", "DELETE", delete_dashboard, app_key=True),
    # fixed monitor paths first, so that they never read as a monitor id
    route("/api/v1/monitor/validate", "POST", validate_monitor, app_key=True),
    route("/api/v1/monitor/can_delete", "GET", can_delete_monitors, app_key=True),
    route("/api/v1/monitor", "POST", create_monitor, app_key=True),
    route("/api/v1/monitor", "GET", list_monitors, app_key=True),
    route("/api/v1/monitor/{monitor_id:int}", "GET", get_monitor, app_key=True),
    route("/api/v1/monitor/{monitor_id:int}", "PUT", update_monitor, app_key=True),
    route("/api/v1/monitor/{monitor_id:int}", "DELETE", delete_monitor, app_key=True),
    route("/api/v1/monitor/{monitor_id:int}/validate", "POST", validate_existing_monitor, app_key=True),
    route("/api/v2/workflows", "POST", _workflow_route(create_workflow), app_key=True),
    route("/api/v2/workflows", "GET", _workflow_route(list_workflows), app_key=True),
    route("/api/v2/workflows/{workflow_id}", "GET", _workflow_route(get_workflow), app_key=True),
    route("/api/v2/workflows/{workflow_id}", "PATCH", _workflow_route(update_workflow), app_key=True),
    route("/api/v2/workflows/{workflow_id}", "DELETE", _workflow_route(delete_workflow), app_key=True),
]
