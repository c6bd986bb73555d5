"""Datadog's monitor windows, read in one place: rolling (`last_15m`), cumulative (`current_1d`), timeshifts.

The monitor grammar, the sandbox's monitor checks and evaluator, and the asset lint all read windows here, so a
bad window is refused with the same words wherever it is written (DATADOG.md 3.4: `last_#m`, `last_#h`, `last_#d`,
`last_#w`). Cumulative windows are metric monitors' only (DATADOG.md 3.6: "current hour, current day, current
month"; the client's `MonitorOptionsSchedulingOptionsEvaluationWindow` sets where each starts: hour_starts,
day_starts, month_starts); they count from the start of the period to the evaluation, so they are no rolling
window (`window_seconds` refuses them). A change monitor's timeshift is `<n><m|h|d|w>_ago` (the documented
5m_ago ... 1d_ago) or a rolling window (`last_1h`, as the UI writes it).
"""

from __future__ import annotations

import re

from autonomic_lib.errors import QueryError, UnsupportedQueryError

WINDOW_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_WINDOW_SECONDS = 31 * 86400  # DATADOG.md 3.6: "Rolling windows: up to 1 month for metric monitors"
WINDOW_FORM = "last_<n><m|h|d|w> with n >= 1, at most a month (e.g. last_15m)"
_WINDOW = re.compile(r"(last|current)_([0-9]{1,9})([a-z]+)")  # ASCII digits: \d takes '٣' too


CUMULATIVE_WINDOWS = {"current_1h": "hour", "current_1d": "day", "current_1mo": "month"}
CUMULATIVE_LONGEST = {"hour": 3600, "day": 86400, "month": 31 * 86400}  # a period's longest length
_SHIFT = re.compile(r"([0-9]{1,9})([mhdw])_ago")
SHIFT_FORM = "<n><m|h|d|w>_ago (e.g. 1h_ago) or last_<n><m|h|d|w>, at most a month"


def cumulative_period(text: str) -> str:
    """`current_1d` -> "day" (hour, day or month).

    Raises:
        QueryError: any other text, naming the cumulative windows Datadog documents.
    """
    period = CUMULATIVE_WINDOWS.get(text)
    if period is None:
        raise QueryError(f"bad cumulative window {text!r}: expected one of {', '.join(CUMULATIVE_WINDOWS)}",
                         query=text)
    return period


def shift_seconds(text: str) -> int:
    """A change monitor's timeshift: `1h_ago` or `last_1h` -> 3600.

    Raises:
        QueryError: the text is no such shift; the message names SHIFT_FORM.
    """
    match = _SHIFT.fullmatch(text)
    if match is not None:
        seconds = int(match[1]) * WINDOW_UNITS[match[2]]
    else:
        try:
            seconds = window_seconds(text)
        except QueryError:
            seconds = 0
    if not 1 <= seconds <= MAX_WINDOW_SECONDS:
        raise QueryError(f"bad timeshift {text!r}: expected {SHIFT_FORM}", query=text)
    return seconds


def window_seconds(text: object) -> int:
    """`last_15m` -> 900.

    Raises:
        QueryError: the text is not such a window; the message names the text and WINDOW_FORM.
        UnsupportedQueryError: a cumulative `current_...` window.
    """
    match = _WINDOW.fullmatch(text) if isinstance(text, str) else None
    if match and match[1] == "current":
        raise UnsupportedQueryError(f"cumulative window {text!r} is not supported here (only as a metric "
                                    f"monitor's window); expected {WINDOW_FORM}", query=str(text))
    seconds = int(match[2]) * WINDOW_UNITS.get(match[3], 0) if match else 0
    if not 1 <= seconds <= MAX_WINDOW_SECONDS:
        raise QueryError(f"bad window {text!r}: expected {WINDOW_FORM}", query=str(text))
    return seconds

