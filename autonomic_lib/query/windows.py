"""Datadog's rolling windows (`last_15m`), read in one place.

The monitor grammar, the sandbox's monitor checks and evaluator, and the asset lint all read windows here, so a
bad window is refused with the same words wherever it is written (DATADOG.md 3.4: `last_#m`, `last_#h`, `last_#d`,
`last_#w`; the cumulative `current_1mo` windows of metric monitors are valid Datadog the sandbox does not imitate).
"""

from __future__ import annotations

import re

from autonomic_lib.errors import QueryError, UnsupportedQueryError

WINDOW_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_WINDOW_SECONDS = 31 * 86400  # DATADOG.md 3.6: "Rolling windows: up to 1 month for metric monitors"
WINDOW_FORM = "last_<n><m|h|d|w> with n >= 1, at most a month (e.g. last_15m)"
_WINDOW = re.compile(r"(last|current)_([0-9]{1,9})([a-z]+)")  # ASCII digits: \d takes '٣' too


def window_seconds(text: object) -> int:
    """`last_15m` -> 900.

    Raises:
        QueryError: the text is not such a window; the message names the text and WINDOW_FORM.
        UnsupportedQueryError: a cumulative `current_...` window.
    """
    match = _WINDOW.fullmatch(text) if isinstance(text, str) else None
    if match and match[1] == "current":
        raise UnsupportedQueryError(f"cumulative window {text!r} is not supported by the sandbox; expected "
                                    f"{WINDOW_FORM}", query=str(text))
    seconds = int(match[2]) * WINDOW_UNITS.get(match[3], 0) if match else 0
    if not 1 <= seconds <= MAX_WINDOW_SECONDS:
        raise QueryError(f"bad window {text!r}: expected {WINDOW_FORM}", query=str(text))
    return seconds

