"""Monitor and dashboard bodies, checked and normalised as Datadog's v1 API does, plus the schema check they share.

The schema check reuses the official client's generated models (they are Datadog's OpenAPI spec), so the
sandbox accepts exactly the widget types, enums and field types that spec knows, and names the JSON path of
the first violation. Monitor rules the spec cannot express (query grammar, thresholds, anomaly windows) are
checked here against DATADOG.md §3.

Stored monitor documents (kind "monitor") are the API's Monitor shape; the monitor evaluator owns three keys:
`overall_state`, `overall_state_modified` (ISO time or None) and `state.groups[<group>]` =
{name, status, last_triggered_ts, last_notified_ts, last_resolved_ts, last_nodata_ts} (epoch seconds).
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterator

from datadog_api_client import Configuration
from datadog_api_client.exceptions import ApiAttributeError, ApiKeyError, ApiTypeError, ApiValueError
from datadog_api_client.model_utils import (ModelComposed, ModelNormal, ModelSimple, OpenApiModel, UnparsedObject,
                                            validate_and_convert_types)
from datadog_api_client.v1.model.monitor import Monitor
from datadog_api_client.v1.model.monitor_type import MonitorType

from ..errors import IntakeError, QueryError, UnsupportedQueryError
from .querylang import (BinaryOp, Expr, FunctionCall, MetricQuery, MonitorQuery, Negate, Not, Number, Scope, TagTerm,
                        metric_queries,
                        parse_monitor)

_CONFIG = Configuration()  # only carries the client's type-check settings; never used to send anything
MONITOR_TYPES = frozenset(MonitorType.allowed_values)
EVALUATED_TYPES = ("query alert", "metric alert")
OPTION_DEFAULTS: dict[str, Any] = {"notify_no_data": False, "notify_audit": False, "new_host_delay": 300,
                                   "include_tags": True, "silenced": {}}
ANOMALY_ALGORITHMS = ("basic", "agile", "robust")
ANOMALY_KWARGS = {"direction": ("above", "below", "both"), "alert_window": None, "interval": None,
                  "count_default_zero": ("true", "false"), "seasonality": ("hourly", "daily", "weekly"),
                  "timezone": None}
_WINDOW = re.compile(r"last_(\d+)([mhdw])")
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}


# ---------------------------------------------------------------------------------------------------- schema check
def schema_error(data: Any, model: type, path: str = "") -> str | None:
    """The first way `data` (JSON) breaks the client model `model`, as "<json path>: <reason>", or None.

    `path` is where `data` sits in the request ("" for the whole body), so the message names the full path.
    """
    return _explain(data, model, path)


def _at(path: str, reason: str) -> str:
    path = path.lstrip(".")
    return f"{path}: {reason}" if path else reason


def _explain(data: Any, model: Any, path: str) -> str | None:
    try:
        value = validate_and_convert_types(data, (model,), ["$"], True, True, configuration=_CONFIG)
    except (ApiTypeError, ApiValueError, ApiAttributeError, ApiKeyError) as exc:
        where = _json_path(model, list(getattr(exc, "path_to_item", None) or ["$"])[1:], path)
        return _at(where, str(exc).split(" at [")[0])
    except TypeError as exc:  # a required property is missing: the generated __init__ refuses the call
        missing = re.search(r"argument[s]?: '(\w+)'", str(exc))
        name = missing[1] if missing else "?"
        return _at(path, f"'{getattr(model, 'attribute_map', {}).get(name, name)}' is a required property")
    return _find_unparsed(value, data, model, path)


def _find_unparsed(value: Any, data: Any, model: Any, path: str) -> str | None:
    """Walk a converted value to the first part the client could not parse, and explain that part."""
    if isinstance(value, list):
        item_model = model[0] if isinstance(model, list) else model
        for i, item in enumerate(value):
            raw = data[i] if isinstance(data, list) and i < len(data) else None
            if (found := _find_unparsed(item, raw, item_model, f"{path}[{i}]")) is not None:
                return found
        return None
    if isinstance(value, dict) and isinstance(model, dict):
        inner = next(iter(model.values()))[0]
        return next((f for k, v in value.items() if (f := _find_unparsed(v, (data or {}).get(k), inner,
                                                                          f"{path}.{k}")) is not None), None)
    if not isinstance(value, OpenApiModel) or not value._unparsed:
        return None
    if isinstance(value, ModelSimple):
        return _at(path, f"{data!r} is not one of {sorted(type(value).allowed_values)}")
    if isinstance(value, UnparsedObject) or (isinstance(value, ModelComposed)
                                             and isinstance(value._composed_instances[0], UnparsedObject)):
        return _explain_composed(data, model, path)
    if isinstance(value, ModelComposed):
        return _find_unparsed(value._composed_instances[0], data, type(value._composed_instances[0]), path)
    if isinstance(value, ModelNormal):
        for name, child in value._data_store.items():
            key = value.attribute_map.get(name, name)
            raw = data.get(key) if isinstance(data, dict) else None
            if (found := _find_unparsed(child, raw, _field_model(type(value), name), f"{path}.{key}")) is not None:
                return found
    return _at(path, "is invalid")


def _explain_composed(data: Any, model: Any, path: str) -> str:
    """A oneOf that matched nothing: explain against the variant its `type` names, as Datadog's message does."""
    if isinstance(model, type) and issubclass(model, ModelNormal):
        return _explain(data, model, path) or _at(path, "is invalid")
    variants = [v for v in _variants(model) if isinstance(data, dict) and data.get("type") in _type_values(v)]
    reasons = [r for v in variants if (r := _explain(data, v, path)) is not None]
    if variants and len(reasons) == len(variants):
        return reasons[0]
    return _at(path, f"{data!r} is not valid under any of the given schemas")


