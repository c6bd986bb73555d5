"""Query parameters, integer fields and timestamps as Datadog's APIs take and give them, shared by every product.

Every integer a request carries goes through `parse_int` (text: query parameters, path parts, date strings) or
`int_field` (a JSON value), so each is checked the same way: ASCII digits only (`str.isdigit` also takes '²',
which `int()` refuses, and `int()` takes '٣' and '1_000'), and a range naming its bounds, so nothing out of
reach of the storage (64-bit integers) or of the clock (years 1970-9999) gets past the parsing into a 500.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, overload

from starlette.requests import Request

from autonomic_lib.errors import IntakeError

INT64_MAX = 2**63 - 1  # Datadog's spec types counts, pages and ids as int64; the sandbox stores them as BIGINT
MAX_EPOCH_S = 253_402_300_799  # 9999-12-31T23:59:59Z, the last second a datetime (and ISO 8601) can show
MAX_EPOCH_MS = MAX_EPOCH_S * 1000
EPOCH_SECONDS = "an integer POSIX timestamp (epoch seconds)"
_INTEGER = re.compile(r"-?[0-9]{1,30}")  # longer is out of every range; int() would even refuse past 4300 digits


def iso_time(ts: float, *, zulu: bool = False) -> str:
    """ISO 8601 with microseconds, as v1 (`+00:00`) or v2 (`Z`, zulu=True) resources show times."""
    text = datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="microseconds")
    return text.replace("+00:00", "Z") if zulu else text


def flag(request: Request, name: str) -> bool | None:
    """A boolean query parameter: None when absent, True only for 'true' (any case)."""
    value = request.query_params.get(name)
    return None if value is None else value.strip().lower() == "true"


def parse_int(text: str, name: str, *, low: int = 0, high: int = INT64_MAX, what: str = "an integer") -> int:
    """`text` as a decimal integer in [low, high]; a 400 naming the parameter, what it takes and its range otherwise.

    Args:
        name: the parameter as the caller's API names it (`from`, `page[size]`, `filter.from`).
        what: what the parameter is ("an integer", "an integer POSIX timestamp"), for the message.
    """
    number = int(text) if _INTEGER.fullmatch(text) else None
    if number is None or not low <= number <= high:
        raise IntakeError(400, f"The parameter '{name}' must be {what} from {low} to {high}, not {text[:40]!r}")
    return number


def int_field(value: Any, where: str, *, low: int = 0, high: int = INT64_MAX, what: str = "an integer") -> int:
    """A JSON integer in [low, high] (not a bool, a float or a string); a 400 naming the field and range otherwise.

    `where` is the field's JSON path as the message should start (`series[0].interval`).
    """
    if type(value) is not int or not low <= value <= high:
        raise IntakeError(400, f"{where} must be {what} from {low} to {high}, got {shorten(value)}")
    return value


@overload
def int_param(request: Request, name: str, default: int, *, low: int = ..., high: int = ...,
              what: str = ...) -> int: ...


@overload
def int_param(request: Request, name: str, default: None = None, *, low: int = ..., high: int = ...,
              what: str = ...) -> int | None: ...


def int_param(request: Request, name: str, default: int | None = None, *, low: int = 0, high: int = INT64_MAX,
              what: str = "an integer") -> int | None:
    """An integer query parameter in [low, high] (`default` when absent); a 400 naming the parameter otherwise."""
    value = request.query_params.get(name)
    return default if value is None else parse_int(value, name, low=low, high=high, what=what)


def epoch_param(request: Request, name: str, *, high: int = MAX_EPOCH_S) -> int:
    """A required epoch-seconds query parameter (`start`, `end`): a 400 when missing or out of [0, high]."""
    value = request.query_params.get(name)
    if not value:
        raise IntakeError(400, f"The parameter '{name}' is required")  # Datadog's wording (events)
    return parse_int(value, name, high=high, what=EPOCH_SECONDS)


def shorten(value: Any, limit: int = 40) -> str:
    """`repr(value)` cut to `limit` characters, for a message quoting what a request sent (which may be huge)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
