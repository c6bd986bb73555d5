"""Downtime bodies (v2 JSON:API), their schedules as time windows, and which monitor groups they silence.

Shapes are the official client's v2 models (`DowntimeCreateRequest`, `DowntimeUpdateRequest`, `DowntimeResponse`)
and the recorded create answer (cassette `test_cancel_a_downtime_returns_ok_response`): defaults
`display_timezone: "UTC"`, `mute_first_recovery_notification: false`, `notify_end_states: [alert, no data, warn]`,
`notify_end_types: [expired]`, a one-time schedule without start starting at creation and without end running
until canceled.

Sandbox readings (Datadog documents no more):
- a downtime silences a monitor group when the monitor is identified (its id, or every one of `monitor_tags` among
  the monitor's own tags, `*` for all monitors) and the `scope` matches the group's tags together with the tags
  the monitor's query is scoped on; `*` matches everything. The scope is read with the metric tag-filter grammar
  (`,` `AND` `OR` `NOT` `!`, parentheses, `*` globs), which covers the documented examples.
- times are the evaluator's data times, so a downtime may start in the past (a backfilled phase can be muted).
- recurrences: an RFC 5545 RRULE read by recurrence.py (its bounds: FREQ DAILY to YEARLY, COUNT, INTERVAL), each
  occurrence lasting `duration` (`<n>m|h|d|w`), in the schedule's `timezone`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Iterator
from zoneinfo import ZoneInfo

from datadog_api_client.v2.model.downtime_create_request import DowntimeCreateRequest
from datadog_api_client.v2.model.downtime_update_request import DowntimeUpdateRequest
from dateutil.rrule import rrule

from autonomic_lib import recurrence
from autonomic_lib.errors import IntakeError, QueryError
from autonomic_lib.recurrence import RecurrenceError
from autonomic_lib.query.language import AllTags, MetricQuery, Scope, parse_query
from autonomic_lib.sandbox.http.params import MAX_EPOCH_S, shorten
from autonomic_lib.sandbox.http.schema import schema_error

END_STATES = ("alert", "no data", "warn")
END_TYPES = ("canceled", "expired")
DEFAULTS: dict[str, Any] = {"display_timezone": "UTC", "message": None, "mute_first_recovery_notification": False,
                            "notify_end_states": list(END_STATES), "notify_end_types": ["expired"]}
MAX_SCOPE = 2000  # characters (a sandbox bound; Datadog states none)
MAX_RECURRENCES = 20  # recurrences per schedule (a sandbox bound)
LOOKAHEAD = 366 * 86400  # how far ahead a recurring downtime's next occurrence is looked for
_DURATION = re.compile(r"([0-9]{1,6})([mhdw])")
_DURATION_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
_STATE_NAMES = {"Alert": "alert", "Warn": "warn", "No Data": "no data"}


def bad(field: str, detail: str) -> IntakeError:
    return IntakeError(400, f"Invalid downtime: '{field}' {detail}")


# ---------------------------------------------------------------------------------------------------- bodies
def normalise_create(body: Any, now: float) -> dict[str, Any]:
    """A create body's attributes, checked, with Datadog's defaults and the schedule resolved at `now`."""
    attributes = _attributes(body, DowntimeCreateRequest)
    if "scope" not in attributes or "monitor_identifier" not in attributes:
        raise bad("data.attributes", "needs 'scope' and 'monitor_identifier'")
    fields = {**DEFAULTS, **attributes}
    return _checked(fields, now)


def normalise_update(body: Any, existing: dict[str, Any], now: float, downtime_id: str) -> dict[str, Any]:
    """An update body merged into the stored attributes (given fields replace, the schedule as a whole)."""
    attributes = _attributes(body, DowntimeUpdateRequest)
    given_id = body["data"].get("id")
    if given_id is not None and given_id != downtime_id:
        raise bad("data.id", f"{shorten(given_id)} does not match the downtime in the path ({downtime_id})")
    schedule = attributes.pop("schedule", None)
    fields = {**existing, **attributes}
    if schedule is not None:
        fields["schedule"] = _merge_schedule(existing.get("schedule") or {}, schedule)
    return _checked(fields, now)


def _attributes(body: Any, model: type) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise IntakeError(400, "The request body must be a JSON object with a 'data' object")
    data = body["data"]
    if data.get("type") != "downtime":
        raise bad("data.type", f"must be 'downtime', not {shorten(data.get('type'))}")
    if (problem := schema_error(body, model)) is not None:
        raise IntakeError(400, problem)
    attributes = data.get("attributes")
    if not isinstance(attributes, dict):
        raise bad("data.attributes", "must be an object")
    return dict(attributes)


def _merge_schedule(old: dict[str, Any], new: Any) -> Any:
    """A schedule update: the same kind (one-time, recurring) merges field by field, another kind replaces it."""
    if not isinstance(new, dict):
        return new  # refused by resolve_schedule
    if ("recurrences" in new or "timezone" in new) != ("recurrences" in old):
        return dict(new)
    return {**old, **new}


def _checked(fields: dict[str, Any], now: float) -> dict[str, Any]:
    scope = fields.get("scope")
    if not isinstance(scope, str) or not scope.strip() or len(scope) > MAX_SCOPE:
        raise bad("scope", f"must be a non-empty tag query of at most {MAX_SCOPE} characters")
    parse_scope(scope)
    identifier = fields.get("monitor_identifier")
    if not isinstance(identifier, dict) or len(identifier) != 1 or not (
            type(identifier.get("monitor_id")) is int or _tag_list(identifier.get("monitor_tags"))):
        raise bad("monitor_identifier", "must be {\"monitor_id\": <int>} or {\"monitor_tags\": [<tag>, ...]}")
    for name, allowed in (("notify_end_states", END_STATES), ("notify_end_types", END_TYPES)):
        values = fields.get(name)
        if not isinstance(values, list) or any(v not in allowed for v in values):
            raise bad(name, f"must be a list of {', '.join(allowed)}")
    fields["schedule"] = resolve_schedule(fields.get("schedule"), now)
    return fields


def _tag_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(t, str) and t for t in value)


def parse_scope(text: str) -> Scope:
    """The downtime scope as a tag filter; a 400 naming the scope when it does not parse."""
    try:
        query = parse_query(f"downtime.scope{{{text}}}")
    except QueryError as exc:
        raise bad("scope", f"{shorten(text)} is not a tag query: {exc}") from None
    assert isinstance(query, MetricQuery)
    if query.scope.template_vars():
        raise bad("scope", "cannot hold template variables")
    return query.scope


# ---------------------------------------------------------------------------------------------------- schedules
def resolve_schedule(schedule: Any, now: float) -> dict[str, Any]:
    """The stored schedule: one-time {start, end} as epoch seconds (start defaults to now), or recurrences."""
    if schedule is None:
        schedule = {}
    if not isinstance(schedule, dict):
        raise bad("schedule", "must be an object")
    if "recurrences" in schedule:
        return _recurring(schedule, now)
    if "timezone" in schedule:
        raise bad("schedule.timezone", "belongs to a recurring schedule: give schedule.recurrences too")
    start = _instant(schedule.get("start"), "schedule.start")
    end = _instant(schedule.get("end"), "schedule.end")
    start = now if start is None else start
    if end is not None and end <= start:
        raise bad("schedule.end", "must be after schedule.start")
    return {"start": start, "end": end}


def _instant(value: Any, field: str) -> float | None:
    """An ISO-8601 time with a zero UTC offset (as documented for one-time schedules), stored as epoch seconds."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)  # already resolved (a stored schedule re-checked on update)
    elif isinstance(value, str) and len(value) <= 40:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise bad(field, f"{shorten(value)} is not an ISO-8601 time") from None
        if parsed.utcoffset() is None or parsed.utcoffset() != timedelta(0):
            raise bad(field, f"{shorten(value)} must carry a UTC offset of zero")
        seconds = parsed.timestamp()
    else:
        raise bad(field, f"{shorten(value)} is not an ISO-8601 time")
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_EPOCH_S:
        raise bad(field, f"{shorten(value)} is out of range")
    return seconds


