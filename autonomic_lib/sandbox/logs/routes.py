"""Log and event routes of the sandbox: logs intake (v2 and the legacy /v1/input) and search, events post/list/get.

Logs follow https://docs.datadoghq.com/api/latest/logs/ and the client's `submit_log`/`list_logs`; events
follow the v1 spec and the client's recorded cassettes. Handlers parse and check the request, call the backend
(backend.py: storage, search, event listing) and render Datadog's shapes. A refused payload stores nothing (one
transaction). Where Datadog's behaviour is unconfirmed the sandbox refuses loudly (400 naming the item) rather than
drop data quietly: more than 1000 logs in one array, timestamps over 18 h old or 2 h ahead.

Every size of a log is bounded (LOG_BOUNDS_DOC, "Custom log forwarding" notes, says what Datadog documents; each
constant below says whether its value and its treatment are confirmed or a sandbox choice).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import time
import uuid
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.http.body import IntakeLimits, decode_body, read_body
from autonomic_lib.sandbox.http.params import INT64_MAX, MAX_EPOCH_S, epoch_param, int_field, int_param
from autonomic_lib.sandbox.http.routing import (
    ErrorStyle,
    Handler,
    Keys,
    error_response,
    internal_error,
    json_body,
    json_response,
    public_route,
    route,
)
from autonomic_lib.sandbox.logs.analytics import parse_aggregation
from autonomic_lib.sandbox.logs.backend import Logs, log_key
from autonomic_lib.sandbox.logs.list_v1 import list_logs_v1
from autonomic_lib.sandbox.logs.paging import CursorSearch, SearchRequest
from autonomic_lib.sandbox.logs.search import iso_ms, normalize_status, parse_time

JSON = "application/json"  # the logs intake answers its JSON:API-shaped errors as plain JSON, as recorded
LOG_LIMITS = IntakeLimits(max_compressed=5_242_880, max_decompressed=5_242_880)  # "5MB uncompressed"
MAX_LOGS_PER_PAYLOAD = 1000
MAX_SEARCH_LIMIT = 1000  # page.limit of a log search
MAX_LOG_BYTES = 1_048_576  # larger logs are accepted and truncated, as Datadog documents
LOG_BOUNDS_DOC = "https://docs.datadoghq.com/logs/log_collection/"
# Confirmed value and treatment: "Tags can be up to 200 characters long" (docs.datadoghq.com/getting_started/tagging/),
# lower-cased and cut there, as before. The logs page (LOG_BOUNDS_DOC) says 256 for log tags; the stricter 200 is kept.
MAX_TAG_CHARS = 200
# Confirmed values, sandbox treatment: LOG_BOUNDS_DOC says a log "should not have more than 100 tags" and "should
# contain less than 256 attributes" whose "keys should be less than 50 characters, nested in less than 10 successive
# levels", and that logs that do not comply "might be transformed or truncated": how is not documented, so the
# sandbox refuses them (400 naming the attribute) instead of guessing. (Every version of the page found says 10
# levels, not 20.) An attribute is a path of object keys (`http.status_code`; array items share their array's path);
# it is nested as many levels as it has keys and array items above it (`a` 0, `a.b` 1, `a.b[0]` 2).
MAX_TAGS, MAX_ATTRIBUTES, MAX_KEY_CHARS, MAX_LEVELS = 100, 255, 49, 10
# Confirmed value, sandbox treatment: LOG_BOUNDS_DOC: values "should be less than 1024 characters if promoted as a
# facet"; service, host and source always are facets, so the sandbox cuts them there (their tags at MAX_TAG_CHARS).
MAX_RESERVED_CHARS = 1024
LOG_PAST_MS, LOG_FUTURE_MS = 18 * 3_600_000, 2 * 3_600_000  # "18 hours in the past and two hours in the future"
EVENT_PAST_S, EVENT_TEXT_MAX, EVENT_KEY_MAX = 18 * 3600, 4000, 100
_DATE_ATTRS = ("timestamp", "date", "_timestamp", "Timestamp", "eventTime", "published_date")  # Datadog's defaults
_ALERT_TYPES = {"error", "warning", "info", "success", "user_update", "recommendation", "snapshot"}


# ------------------------------------------------------------------------------------------ logs intake
def _intake_route(path: str, handler: Handler[Logs], logs: Logs, *, legacy: bool) -> Route:
    """The logs intake takes the API key from the DD-API-KEY header, the path (/v1/input/<key>) or ?dd-api-key=.

    Its own wrapper, because its errors have their own shape (v2: HTTPLogErrors objects; legacy: {code, message})
    and because the path may hold the key: nothing here ever logs the URL.
    """
    style: ErrorStyle = "legacy" if legacy else "jsonapi"

    async def endpoint(request: Request) -> Response:
        keys: Keys = request.app.state.keys
        key = (request.headers.get("dd-api-key") or request.path_params.get("api_key")
               or request.query_params.get("dd-api-key") or "")
        if not keys.api_key_ok(key):
            return error_response(403, "API key is missing or invalid", style=style, media_type=JSON)
        try:
            return await handler(request, logs)
        except IntakeError as exc:
            return error_response(exc.status, *exc.messages, style=style, media_type=JSON)
        except Exception as exc:  # a bug: logged with the key in the path masked
            return internal_error(request, exc, style, media_type=JSON)

    return Route(path, endpoint, methods=["POST"])


def submit_logs(*, legacy: bool) -> Handler[Logs]:
    """POST /api/v2/logs (202 `{}`) and the legacy POST /v1/input (200 `{}`): same storage."""

    async def handler(request: Request, logs: Logs) -> Response:
        body, headers, params = await read_body(request, LOG_LIMITS.max_compressed), request.headers, request.query_params
        defaults = {k: params[k] for k in ("ddsource", "service", "hostname", "ddtags") if params.get(k)}
        if params.get("host"):
            defaults.setdefault("hostname", params["host"])

        def ingest() -> None:
            raw = decode_body(body, headers.get("content-encoding"), LOG_LIMITS, allow_zstd=False)
            items = _read_items(raw, headers.get("content-type", "application/json"))
            now = logs.now_ms()
            logs.ingest([_normalize(item, f"logs[{i}]", defaults, now) for i, item in enumerate(items)])

        await run_in_threadpool(ingest)
        return json_response({}, 200 if legacy else 202)

    return handler


def _read_items(raw: bytes, content_type: str) -> list[Any]:
    """JSON (an array, or one object) or text/plain (one log a line). More than 1000 entries is a 400.

    Datadog documents 1000 entries as the maximum but not what it answers past it; the sandbox refuses.
    """
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/logplex-1":
        raise IntakeError(400, "Content-Type application/logplex-1 is not supported by the sandbox; send JSON or "
                               "text/plain")
    if kind == "text/plain":
        items: Any = [line for line in raw.decode("utf-8", "replace").splitlines() if line.strip()]
    else:
        try:
            items = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise IntakeError(400, f"Invalid JSON in request body: {exc}") from None
        items = items if isinstance(items, list) else [items]
    if len(items) > MAX_LOGS_PER_PAYLOAD:
        raise IntakeError(400, f"Too many logs in one payload: {len(items)} entries exceed the maximum array size of "
                               f"{MAX_LOGS_PER_PAYLOAD}; split the batch")
    return items


def _normalize(item: Any, where: str, defaults: dict[str, str], now: int) -> dict[str, Any]:
    """One submitted log as stored: reserved fields, normalised status and tags, the rest as attributes."""
    if isinstance(item, str):
        item = {"message": item}
    if not isinstance(item, dict):
        raise IntakeError(400, f"{where} must be an object (or a string message), got {type(item).__name__}")
    _check_shape(item, where)
    attrs = dict(item)
    reserved = {name: attrs.pop(name) for name in ("ddsource", "ddtags", "hostname", "service") if name in attrs}
    if "hostname" not in reserved and isinstance(attrs.get("host"), str):
        reserved["hostname"] = attrs.pop("host")
    for name, value in defaults.items():  # query parameters apply to every log; ?ddtags= adds to the item's own
        own = reserved.get(name)
        reserved[name] = [value, *(own if isinstance(own, list) else [own or ""])] if name == "ddtags" else own or value
    message = next((attrs.pop(n) for n in ("message", "msg") if isinstance(attrs.get(n), str)), "")
    status = next((attrs.pop(n) for n in ("status", "level", "severity") if isinstance(attrs.get(n), (str, int))),
                  "info")
    ts = _timestamp(attrs, where, now)
    doc: dict[str, Any] = {"k": ts, "message": message, "status": normalize_status(status)}
    tags: dict[str, None] = {}
    raw_tags = reserved.pop("ddtags", "")
    for part in raw_tags if isinstance(raw_tags, list) else [raw_tags]:
        for tag in str(part).split(","):
            if tag.strip():
                tags[tag.strip().lower()[:MAX_TAG_CHARS]] = None  # Datadog lower-cases tags and cuts them
    if len(tags) > MAX_TAGS:
        raise IntakeError(400, f"{where}.ddtags has {len(tags)} tags; Datadog documents at most {MAX_TAGS} tags per "
                               f"log ({LOG_BOUNDS_DOC})")
    for field, tag in (("service", "service"), ("ddsource", "source"), ("hostname", "host")):
        if reserved.get(field) not in (None, ""):
            doc[field] = str(reserved[field])[:MAX_RESERVED_CHARS]
            tags[f"{tag}:{doc[field].lower()}"[:MAX_TAG_CHARS]] = None
    doc["tags"], doc["attributes"] = list(tags), attrs
    return _fit(doc)


def _check_shape(item: dict[str, Any], where: str) -> None:
    """Refuse a log past Datadog's documented attribute bounds (MAX_ATTRIBUTES, MAX_KEY_CHARS, MAX_LEVELS).

    One walk with its own stack, no recursion, in time linear in the log's size: it runs before anything recursive
    (str() of a value, orjson.dumps, which gives up at 255 levels) sees the log.
    """
    paths: set[str] = set()
    stack: list[tuple[Any, str, int]] = [(item, "", 0)]
    while stack:
        node, path, level = stack.pop()
        entries = ((f"{path}.{k}" if path else k, k, v) for k, v in node.items()) if isinstance(node, dict) \
            else ((path, None, v) for v in node)
        for child, key, value in entries:
            if key is not None and len(key) > MAX_KEY_CHARS:
                raise IntakeError(400, f"{where}: attribute key {key[:60]!r}... at {path or 'top level'} has "
                                       f"{len(key)} characters; Datadog documents keys of less than "
                                       f"{MAX_KEY_CHARS + 1} ({LOG_BOUNDS_DOC})")
            if level >= MAX_LEVELS:
                raise IntakeError(400, f"{where}.{child[:200]} is nested {level} levels deep; Datadog documents "
                                       f"attributes nested in less than {MAX_LEVELS} levels ({LOG_BOUNDS_DOC})")
            if isinstance(value, (dict, list)) and value:
                stack.append((value, child, level + 1))
            elif child not in paths:
                paths.add(child)
                if len(paths) > MAX_ATTRIBUTES:
                    raise IntakeError(400, f"{where} has more than {MAX_ATTRIBUTES} attributes; Datadog documents "
                                           f"less than {MAX_ATTRIBUTES + 1} per log ({LOG_BOUNDS_DOC})")


def _timestamp(attrs: dict[str, Any], where: str, now: int) -> int:
    """The log's time in epoch ms from Datadog's default date attributes (ms or ISO-8601), else now."""
    for name in _DATE_ATTRS:
        if name not in attrs:
            continue
        value, ms = attrs[name], None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            ms = int(value)
        elif isinstance(value, str):
            try:
                ms = parse_time(value, now, f"{where}.{name}") if not value.startswith("now") else None
            except IntakeError:
                ms = None
        if ms is None:
            if name == "timestamp":
                raise IntakeError(400, f"{where}.timestamp {value!r:.60} is not epoch milliseconds or ISO-8601")
            continue  # another attribute that merely shares a date name stays an attribute
        del attrs[name]
        if ms < now - LOG_PAST_MS:
            raise IntakeError(400, f"{where}.{name} {value!r:.60} is more than 18 hours in the past (timestamps are "
                                   "epoch milliseconds or ISO-8601)")
        if ms > now + LOG_FUTURE_MS:
            raise IntakeError(400, f"{where}.{name} {value!r:.60} is more than 2 hours in the future")
        return ms
    return now


def _fit(doc: dict[str, Any]) -> dict[str, Any]:
    """Truncate a log over MAX_LOG_BYTES (as JSON) to fit, as Datadog does (accepted, cut, a 2xx); one pass, no loop.

    The rule: the longest strings are cut first, down to one common length, the reserved fields (message, service,
    host, source) and the attributes' string values alike, just enough for the log to fit. Only when emptying every
    string would not be enough (the bulk is numbers, keys, structure) are whole attributes dropped, the largest
    first, until the strings left can make up the rest. Each step measures once and cuts once; what is left once
    every attribute is dropped (at most MAX_TAGS tags of MAX_TAG_CHARS, reserved fields of MAX_RESERVED_CHARS) fits
    with the message emptied, so the result always fits.
    """
    over = len(orjson.dumps(doc)) - MAX_LOG_BYTES
    if over <= 0:
        return doc
    slots = _string_slots(doc, doc["attributes"])
    if sum(cost for cost, _, _ in slots) < over:
        top = sorted(((len(orjson.dumps({k: v})) - 2, k) for k, v in doc["attributes"].items()), reverse=True)
        kept_strings = sum(cost for cost, _, _ in _string_slots(doc, {}))
        for cost, name in top:  # an attribute's "key":value; its comma, also gone, is not counted: a safe side
            if over <= kept_strings:
                break
            del doc["attributes"][name]
            over -= cost
        slots = _string_slots(doc, doc["attributes"])
    if over > 0:
        _cut_longest(slots, over)
    return doc


Slot = tuple[int, Any, Any]  # (JSON bytes of a string's content, its container, its key or index there)


def _string_slots(doc: dict[str, Any], attributes: dict[str, Any]) -> list[Slot]:
    """Every string of the log that may be cut: the reserved fields and the string values within `attributes`."""
    slots: list[Slot] = [(len(orjson.dumps(doc[k])) - 2, doc, k) for k in ("message", "service", "hostname",
                                                                             "ddsource") if k in doc]
    stack: list[Any] = [attributes]
    while stack:
        node = stack.pop()
        for key, value in node.items() if isinstance(node, dict) else enumerate(node):
            if isinstance(value, str):
                slots.append((len(orjson.dumps(value)) - 2, node, key))
            elif isinstance(value, (dict, list)):
                stack.append(value)
    return slots


def _cut_longest(slots: list[Slot], over: int) -> None:
    """Cut the longest strings to one common JSON length `cap`, the largest that saves at least `over` bytes."""
    slots.sort(key=lambda slot: slot[0], reverse=True)
    total = 0
    for n, (cost, _, _) in enumerate(slots, 1):
        total += cost
        following = slots[n][0] if n < len(slots) else 0
        if total - n * following >= over:  # cutting these n strings down to `following` would be enough
            cap = (total - over) // n  # >= following, and the n strings lose at least `over` bytes between them
            for _, holder, key in slots[:n]:
                holder[key] = _prefix(holder[key], cap)
            return


def _prefix(text: str, cap: int) -> str:
    """The longest prefix of `text` whose JSON string content is at most `cap` bytes (escapes counted)."""
    if len(orjson.dumps(text)) - 2 == len(text):  # one byte a character: plain ASCII, nothing escaped
        return text[:cap]
    lo, hi = 0, min(len(text), cap)  # a character takes at least one byte
    while lo < hi:  # binary search: at most log2(len) measures
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if len(orjson.dumps(text[:mid])) - 2 <= cap else (lo, mid - 1)
    return text[:lo]


# ------------------------------------------------------------------------------------------ logs search
async def search_logs(request: Request, logs: Logs) -> Response:
    """POST /api/v2/logs/events/search with a LogsListRequest body (every part optional)."""
    body = await json_body(request, blank={})
    if not isinstance(body, dict):
        raise IntakeError(400, "The request body must be a LogsListRequest object")
    filt, page = body.get("filter") or {}, body.get("page") or {}
    if not isinstance(filt, dict) or not isinstance(page, dict):
        raise IntakeError(400, "'filter' and 'page' must be objects")
    return await _search(request, logs, filt.get("query"), filt.get("from"), filt.get("to"), body.get("sort"),
                         page.get("limit", 10), page.get("cursor"))


async def list_logs_get(request: Request, logs: Logs) -> Response:
    """GET /api/v2/logs/events: the same search from query parameters (where `links.next` points)."""
    p = request.query_params
    limit = int_param(request, "page[limit]", 10, low=1, high=MAX_SEARCH_LIMIT)
    return await _search(request, logs, p.get("filter[query]"), p.get("filter[from]"), p.get("filter[to]"),
                         p.get("sort"), limit, p.get("page[cursor]"))


async def _search(request: Request, logs: Logs, query: Any, start: Any, end: Any, sort: Any, limit: Any,
                  cursor: Any) -> Response:
    # Datadog does not document its default order; newest first, as the Log Explorer shows
    search = CursorSearch(path="api/v2/logs/events", now_ms=logs.now_ms, max_limit=MAX_SEARCH_LIMIT,
                          default_sort="-timestamp", id_of=lambda log: log["id"], key_of=_log_key_or_none,
                          search=logs.search)
    rows, meta, next_url = await search.answer(request, SearchRequest(query, start, end, sort, limit, cursor))
    result: dict[str, Any] = {"data": [_log_json(d) for d in rows], "meta": meta}
    if next_url:
        result["links"] = {"next": next_url}
    return json_response(result)


def _log_key_or_none(ident: Any) -> Any:
    try:
        return log_key(ident)
    except (ValueError, TypeError):
        return None


async def aggregate_logs(request: Request, logs: Logs) -> Response:
    """POST /api/v2/logs/analytics/aggregate: LogsAggregateResponse (analytics.py says what is computed how)."""
    body = await json_body(request)
    if not isinstance(body, dict):
        raise IntakeError(400, "The request body must be a LogsAggregateRequest object")
    filt = body.get("filter") or {}
    if not isinstance(filt, dict):
        raise IntakeError(400, "'filter' must be an object")
    for name in ("query", "from", "to"):
        if filt.get(name) is not None and not isinstance(filt[name], str):
            raise IntakeError(400, f"filter.{name} must be a string")
    started, now = time.perf_counter(), logs.now_ms()
    lo, hi = parse_time(filt.get("from") or "now-15m", now, "filter.from"), parse_time(filt.get("to") or "now", now,
                                                                                      "filter.to")
    if hi < lo:
        raise IntakeError(400, f"filter.to ({filt.get('to')}) is earlier than filter.from ({filt.get('from')})")
    spec = parse_aggregation(body, lo, hi)
    buckets = await run_in_threadpool(logs.aggregate, query=filt.get("query"), start_ms=lo, end_ms=hi, spec=spec)
    return json_response({"data": {"buckets": buckets}, "meta": {
        "elapsed": int((time.perf_counter() - started) * 1000), "request_id": uuid.uuid4().hex, "status": "done"}})


def _log_json(doc: dict[str, Any]) -> dict[str, Any]:
    attrs = {"timestamp": iso_ms(doc["k"][0]), "status": doc["status"], "message": doc["message"],
             "tags": doc["tags"], "attributes": doc["attributes"]}
    for field, name in (("service", "service"), ("hostname", "host")):
        if field in doc:
            attrs[name] = doc[field]
    return {"id": doc["id"], "type": "log", "attributes": attrs}


# ------------------------------------------------------------------------------------------ events
async def create_event(request: Request, logs: Logs) -> Response:
    """POST /api/v1/events: 202 EventCreateResponse, or 400 naming the field (`Event too far in the past`)."""
    body = await json_body(request)
    if not isinstance(body, dict):
        raise IntakeError(400, "The request body must be an EventCreateRequest object")
    for name in ("title", "text"):
        if not isinstance(body.get(name), str):
            raise IntakeError(400, f"The field '{name}' is required and must be a string")
    for name in ("host", "priority", "alert_type", "aggregation_key", "source_type_name", "device_name"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise IntakeError(400, f"The field '{name}' must be a string")
    if body.get("related_event_id") is not None:
        int_field(body["related_event_id"], "The field 'related_event_id'")
    now = int(logs.clock())
    happened = now if body.get("date_happened") is None else \
        int_field(body["date_happened"], "The field 'date_happened'", high=MAX_EPOCH_S, what="epoch seconds")
    tags = body.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise IntakeError(400, "The field 'tags' must be an array of strings")
    if len(body["text"]) > EVENT_TEXT_MAX:
        raise IntakeError(400, f"Event text is {len(body['text'])} characters; the limit is {EVENT_TEXT_MAX}")
    if len(body.get("aggregation_key") or "") > EVENT_KEY_MAX:
        raise IntakeError(400, f"aggregation_key is limited to {EVENT_KEY_MAX} characters")
    if body.get("priority") not in (None, "normal", "low"):
        raise IntakeError(400, f"priority {body['priority']!r} is invalid; use 'normal' or 'low'")
    if body.get("alert_type") not in (None, *_ALERT_TYPES):
        raise IntakeError(400, f"alert_type {body['alert_type']!r} is invalid; use one of {sorted(_ALERT_TYPES)}")
    if happened < now - EVENT_PAST_S:
        raise IntakeError(400, "Event too far in the past")  # Datadog's recorded message
    fields = {"priority": body.get("priority"), "tags": tags, "alert_type": body.get("alert_type") or "info"}
    for name in ("host", "aggregation_key", "source_type_name", "related_event_id", "device_name"):
        if body.get(name) is not None:
            fields[name] = body[name]

    event = await run_in_threadpool(logs.add_event, title=body["title"], text=body["text"], date_happened=happened,
                                    **fields)
    return json_response({"status": "ok", "event": _event_json(event, request)}, 202)


def _event_json(event: dict[str, Any], request: Request) -> dict[str, Any]:
    """An Event as Datadog returns it: id and id_str, a link (here served by the sandbox), handle null.

    The link carries the page's token (`event_token`): the page needs no key, so the sequential id must not do.
    """
    shown = {k: v for k, v in event.items() if k != "v2"}  # a v2 event's category attributes are v2's alone
    return {**shown, "id_str": str(event["id"]), "handle": None, "related_event_id": event.get("related_event_id"),
            "url": f"{request.base_url}event/event?" + urlencode({"id": event["id"],
                                                                 "token": event_token(request, event["id"])})}


def event_token(request: Request, event_id: int | str) -> str:
    """The unguessable part of an event page's URL: an HMAC of the id under the sandbox's API key (128 bits shown).

    Stateless, so it needs no storage and holds across restarts with the same keys; it reveals nothing of the key.
    """
    keys: Keys = request.app.state.keys
    return hmac.new(keys.api_key.encode(), f"event-page:{event_id}".encode(), hashlib.sha256).hexdigest()[:32]


async def list_events(request: Request, logs: Logs) -> Response:
    """GET /api/v1/events?start=&end= (epoch s, inclusive), newest first, 1000 a page (page 0 first)."""
    p = request.query_params
    # the spec types both as int64 and its example sends int64's maximum: any int64 is taken; past the last second
    # a date can show (MAX_EPOCH_S), where no event can be, the window is cut (a start beyond it keeps it empty)
    start = min(epoch_param(request, "start", high=INT64_MAX), MAX_EPOCH_S + 1)
    end = min(epoch_param(request, "end", high=INT64_MAX), MAX_EPOCH_S)
    priority, page = p.get("priority"), int_param(request, "page", 0)
    if priority not in (None, "normal", "low"):
        raise IntakeError(400, f"priority {priority!r} is invalid; use 'normal' or 'low'")
    for flag in ("unaggregated", "exclude_aggregate"):  # the sandbox never aggregates: every event is returned
        if p.get(flag, "false").lower() not in ("true", "false"):
            raise IntakeError(400, f"The parameter '{flag}' must be true or false")
    events = await run_in_threadpool(logs.list_events, start=start, end=end, priority=priority,
                                     sources=_comma_list(p.get("sources", "")), tags=_comma_list(p.get("tags", "")),
                                     page=page)
    return json_response({"events": [_event_json(e, request) for e in events], "status": "ok"})


def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


async def get_event(request: Request, logs: Logs) -> Response:
    """GET /api/v1/events/{event_id}: EventResponse, or 404 `{"errors": ["Event not found"]}`."""
    raw = request.path_params["event_id"]
    event = await run_in_threadpool(logs.get_event, raw) if raw.isdigit() else None
    if event is None:
        return error_response(404, "Event not found")
    return json_response({"event": _event_json(event, request), "status": "ok"})


async def event_page(request: Request, logs: Logs) -> Response:
    """The page an event's `url` opens: a plain read-only view (the sandbox has no web app or login).

    It takes no key, as a link must open in a browser; so it needs the id's token (`event_token`), and answers a
    wrong or missing one exactly as an unknown id (404), saying nothing of which ids exist.
    """
    raw, token = request.query_params.get("id", ""), request.query_params.get("token", "")
    valid = raw.isdigit() and hmac.compare_digest(token.encode(), event_token(request, raw).encode())
    event = await run_in_threadpool(logs.get_event, raw) if valid else None
    if event is None:
        return HTMLResponse("<h1>Event not found</h1>", 404)
    when = datetime.fromtimestamp(event["date_happened"], timezone.utc).isoformat()
    tags = ", ".join(html.escape(t) for t in event["tags"])
    return HTMLResponse(f"<html><head><title>{html.escape(event['title'])}</title></head><body>"
                        f"<h1>{html.escape(event['title'])}</h1><p>{when} &middot; {html.escape(event['alert_type'])}"
                        f"</p><pre>{html.escape(event['text'])}</pre><p>{tags}</p></body></html>")


def routes(logs: Logs) -> list[Route]:
    return [
        _intake_route("/api/v2/logs", submit_logs(legacy=False), logs, legacy=False),
        _intake_route("/v1/input", submit_logs(legacy=True), logs, legacy=True),
        _intake_route("/v1/input/{api_key}", submit_logs(legacy=True), logs, legacy=True),
        route("/api/v2/logs/events/search", "POST", search_logs, logs, app_key=True),
        route("/api/v2/logs/events", "GET", list_logs_get, logs, app_key=True),
        route("/api/v2/logs/analytics/aggregate", "POST", aggregate_logs, logs, app_key=True),
        route("/api/v1/logs-queries/list", "POST", list_logs_v1, logs, app_key=True),
        route("/api/v1/events", "POST", create_event, logs, app_key=False),
        route("/api/v1/events", "GET", list_events, logs, app_key=True),
        route("/api/v1/events/{event_id}", "GET", get_event, logs, app_key=True),
        public_route("/event/event", event_page, logs),
    ]