def _variants(model: Any) -> Iterator[type]:
    """The concrete classes behind a (possibly nested) oneOf model."""
    if isinstance(model, type) and issubclass(model, ModelComposed):
        for variant in model._composed_schemas.get("oneOf", []):
            yield from _variants(variant)
    elif isinstance(model, type):
        yield model


def _type_values(model: type) -> frozenset[str]:
    field = getattr(model, "openapi_types", {}).get("type")
    enum = field[0] if field else None
    return frozenset(getattr(enum, "allowed_values", ()))


def _field_model(model: type, name: str) -> Any:
    types = getattr(model, "openapi_types", {}).get(name, (None,))
    nested = (t for t in types if isinstance(t, (list, dict)) or isinstance(t, type) and issubclass(t, OpenApiModel))
    return next(nested, types[0])


def _json_path(model: Any, segments: list[Any], path: str) -> str:
    """Render the client's python attribute path with the JSON names (camelCase in v2)."""
    for seg in segments:
        if isinstance(seg, int):
            path += f"[{seg}]"
            model = model[0] if isinstance(model, list) else model
            continue
        amap = getattr(model, "attribute_map", {}) if isinstance(model, type) else {}
        path += f".{amap.get(seg, seg)}"
        model = _field_model(model, seg) if isinstance(model, type) else None
    return path


def widget_types() -> dict[str, list[type]]:
    """Every widget `definition.type` the client's WidgetDefinition knows, with its model class(es)."""
    from datadog_api_client.v1.model.widget_definition import WidgetDefinition
    known: dict[str, list[type]] = {}
    for variant in WidgetDefinition._composed_schemas["oneOf"]:
        for value in set().union(*(_type_values(v) for v in _variants(variant))):
            known.setdefault(value, []).append(variant)
    return known


