"""Monitor types the sandbox stores but does not evaluate, and the little of their queries Datadog documents.

Datadog accepts every `MonitorType` (composite, service check, event-v2, SLO, RUM, APM, CI, cost, LLM
Observability, ...), and metric monitors written as formulas over `options.variables` (formula.py). The sandbox
has none of their data, so it keeps such a monitor as Datadog would right after
creation (overall_state "No Data", no groups) and says so: `not_evaluated_reason` is shown in GET with
`group_states` (state.sandbox_evaluation), on the monitor page and in /sandbox/evaluation; assets/lint.py warns.

Query shapes checked (the client's `MonitorsApi.create_monitor` docstring, "Query Types"): every documented form
but composite and service check ends with `<operator> <number>`, whose number is the alert threshold; a composite
query combines monitor ids with `&&`, `||`, `!` and parentheses; a service check query is
`"<check>".over(<tags>)...`. Anything else in a query is stored as given.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from autonomic_lib.errors import QueryError
from autonomic_lib.query.formula_monitor import is_formula_query

EVALUATED_TYPES = ("query alert", "metric alert", "log alert")
METRIC_TYPES = ("query alert", "metric alert")
NO_COMPARISON = frozenset({"composite", "service check", "synthetics alert"})
_OPERATORS = ("<=", ">=", "==", "!=", "<", ">")
_NUMBER_CHARS = frozenset("0123456789.eE+-")
_COMPOSITE_CHARS = frozenset("0123456789&|!() \t\n")


def is_evaluated(monitor: Mapping[str, Any]) -> bool:
    """Whether the sandbox evaluates this monitor: metric and log monitors, but not formula-and-functions ones."""
    return monitor.get("type") in EVALUATED_TYPES and not _is_formula(monitor)


def not_evaluated_reason(monitor: Mapping[str, Any]) -> str:
    """Why this monitor never changes state in the sandbox."""
    monitor_type = monitor.get("type")
    if _is_formula(monitor):
        return ("A formula and functions metric monitor (formula(...) over options.variables) is stored, listed, "
                "updated and deleted as on Datadog, but not evaluated by the sandbox: it evaluates a metric monitor "
                "written as one metric query (e.g. avg(last_5m):sum:a{*} / sum:b{*} > 1), and has no reference "
                "tables. Its state stays as Datadog shows a monitor never evaluated.")
    return (f"A {monitor_type!r} monitor is stored, listed, updated and deleted as on Datadog, but not evaluated by "
            "the sandbox: it evaluates metric ('query alert') and log ('log alert') monitors only, and has no "
            f"{monitor_type} data. Its state stays as Datadog shows a monitor never evaluated.")


def _is_formula(monitor: Mapping[str, Any]) -> bool:
    return monitor.get("type") in METRIC_TYPES and is_formula_query(str(monitor.get("query") or ""))


def trailing_comparison(query: str) -> tuple[str, float] | None:
    """The `<operator> <number>` a query ends with, or None (scanned backwards, bounded by the query's length)."""
    end = len(query.rstrip())
    i = end
    while i > 0 and query[i - 1] in _NUMBER_CHARS:
        i -= 1
    try:
        threshold = float(query[i:end])
    except ValueError:
        return None
    while i > 0 and query[i - 1].isspace():
        i -= 1
    operator = next((op for op in _OPERATORS if query[max(i - len(op), 0):i] == op), None)
    if operator is None or not math.isfinite(threshold):
        return None
    return operator, threshold


def check_query_shape(monitor_type: str, query: str) -> tuple[str, float] | None:
    """Check an unevaluated monitor's query as far as Datadog documents its type; its (operator, threshold) when it
    has one. Raises QueryError naming the documented form."""
    if monitor_type == "composite":
        if not set(query) <= _COMPOSITE_CHARS or not any(c.isdigit() for c in query):
            raise QueryError("a composite query combines monitor ids with &&, || and ! (for example "
                             "'12345 && 67890')")
        return None
    if monitor_type == "service check":
        if not query.lstrip().startswith('"') or ".over(" not in query:
            raise QueryError('a service check query is "<check>".over(<tags>).last(<count>).by(<group>)'
                             ".count_by_status()")
        return None
    if monitor_type in NO_COMPARISON:
        return None
    comparison = trailing_comparison(query)
    if comparison is None:
        raise QueryError(f"invalid operator specified: a {monitor_type!r} query ends with <operator> <number> "
                         f"(one of {', '.join(_OPERATORS)})")
    return comparison


__all__ = ["EVALUATED_TYPES", "check_query_shape", "is_evaluated", "not_evaluated_reason", "trailing_comparison"]
