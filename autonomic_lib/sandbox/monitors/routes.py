"""Monitor routes of the sandbox: Datadog's v1 CRUD shapes and refusals, and the sandbox-only evaluation routes.

Validation lives in model.py. Monitors are refused at creation when the sandbox could not evaluate them, so
nothing sits silently unevaluated. Sandbox-only routes (Datadog has no equivalent; keys as for the API):
- `POST /sandbox/evaluate`: evaluate now; returns what was evaluated per monitor.
- `GET /sandbox/evaluation`: per monitor, the minute evaluated up to, the state, each group's status and reason.
- `GET /sandbox/monitors/{id}/history[?group=&from=&to=]`: the monitor's transitions with values and thresholds.
- `GET /sandbox/monitors/{id}/band?from=&to=`: the expected band of an anomaly monitor (time, value, lower, upper).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.http.identity import ORG_ID, SANDBOX_USER
from autonomic_lib.sandbox.http.params import int_param, iso_time
from autonomic_lib.sandbox.http.routing import error_response, json_body, json_response, route
from autonomic_lib.sandbox.monitors import model as mm
from autonomic_lib.sandbox.monitors.anomaly import anomaly_band
from autonomic_lib.sandbox.monitors.backend import Monitors

_GROUP_STATES = {"all": None, "alert": "Alert", "warn": "Warn", "no data": "No Data"}


# ---------------------------------------------------------------------------------------------------- definitions
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


def _get_monitor(request: Request, monitors: Monitors) -> dict[str, Any] | None:
    return monitors.documents.get("monitor", request.path_params["monitor_id"])


async def create_monitor(request: Request, monitors: Monitors) -> Response:
    fields = mm.normalise_monitor(await json_body(request))
    now = monitors.clock()
    monitor_id = monitors.documents.next_id("monitor")
    doc = {"id": monitor_id, "org_id": ORG_ID, **fields, "created": iso_time(now), "modified": iso_time(now),
           "created_at": int(now * 1000), "creator": dict(SANDBOX_USER), "deleted": None, "matching_downtimes": [],
           "overall_state": "No Data", "overall_state_modified": None, "state": {"groups": {}}}
    monitors.documents.put("monitor", monitor_id, doc)
    return json_response(_monitor_view(doc, request))


async def get_monitor(request: Request, monitors: Monitors) -> Response:
    doc = _get_monitor(request, monitors)
    return json_response(_monitor_view(doc, request)) if doc else _monitor_404()


async def update_monitor(request: Request, monitors: Monitors) -> Response:
    """A partial update: given fields replace the stored ones; evaluation state is kept."""
    doc = _get_monitor(request, monitors)
    if doc is None:
        return _monitor_404()
    body = await json_body(request)
    user_fields = {k: doc[k] for k in ("type", "query", "name", "message", "tags", "priority", "options",
                                       "restricted_roles")}
    fields = mm.normalise_monitor(body, existing=user_fields)
    doc = {**doc, **fields, "modified": iso_time(monitors.clock())}
    monitors.documents.put("monitor", doc["id"], doc)
    return json_response(_monitor_view(doc, request))


async def delete_monitor(request: Request, monitors: Monitors) -> Response:
    monitor_id = request.path_params["monitor_id"]
    if not monitors.documents.delete("monitor", monitor_id):
        return _monitor_404()
    return json_response({"deleted_monitor_id": monitor_id})


async def list_monitors(request: Request, monitors: Monitors) -> Response:
    params = request.query_params
    name = (params.get("name") or "").lower()
    monitor_tags = {t.strip() for t in (params.get("monitor_tags") or "").split(",") if t.strip()}
    scope = {t.strip().lower() for t in (params.get("tags") or "").split(",") if t.strip()}
    id_offset = int_param(request, "id_offset", 0) or 0
    page = int_param(request, "page")
    page_size = int_param(request, "page_size", 100 if page is not None else None, low=1)
    if page_size is not None and page_size > 1000:
        raise IntakeError(400, "Parameter 'page_size' must be at most 1000")
    docs = sorted(monitors.documents.list("monitor"), key=lambda d: d["id"])
    docs = [d for d in docs if d["id"] > id_offset and name in d["name"].lower()
            and monitor_tags <= set(d["tags"]) and scope <= mm.scope_tags(d["query"])]
    if page_size is not None:
        docs = docs[(page or 0) * page_size:((page or 0) + 1) * page_size]
    return json_response([_monitor_view(d, request) for d in docs])


async def validate_monitor(request: Request, monitors: Monitors) -> Response:
    mm.normalise_monitor(await json_body(request))
    return json_response({})


async def validate_existing_monitor(request: Request, monitors: Monitors) -> Response:
    if _get_monitor(request, monitors) is None:
        return _monitor_404()
    mm.normalise_monitor(await json_body(request))
    return json_response({})


async def can_delete_monitors(request: Request, monitors: Monitors) -> Response:
    """Nothing in the sandbox references a monitor (no composites, no SLOs), so every existing one may go."""
    text = request.query_params.get("monitor_ids") or ""
    try:
        ids = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise IntakeError(400, f"Parameter 'monitor_ids' must be a comma list of monitor ids, not {text!r}") from None
    if not ids:
        raise IntakeError(400, "Missing required parameter 'monitor_ids'")
    ok = [i for i in ids if monitors.documents.get("monitor", i) is not None]
    errors = {str(i): ["Monitor not found"] for i in ids if i not in ok}
    return json_response({"data": {"ok": ok}, "errors": errors or None})


# ---------------------------------------------------------------------------------------------------- evaluation (sandbox-only)
def _timestamp_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.lstrip("-").isdigit():
        raise IntakeError(400, f"The parameter '{name}' must be an integer POSIX timestamp, not {raw!r}")
    return int(raw)


async def evaluate_now(request: Request, monitors: Monitors) -> Response:
    return json_response({"evaluated": await run_in_threadpool(monitors.evaluator.run)})


async def evaluation_status(request: Request, monitors: Monitors) -> Response:
    return json_response({"monitors": await run_in_threadpool(monitors.evaluator.status)})


async def monitor_history(request: Request, monitors: Monitors) -> Response:
    monitor_id = request.path_params["monitor_id"]
    if monitors.documents.get("monitor", monitor_id) is None:
        return error_response(404, "Monitor not found")
    rows = await run_in_threadpool(monitors.evaluator.history, monitor_id, group=request.query_params.get("group"),
                                   since=_timestamp_param(request, "from"), until=_timestamp_param(request, "to"))
    return json_response({"monitor_id": monitor_id, "transitions": rows})


async def monitor_band(request: Request, monitors: Monitors) -> Response:
    monitor = monitors.documents.get("monitor", request.path_params["monitor_id"])
    if monitor is None:
        return error_response(404, "Monitor not found")
    start, end = _timestamp_param(request, "from"), _timestamp_param(request, "to")
    if start is None or end is None:
        raise IntakeError(400, "The parameters 'from' and 'to' (epoch seconds) are required")
    if "anomalies(" not in monitor["query"]:
        raise IntakeError(400, f"Monitor {monitor['id']} is not an anomaly monitor; it has no expected band")
    frame = await run_in_threadpool(anomaly_band, monitors.metrics.store, monitor["query"], start, end, kinds=monitors.metrics.kind)
    frame = frame.astype(object).where(frame.notna(), None)
    return json_response({"monitor_id": monitor["id"], "columns": list(frame.columns),
                          "points": [[_plain(v) for v in row] for row in frame.itertuples(index=False)]})


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def routes(monitors: Monitors) -> list[Route]:
    return [
        # fixed monitor paths first, so that they never read as a monitor id
        route("/api/v1/monitor/validate", "POST", validate_monitor, monitors, app_key=True),
        route("/api/v1/monitor/can_delete", "GET", can_delete_monitors, monitors, app_key=True),
        route("/api/v1/monitor", "POST", create_monitor, monitors, app_key=True),
        route("/api/v1/monitor", "GET", list_monitors, monitors, app_key=True),
        route("/api/v1/monitor/{monitor_id:int}", "GET", get_monitor, monitors, app_key=True),
        route("/api/v1/monitor/{monitor_id:int}", "PUT", update_monitor, monitors, app_key=True),
        route("/api/v1/monitor/{monitor_id:int}", "DELETE", delete_monitor, monitors, app_key=True),
        route("/api/v1/monitor/{monitor_id:int}/validate", "POST", validate_existing_monitor, monitors, app_key=True),
        route("/sandbox/evaluate", "POST", evaluate_now, monitors, app_key=True),
        route("/sandbox/evaluation", "GET", evaluation_status, monitors, app_key=True),
        route("/sandbox/monitors/{monitor_id:int}/history", "GET", monitor_history, monitors, app_key=True),
        route("/sandbox/monitors/{monitor_id:int}/band", "GET", monitor_band, monitors, app_key=True),
    ]
