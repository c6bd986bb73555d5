"""Lint rules across the assets and the metric catalogue: what the client's models cannot know.

Every query must parse with the sandbox's parser and name catalogue metrics with tags the telemetry
really emits; thresholds must make sense for the metric's unit; every `@workflow-` mention must
reach a workflow the kit ships. Rules append to one list so a run reports everything at once.

A foreign asset (brought from Datadog, see model.py) may watch other systems: its metrics outside the
catalogue, queries beyond the kit's parser and mentions of workflows the kit lacks are warnings, and the kit's
naming and tagging conventions do not apply (import adds the managed-by tag). Catalogue metrics are checked
as strictly as in the kit's own assets.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from ..catalog import Catalog
from ..errors import QueryError
from autonomic_lib.query.language import (FunctionCall, MetricQuery, Scope, TagTerm, metric_queries, parse_formula,
                                          parse_monitor, parse_query)
from autonomic_lib.query.formula_monitor import is_formula_query
from autonomic_lib.query.windows import WINDOW_FORM, window_seconds
from .model import IMPORT_MARK, INTEGRATION_TAG, MANAGED_TAG, NAME_PREFIX, Asset, Problem, Severity

# Workflow actions the sandbox's runner executes (issue 5); others import fine but fail a sandbox run.
SANDBOX_ACTIONS = frozenset({
    "com.datadoghq.core.noop", "com.datadoghq.core.sleep", "com.datadoghq.core.echo",
    "com.datadoghq.core.setVariable", "com.datadoghq.core.setVariables", "com.datadoghq.core.if",
    "com.datadoghq.dd.casem.createCase", "com.datadoghq.dd.casem.searchCases",
})
SANDBOX_TRIGGERS = frozenset({"monitorTrigger"})
METRIC_MONITOR_TYPES = ("query alert", "metric alert")  # the types whose query is a metric query
LOG_MONITOR_TYPE = "log alert"  # logs("<search>")...by("<facets>").last(...): evaluated by the sandbox too
# Sensible monitor thresholds per unit: (low exclusive, high inclusive, the mistake it catches).
UNIT_RANGES = {"dollar": (0.0, 5.0, "a per-message cost in dollars (0.1 = 10 cents), not cents"),
               "second": (0.0, 600.0, "seconds, not milliseconds")}
_MENTION = re.compile(r"@workflow-([A-Za-z0-9_.-]+)(\(([^)]*)\))?")
_MENTION_ARG = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=")
_TAG_VARIABLE = re.compile(r"\{\{\s*([a-z_][a-z0-9_.-]*)\.name\s*\}\}")
_TRIGGER_REF = re.compile(r"\{\{\s*Trigger\.([A-Za-z_][A-Za-z0-9_]*)")


def _terms(scope: Scope) -> Iterator[TagTerm]:
    if isinstance(scope, TagTerm):
        yield scope
    for child in getattr(scope, "operands", ()) or ((scope.operand,) if hasattr(scope, "operand") else ()):
        yield from _terms(child)


class Linter:
    """Runs the cross-asset rules; `problems` collects every finding."""

    def __init__(self, catalog: Catalog, workflows: list[Asset], problems: list[Problem]):
        self.catalog, self.problems = catalog, problems
        self.workflow_inputs: dict[str, set[str]] = {}
        for wf in workflows:
            spec = wf.body.get("spec")
            if isinstance(spec, dict) and spec.get("handle"):
                params = ((spec.get("inputSchema") or {}).get("parameters")) or []
                self.workflow_inputs[spec["handle"]] = {str(p["name"]) for p in params
                                                        if isinstance(p, dict) and p.get("name") is not None}

    def add(self, asset: Asset, path: str, message: str, fix: str, rule: str, severity: Severity = "error") -> None:
        self.problems.append(Problem(str(asset.path), path, message, fix, rule, severity))

    @staticmethod
    def soft(asset: Asset) -> Severity:
        """A finding that is wrong for the kit's own asset but may be right for a foreign one."""
        return "warning" if asset.foreign else "error"

    # ------------------------------------------------------------------------------------ queries
    def check_metric_query(self, asset: Asset, path: str, mq: MetricQuery, template_vars: set[str] | None) -> None:
        """Metric in the catalogue; scope and group-by tags emitted for it with allowed values."""
        spec = self.catalog.metrics.get(mq.metric)
        if spec is None:
            import difflib
            close = difflib.get_close_matches(mq.metric, self.catalog.metrics, n=2)
            fix = f"use {' or '.join(close)}" if close else "add the metric to assets/metadata.csv first"
            if asset.foreign:
                fix = f"fine if it watches another system; for the kit's telemetry {fix}"
            self.add(asset, path, f"unknown metric {mq.metric!r}: nothing the kit emits (not in assets/metadata.csv)",
                     fix, "unknown-metric", self.soft(asset))
            return
        keys = self.catalog.tag_keys_for(mq.metric)
        for var in mq.scope.template_vars():
            name = var.lstrip("$").split(".")[0]
            if template_vars is None:
                self.add(asset, path, f"template variable {var} in a monitor query", "write the tag, e.g. env:demo",
                         "template-variable")
            elif name not in template_vars:
                self.add(asset, path, f"template variable {var} is not declared",
                         f"declare it in $.template_variables (declared: {', '.join(sorted(template_vars)) or 'none'})",
                         "template-variable")
        for term in _terms(mq.scope):
            if term.key is None:
                continue
            self._check_key(asset, path, mq.metric, term.key, keys, "scope")
            tag = self.catalog.tags.get(term.key)
            if tag is not None and term.key in keys and not term.has_wildcard and not tag.allows(term.value):
                self.add(asset, path, f"{term.key}:{term.value} is a value {mq.metric} never carries",
                         f"use a value {tag.describe_values()} (assets/tags.csv)", "tag-value")
        for key in mq.group_by:
            self._check_key(asset, path, mq.metric, key, keys, "group-by")

    def _check_key(self, asset: Asset, path: str, metric: str, key: str, keys: set[str], where: str) -> None:
        if key not in keys:
            self.add(asset, path, f"{where} tag {key!r} is not emitted with {metric}",
                     f"use one of {', '.join(sorted(keys))}, or add {metric} to the key's metrics in assets/tags.csv",
                     "unknown-tag")

    def parse(self, asset: Asset, path: str, text: Any, kind: str, names: set[str] | None = None) -> Any:
        """Parse with the sandbox's parser; a failure is a problem, and None is returned."""
        if not isinstance(text, str):
            self.add(asset, path, f"expected a {kind} string", f"write the {kind} as a string", "query-parse")
            return None
        try:
            if kind == "monitor query":
                return parse_monitor(text)
            return parse_formula(text, names or set()) if kind == "formula" else parse_query(text)
        except QueryError as exc:
            fix = "correct the syntax at that position"
            if asset.foreign:  # Datadog took it; the kit reads a subset of the query language
                fix = "fine if Datadog takes it: the kit reads a subset of the query language, so its metrics go " \
                      "unchecked, and the sandbox may refuse it"
            self.add(asset, path, f"{kind} {text!r} does not parse: {exc}", fix, "query-parse", self.soft(asset))
            return None

    # ------------------------------------------------------------------------------------ monitors
    def monitor(self, asset: Asset) -> None:
        body, base = asset.body, asset.body_path
        tags = body.get("tags") or []
        if asset.foreign:
            self._adds_managed_tag(asset, tags)
        else:
            if MANAGED_TAG not in tags or INTEGRATION_TAG not in tags:
                self.add(asset, f"{base}.tags", f"the monitor lacks {MANAGED_TAG} or {INTEGRATION_TAG}",
                         "add both tags so import and the dashboard's monitor list find it", "managed")
            if not str(body.get("name", "")).startswith(NAME_PREFIX):
                self.add(asset, f"{base}.name", f"the name does not start with {NAME_PREFIX!r}",
                         f"prefix the name with {NAME_PREFIX}", "managed")
        if body.get("type") == LOG_MONITOR_TYPE:  # the sandbox evaluates it; its search is the logs' syntax
            self._message(asset, str(body.get("message", "")), _log_facets(str(body.get("query", ""))))
            return
        if body.get("type") not in METRIC_MONITOR_TYPES:  # APM, RUM, composite...: nothing of the kit's to check
            self.add(asset, f"{base}.type", f"a {body.get('type')!r} monitor is stored but not evaluated by the "
                     "sandbox (it evaluates metric and log monitors only): it never alerts there",
                     "fine for Datadog; in the sandbox its state stays No Data", "sandbox-monitor", "warning")
            return
        if is_formula_query(str(body.get("query", ""))):  # over options.variables: stored, not evaluated
            self.add(asset, f"{base}.query", "a formula and functions metric monitor is stored but not evaluated by "
                     "the sandbox: it never alerts there", "write the arithmetic in one metric query (e.g. "
                     "avg(last_5m):sum:a{*} / sum:b{*} > 1) to have the sandbox evaluate it", "sandbox-monitor",
                     "warning")
            return
        parsed = self.parse(asset, f"{base}.query", body.get("query"), "monitor query")
        if parsed is None:
            return
        queries = list(metric_queries(parsed.expression))
        group_by: set[str] = set()
        for mq in queries:
            self.check_metric_query(asset, f"{base}.query", mq, None)
            group_by.update(mq.group_by)
        options = body.get("options") or {}
        thresholds = options.get("thresholds") or {}
        critical = thresholds.get("critical")
        if (critical is None or isinstance(critical, (int, float))) and critical != parsed.threshold:
            self.add(asset, f"{base}.options.thresholds.critical",
                     f"critical threshold {thresholds.get('critical')} differs from the query's {parsed.threshold:g}",
                     f"set options.thresholds.critical to {parsed.threshold:g}", "threshold-mismatch")
        expression = parsed.expression
        if isinstance(expression, FunctionCall) and expression.name == "anomalies":
            self._anomaly(asset, parsed, options)
        elif isinstance(expression, MetricQuery):
            self._unit_threshold(asset, expression, parsed.threshold)
        self._message(asset, str(body.get("message", "")), group_by)

    def _unit_threshold(self, asset: Asset, mq: MetricQuery, threshold: float) -> None:
        spec = self.catalog.metrics.get(mq.metric)
        if spec is None:
            return
        path = f"{asset.body_path}.query"
        if spec.unit in UNIT_RANGES:
            low, high, meaning = UNIT_RANGES[spec.unit]
            if not low < threshold <= high:
                self.add(asset, path, f"threshold {threshold:g} for {mq.metric} ({spec.unit}) is outside "
                         f"({low:g}, {high:g}]", f"write the threshold in {meaning}", "threshold-unit")
        elif spec.type == "count" and (threshold < 0 or threshold != int(threshold)):
            self.add(asset, path, f"threshold {threshold:g} for the count {mq.metric} is not a whole number of events",
                     "use a whole number such as 1", "threshold-unit")

    def _anomaly(self, asset: Asset, parsed: Any, options: dict[str, Any]) -> None:
        path, call = f"{asset.body_path}.query", parsed.expression
        kwargs = dict(call.kwargs)
        if not 0 < parsed.threshold <= 1:
            self.add(asset, path, f"anomaly threshold {parsed.threshold:g} is not a fraction of the alert window",
                     "use a number in (0, 1], e.g. 0.2 for 20 % of the window anomalous", "threshold-unit")
        windows = options.get("threshold_windows") or {}
        alert_window = kwargs.get("alert_window")
        if alert_window is None:  # the legacy form; Datadog and the sandbox now refuse it
            window = windows.get("trigger_window") or "last_15m"
            self.add(asset, path, "anomalies() has no alert_window: Datadog evaluates an anomaly monitor over its "
                     "alert_window, which must equal options.threshold_windows.trigger_window",
                     f"add alert_window={window!r} to the anomalies() call and set threshold_windows to "
                     f"{{trigger_window: {window!r}, recovery_window: {window!r}}}", "anomaly-window")
            return
        if windows.get("trigger_window") != alert_window or not windows.get("recovery_window"):
            self.add(asset, f"{asset.body_path}.options.threshold_windows",
                     f"trigger_window {windows.get('trigger_window')!r} must equal alert_window {alert_window!r} "
                     "and a recovery_window is required",
                     f"set threshold_windows to {{trigger_window: {alert_window!r}, "
                     f"recovery_window: {alert_window!r}}}",
                     "anomaly-window")
        seconds = self._window(asset, path, "alert_window", alert_window)
        if windows.get("recovery_window"):
            self._window(asset, f"{asset.body_path}.options.threshold_windows", "recovery_window",
                         windows["recovery_window"])
        interval = kwargs.get("interval")
        if seconds is not None and isinstance(interval, (int, float)):
            if interval > seconds / 5:
                self.add(asset, path, f"interval={interval} is more than a fifth of alert_window {alert_window}",
                         f"use interval <= {seconds // 5}", "anomaly-window")
            if parsed.window_seconds < seconds:
                self.add(asset, path, "the query window is shorter than alert_window",
                         "use a query window of about 5 x alert_window, e.g. last_4h", "anomaly-window")
        critical_recovery = (options.get("thresholds") or {}).get("critical_recovery")
        if critical_recovery is not None and critical_recovery >= parsed.threshold:
            self.add(asset, f"{asset.body_path}.options.thresholds.critical_recovery",
                     "critical_recovery must be below critical", "use 0", "threshold-unit")

    def _window(self, asset: Asset, path: str, name: str, text: Any) -> int | None:
        """The window's seconds, read as the sandbox reads it; a bad window is a problem and None."""
        try:
            return window_seconds(text)
        except QueryError as exc:
            self.add(asset, path, f"{name}: {exc}", f"write a window {WINDOW_FORM}", "anomaly-window")
            return None

    def _message(self, asset: Asset, message: str, group_by: set[str]) -> None:
        path = f"{asset.body_path}.message"
        for key in _TAG_VARIABLE.findall(message):
            if key not in group_by:
                self.add(asset, path, f"{{{{{key}.name}}}} renders empty: the query is not grouped by {key}",
                         f"group the query by {key} or remove the variable", "message-variable")
        for handle, _, args in _MENTION.findall(message):
            if handle not in self.workflow_inputs:
                known = ', '.join('@workflow-' + h for h in sorted(self.workflow_inputs)) or 'none'
                fix = f"use one of {known} (the spec.handle of a file in assets/workflows)"
                if asset.foreign:
                    fix = f"fine if the workflow is in your Datadog org; lint and import its export with this " \
                          f"monitor to check the mention, or {fix}"
                self.add(asset, path, f"@workflow-{handle} names no workflow the kit ships or lints here", fix,
                         "workflow-mention", self.soft(asset))
                continue
            for name in _MENTION_ARG.findall(args or ""):
                if name not in self.workflow_inputs[handle]:
                    self.add(asset, path, f"@workflow-{handle} gets {name}=, which its inputSchema does not declare",
                             f"use {', '.join(sorted(self.workflow_inputs[handle]))}", "workflow-mention")

    def _adds_managed_tag(self, asset: Asset, tags: list[Any]) -> None:
        if MANAGED_TAG not in tags:
            self.add(asset, f"{asset.body_path}.tags", f"import adds {MANAGED_TAG}",
                     "nothing to do: the tag is how the kit finds it again", "managed", "info")

    # ------------------------------------------------------------------------------------ dashboards
    def dashboard(self, asset: Asset) -> None:
        declared = {str(v["name"]) for v in asset.body.get("template_variables") or []
                    if isinstance(v, dict) and v.get("name") is not None}
        if asset.foreign and IMPORT_MARK not in str(asset.body.get("description") or ""):
            self.add(asset, "$.description", f"import adds {IMPORT_MARK!r} to the description",
                     "nothing to do: dashboards take team tags only, so the mark is how export finds it again",
                     "managed", "info")
        for path, definition in _widgets(asset.body.get("widgets") or [], "$.widgets"):
            if definition.get("type") == "manage_status" and not asset.foreign \
                    and MANAGED_TAG not in str(definition.get("query", "")):
                self.add(asset, f"{path}.query", "the monitor list is not filtered to the kit's monitors",
                         f'filter with tag:"{MANAGED_TAG}"', "managed")
            for i, request in enumerate(definition.get("requests") or []):
                if isinstance(request, dict):
                    self._request(asset, f"{path}.requests[{i}]", request, declared, str(definition.get("title", "")))

    def _request(self, asset: Asset, path: str, request: dict[str, Any], declared: set[str], title: str) -> None:
        names = set()
        for j, query in enumerate(request.get("queries") or []):
            if not isinstance(query, dict) or query.get("data_source") not in (None, "metrics"):
                continue
            names.add(query.get("name"))
            parsed = self.parse(asset, f"{path}.queries[{j}].query", query.get("query"), "metric query")
            for mq in metric_queries(parsed):
                self.check_metric_query(asset, f"{path}.queries[{j}].query", mq, declared)
        if "q" in request:
            for mq in metric_queries(self.parse(asset, f"{path}.q", request["q"], "metric query")):
                self.check_metric_query(asset, f"{path}.q", mq, declared)
        percent = "%" in title
        for j, formula in enumerate(request.get("formulas") or []):
            text = formula.get("formula") if isinstance(formula, dict) else None
            self.parse(asset, f"{path}.formulas[{j}].formula", text, "formula", {n for n in names if n})
            percent = percent or bool(re.search(r"\*\s*100\b", str(text)))
        for j, fmt in enumerate(request.get("conditional_formats") or []):
            value = fmt.get("value") if isinstance(fmt, dict) else None
            if percent and isinstance(value, (int, float)) and not 0 <= value <= 100:
                self.add(asset, f"{path}.conditional_formats[{j}].value",
                         f"{value} is outside 0-100 on a percent widget", "write percent values, e.g. 50 for 50 %",
                         "threshold-unit")

    # ------------------------------------------------------------------------------------ workflows
    def workflow(self, asset: Asset) -> None:
        body, base = asset.body, asset.body_path
        spec = body.get("spec") or {}
        triggers = spec.get("triggers") or []
        monitor_triggered = any("monitorTrigger" in t for t in triggers if isinstance(t, dict))
        if asset.foreign:
            self._adds_managed_tag(asset, body.get("tags") or [])
        elif MANAGED_TAG not in (body.get("tags") or []):
            self.add(asset, f"{base}.tags", f"the workflow lacks {MANAGED_TAG}", "add the tag so import finds it",
                     "managed")
        if len(str(body.get("description", ""))) > 300:
            self.add(asset, f"{base}.description", "the description exceeds Datadog's 300 characters",
                     "shorten it", "workflow")
        if (monitor_triggered or not asset.foreign) and not re.fullmatch(r"[A-Za-z0-9_.-]+",
                                                                         str(spec.get("handle", ""))):
            self.add(asset, f"{base}.spec.handle", "no valid mention handle: a monitor triggers a workflow by it",
                     "set spec.handle, e.g. my-workflow", "workflow")
        if monitor_triggered and not body.get("published"):
            self.add(asset, f"{base}.published", "a monitor trigger runs only published workflows",
                     "set published to true" + (" (fine for a draft)" if asset.foreign else ""), "workflow",
                     self.soft(asset))
        steps = [s for s in spec.get("steps") or [] if isinstance(s, dict)]
        names = [s.get("name") for s in steps]
        inputs = {p.get("name") for p in ((spec.get("inputSchema") or {}).get("parameters") or [])
                  if isinstance(p, dict)}
        for i, trigger in enumerate(triggers):
            for kind in trigger:
                if kind != "startStepNames" and kind not in SANDBOX_TRIGGERS:
                    self.add(asset, f"{base}.spec.triggers[{i}]", f"the sandbox cannot fire a {kind}",
                             "fine for Datadog; in the sandbox only monitor triggers run", "sandbox-action", "warning")
            for name in trigger.get("startStepNames") or []:
                if name not in names:
                    self.add(asset, f"{base}.spec.triggers[{i}].startStepNames", f"no step named {name!r}",
                             f"use one of {', '.join(map(str, names))}", "workflow-step")
        for i, step in enumerate(steps):
            path = f"{base}.spec.steps[{i}]"
            if names.count(step.get("name")) > 1:
                self.add(asset, f"{path}.name", f"step name {step.get('name')!r} is used twice", "rename it",
                         "workflow-step")
            for edge in step.get("outboundEdges") or []:
                if isinstance(edge, dict) and edge.get("nextStepName") not in names:
                    self.add(asset, f"{path}.outboundEdges", f"no step named {edge.get('nextStepName')!r}",
                             f"use one of {', '.join(map(str, names))}", "workflow-step")
            if step.get("actionId") not in SANDBOX_ACTIONS:
                self.add(asset, f"{path}.actionId", f"the sandbox cannot run {step.get('actionId')!r}",
                         f"fine for Datadog; the sandbox runs {', '.join(sorted(SANDBOX_ACTIONS))}",
                         "sandbox-action", "warning")
            for ref in _TRIGGER_REF.findall(str(step.get("parameters"))):
                if ref not in inputs:
                    self.add(asset, f"{path}.parameters", f"{{{{ Trigger.{ref} }}}} is not an input parameter",
                             f"declare {ref} in spec.inputSchema.parameters", "workflow-input")


def _log_facets(query: str) -> set[str]:
    """The facets a log monitor query groups by: the comma list in its `.by("...")` (found without a regex)."""
    start = query.find('.by("')
    end = query.find('")', start + 5) if start >= 0 else -1
    return {part.strip() for part in query[start + 5:end].split(",") if part.strip()} if end >= 0 else set()


def _widgets(widgets: list[Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every widget definition with its JSON path, descending into groups."""
    for i, widget in enumerate(widgets):
        definition = widget.get("definition") if isinstance(widget, dict) else None
        if not isinstance(definition, dict):
            continue
        yield f"{path}[{i}].definition", definition
        yield from _widgets(definition.get("widgets") or [], f"{path}[{i}].definition.widgets")
