"""Monitor bodies, checked and normalised as Datadog's v1 API does.

Monitor rules the client's schema cannot express (query grammar, thresholds, anomaly windows) are checked here
against DATADOG.md §3.

Stored monitor documents (kind "monitor") are the API's Monitor shape; the monitor evaluator owns three keys:
`overall_state`, `overall_state_modified` (ISO time or None) and `state.groups[<group>]` =
{name, status, last_triggered_ts, last_notified_ts, last_resolved_ts, last_nodata_ts} (epoch seconds).
"""

from __future__ import annotations

import math
from typing import Any, Iterator

from datadog_api_client.v1.model.monitor import Monitor
from datadog_api_client.v1.model.monitor_type import MonitorType

from autonomic_lib.errors import IntakeError, QueryError, UnsupportedQueryError
from autonomic_lib.query.formula_monitor import is_formula_query
from autonomic_lib.query.language import (
    CHANGE_AGGREGATORS,
    BinaryOp,
    Expr,
    FunctionCall,
    MetricQuery,
    MonitorQuery,
    Negate,
    Not,
    Number,
    Scope,
    TagTerm,
    metric_queries,
    parse_monitor,
)
from autonomic_lib.query.windows import window_seconds
from autonomic_lib.sandbox.http.params import shorten
from autonomic_lib.sandbox.http.schema import schema_error
from autonomic_lib.sandbox.logs.search import parse_query as parse_log_search
from autonomic_lib.sandbox.monitors.cumulative import periods_of
from autonomic_lib.sandbox.monitors.formula import check_formula_monitor
from autonomic_lib.sandbox.monitors.log_query import parse_log_monitor
from autonomic_lib.sandbox.monitors.schedule import custom_schedule_of
from autonomic_lib.sandbox.monitors.unevaluated import check_query_shape

MONITOR_TYPES = frozenset(MonitorType.allowed_values)
OPTION_DEFAULTS: dict[str, Any] = {"notify_no_data": False, "notify_audit": False, "new_host_delay": 300,
                                   "include_tags": True, "silenced": {}}
ANOMALY_ALGORITHMS = ("basic", "agile", "robust")
ANOMALY_KWARGS = {"direction": ("above", "below", "both"), "alert_window": None, "interval": None,
                  "count_default_zero": ("true", "false"), "seasonality": ("hourly", "daily", "weekly"),
                  "timezone": None}

def bad_request(parameter: str, detail: str) -> IntakeError:
    return IntakeError(400, f"The value provided for parameter '{parameter}' is invalid: {detail}")


