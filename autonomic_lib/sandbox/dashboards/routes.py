"""Dashboard routes of the sandbox: Datadog's v1 CRUD shapes and refusals, and graph snapshots.

Handlers parse the request, call the backend (backend.py) with keyword arguments and render its answer;
validation lives in model.py, snapshots (PNG drawing) in snapshots.py. An unknown dashboard is refused before
its body is read.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from autonomic_lib.sandbox.dashboards import snapshots
from autonomic_lib.sandbox.dashboards.backend import Dashboards
from autonomic_lib.sandbox.http.params import flag, int_param
from autonomic_lib.sandbox.http.routing import Handler, error_response, json_body, json_response, public_route, route

ITEMS = "/api/v2/dashboard/lists/manual/{list_id}/dashboards"  # v2: the dashboards in a list
SUMMARY = ("id", "title", "description", "layout_type", "url", "created_at", "modified_at", "author_handle",
           "is_read_only")  # the fields of a DashboardSummary


async def create_dashboard(request: Request, dashboards: Dashboards) -> Response:
    return json_response(dashboards.create_dashboard(body=await json_body(request)))


async def get_dashboard(request: Request, dashboards: Dashboards) -> Response:
    return json_response(dashboards.get_dashboard(request.path_params["dashboard_id"]))


async def update_dashboard(request: Request, dashboards: Dashboards) -> Response:
    dash_id = request.path_params["dashboard_id"]
    dashboards.get_dashboard(dash_id)
    return json_response(dashboards.update_dashboard(dash_id, body=await json_body(request)))


async def delete_dashboard(request: Request, dashboards: Dashboards) -> Response:
    dash_id = request.path_params["dashboard_id"]
    dashboards.delete_dashboard(dash_id)
    return json_response({"deleted_dashboard_id": dash_id})


async def list_dashboards(request: Request, dashboards: Dashboards) -> Response:
    """DashboardSummary of each; filter[deleted] lists the deleted ones, filter[shared] the (no) shared ones."""
    docs = dashboards.list_dashboards(deleted=bool(flag(request, "filter[deleted]")),
                                      shared=bool(flag(request, "filter[shared]")),
                                      start=int_param(request, "start", 0) or 0,
                                      count=int_param(request, "count", None, low=1))
    return json_response({"dashboards": [{k: d.get(k) for k in SUMMARY} for d in docs]})


# ---------------------------------------------------------------------------------------------------- lists
async def create_list(request: Request, dashboards: Dashboards) -> Response:
    return json_response(dashboards.create_list(body=await json_body(request)))


async def get_list(request: Request, dashboards: Dashboards) -> Response:
    return json_response(dashboards.get_list(request.path_params["list_id"]))


async def all_lists(request: Request, dashboards: Dashboards) -> Response:
    return json_response({"dashboard_lists": dashboards.all_lists()})


async def update_list(request: Request, dashboards: Dashboards) -> Response:
    list_id = request.path_params["list_id"]
    dashboards.get_list(list_id)  # an unknown list is a 404 before its body is read
    return json_response(dashboards.rename_list(list_id, body=await json_body(request)))


async def delete_list(request: Request, dashboards: Dashboards) -> Response:
    return json_response({"deleted_dashboard_list_id": dashboards.delete_list(request.path_params["list_id"])})


async def list_items(request: Request, dashboards: Dashboards) -> Response:
    items = dashboards.list_items(request.path_params["list_id"])
    return json_response({"dashboards": items, "total": len(items)})


def change_items(how: str, answer_key: str) -> Handler[Dashboards]:
    """POST (add), DELETE (remove) or PUT (replace) the items of a list: `{answer_key: [{id, type}, ...]}`."""

    async def handler(request: Request, dashboards: Dashboards) -> Response:
        list_id = request.path_params["list_id"]
        dashboards.get_list(list_id)
        return json_response({answer_key: dashboards.change_items(list_id, body=await json_body(request), how=how)})

    return handler


# ---------------------------------------------------------------------------------------------------- snapshots
async def graph_snapshot(request: Request, dashboards: Dashboards) -> Response:
    params = request.query_params
    doc = await run_in_threadpool(dashboards.create_snapshot, start=params.get("start"), end=params.get("end"),
                                  metric_query=params.get("metric_query"), graph_def=params.get("graph_def"),
                                  title=params.get("title"), width=params.get("width"), height=params.get("height"))
    return json_response(snapshots.response(doc, str(request.base_url)))


async def snapshot_png(request: Request, dashboards: Dashboards) -> Response:
    """The PNG itself, without keys (like Datadog's public snapshot links); drawn on first fetch."""
    png = await run_in_threadpool(dashboards.snapshot_png, request.path_params["token"])
    if png is None:
        return error_response(404, "Snapshot not found")
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


def routes(dashboards: Dashboards) -> list[Route]:
    return [
        route("/api/v1/dashboard", "POST", create_dashboard, dashboards, app_key=True),
        route("/api/v1/dashboard", "GET", list_dashboards, dashboards, app_key=True),
        route("/api/v1/dashboard/{dashboard_id}", "GET", get_dashboard, dashboards, app_key=True),
        route("/api/v1/dashboard/{dashboard_id}", "PUT", update_dashboard, dashboards, app_key=True),
        route("/api/v1/dashboard/{dashboard_id}", "DELETE", delete_dashboard, dashboards, app_key=True),
        route("/api/v1/dashboard/lists/manual", "POST", create_list, dashboards, app_key=True),
        route("/api/v1/dashboard/lists/manual", "GET", all_lists, dashboards, app_key=True),
        route("/api/v1/dashboard/lists/manual/{list_id}", "GET", get_list, dashboards, app_key=True),
        route("/api/v1/dashboard/lists/manual/{list_id}", "PUT", update_list, dashboards, app_key=True),
        route("/api/v1/dashboard/lists/manual/{list_id}", "DELETE", delete_list, dashboards, app_key=True),
        route(ITEMS, "GET", list_items, dashboards, app_key=True),
        route(ITEMS, "POST", change_items("add", "added_dashboards_to_list"), dashboards, app_key=True),
        route(ITEMS, "DELETE", change_items("delete", "deleted_dashboards_from_list"), dashboards, app_key=True),
        route(ITEMS, "PUT", change_items("update", "dashboards"), dashboards, app_key=True),
        route("/api/v1/graph/snapshot", "GET", graph_snapshot, dashboards, app_key=True),
        public_route("/snapshot/{token}.png", snapshot_png, dashboards),
    ]
