"""Dashboard routes of the sandbox: Datadog's v1 CRUD shapes and refusals, and graph snapshots.

Validation lives in model.py; snapshots (PNG drawing) in snapshots.py.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from autonomic_lib.sandbox.dashboards import model, snapshots
from autonomic_lib.sandbox.dashboards.backend import Dashboards
from autonomic_lib.sandbox.http.identity import SANDBOX_USER
from autonomic_lib.sandbox.http.params import flag, int_param, iso_time
from autonomic_lib.sandbox.http.routing import error_response, json_body, json_response, public_route, route

_ID_SPACE, _ID_STEP, _ID_SALT = 36 ** 9, 1_000_003_111, 2_812_915_309  # a step coprime with 36: ids never repeat


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


def _store_dashboard(dashboards: Dashboards, body: Any, dash_id: str, old: dict[str, Any] | None) -> dict[str, Any]:
    keep = frozenset(model.widget_ids(old["widgets"])) if old else frozenset()
    checked = model.check_dashboard(body, lambda: dashboards.documents.next_id("widget"), keep)
    now = iso_time(dashboards.clock())
    for read_only in ("id", "url", "author_handle", "author_name", "created_at", "modified_at"):
        checked.pop(read_only, None)
    doc = {"id": dash_id, **checked, "description": checked.get("description"),
           "url": f"/dashboard/{dash_id}/{_slug(checked['title'])}", "is_read_only": bool(checked.get("is_read_only")),
           "author_handle": SANDBOX_USER["handle"], "author_name": SANDBOX_USER["name"],
           "created_at": old["created_at"] if old else now, "modified_at": now}
    doc.setdefault("template_variables", [])
    doc.setdefault("notify_list", [])
    doc.setdefault("restricted_roles", [])
    dashboards.documents.put("dashboard", dash_id, doc)
    return doc


async def create_dashboard(request: Request, dashboards: Dashboards) -> Response:
    body = await json_body(request)
    return json_response(_store_dashboard(dashboards, body, dashboard_id(dashboards.documents.next_id("dashboard")), None))


async def get_dashboard(request: Request, dashboards: Dashboards) -> Response:
    doc = dashboards.documents.get("dashboard", request.path_params["dashboard_id"])
    return json_response(doc) if doc else _dashboard_404(request.path_params["dashboard_id"])


async def update_dashboard(request: Request, dashboards: Dashboards) -> Response:
    dash_id = request.path_params["dashboard_id"]
    old = dashboards.documents.get("dashboard", dash_id)
    if old is None:
        return _dashboard_404(dash_id)
    return json_response(_store_dashboard(dashboards, await json_body(request), dash_id, old))


async def delete_dashboard(request: Request, dashboards: Dashboards) -> Response:
    """Datadog keeps deleted dashboards restorable; the sandbox keeps them listable with filter[deleted]."""
    dash_id = request.path_params["dashboard_id"]
    doc = dashboards.documents.get("dashboard", dash_id)
    if doc is None:
        return _dashboard_404(dash_id)
    dashboards.documents.put("dashboard_deleted", dash_id, {**doc, "deleted_at": iso_time(dashboards.clock())})
    dashboards.documents.delete("dashboard", dash_id)
    return json_response({"deleted_dashboard_id": dash_id})


async def list_dashboards(request: Request, dashboards: Dashboards) -> Response:
    """DashboardSummary; nothing is shared in the sandbox, so filter[shared]=true lists nothing."""
    kind = "dashboard_deleted" if flag(request, "filter[deleted]") else "dashboard"
    docs = [] if flag(request, "filter[shared]") else dashboards.documents.list(kind)
    start = int_param(request, "start", 0) or 0
    count = int_param(request, "count", None, low=1)
    docs = docs[start:start + count if count is not None else None]
    fields = ("id", "title", "description", "layout_type", "url", "created_at", "modified_at", "author_handle",
              "is_read_only")
    return json_response({"dashboards": [{k: d.get(k) for k in fields} for d in docs]})

# ---------------------------------------------------------------------------------------------------- snapshots
async def graph_snapshot(request: Request, dashboards: Dashboards) -> Response:
    doc = await run_in_threadpool(snapshots.create, dashboards, dict(request.query_params))
    return json_response(snapshots.response(doc, str(request.base_url)))


async def snapshot_png(request: Request, dashboards: Dashboards) -> Response:
    """The PNG itself, without keys (like Datadog's public snapshot links); drawn on first fetch."""
    doc = await run_in_threadpool(dashboards.documents.get, "snapshot", request.path_params["token"])
    if doc is None:
        return error_response(404, "Snapshot not found")
    png = await run_in_threadpool(snapshots.render_png, dashboards, doc)
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


def routes(dashboards: Dashboards) -> list[Route]:
    return [
        route("/api/v1/dashboard", "POST", create_dashboard, dashboards, app_key=True),
        route("/api/v1/dashboard", "GET", list_dashboards, dashboards, app_key=True),
        route("/api/v1/dashboard/{dashboard_id}", "GET", get_dashboard, dashboards, app_key=True),
        route("/api/v1/dashboard/{dashboard_id}", "PUT", update_dashboard, dashboards, app_key=True),
        route("/api/v1/dashboard/{dashboard_id}", "DELETE", delete_dashboard, dashboards, app_key=True),
        route("/api/v1/graph/snapshot", "GET", graph_snapshot, dashboards, app_key=True),
        public_route("/snapshot/{token}.png", snapshot_png, dashboards),
    ]
