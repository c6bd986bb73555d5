"""RFC 5545 recurrences (RRULE) as Datadog's APIs take them, read in one place: checked, and their occurrences found
in bounded time.

Two users: v2 downtimes (`schedule.recurrences[].rrule`, a local `start` without UTC offset, a `timezone`; the
client's `DowntimeScheduleRecurrenceCreateUpdateRequest`) and monitors' custom schedules
(`options.scheduling_options.custom_schedule.recurrences[]`: rrule, start, timezone; the client's
`MonitorOptionsCustomScheduleRecurrence`). As documented, the rule may not set DTSTART, DTEND or DURATION (the
recurrence's start and duration do). Sandbox bounds: FREQ DAILY, WEEKLY, MONTHLY or YEARLY (finer ones have
unbounded occurrences over a long life), INTERVAL 1-1000, COUNT at most MAX_COUNT; a daily or weekly rule is moved
forward by whole periods to the time asked about, so finding its occurrences never iterates from a start years back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrule, rrulestr

MAX_RRULE = 500  # characters of one RRULE
MAX_COUNT = 10_000  # occurrences of a rule with COUNT (they are iterated from the start)
ALLOWED_FREQ = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
_PERIOD_DAYS = {"DAILY": 1, "WEEKLY": 7}  # moved forward by whole periods (months and years vary in length)
_FORBIDDEN = ("DTSTART", "DTEND", "DURATION")


class RecurrenceError(ValueError):
    """A recurrence field is invalid; `part` is which ("rrule", "start" or "timezone"), the text says why."""

    def __init__(self, part: str, message: str):
        super().__init__(message)
        self.part = part


def zone_of(name: Any) -> ZoneInfo:
    """The IANA time zone `name` (UTC when None)."""
    try:
        if name is None:
            return ZoneInfo("UTC")
        if isinstance(name, str) and len(name) <= 64:
            return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        pass
    raise RecurrenceError("timezone", f"{str(name)[:40]!r} is not an IANA time zone")


def local_start(value: Any) -> datetime:
    """A start written without UTC offset (it is read in the recurrence's time zone)."""
    if not isinstance(value, str) or len(value) > 40:
        raise RecurrenceError("start", f"{str(value)[:40]!r} is not an ISO-8601 time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RecurrenceError("start", f"{value!r} is not an ISO-8601 time") from None
    if parsed.tzinfo is not None:
        raise RecurrenceError("start", f"{value!r} must not carry a UTC offset (it is read in the time zone)")
    return parsed


def parse_rule(text: Any, start: Any, zone: ZoneInfo, near: datetime | None = None) -> rrule:
    """The rule from its local start; with `near`, the same occurrences from a start moved to just before `near`."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_RRULE:
        raise RecurrenceError("rrule", f"must be an RRULE of at most {MAX_RRULE} characters")
    upper = text.upper()
    if any(word in upper for word in _FORBIDDEN):
        raise RecurrenceError("rrule", "may not set DTSTART, DTEND or DURATION (the recurrence's start and duration do)")
    body = upper.removeprefix("RRULE:")
    parts = dict(p.partition("=")[::2] for p in body.split(";") if p)
    if parts.get("FREQ") not in ALLOWED_FREQ:
        raise RecurrenceError("rrule", f"FREQ={str(parts.get('FREQ'))[:20]} is not supported by the sandbox; "
                                       f"expected one of {', '.join(ALLOWED_FREQ)}")
    count = parts.get("COUNT")
    if count is not None and not (count.isascii() and count.isdigit() and int(count[:9]) <= MAX_COUNT):
        raise RecurrenceError("rrule", f"COUNT must be a whole number of at most {MAX_COUNT}")
    interval = parts.get("INTERVAL", "1")
    if not (interval.isascii() and interval.isdigit() and 1 <= int(interval[:6]) <= 1000):
        raise RecurrenceError("rrule", "INTERVAL must be a whole number from 1 to 1000")
    local = local_start(start)
    if near is not None and count is None and parts["FREQ"] in _PERIOD_DAYS:
        period = _PERIOD_DAYS[parts["FREQ"]] * int(interval[:6])
        whole = (near.astimezone(zone).replace(tzinfo=None) - local).days // period - 1
        local += timedelta(days=period * max(whole, 0))
    try:
        rule = rrulestr(body, dtstart=local.replace(tzinfo=zone))
    except (ValueError, TypeError, OverflowError) as exc:
        raise RecurrenceError("rrule", f"{text[:40]!r} is not a valid RRULE: {str(exc)[:80]}") from None
    assert isinstance(rule, rrule)
    return rule


def occurrences(text: str, start: str, zone: ZoneInfo, since: float, until: float) -> list[float]:
    """Epoch seconds of the rule's occurrences in [since, until]; keep the span short (a year at most is cheap)."""
    lo, hi = datetime.fromtimestamp(max(since, 0), UTC), datetime.fromtimestamp(until, UTC)
    return [o.timestamp() for o in parse_rule(text, start, zone, near=lo).between(lo, hi, inc=True)]