def _recurring(schedule: dict[str, Any], now: float) -> dict[str, Any]:
    zone_name = schedule.get("timezone") or "UTC"
    try:
        zone = recurrence.zone_of(zone_name)
    except RecurrenceError as exc:
        raise bad("schedule.timezone", str(exc)) from None
    recurrences = schedule.get("recurrences")
    if not isinstance(recurrences, list) or not 1 <= len(recurrences) <= MAX_RECURRENCES:
        raise bad("schedule.recurrences", f"must list 1 to {MAX_RECURRENCES} recurrences")
    out = []
    for i, rec in enumerate(recurrences):
        where = f"schedule.recurrences[{i}]"
        if not isinstance(rec, dict):
            raise bad(where, "must be an object")
        duration_seconds(rec.get("duration"), f"{where}.duration")
        start = rec.get("start")
        if start is None:
            start = datetime.fromtimestamp(now, zone).replace(tzinfo=None, microsecond=0).isoformat(timespec="minutes")
        _local_start(start, f"{where}.start")
        _rule(rec.get("rrule"), start, zone, f"{where}.rrule")
        out.append({"duration": rec["duration"], "rrule": rec["rrule"], "start": start})
    return {"recurrences": out, "timezone": zone_name}


def duration_seconds(value: Any, field: str) -> int:
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if match is None or int(match[1]) == 0:
        raise bad(field, f"{shorten(value)} must be a positive whole number then m, h, d or w (e.g. 2h)")
    return int(match[1]) * _DURATION_UNITS[match[2]]


