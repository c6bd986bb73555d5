"""Downtime routes: Datadog's v2 `/api/v2/downtime` (create, list, get, update, cancel) and a monitor's matches.

Shapes: the client's v2 models (`DowntimeResponse`, `ListDowntimesResponse`, `MonitorDowntimeMatchResponse`) and
the recorded answers: cancel is `204` with no body, also for an already canceled downtime; an unknown id is `404`
`{"errors": ["Downtime <id> not found"]}` (cassettes `test_cancel_a_downtime_returns_ok_response`,
`..._downtime_not_found_response`). `include=created_by,monitor` adds the user and monitor resources.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.downtimes.backend import MAX_PAGE_LIMIT, Downtimes, creator
from autonomic_lib.sandbox.downtimes.model import current_window
from autonomic_lib.sandbox.http.identity import SANDBOX_USER_UUID
from autonomic_lib.sandbox.http.params import flag, int_param, iso_time
from autonomic_lib.sandbox.http.routing import error_response, json_body, json_response, route

_INCLUDES = ("created_by", "monitor")


def _time(ts: float | None) -> str | None:
    return None if ts is None else iso_time(ts)


def _schedule(doc: dict[str, Any], downtimes: Downtimes) -> dict[str, Any]:
    schedule = doc["schedule"]
    if "recurrences" not in schedule:
        return {"start": _time(schedule["start"]), "end": _time(schedule["end"])}
    current = current_window(doc, downtimes.clock())
    view: dict[str, Any] = {"recurrences": schedule["recurrences"], "timezone": schedule["timezone"]}
    if current is not None:
        view["current_downtime"] = {"start": _time(current.start), "end": _time(current.end)}
    return view


def _resource(doc: dict[str, Any], downtimes: Downtimes) -> dict[str, Any]:
    attributes = {k: doc[k] for k in ("display_timezone", "message", "monitor_identifier",
                                      "mute_first_recovery_notification", "notify_end_states", "notify_end_types",
                                      "scope")}
    monitor_id = doc["monitor_identifier"].get("monitor_id")
    return {"type": "downtime", "id": doc["id"],
            "attributes": {**attributes, "canceled": _time(doc.get("canceled_at")), "created": _time(doc["created"]),
                           "modified": _time(doc["modified"]), "schedule": _schedule(doc, downtimes),
                           "status": downtimes.status(doc)},
            "relationships": {"created_by": {"data": {"type": "users", "id": SANDBOX_USER_UUID}},
                              "monitor": {"data": None if monitor_id is None
                                          else {"type": "monitors", "id": str(monitor_id)}}}}


def _included(docs: list[dict[str, Any]], request: Request, downtimes: Downtimes) -> list[dict[str, Any]] | None:
    text = request.query_params.get("include")
    if text is None:
        return None
    wanted = {part.strip() for part in text.split(",") if part.strip()}
    if unknown := wanted - set(_INCLUDES):
        raise IntakeError(400, f"Invalid parameter 'include': {sorted(unknown)[0][:40]!r}; expected a comma list "
                               f"of {', '.join(_INCLUDES)}")
    out: list[dict[str, Any]] = [creator()] if "created_by" in wanted and docs else []
    if "monitor" in wanted:
        ids = dict.fromkeys(d["monitor_identifier"]["monitor_id"] for d in docs
                            if "monitor_id" in d["monitor_identifier"])
        for monitor_id in ids:
            monitor = downtimes.monitors.get(monitor_id)
            if monitor is not None:
                out.append({"type": "monitors", "id": monitor_id, "attributes": {"name": monitor.get("name", "")}})
    return out


def _one(doc: dict[str, Any], request: Request, downtimes: Downtimes) -> Response:
    body: dict[str, Any] = {"data": _resource(doc, downtimes)}
    if (included := _included([doc], request, downtimes)) is not None:
        body["included"] = included
    return json_response(body)


def _not_found(downtime_id: str) -> Response:
    return error_response(404, f"Downtime {downtime_id[:64]} not found")


async def create_downtime(request: Request, downtimes: Downtimes) -> Response:
    return _one(downtimes.create(await json_body(request)), request, downtimes)


async def get_downtime(request: Request, downtimes: Downtimes) -> Response:
    downtime_id = request.path_params["downtime_id"]
    doc = downtimes.get(downtime_id)
    return _one(doc, request, downtimes) if doc else _not_found(downtime_id)


async def update_downtime(request: Request, downtimes: Downtimes) -> Response:
    downtime_id = request.path_params["downtime_id"]
    if downtimes.get(downtime_id) is None:
        return _not_found(downtime_id)
    doc = downtimes.update(downtime_id, await json_body(request))
    return _one(doc, request, downtimes) if doc else _not_found(downtime_id)


async def cancel_downtime(request: Request, downtimes: Downtimes) -> Response:
    downtime_id = request.path_params["downtime_id"]
    if not downtimes.cancel(downtime_id):
        return _not_found(downtime_id)
    return Response(status_code=204)


async def list_downtimes(request: Request, downtimes: Downtimes) -> Response:
    docs, total = downtimes.search(current_only=bool(flag(request, "current_only")),
                                   offset=int_param(request, "page[offset]", 0),
                                   limit=int_param(request, "page[limit]", low=1, high=MAX_PAGE_LIMIT))
    body: dict[str, Any] = {"data": [_resource(d, downtimes) for d in docs],
                            "meta": {"page": {"total_filtered_count": total}}}
    if (included := _included(docs, request, downtimes)) is not None:
        body["included"] = included
    return json_response(body)


async def monitor_downtime_matches(request: Request, downtimes: Downtimes) -> Response:
    """Active and scheduled downtimes of one monitor, with the groups each silences (GET
    /api/v2/monitor/{monitor_id}/downtime_matches). An unknown monitor has none: the client's example asks for
    monitor 9223372036854775807 and titles its answer "OK"."""
    monitor = downtimes.monitors.get(int(request.path_params["monitor_id"]))
    offset = int_param(request, "page[offset]", 0)
    limit = int_param(request, "page[limit]", 30, low=1, high=MAX_PAGE_LIMIT)
    matches = downtimes.matching(monitor) if monitor is not None else []
    now = downtimes.clock()
    data = []
    for doc, groups in matches[offset:offset + limit]:
        window = current_window(doc, now)
        start, end = (window.start, window.end) if window else (None, None)
        data.append({"type": "downtime_match", "id": doc["id"], "attributes": {
            "scope": doc["scope"], "groups": groups, "start": _time(start), "end": _time(end)}})
    return json_response({"data": data, "meta": {"page": {"total_filtered_count": len(matches)}}})


def routes(downtimes: Downtimes) -> list[Route]:
    return [
        route("/api/v2/downtime", "POST", create_downtime, downtimes, app_key=True),
        route("/api/v2/downtime", "GET", list_downtimes, downtimes, app_key=True),
        route("/api/v2/downtime/{downtime_id}", "GET", get_downtime, downtimes, app_key=True),
        route("/api/v2/downtime/{downtime_id}", "PATCH", update_downtime, downtimes, app_key=True),
        route("/api/v2/downtime/{downtime_id}", "DELETE", cancel_downtime, downtimes, app_key=True),
        route("/api/v2/monitor/{monitor_id:int}/downtime_matches", "GET", monitor_downtime_matches, downtimes,
              app_key=True),
    ]
