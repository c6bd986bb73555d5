"""A monitor's custom schedule: evaluated only at the occurrences of its recurrences, not every minute.

`options.scheduling_options.custom_schedule.recurrences[]` = {rrule, start, timezone} (the client's
`MonitorOptionsCustomSchedule`, `MonitorOptionsCustomScheduleRecurrence`; its example CreateMonitor_1539578087:
`FREQ=DAILY;INTERVAL=1` from "2024-10-26T09:13:00" in America/Los_Angeles). The docs mark the feature private beta;
the sandbox reading: each occurrence (to the minute) is an evaluation, and between two the monitor keeps its state.
Rules are read by recurrence.py (its bounds apply).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from autonomic_lib import recurrence
from autonomic_lib.errors import IntakeError
from autonomic_lib.recurrence import RecurrenceError

_WHERE = "options.scheduling_options.custom_schedule.recurrences"
MAX_RECURRENCES = 20  # a sandbox bound


@dataclass(frozen=True)
class CustomSchedule:
    """The recurrences (rrule, local start, time zone) a monitor is evaluated at."""

    recurrences: tuple[tuple[str, str, str], ...]

    def mask(self, evals: np.ndarray) -> np.ndarray:
        """Which evaluation minutes (sorted epoch seconds, a day at most) are occurrences."""
        if not len(evals):
            return np.zeros(0, dtype=bool)
        minutes: set[int] = set()
        for rule, start, zone in self.recurrences:
            found = recurrence.occurrences(rule, start, recurrence.zone_of(zone), float(evals[0]), float(evals[-1]))
            minutes.update(int(t) // 60 * 60 for t in found)
        return np.isin(evals, np.fromiter(minutes, dtype=np.int64, count=len(minutes)))


def custom_schedule_of(options: dict[str, Any]) -> CustomSchedule | None:
    """The monitor's custom schedule, None without one; a 400 naming the field when one is invalid."""
    scheduling = options.get("scheduling_options")
    custom = scheduling.get("custom_schedule") if isinstance(scheduling, dict) else None
    if not custom:
        return None
    recurrences = custom.get("recurrences") if isinstance(custom, dict) else None
    if not isinstance(recurrences, list) or not 1 <= len(recurrences) <= MAX_RECURRENCES:
        raise IntakeError(400, f"The value provided for parameter '{_WHERE}' is invalid: expected 1 to "
                               f"{MAX_RECURRENCES} recurrences")
    out = []
    for i, rec in enumerate(recurrences):
        if not isinstance(rec, dict):
            raise IntakeError(400, f"The value provided for parameter '{_WHERE}[{i}]' is invalid: not an object")
        try:
            zone = recurrence.zone_of(rec.get("timezone"))
            recurrence.parse_rule(rec.get("rrule"), rec.get("start"), zone)
        except RecurrenceError as exc:
            raise IntakeError(400, f"The value provided for parameter '{_WHERE}[{i}].{exc.part}' is invalid: "
                                   f"{exc}") from None
        out.append((str(rec["rrule"]), str(rec["start"]), zone.key))
    return CustomSchedule(tuple(out))