def normalise_monitor(body: Any, *, existing: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate a create/update body and return the user-settable fields, Datadog's defaults filled in.

    Raises:
        IntakeError: 400 with Datadog's "The value provided for parameter ... is invalid" wording.
    """
    if not isinstance(body, dict):
        raise IntakeError(400, "The request body must be a JSON object describing a monitor")
    merged = {**(existing or {}), **body}
    mtype = merged.get("type")
    if not isinstance(mtype, str) or mtype not in MONITOR_TYPES:
        raise bad_request("type", f"{mtype!r} is not one of {sorted(MONITOR_TYPES)}")
    if mtype == "metric alert":
        mtype = "query alert"  # Datadog stores metric alerts as query alerts (recorded)
    if existing is not None and existing.get("type") not in (None, mtype):
        raise bad_request("type", f"a {existing['type']!r} monitor cannot become {body.get('type')!r}")
    query = merged.get("query")
    if not isinstance(query, str) or not query.strip():
        raise bad_request("query", "a monitor needs a non-empty 'query' string")
    if (problem := schema_error({**merged, "type": mtype}, Monitor)) is not None:
        raise IntakeError(400, problem)
    options = merged.get("options") or {}
    if not isinstance(options, dict):
        raise bad_request("options", f"{shorten(options)} is not an object of monitor options")
    options = {**OPTION_DEFAULTS, **options}
    multi = _check_typed_query(mtype, query, options)
    priority = merged.get("priority")
    if priority is not None and not 1 <= priority <= 5:
        raise bad_request("priority", f"{priority} is not between 1 (high) and 5 (low)")
    return {"type": mtype, "query": query, "name": merged.get("name") or "", "message": merged.get("message") or "",
            "tags": list(merged.get("tags") or []), "priority": priority, "options": options,
            "restricted_roles": merged.get("restricted_roles"), "multi": multi}


def _check_typed_query(mtype: str, query: str, options: dict[str, Any]) -> bool:
    """Check the query as its type reads it (metric, log, or only its documented shape); whether it is grouped."""
    if mtype == "query alert" and is_formula_query(query):
        # stored, not evaluated (unevaluated.py); Datadog's recorded answer to the client's example keeps it with
        # "multi": false although a variable groups by a tag
        formula = check_formula_monitor(query, options)
        check_thresholds(options, formula.threshold, formula.operator)
        return False
    if mtype == "query alert":
        return bool(group_keys(check_query(query, options).expression))
    try:
        if mtype == "log alert":
            parsed = parse_log_monitor(query)
            parse_log_search(parsed.search)
            check_thresholds(options, parsed.threshold, parsed.operator)
            return bool(parsed.group_by)
        comparison = check_query_shape(mtype, query)
    except UnsupportedQueryError as exc:
        raise IntakeError(400, f"The value provided for parameter 'query' is not supported by the sandbox: {exc}") \
            from None
    except QueryError as exc:
        raise bad_request("query", str(exc)) from None
    if comparison is not None:
        check_thresholds(options, comparison[1], comparison[0])
    return ".by(" in query or " by {" in query


def check_query(query: str, options: dict[str, Any]) -> MonitorQuery:
    """Parse a metric monitor query and check it against its options; fills thresholds.critical from the query."""
    try:
        parsed = parse_monitor(query)
        anomaly = _check_expression(parsed.expression)
    except UnsupportedQueryError as exc:
        raise IntakeError(400, f"The value provided for parameter 'query' is not supported by the sandbox: {exc}") \
            from None
    except QueryError as exc:
        raise bad_request("query", str(exc)) from None
    if not math.isfinite(parsed.threshold):  # `> 1e999` parses as infinity, which JSON cannot even store
        raise bad_request("query", f"the threshold {parsed.threshold} is not a finite number")
    check_thresholds(options, parsed.threshold, parsed.operator)
    if anomaly is not None:
        _check_anomaly(anomaly, parsed, options)
    _check_window_forms(parsed, anomaly, options)
    return parsed


def check_thresholds(options: dict[str, Any], threshold: float, operator: str) -> None:
    """options.thresholds against the query's threshold and operator; fills thresholds.critical from the query."""
    thresholds = options.get("thresholds") or {}
    if not isinstance(thresholds, dict):
        raise bad_request("options.thresholds", f"{shorten(thresholds)} is not an object of threshold levels")
    thresholds = dict(thresholds)
    for level, value in thresholds.items():
        if value is not None and (type(value) not in (int, float) or not math.isfinite(value)):
            raise bad_request(f"options.thresholds.{level}", f"{shorten(value)} is not a finite number")
    if "critical" not in thresholds:
        if thresholds:  # Datadog refuses warnings without the alert level (recorded wording)
            raise IntakeError(400, "Alert status is required.")
        thresholds["critical"] = threshold
    if thresholds["critical"] != threshold:
        raise IntakeError(400, f"Alert threshold ({_num(thresholds['critical'])}) does not match that used in the "
                               f"query ({_num(threshold)}).")
    _check_threshold_order(thresholds, operator)
    options["thresholds"] = thresholds


def _check_window_forms(parsed: MonitorQuery, anomaly: FunctionCall | None, options: dict[str, Any]) -> None:
    """Change and cumulative windows: evaluated in their documented forms, refused with anomalies()."""
    if parsed.time_aggr in CHANGE_AGGREGATORS and parsed.change is None:
        raise IntakeError(400, f"The value provided for parameter 'query' is not supported by the sandbox: "
                               f"{parsed.time_aggr}(<window>) without a time aggregation and timeshift; write the "
                               f"documented form {parsed.time_aggr}(avg(last_5m),last_1h)")
    if anomaly is not None and (parsed.change or parsed.cumulative):
        raise IntakeError(400, "The value provided for parameter 'query' is not supported by the sandbox: "
                               "anomalies() in a change monitor or over a cumulative window")
    if parsed.cumulative:
        periods_of(parsed.cumulative, options)
    custom_schedule_of(options)


def _check_expression(expr: Expr, top: bool = True) -> FunctionCall | None:
    """Refuse what the sandbox monitor evaluator cannot imitate; returns the anomalies() call if there is one."""
    if isinstance(expr, FunctionCall):
        if expr.name == "anomalies" and top:
            if not expr.args or isinstance(expr.args[0], str):
                raise QueryError("anomalies() takes a metric query as its first argument")
            _check_expression(expr.args[0], top=False)
            return expr
        raise UnsupportedQueryError(f"function {expr.name}() is not supported in sandbox monitors "
                                    "(only anomalies() around the whole query)")
    if isinstance(expr, MetricQuery):
        if expr.scope.template_vars():
            raise QueryError(f"template variable {expr.scope.template_vars()[0]} is not allowed in a monitor query")
    elif isinstance(expr, BinaryOp):
        _check_expression(expr.left, False)
        _check_expression(expr.right, False)
    elif isinstance(expr, Negate):
        _check_expression(expr.operand, False)
    if top and not any(True for _ in metric_queries(expr)):
        raise QueryError("the monitor query references no metric")
    return None


def _check_threshold_order(thresholds: dict[str, Any], operator: str) -> None:
    """Warning and recovery levels must sit on the quiet side of the alert level (sandbox wording)."""
    above = operator in (">", ">=")
    pairs = [("warning", "critical"), ("critical_recovery", "critical"), ("warning_recovery", "warning")]
    for lower, upper in pairs:
        if thresholds.get(lower) is None or thresholds.get(upper) is None:
            continue
        low, high = (thresholds[lower], thresholds[upper]) if above else (thresholds[upper], thresholds[lower])
        if not low < high:
            side = "below" if above else "above"
            raise IntakeError(400, f"Threshold '{lower}' ({_num(thresholds[lower])}) must be {side} '{upper}' "
                                   f"({_num(thresholds[upper])}) for a '{operator}' monitor")


def _check_anomaly(call: FunctionCall, parsed: MonitorQuery, options: dict[str, Any]) -> None:
    """DATADOG.md §3.5: algorithm, bounds, alert_window == trigger_window, both windows, threshold in (0, 1]."""
    if len(call.args) != 3 or call.args[1] not in ANOMALY_ALGORITHMS or not isinstance(call.args[2], Number) \
            or call.args[2].value <= 0:
        raise bad_request("query", "anomalies(<query>, '<basic|agile|robust>', <deviations > 0>, ...) expected")
    kwargs = dict(call.kwargs)
    for name, value in kwargs.items():
        if name not in ANOMALY_KWARGS:
            raise bad_request("query", f"anomalies() has no argument {name!r}; expected {sorted(ANOMALY_KWARGS)}")
        allowed = ANOMALY_KWARGS[name]
        if allowed is not None and value not in allowed:
            raise bad_request("query", f"anomalies() {name}={value!r} is not one of {list(allowed)}")
    if call.args[1] == "basic" and "seasonality" in kwargs:
        raise bad_request("query", "the 'basic' algorithm takes no seasonality")
    alert_window = kwargs.get("alert_window")
    if alert_window is None:
        raise bad_request("query", "anomalies() needs alert_window='last_<n><m|h|d|w>'")
    try:
        alert_seconds = window_seconds(alert_window)
    except QueryError as exc:
        raise bad_request("query", f"anomalies() alert_window: {exc}") from None
    interval = kwargs.get("interval")
    if interval is not None and (not isinstance(interval, int) or not 0 < interval <= alert_seconds // 5):
        raise bad_request("query", f"anomalies() interval={interval} must be a whole number of seconds of at most "
                                   f"alert_window / 5 ({alert_seconds // 5})")
    if parsed.window_seconds < alert_seconds:
        raise bad_request("query", f"the query window must be at least the alert_window ({alert_window})")
    windows = options.get("threshold_windows") or {}
    if not isinstance(windows, dict) or not windows.get("trigger_window") or not windows.get("recovery_window"):
        raise IntakeError(400, "Anomaly monitors need options.threshold_windows with both trigger_window and "
                               "recovery_window")
    if windows["trigger_window"] != alert_window:
        raise IntakeError(400, f"options.threshold_windows.trigger_window ({windows['trigger_window']}) must equal "
                               f"the query's alert_window ({alert_window})")
    try:
        window_seconds(windows["recovery_window"])
    except QueryError as exc:
        raise IntakeError(400, f"options.threshold_windows.recovery_window: {exc}") from None
    if not 0 < parsed.threshold <= 1 or parsed.operator != ">=":
        raise bad_request("query", "an anomaly monitor compares with '>= <threshold>', the threshold being the "
                                   f"fraction of anomalous points in (0, 1], not '{parsed.operator} "
                                   f"{_num(parsed.threshold)}'")
    for name, level in options["thresholds"].items():
        if level is not None and not 0 <= level <= 1:
            raise IntakeError(400, f"Anomaly threshold '{name}' ({_num(level)}) must be a fraction in [0, 1]")


def group_keys(expr: Expr) -> tuple[str, ...]:
    """The tag keys a monitor groups by (a grouped monitor is a multi alert)."""
    return tuple(dict.fromkeys(key for q in metric_queries(expr) for key in q.group_by))


def scope_tags(query: str) -> set[str]:
    """The tags a monitor query scopes on (not negated), for the list endpoint's `tags` filter."""
    try:
        expr = parse_monitor(query).expression
    except QueryError:
        return set()

    def terms(scope: Scope) -> Iterator[str]:
        if isinstance(scope, TagTerm):
            yield scope.value if scope.key is None else f"{scope.key}:{scope.value}"
        elif not isinstance(scope, Not):
            for child in getattr(scope, "operands", ()):
                yield from terms(child)
    return {tag for q in metric_queries(expr) for tag in terms(q.scope)}


def _num(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
