"""Monitor routes of the sandbox: Datadog's v1 CRUD shapes and refusals, and the sandbox-only evaluation routes.

Handlers parse the request, call the backend (backend.py: storage, filtering, paging, the evaluation records) with
keyword arguments, and render Datadog's shapes; validation lives in model.py. Monitors of a type the sandbox does
not evaluate (unevaluated.py) are stored like Datadog's, and say so in `state.sandbox_evaluation` when group
states are asked for, so nothing sits silently unevaluated. Sandbox-only routes (Datadog has no equivalent; keys
as for the API):
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
from autonomic_lib.sandbox.http.params import EPOCH_SECONDS, MAX_EPOCH_S, flag, int_param, parse_int
from autonomic_lib.sandbox.http.routing import error_response, json_body, json_response, route
from autonomic_lib.sandbox.monitors import model as mm
from autonomic_lib.sandbox.monitors.backend import Monitors
from autonomic_lib.sandbox.monitors.service import MonitorEvaluator
from autonomic_lib.sandbox.monitors.unevaluated import is_evaluated, not_evaluated_reason

_GROUP_STATES = {"all": None, "alert": "Alert", "warn": "Warn", "no data": "No Data"}
MAX_BAND_SECONDS = 31 * 86400  # a sandbox bound: a month of minutes; a year took 2 s, 8000 years ran out of memory


# ---------------------------------------------------------------------------------------------------- definitions
def _monitor_404() -> Response:
    return error_response(404, "Monitor not found")


def _monitor_view(doc: dict[str, Any], request: Request, monitors: Monitors) -> dict[str, Any]:
    """A stored monitor as the API shows it: group states only when asked for (group_states=...), the downtimes
    silencing it with with_downtimes=true."""
    view = {k: v for k, v in doc.items() if k != "state"}
    if flag(request, "with_downtimes"):
        view["matching_downtimes"] = monitors.matching_downtimes(doc)
    wanted = _group_states(request)
    if wanted is not None:
        groups = (doc.get("state") or {}).get("groups") or {}
        view["state"] = {"groups": {name: g for name, g in groups.items()
                                    if "all" in wanted or g.get("status") in {_GROUP_STATES[w] for w in wanted}}}
        if not is_evaluated(doc):  # SANDBOX-ONLY field: why this monitor never changes state
            view["state"]["sandbox_evaluation"] = {"evaluated": False, "reason": not_evaluated_reason(doc)}
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


def _monitor_id(request: Request) -> int:
    return int(request.path_params["monitor_id"])


async def create_monitor(request: Request, monitors: Monitors) -> Response:
    doc = monitors.create(await json_body(request))
    return json_response(_monitor_view(doc, request, monitors))


async def get_monitor(request: Request, monitors: Monitors) -> Response:
    doc = monitors.get(_monitor_id(request))
    return json_response(_monitor_view(doc, request, monitors)) if doc else _monitor_404()


async def update_monitor(request: Request, monitors: Monitors) -> Response:
    """A partial update (the backend's rules); a missing monitor is a 404 whatever the body."""
    monitor_id = _monitor_id(request)
    if monitors.get(monitor_id) is None:
        return _monitor_404()
    doc = monitors.update(monitor_id, await json_body(request))
    return json_response(_monitor_view(doc, request, monitors)) if doc else _monitor_404()


async def delete_monitor(request: Request, monitors: Monitors) -> Response:
    monitor_id = _monitor_id(request)
    if not monitors.delete(monitor_id):
        return _monitor_404()
    return json_response({"deleted_monitor_id": monitor_id})


async def list_monitors(request: Request, monitors: Monitors) -> Response:
    params = request.query_params
    docs = monitors.search(name=params.get("name") or "", tags=_comma_list(params.get("tags")),
                           monitor_tags=_comma_list(params.get("monitor_tags")),
                           id_offset=int_param(request, "id_offset", 0) or 0, page=int_param(request, "page"),
                           page_size=int_param(request, "page_size", low=1))
    return json_response([_monitor_view(d, request, monitors) for d in docs])


async def search_monitors(request: Request, monitors: Monitors) -> Response:
    rows, metadata, counts = await _find(request, monitors, groups=False)
    fields = ("id", "name", "query", "type", "status", "tags", "classification", "metrics", "scopes",
              "last_triggered_ts", "priority")
    found = [{**{k: row[k] for k in fields}, "org_id": ORG_ID, "creator": dict(SANDBOX_USER), "quality_issues": [],
              "notifications": [{"handle": h, "name": h} for h in row["notifications"]]} for row in rows]
    return json_response({"monitors": found, "metadata": metadata, "counts": counts})


async def search_monitor_groups(request: Request, monitors: Monitors) -> Response:
    rows, metadata, counts = await _find(request, monitors, groups=True)
    fields = ("group", "group_tags", "last_nodata_ts", "last_triggered_ts", "status", "muted")
    return json_response({"groups": [{**{k: row[k] for k in fields}, "monitor_id": row["id"],
                                      "monitor_name": row["name"]} for row in rows],
                          "metadata": metadata, "counts": counts})


async def _find(request: Request, monitors: Monitors, *, groups: bool) -> Any:
    return await run_in_threadpool(monitors.find, query=request.query_params.get("query") or "", groups=groups,
                                   page=int_param(request, "page", 0, high=1_000_000),
                                   per_page=int_param(request, "per_page", low=1, high=1000),
                                   sort=request.query_params.get("sort"))


def _comma_list(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


async def validate_monitor(request: Request, monitors: Monitors) -> Response:
    mm.normalise_monitor(await json_body(request))
    return json_response({})


async def validate_existing_monitor(request: Request, monitors: Monitors) -> Response:
    if monitors.get(_monitor_id(request)) is None:
        return _monitor_404()
    mm.normalise_monitor(await json_body(request))
    return json_response({})


async def can_delete_monitors(request: Request, monitors: Monitors) -> Response:
    """Nothing in the sandbox references a monitor (no composites, no SLOs), so every existing one may go."""
    text = request.query_params.get("monitor_ids") or ""
    ids = [parse_int(part.strip(), "monitor_ids", what="a comma list of monitor ids") for part in text.split(",")
           if part.strip()]
    if not ids:
        raise IntakeError(400, "Missing required parameter 'monitor_ids'")
    ok = [i for i in ids if monitors.get(i) is not None]
    errors = {str(i): ["Monitor not found"] for i in ids if i not in ok}
    return json_response({"data": {"ok": ok}, "errors": errors or None})


# ------------------------------------------------------------------------------------ evaluation (sandbox-only)
def _timestamp_param(request: Request, name: str) -> int | None:
    if not request.query_params.get(name):
        return None
    return int_param(request, name, high=MAX_EPOCH_S, what=EPOCH_SECONDS)


async def evaluate_now(request: Request, evaluator: MonitorEvaluator) -> Response:
    return json_response({"evaluated": await run_in_threadpool(evaluator.run)})


async def evaluation_status(request: Request, monitors: Monitors) -> Response:
    return json_response({"monitors": await run_in_threadpool(monitors.evaluation_status)})


async def monitor_history(request: Request, monitors: Monitors) -> Response:
    monitor_id = _monitor_id(request)
    if monitors.get(monitor_id) is None:
        return _monitor_404()
    rows = await run_in_threadpool(monitors.history, monitor_id, group=request.query_params.get("group"),
                                   since=_timestamp_param(request, "from"), until=_timestamp_param(request, "to"))
    return json_response({"monitor_id": monitor_id, "transitions": rows})


async def monitor_band(request: Request, monitors: Monitors) -> Response:
    monitor = monitors.get(_monitor_id(request))
    if monitor is None:
        return _monitor_404()
    start, end = _timestamp_param(request, "from"), _timestamp_param(request, "to")
    if start is None or end is None:
        raise IntakeError(400, "The parameters 'from' and 'to' (epoch seconds) are required")
    if not 0 <= end - start <= MAX_BAND_SECONDS:
        raise IntakeError(400, f"The parameters 'from' and 'to' must span 0 to {MAX_BAND_SECONDS} seconds (31 days), "
                               f"not {end - start}")
    frame = await run_in_threadpool(monitors.expected_band, monitor, start=start, end=end)
    frame = frame.astype(object).where(frame.notna(), None)
    return json_response({"monitor_id": monitor["id"], "columns": list(frame.columns),
                          "points": [[_plain(v) for v in row] for row in frame.itertuples(index=False)]})


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def routes(monitors: Monitors, evaluator: MonitorEvaluator) -> list[Route]:
    return [
        # fixed monitor paths first, so that they never read as a monitor id
        route("/api/v1/monitor/validate", "POST", validate_monitor, monitors, app_key=True),
        route("/api/v1/monitor/can_delete", "GET", can_delete_monitors, monitors, app_key=True),
        route("/api/v1/monitor/search", "GET", search_monitors, monitors, app_key=True),
        route("/api/v1/monitor/groups/search", "GET", search_monitor_groups, monitors, app_key=True),
        route("/api/v1/monitor", "POST", create_monitor, monitors, app_key=True),
        route("/api/v1/monitor", "GET", list_monitors, monitors, app_key=True),
        route("/api/v1/monitor/{monitor_id:int}", "GET", get_monitor, monitors, app_key=True),
        route("/api/v1/monitor/{monitor_id:int}", "PUT", update_monitor, monitors, app_key=True),
        route("/api/v1/monitor/{monitor_id:int}", "DELETE", delete_monitor, monitors, app_key=True),
        route("/api/v1/monitor/{monitor_id:int}/validate", "POST", validate_existing_monitor, monitors, app_key=True),
        route("/sandbox/evaluate", "POST", evaluate_now, evaluator, app_key=True),
        route("/sandbox/evaluation", "GET", evaluation_status, monitors, app_key=True),
        route("/sandbox/monitors/{monitor_id:int}/history", "GET", monitor_history, monitors, app_key=True),
        route("/sandbox/monitors/{monitor_id:int}/band", "GET", monitor_band, monitors, app_key=True),
    ]