# ---------------------------------------------------------------------------------------------------- monitors
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
    if mtype not in MONITOR_TYPES:
        raise bad_request("type", f"{mtype!r} is not one of {sorted(MONITOR_TYPES)}")
    if mtype not in EVALUATED_TYPES:
        raise IntakeError(400, f"Monitor type {mtype!r} is not supported by the sandbox: it evaluates metric "
                               "monitors only ('query alert', 'metric alert')")
    mtype = "query alert"  # Datadog stores metric alerts as query alerts (recorded)
    if existing is not None and existing.get("type") not in (None, mtype):
        raise bad_request("type", f"a {existing['type']!r} monitor cannot become {body.get('type')!r}")
    query = merged.get("query")
    if not isinstance(query, str) or not query.strip():
        raise bad_request("query", "a monitor needs a non-empty 'query' string")
    if (problem := schema_error({**merged, "type": mtype}, Monitor)) is not None:
        raise IntakeError(400, problem)
    options = {**OPTION_DEFAULTS, **(merged.get("options") or {})}
    parsed = check_query(query, options)
    priority = merged.get("priority")
    if priority is not None and not 1 <= priority <= 5:
        raise bad_request("priority", f"{priority} is not between 1 (high) and 5 (low)")
    return {"type": mtype, "query": query, "name": merged.get("name") or "", "message": merged.get("message") or "",
            "tags": list(merged.get("tags") or []), "priority": priority, "options": options,
            "restricted_roles": merged.get("restricted_roles"), "multi": bool(group_keys(parsed.expression))}


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
    thresholds = dict(options.get("thresholds") or {})
    if "critical" not in thresholds:
        if thresholds:  # Datadog refuses warnings without the alert level (recorded wording)
            raise IntakeError(400, "Alert status is required.")
        thresholds["critical"] = parsed.threshold
    if thresholds["critical"] != parsed.threshold:
        raise IntakeError(400, f"Alert threshold ({_num(thresholds['critical'])}) does not match that used in the "
                               f"query ({_num(parsed.threshold)}).")
    _check_threshold_order(thresholds, parsed.operator)
    options["thresholds"] = thresholds
    if anomaly is not None:
        _check_anomaly(anomaly, parsed, options)
    return parsed


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
    if not isinstance(alert_window, str) or not (alert_seconds := window_seconds(alert_window)):
        raise bad_request("query", "anomalies() needs alert_window='last_<n><m|h|d|w>'")
    interval = kwargs.get("interval")
    if interval is not None and (not isinstance(interval, int) or not 0 < interval <= alert_seconds // 5):
        raise bad_request("query", f"anomalies() interval={interval} must be a whole number of seconds of at most "
                                   f"alert_window / 5 ({alert_seconds // 5})")
    if parsed.window_seconds < alert_seconds:
        raise bad_request("query", f"the query window must be at least the alert_window ({alert_window})")
    windows = options.get("threshold_windows") or {}
    if not windows.get("trigger_window") or not windows.get("recovery_window"):
        raise IntakeError(400, "Anomaly monitors need options.threshold_windows with both trigger_window and "
                               "recovery_window")
    if windows["trigger_window"] != alert_window:
        raise IntakeError(400, f"options.threshold_windows.trigger_window ({windows['trigger_window']}) must equal "
                               f"the query's alert_window ({alert_window})")
    if not window_seconds(windows["recovery_window"]):
        raise IntakeError(400, f"options.threshold_windows.recovery_window {windows['recovery_window']!r} is not a "
                               "window like last_15m")
    if not 0 < parsed.threshold <= 1 or parsed.operator != ">=":
        raise bad_request("query", "an anomaly monitor compares with '>= <threshold>', the threshold being the "
                                   f"fraction of anomalous points in (0, 1], not '{parsed.operator} "
                                   f"{_num(parsed.threshold)}'")
    for name, level in options["thresholds"].items():
        if level is not None and not 0 <= level <= 1:
            raise IntakeError(400, f"Anomaly threshold '{name}' ({_num(level)}) must be a fraction in [0, 1]")


def window_seconds(text: str) -> int | None:
    """`last_15m` -> 900; None when the text is not such a window."""
    match = _WINDOW.fullmatch(text)
    return int(match[1]) * _UNITS[match[2]] if match and int(match[1]) > 0 else None


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


# ---------------------------------------------------------------------------------------------------- dashboards
def check_dashboard(body: Any, new_widget_id: Callable[[], int], keep_ids: frozenset[int]) -> dict[str, Any]:
    """Validate a dashboard body like Datadog and return it with every widget carrying an integer `id`.

    A widget id the dashboard already had (`keep_ids`) is kept so that PUT of a fetched body is stable.
    """
    from datadog_api_client.v1.model.dashboard import Dashboard
    if not isinstance(body, dict):
        raise IntakeError(400, "The request body must be a JSON object describing a dashboard")
    for name in ("title", "layout_type", "widgets"):
        if name not in body:
            raise IntakeError(400, f"'{name}' is a required property")
    if not isinstance(body["title"], str) or not body["title"].strip():
        raise IntakeError(400, "'title' must be a non-empty string")
    if body["layout_type"] not in ("ordered", "free"):
        raise IntakeError(400, f"layout_type: {body['layout_type']!r} is not one of ['ordered', 'free']")
    reflow = body.get("reflow_type")
    if reflow is not None and body["layout_type"] != "ordered":
        raise IntakeError(400, "reflow_type: only an 'ordered' dashboard has a reflow_type")
    if not isinstance(body["widgets"], list):
        raise IntakeError(400, "widgets: must be an array of widgets")
    for tv in body.get("template_variables") or []:
        if isinstance(tv, dict) and tv.get("default") is not None and tv.get("defaults"):
            raise IntakeError(400, "'template_variables' is invalid")  # recorded: default and defaults together
    for tag in body.get("tags") or []:
        if not isinstance(tag, str) or not tag.startswith("team:"):
            raise IntakeError(400, f"tags: {tag!r} is not a team tag; dashboard tags must be 'team:<name>'")
    if (problem := schema_error({**body, "widgets": []}, Dashboard)) is not None:
        raise IntakeError(400, problem)
    layout_rule = "required" if body["layout_type"] == "free" or reflow == "fixed" else \
        "forbidden" if reflow == "auto" else None
    known = widget_types()
    widgets = [_check_widget(w, i, f"widgets[{i}]", known, new_widget_id, keep_ids, layout_rule, inner=False)
               for i, w in enumerate(body["widgets"])]
    return {**body, "widgets": widgets}


def _check_widget(widget: Any, i: int, path: str, known: dict[str, list[type]], new_id: Callable[[], int],
                  keep_ids: frozenset[int], layout_rule: str | None, inner: bool) -> dict[str, Any]:
    from datadog_api_client.v1.model.widget_layout import WidgetLayout
    what = "inner widget" if inner else "widget"
    definition = widget.get("definition") if isinstance(widget, dict) else None
    if not isinstance(definition, dict):
        raise IntakeError(400, f"Invalid {what} at position {i}. Error: 'definition' is a required property "
                               f"(at {path}.definition)")
    wtype = definition.get("type")
    prefix = f"Invalid {what} definition at position {i} of type {wtype}. Error: "
    if wtype not in known:
        raise IntakeError(400, f"{prefix}unknown widget type {wtype!r} at {path}.definition.type; known types: "
                               f"{', '.join(sorted(known))}")
    if "layout" in widget and layout_rule == "forbidden":
        raise IntakeError(400, f"Invalid {what} at position {i}. Error: a widget of a dashboard with reflow_type "
                               f"'auto' has no layout (at {path}.layout)")
    if "layout" not in widget and layout_rule == "required":
        raise IntakeError(400, f"Invalid {what} at position {i}. Error: 'layout' is a required property "
                               f"(at {path}.layout)")
    if "layout" in widget and (problem := schema_error(widget["layout"], WidgetLayout, f"{path}.layout")):
        raise IntakeError(400, f"Invalid {what} at position {i}. Error: {problem}")
    if wtype == "group" and isinstance(definition.get("widgets"), list):
        try:
            children = [_check_widget(w, j, f"{path}.definition.widgets[{j}]", known, new_id, keep_ids, None, True)
                        for j, w in enumerate(definition["widgets"])]
        except IntakeError as exc:
            raise IntakeError(400, f"{prefix}{exc}") from None
        definition = {**definition, "widgets": children}
    reasons = [schema_error(definition, model, f"{path}.definition") for model in known[wtype]]
    if all(reasons):
        raise IntakeError(400, f"{prefix}{reasons[0]}")
    wid = widget.get("id")
    keep = isinstance(wid, int) and not isinstance(wid, bool) and wid in keep_ids
    return {**widget, "definition": definition, "id": wid if keep else new_id()}


def widget_ids(widgets: list[dict[str, Any]]) -> Iterator[int]:
    """Every widget id of a stored dashboard, inner group widgets included."""
    for widget in widgets:
        if isinstance(widget.get("id"), int):
            yield widget["id"]
        yield from widget_ids(widget.get("definition", {}).get("widgets") or [])