def _local_start(value: Any, field: str) -> datetime:
    try:
        return recurrence.local_start(value)
    except RecurrenceError as exc:
        raise bad(field, str(exc)) from None


def _rule(text: Any, start: str, zone: ZoneInfo, field: str, near: datetime | None = None) -> rrule:
    """The recurrence's rule (recurrence.py), its problems a 400 naming the field."""
    try:
        return recurrence.parse_rule(text, start, zone, near)
    except RecurrenceError as exc:
        raise bad(field.replace("rrule", exc.part), str(exc)) from None


@dataclass(frozen=True)
class Window:
    """One stretch of time a downtime silences: [start, end), end None for open-ended."""

    start: float
    end: float | None

    def holds(self, at: float) -> bool:
        return self.start <= at and (self.end is None or at < self.end)


def windows(doc: dict[str, Any], since: float, until: float) -> Iterator[Window]:
    """The downtime's windows overlapping [since, until], cut at its cancellation; a recurring downtime's only
    within a year of `since` (bounded work: a daily rule has a million occurrences before year 9999)."""
    schedule, canceled = doc["schedule"], doc.get("canceled_at")
    if "recurrences" in schedule:
        until = min(until, since + LOOKAHEAD)
        zone = ZoneInfo(schedule["timezone"])
        found: list[Window] = []
        for rec in schedule["recurrences"]:
            length = duration_seconds(rec["duration"], "duration")
            lo = datetime.fromtimestamp(max(since - length, 0), UTC)
            rule = _rule(rec["rrule"], rec["start"], zone, "rrule", near=lo.astimezone(zone))
            hi = datetime.fromtimestamp(min(until, MAX_EPOCH_S), UTC)
            found += [Window(o.timestamp(), o.timestamp() + length) for o in rule.between(lo, hi, inc=True)]
        spans = sorted(found, key=lambda w: w.start)
    else:
        spans = [Window(schedule["start"], schedule["end"])]
    for span in spans:
        end = span.end if canceled is None else min(canceled, span.end if span.end is not None else canceled)
        if span.start < (end if end is not None else math.inf) and span.start <= until and (end is None or end > since):
            yield Window(span.start, end)


def window_at(doc: dict[str, Any], at: float) -> Window | None:
    """The window of the downtime holding time `at`, if any."""
    return next((w for w in windows(doc, at, at) if w.holds(at)), None)


def current_window(doc: dict[str, Any], now: float) -> Window | None:
    """The window a downtime shows: the running one, else the next within a year."""
    return window_at(doc, now) or next(windows(doc, now, now + LOOKAHEAD), None)


def status(doc: dict[str, Any], now: float) -> str:
    """active | scheduled | ended | canceled (DowntimeStatus) at `now`."""
    if doc.get("canceled_at") is not None:
        return "canceled"
    if window_at(doc, now) is not None:
        return "active"
    if current_window(doc, now) is not None:
        return "scheduled"  # a recurring downtime whose next occurrence is over a year away reads as ended
    return "ended"


# ---------------------------------------------------------------------------------------------------- matching
def identifies(doc: dict[str, Any], monitor: dict[str, Any]) -> bool:
    """Whether the downtime's monitor_identifier names this monitor."""
    identifier = doc["monitor_identifier"]
    if "monitor_id" in identifier:
        return bool(identifier["monitor_id"] == monitor.get("id"))
    wanted = set(identifier["monitor_tags"])
    return wanted == {"*"} or wanted <= set(monitor.get("tags") or [])


def scope_matches(scope: Scope, tags: tuple[str, ...] | list[str]) -> bool:
    return isinstance(scope, AllTags) or scope.matches(tuple(t.lower() for t in tags))


def end_state(state: str) -> str | None:
    """A monitor state as notify_end_states names it (None for OK)."""
    return _STATE_NAMES.get(state)
