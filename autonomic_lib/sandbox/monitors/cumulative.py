"""Cumulative monitor windows (`current_1h`, `current_1d`, `current_1mo`): where each period starts.

A cumulative window runs from the start of the current period to the evaluation (DATADOG.md 3.6: "current hour,
current day, current month", metric monitors only). Where a period starts is the monitor's
`options.scheduling_options.evaluation_window` (the client's `MonitorOptionsSchedulingOptionsEvaluationWindow`):
`hour_starts` (minute of the hour, 0-59), `day_starts` ("HH:mm"), `month_starts` (1, the only value the model
allows), and `timezone` (the time zone of those times; UTC when absent). Sandbox readings: at the very start of a
period the window is empty (the value is "no data", or 0 for a `sum` that evaluates empty windows as zero); a
month starts on its first day at `day_starts`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from autonomic_lib.errors import IntakeError
from autonomic_lib.recurrence import RecurrenceError, zone_of
from autonomic_lib.query.windows import CUMULATIVE_LONGEST
from autonomic_lib.sandbox.http.params import shorten

_WHERE = "options.scheduling_options.evaluation_window"
_HH_MM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


@dataclass(frozen=True)
class Periods:
    """How a cumulative window's periods are cut: the period, its zone, and where in the hour / day it starts."""

    period: str  # hour | day | month
    zone: str = "UTC"
    hour_minute: int = 0
    day_time: tuple[int, int] = (0, 0)

    def start(self, ts: float) -> int:
        """The start (epoch seconds) of the period holding `ts`."""
        zone = ZoneInfo(self.zone)
        local = datetime.fromtimestamp(ts, zone)
        candidate = self._floor(local)
        if candidate.timestamp() > ts:  # the period started before this hour, day or month's boundary
            back = {"hour": timedelta(hours=1), "day": timedelta(days=1), "month": timedelta(days=local.day)}
            candidate = self._floor(datetime.fromtimestamp(candidate.timestamp(), zone) - back[self.period])
        return int(candidate.timestamp())

    def _floor(self, local: datetime) -> datetime:
        if self.period == "hour":
            return local.replace(minute=self.hour_minute, second=0, microsecond=0)
        hour, minute = self.day_time
        floored = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
        return floored.replace(day=1) if self.period == "month" else floored

    def boundaries(self, start: int, end: int) -> np.ndarray:
        """Every period start from the one holding `start` up to `end` (bounded: a month at most holds 745 hours)."""
        found = [self.start(start)]
        while found[-1] <= end:
            following = self.start(found[-1] + CUMULATIVE_LONGEST[self.period] * 3 // 2)
            if following <= found[-1]:  # cannot happen with a sane zone; never loop
                break
            found.append(following)
        return np.array(found, dtype=np.int64)


def periods_of(period: str, options: dict[str, Any]) -> Periods:
    """The Periods a monitor's options give its cumulative window; a 400 naming the option when one is invalid."""
    scheduling = options.get("scheduling_options") or {}
    window = scheduling.get("evaluation_window") if isinstance(scheduling, dict) else None
    if not window:
        return Periods(period)
    if not isinstance(window, dict):
        raise IntakeError(400, f"{_WHERE} must be an object")
    zone_name = window.get("timezone") or "UTC"
    try:
        zone_of(zone_name)
    except RecurrenceError:
        raise IntakeError(400, f"{_WHERE}.timezone {shorten(zone_name)} is not an IANA time zone") from None
    if "hour_starts" in window:  # "If hour_starts is set, no other fields may be set" (client model)
        minute = window["hour_starts"]
        if set(window) - {"hour_starts", "timezone"} or type(minute) is not int or not 0 <= minute <= 59:
            raise IntakeError(400, f"{_WHERE}.hour_starts must be a minute from 0 to 59, set alone")
        return Periods(period, zone_name, hour_minute=minute)
    day_starts, month_starts = window.get("day_starts"), window.get("month_starts")
    match = _HH_MM.fullmatch(day_starts) if isinstance(day_starts, str) else None
    if match is None or month_starts not in (None, 1):
        raise IntakeError(400, f"{_WHERE}: day_starts must be \"HH:mm\" and month_starts 1 (set together), got "
                               f"{shorten(day_starts)} and {shorten(month_starts)}")
    return Periods(period, zone_name, day_time=(int(match[1]), int(match[2])))
