"""`POST /api/v1/logs-queries/list`, the v1 log list (the client's `v1 LogsApi.list_logs`), over the v2 search.

Shapes from the client 2.62.0 models (`LogsListRequest`, `LogsListRequestTime`, `LogsListResponse`, `Log`,
`LogContent`), Datadog's pagination guide (logs/guide/collect-multiple-logs-with-pagination: `limit` 50 by default,
at most 1000; `nextLogId` null when nothing is left, else the id to send as `startAt`, the first log of the next
page) and the client's recorded answer (`{"status": "done", "nextLogId", "logs": [{"content", "id"}],
"requestId"}`). `time.from`/`to` are ISO-8601 (`now-15m` and epoch ms also taken, as in v2). One with an offset or
Z is that instant whatever `time.timezone` says (the recorded answer to ListLogs_235998668: Z times with
Europe/Paris, logs of the Z window); one without is read in `time.timezone` (a region such as Europe/Paris or an
offset such as UTC+03:00), UTC by default. The sandbox has one index, so every `index` reads all logs (as a log
monitor's `.index()`). `startAt` outside the time window is ignored, as documented; one that is no id of this
sandbox is a 400.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.http.params import int_field, shorten
from autonomic_lib.sandbox.http.routing import json_body, json_response
from autonomic_lib.sandbox.logs.backend import LogKey, Logs, log_key
from autonomic_lib.sandbox.logs.search import iso_ms, parse_time

DEFAULT_LIMIT, MAX_LIMIT = 50, 1000  # the pagination guide's default and maximum
MAX_ZONE = 64  # characters of time.timezone (a sandbox bound)


async def list_logs_v1(request: Request, logs: Logs) -> Response:
    """POST /api/v1/logs-queries/list: LogsListResponse, or a 400 naming the field."""
    body = await json_body(request)
    if not isinstance(body, dict):
        raise IntakeError(400, "The request body must be a LogsListRequest object")
    for name in ("index", "query", "startAt"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise IntakeError(400, f"'{name}' must be a string, not {shorten(body[name])}")
    limit = int_field(body.get("limit", DEFAULT_LIMIT), "limit", low=1, high=MAX_LIMIT)
    sort = body.get("sort", "desc")  # no documented default: newest first, as the v2 search
    if sort not in ("asc", "desc"):
        raise IntakeError(400, f"'sort' must be 'asc' or 'desc', not {shorten(sort)}")
    lo, hi = _window(body.get("time"), logs.now_ms())
    newest_first = sort == "desc"
    after = _just_before(body.get("startAt"), lo, hi, newest_first)
    rows, _ = await run_in_threadpool(logs.search, query=body.get("query"), start_ms=lo, end_ms=hi,
                                      newest_first=newest_first, limit=limit + 1, after=after)
    return json_response({"status": "done", "nextLogId": rows[limit]["id"] if len(rows) > limit else None,
                          "logs": [_log_json(doc) for doc in rows[:limit]], "requestId": uuid.uuid4().hex})


def _window(raw: Any, now_ms: int) -> tuple[int, int]:
    """time.from and time.to as epoch ms (from <= to)."""
    if not isinstance(raw, dict) or not all(isinstance(raw.get(k), str) for k in ("from", "to")):
        raise IntakeError(400, "'time' is required: an object with 'from' and 'to' (ISO-8601 times)")
    zone = _zone(raw.get("timezone"))
    lo, hi = (_moment(raw[k], zone, now_ms, f"time.{k}") for k in ("from", "to"))
    if hi < lo:
        raise IntakeError(400, f"time.to ({raw['to'][:40]}) is earlier than time.from ({raw['from'][:40]})")
    return lo, hi


def _zone(raw: Any) -> tzinfo:
    """time.timezone: a region (Europe/Paris) or an offset (UTC+03:00); UTC when absent."""
    if raw is None:
        return timezone.utc
    if not isinstance(raw, str) or not 0 < len(raw) <= MAX_ZONE:
        raise IntakeError(400, f"time.timezone must be a time zone such as Europe/Paris or UTC+03:00, not "
                               f"{shorten(raw)}")
    if raw.upper() == "UTC":
        return timezone.utc
    sign, hours, minutes = raw[3:4], raw[4:6], raw[7:9]
    if (raw[:3].upper() == "UTC" and sign in "+-" and len(raw) == 9 and raw[6] == ":" and
            (hours + minutes).isascii() and (hours + minutes).isdigit() and int(hours) <= 14 and int(minutes) < 60):
        offset = timedelta(hours=int(hours), minutes=int(minutes))
        return timezone(-offset if sign == "-" else offset)
    try:
        return ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise IntakeError(400, f"time.timezone {raw!r} is not a time zone: use a region such as Europe/Paris or an "
                               "offset such as UTC+03:00") from None


def _moment(text: str, zone: tzinfo, now_ms: int, where: str) -> int:
    """An ISO time without an offset is read in `zone`; anything else as the v2 search reads it."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        moment = None
    if moment is not None and moment.tzinfo is None:
        text = moment.replace(tzinfo=zone).isoformat()
    return parse_time(text, now_ms, where)


def _just_before(start_at: str | None, lo: int, hi: int, newest_first: bool) -> LogKey | None:
    """The search's exclusive `after` bound that makes the page begin at the log `start_at` names."""
    if not start_at:
        return None
    try:
        ts, batch, index = log_key(start_at)
    except ValueError:
        raise IntakeError(400, f"startAt {start_at[:40]!r} is not the id of a log of this sandbox") from None
    if not lo <= ts <= hi:
        return None  # documented: ignored when out of the time window
    return (ts, batch, index + 1) if newest_first else (ts, batch, index - 1)


def _log_json(doc: dict[str, Any]) -> dict[str, Any]:
    content = {"timestamp": iso_ms(doc["k"][0]), "message": doc["message"], "tags": doc["tags"],
               "attributes": doc["attributes"]}
    for field, name in (("service", "service"), ("hostname", "host")):
        if field in doc:
            content[name] = doc[field]
    return {"id": doc["id"], "content": content}
