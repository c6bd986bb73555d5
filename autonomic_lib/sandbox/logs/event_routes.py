"""Event routes of the v2 API: post (202), list (GET with filter[...] and page[...]), search (POST), get.

The events are v1's (logs/backend.py), shown and taken as v2 shapes (events_v2.py). A search runs the log search
syntax over each event's title, message, tags and attributes (search.py); its paging is a cursor (the last event's
uid), as the logs search's is.
"""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.http.params import int_field, int_param
from autonomic_lib.sandbox.http.routing import error_response, json_body, json_response, route
from autonomic_lib.sandbox.logs.backend import Logs
from autonomic_lib.sandbox.logs.events_v2 import created_json, event_fields, event_json, uid_key
from autonomic_lib.sandbox.logs.routes import event_token
from autonomic_lib.sandbox.logs.search import parse_time

MAX_PAGE_LIMIT = 1000  # EventsRequestPage.limit's documented maximum
DEFAULT_PAGE_LIMIT = 10


async def create_event(request: Request, logs: Logs) -> Response:
    """POST /api/v2/events: 202 EventCreateResponsePayload; the event is also v1's (GET /api/v1/events)."""
    fields = event_fields(await json_body(request), int(logs.clock()))
    event = await run_in_threadpool(lambda: logs.add_event(**fields))
    link = f"{request.base_url}event/event?" + urlencode({"id": event["id"], "token": event_token(request,
                                                                                                    event["id"])})
    return json_response(created_json(event, link), 202)


async def search_events(request: Request, logs: Logs) -> Response:
    """POST /api/v2/events/search with an EventsListRequest body (every part optional)."""
    body = await json_body(request, blank={})
    if not isinstance(body, dict):
        raise IntakeError(400, "The request body must be an EventsListRequest object")
    filt, page = body.get("filter") or {}, body.get("page") or {}
    if not isinstance(filt, dict) or not isinstance(page, dict):
        raise IntakeError(400, "'filter' and 'page' must be objects")
    return await _search(request, logs, filt.get("query"), filt.get("from"), filt.get("to"), body.get("sort"),
                         page.get("limit", DEFAULT_PAGE_LIMIT), page.get("cursor"))


async def list_events(request: Request, logs: Logs) -> Response:
    """GET /api/v2/events: the same search from query parameters (where `links.next` points)."""
    p = request.query_params
    limit = int_param(request, "page[limit]", DEFAULT_PAGE_LIMIT, low=1, high=MAX_PAGE_LIMIT)
    return await _search(request, logs, p.get("filter[query]"), p.get("filter[from]"), p.get("filter[to]"),
                         p.get("sort"), limit, p.get("page[cursor]"))


async def _search(request: Request, logs: Logs, query: Any, start: Any, end: Any, sort: Any, limit: Any,
                  cursor: Any) -> Response:
    for name, value in (("filter.query", query), ("filter.from", start), ("filter.to", end), ("page.cursor", cursor)):
        if value is not None and not isinstance(value, str):
            raise IntakeError(400, f"{name} must be a string")
    int_field(limit, "page.limit", low=1, high=MAX_PAGE_LIMIT)
    sort = sort or "timestamp"  # UNCONFIRMED default; the client's own examples ask for "timestamp" (oldest first)
    if not isinstance(sort, str) or sort not in ("timestamp", "-timestamp"):
        raise IntakeError(400, f"sort must be 'timestamp' or '-timestamp', got {str(sort)[:40]!r}")
    after = None
    if cursor:
        try:
            after = uid_key(orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))["after"])
        except (ValueError, TypeError, KeyError, orjson.JSONDecodeError):
            after = None
        if after is None:
            raise IntakeError(400, f"page.cursor {cursor[:40]!r} is not a cursor this sandbox returned")
    started, now = time.perf_counter(), logs.now_ms()
    lo, hi = parse_time(start or "now-15m", now, "filter.from"), parse_time(end or "now", now, "filter.to")
    if hi < lo:
        raise IntakeError(400, f"filter.to ({end}) is earlier than filter.from ({start})")
    events, more = await run_in_threadpool(lambda: logs.search_events(
        query=query, start_ms=lo, end_ms=hi, newest_first=sort == "-timestamp", limit=limit, after=after))
    result: dict[str, Any] = {"data": [event_json(e) for e in events]}
    if not events:
        return json_response(result)  # as recorded: the page past the last is `{"data": []}`
    result["meta"] = {"elapsed": int((time.perf_counter() - started) * 1000), "request_id": uuid.uuid4().hex,
                      "status": "done"}
    if more:
        token = base64.urlsafe_b64encode(orjson.dumps({"after": result["data"][-1]["id"]})).decode().rstrip("=")
        result["meta"]["page"] = {"after": token}
        params = {"filter[query]": query, "filter[from]": start, "filter[to]": end, "sort": sort,
                  "page[cursor]": token, "page[limit]": limit}
        result["links"] = {"next": f"{request.base_url}api/v2/events?"
                                   + urlencode({k: v for k, v in params.items() if v is not None})}
    return json_response(result)


async def get_event(request: Request, logs: Logs) -> Response:
    """GET /api/v2/events/{event_id}: V2EventResponse by the event's uid, or 404."""
    event = await run_in_threadpool(logs.event_by_uid, request.path_params["event_id"])
    if event is None:
        return error_response(404, "Event not found")
    return json_response({"data": event_json(event)})


def routes(logs: Logs) -> list[Route]:
    return [
        route("/api/v2/events", "POST", create_event, logs, app_key=False),
        route("/api/v2/events", "GET", list_events, logs, app_key=True),
        route("/api/v2/events/search", "POST", search_events, logs, app_key=True),
        route("/api/v2/events/{event_id}", "GET", get_event, logs, app_key=True),
    ]
