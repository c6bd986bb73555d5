"""Query parameters and timestamps as Datadog's APIs take and give them, shared by every product's routes."""

from __future__ import annotations

from datetime import datetime, timezone

from starlette.requests import Request

from autonomic_lib.errors import IntakeError


def iso_time(ts: float, *, zulu: bool = False) -> str:
    """ISO 8601 with microseconds, as v1 (`+00:00`) or v2 (`Z`, zulu=True) resources show times."""
    text = datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="microseconds")
    return text.replace("+00:00", "Z") if zulu else text


def flag(request: Request, name: str) -> bool | None:
    """A boolean query parameter: None when absent, True only for 'true' (any case)."""
    value = request.query_params.get(name)
    return None if value is None else value.strip().lower() == "true"


def int_param(request: Request, name: str, default: int | None = None, *, low: int = 0) -> int | None:
    """An integer query parameter at least `low`; a 400 naming the parameter otherwise."""
    value = request.query_params.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise IntakeError(400, f"Parameter '{name}' must be an integer, not {value!r}") from None
    if number < low:
        raise IntakeError(400, f"Parameter '{name}' must be at least {low}")
    return number
