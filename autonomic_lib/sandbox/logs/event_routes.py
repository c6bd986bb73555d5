"""Event routes of the v2 API: post (202), list (GET with filter[...] and page[...]), search (POST), get.

The events are v1's (logs/backend.py), shown and taken as v2 shapes (events_v2.py). A search runs the log search
syntax over each event's title, message, tags and attributes (search.py); its paging is a cursor (the last event's
uid), as the logs search's is.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.http.params import int_param
from autonomic_lib.sandbox.http.routing import error_response, json_body, json_response, route
from autonomic_lib.sandbox.logs.backend import Logs
from autonomic_lib.sandbox.logs.events_v2 import created_json, event_fields, event_json, event_uid, uid_key
from autonomic_lib.sandbox.logs.paging import CursorSearch, SearchRequest
from autonomic_lib.sandbox.logs.routes import event_token

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
    # the default order is UNCONFIRMED; the client's own examples ask for "timestamp" (oldest first)
    search = CursorSearch(path="api/v2/events", now_ms=logs.now_ms, max_limit=MAX_PAGE_LIMIT, default_sort="timestamp",
                          id_of=event_uid, key_of=uid_key, search=logs.search_events)
    events, meta, next_url = await search.answer(request, SearchRequest(query, start, end, sort, limit, cursor))
    if not events:
        return json_response({"data": []})  # as recorded: the page past the last is `{"data": []}`
    result: dict[str, Any] = {"data": [event_json(e) for e in events], "meta": meta}
    if next_url:
        result["links"] = {"next": next_url}
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
