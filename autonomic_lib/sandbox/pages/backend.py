"""The pages product's backend: what each read-only page shows, gathered from the products it reads.

The sandbox has no web app; the links the kit writes (a monitor, a dashboard, a workflow, a Case) open these
pages instead. Nothing here writes: it reads monitors (state, transitions, the expected band), dashboards
(every widget's queries evaluated over the last hours), workflows (their runs) and Cases (their timeline), and
returns plain view models that views.py renders. A missing resource is None, so routes.py answers 404.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from autonomic_lib.errors import IntakeError, QueryError
from autonomic_lib.sandbox.automation.backend import Automation
from autonomic_lib.sandbox.dashboards.backend import Dashboards
from autonomic_lib.sandbox.llmobs.backend import LLMObs
from autonomic_lib.sandbox.metrics.backend import Metrics
from autonomic_lib.sandbox.metrics.evaluate import evaluate_formulas, evaluate_scalar
from autonomic_lib.sandbox.monitors.backend import Monitors
from autonomic_lib.sandbox.monitors.unevaluated import is_evaluated, not_evaluated_reason
from autonomic_lib.sandbox.pages import charts

DEFAULT_HOURS, MAX_HOURS = 6, 48  # the demo's run is about 5.6 h of data ending now
MAX_HISTORY_ROWS, MAX_RUNS = 200, 100
DRAWN = ("timeseries", "query_value", "toplist")
_VARIABLE = re.compile(r"\$([A-Za-z0-9_-]+)")


def when(epoch: float | None) -> str:
    """A time as the pages show it (UTC, to the second); a dash for none."""
    if not epoch:
        return "–"
    return datetime.fromtimestamp(float(epoch), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso_when(text: str | None) -> str:
    """A stored ISO timestamp as `when` shows it."""
    return when(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()) if text else "–"


@dataclass(frozen=True)
class Window:
    """The span the charts of a page cover: the last `hours` up to the sandbox clock, minute-aligned."""

    start: int
    end: int

    @classmethod
    def last(cls, now: float, hours: int) -> Window:
        end = int(now) // 60 * 60 + 60
        return cls(end - hours * 3600, end)


@dataclass
class WidgetView:
    """One dashboard widget as its page shows it: a chart, a number, or why the page cannot draw it."""

    title: str
    type: str
    section: str | None = None  # the title of the group widget holding it
    chart: str | None = None  # a PNG data URI
    value: str | None = None  # a query value's number
    note: str | None = None


@dataclass
class RunSummary:
    """What the sandbox's data says about the run it holds (the sandbox is not told the scenario)."""

    envs: list[str] = field(default_factory=list)
    phases: list[str] = field(default_factory=list)
    series: int = 0


class Pages:
    """Read-only views over the other products' backends.

    Usage::

        pages = Pages(monitors=monitors, dashboards=dashboards, automation=automation, metrics=metrics)
        pages.monitor(12, group="agent_id:a1")   # None when there is no monitor 12
        pages.dashboard("abc-def-ghi", hours=6)
    """

    def __init__(self, *, monitors: Monitors, dashboards: Dashboards, automation: Automation, metrics: Metrics,
                 llmobs: LLMObs | None = None):
        self.monitors, self.dashboards, self.automation, self.metrics = monitors, dashboards, automation, metrics
        self.llmobs = llmobs

    def window(self, hours: int) -> Window:
        return Window.last(self.metrics.clock(), hours)

    def run_summary(self) -> RunSummary:
        """The envs and phases the stored telemetry is tagged with: which run the pages are showing."""
        envs: set[str] = set()
        phases: set[str] = set()
        count = 0
        for metric in self.metrics.store.metrics():
            for series in self.metrics.store.series(metric):
                envs.update(series.tag_values("env"))
                phases.update(series.tag_values("phase"))
                count += 1
        return RunSummary(sorted(envs), sorted(phases), count)

    # ------------------------------------------------------------------------------------------ monitors
    def monitor(self, monitor_id: int, *, group: str | None = None, hours: int = DEFAULT_HOURS
                ) -> dict[str, Any] | None:
        """A monitor with its state per group, its transitions (newest first; one group's when `group` is given)
        and, for an anomaly monitor, its expected band drawn over the window."""
        monitor = self.monitors.get(monitor_id)
        if monitor is None:
            return None
        record = self.monitors.evaluation(monitor_id) or {}
        judged = record.get("groups") or {}
        groups = [{"group": name, "status": state.get("status"), "value": judged.get(name, {}).get("value"),
                   "reason": judged.get(name, {}).get("reason"), "triggered": when(state.get("last_triggered_ts")),
                   "resolved": when(state.get("last_resolved_ts"))}
                  for name, state in sorted(((monitor.get("state") or {}).get("groups") or {}).items())]
        rows = self.monitors.history(monitor_id, group=group)
        history = [{"at": when(r["at"]), "group": r["group"], "previous": r["previous"], "current": r["current"],
                    "value": r["value"], "threshold": r["threshold"]} for r in reversed(rows)]
        window = self.window(hours)
        band = None
        if "anomalies(" in monitor["query"]:
            frame = self.monitors.expected_band(monitor, start=window.start, end=window.end)
            if group is not None and "group" in frame:
                frame = frame[frame["group"] == group]
            band = charts.band_chart(frame, window.start, window.end, title=f"Expected band, last {hours} h")
        return {"monitor": monitor, "groups": groups, "history": history[:MAX_HISTORY_ROWS],
                "more_history": max(len(history) - MAX_HISTORY_ROWS, 0), "group": group, "band": band,
                "error": record.get("error"), "evaluated_until": when(record.get("evaluated_until")),
                "not_evaluated": None if is_evaluated(monitor) else not_evaluated_reason(monitor),
                "state_since": iso_when(monitor.get("overall_state_modified")), "window": window}

    # ------------------------------------------------------------------------------------------ dashboards
    def dashboard(self, dashboard_id: str, *, hours: int = DEFAULT_HOURS) -> dict[str, Any] | None:
        """A dashboard with each widget drawn from the stored data over the last `hours` (template variables at
        their defaults); widgets the page cannot draw are listed with their type."""
        try:
            board = self.dashboards.get_dashboard(dashboard_id)
        except IntakeError:
            return None
        variables = template_values(board.get("template_variables") or [])
        window = self.window(hours)
        widgets = [self._widget(definition, section, variables, window)
                   for definition, section in _flatten(board.get("widgets") or [])]
        return {"dashboard": board, "widgets": widgets, "variables": variables, "window": window}

    def _widget(self, definition: dict[str, Any], section: str | None, variables: dict[str, str],
                window: Window) -> WidgetView:
        kind = str(definition.get("type"))
        view = WidgetView(title=definition.get("title") or kind, type=kind, section=section)
        if kind not in DRAWN:
            view.note = "not drawn by the sandbox's page (it draws timeseries, query values and toplists)"
            return view
        try:
            requests = [widget_request(r, variables) for r in definition.get("requests") or []]
            if kind == "timeseries":
                view.chart = self._timeseries(definition, requests, window, view.title)
            else:
                named = [(label, value) for r in requests for label, value in self._scalar(r, window)]
                if kind == "query_value":
                    value = named[0][1] if named else None
                    view.value = "No data" if value is None else f"{value:,.{definition.get('precision', 2)}f}"
                else:
                    view.chart = charts.toplist_chart(named, title=view.title, limit=_limit(definition))
        except (QueryError, IntakeError, KeyError, TypeError, ValueError) as exc:
            view.note = f"not drawn: {exc}"
        return view

    def _timeseries(self, definition: dict[str, Any], requests: list[WidgetRequest], window: Window,
                    title: str) -> str:
        lines: list[charts.Line] = []
        bars = False
        for request in requests:
            bars = bars or request.display == "bars"
            results = evaluate_formulas(request.queries, [f for f, _ in request.formulas], self.metrics.store,
                                        window.start, window.end, kinds=self.metrics.kind)
            labels = [label for _, label in request.formulas] or list(request.queries)
            for label, result in zip(labels, results):
                for series in result.series:
                    name = label + (f" {{{','.join(series.group_tags)}}}" if series.group_tags else "")
                    lines.append(charts.Line(name, series.times, series.values))
        return charts.timeseries_chart(lines, window.start, window.end, title=title, bars=bars)

    def _scalar(self, request: WidgetRequest, window: Window) -> list[tuple[str, float | None]]:
        results = evaluate_scalar({n: (q, request.aggregators.get(n, "avg")) for n, q in request.queries.items()},
                                  [f for f, _ in request.formulas], self.metrics.store, window.start, window.end,
                                  kinds=self.metrics.kind)
        labels = dict(request.formulas)
        return [(",".join(tags) or labels.get(name, name), value) for name, groups in results for tags, value in groups]

    # ------------------------------------------------------------------------------------------ automation
    def workflow(self, workflow_id: str) -> dict[str, Any] | None:
        """A workflow with its triggers and steps, and its runs (newest first) with the outcome of each."""
        try:
            workflow = self.automation.get_workflow(workflow_id)
            page = self.automation.list_instances(workflow_id, page_size=MAX_RUNS)
        except IntakeError:
            return None
        spec = workflow["attributes"].get("spec") or {}
        triggers = [{"kind": next((k for k in t if k.endswith("Trigger")), "?"),
                     "rate_limit": next((v.get("rateLimit") for k, v in t.items()
                                         if k.endswith("Trigger") and isinstance(v, dict)), None)}
                    for t in spec.get("triggers") or [] if isinstance(t, dict)]
        return {"workflow": workflow, "spec": spec, "triggers": triggers, "runs": [_run(i) for i in page.items],
                "total": page.total, "outcomes": dict(page.outcomes)}

    def case(self, key: str) -> dict[str, Any] | None:
        """A Case (by key or id) with its attributes and timeline; the project it belongs to."""
        cases = self.automation.cases
        try:
            case = cases.get_case(key)
            timeline = cases.timeline(case["id"])
        except IntakeError:
            return None
        project_id = case["relationships"]["project"]["data"]["id"]
        try:
            project: dict[str, Any] | None = cases.get_project(project_id)
        except IntakeError:
            project = None
        attrs = case["attributes"]
        comments = [{"at": iso_when(c["attributes"]["created_at"]),
                     "author": (c["attributes"].get("author") or {}).get("content", {}).get("name", ""),
                     "message": (c["attributes"].get("cell_content") or {}).get("message", "")} for c in timeline]
        monitor_ids = [m for m in (attrs.get("attributes") or {}).get("monitor_id", []) if str(m).isdigit()]
        return {"case": case, "attrs": attrs, "project": project, "comments": comments,
                "created": iso_when(attrs.get("created_at")), "closed": iso_when(attrs.get("closed_at")),
                "monitor_ids": monitor_ids}

    # ------------------------------------------------------------------------------------------ LLM traces
    def llm_trace(self, trace_id: str) -> dict[str, Any] | None:
        """An LLM Observability trace as a span tree: each span's offset and duration (ms, and as a share of the
        trace for its bar), kind, model, tokens, cost, status and evaluations; the trace's totals."""
        spans = self.llmobs.trace(trace_id) if self.llmobs is not None else []
        if not spans:
            return None
        start = min(s["start_ns"] for s in spans)
        end = max(s["start_ns"] + s["duration"] for s in spans)
        total_ns = max(end - start, 1)
        rows = [_llm_row(span, depth, start, total_ns) for span, depth in _span_tree(spans)]
        root = rows[0]
        return {"trace_id": trace_id, "ml_app": spans[0]["ml_app"], "rows": rows, "started": when(start / 1e9),
                "duration_ms": total_ns / 1e6, "tokens": sum(r["tokens"].get("total_tokens", 0) for r in rows),
                "cost": sum(r["cost"] or 0 for r in rows), "errors": sum(r["status"] == "error" for r in rows),
                "root": root}


def _span_tree(spans: list[dict[str, Any]]) -> list[tuple[dict[str, Any], int]]:
    """The spans depth first from their roots (a span whose parent is not stored counts as a root), children in
    start order, each once with its depth; iterative, so a deep or cyclic trace cannot exhaust the stack."""
    ids = {s["span_id"] for s in spans}
    children: dict[str, list[dict[str, Any]]] = {}
    roots = []
    for span in sorted(spans, key=lambda s: (s["start_ns"], s["span_id"])):
        if span["parent_id"] in ids and span["parent_id"] != span["span_id"]:
            children.setdefault(span["parent_id"], []).append(span)
        else:
            roots.append(span)
    ordered: list[tuple[dict[str, Any], int]] = []
    seen: set[str] = set()
    for root in [*roots, *spans]:  # then any span a parent cycle kept from every root, as a root of its own
        stack = [(root, 0)]
        while stack:
            span, depth = stack.pop()
            if span["span_id"] in seen:
                continue
            seen.add(span["span_id"])
            ordered.append((span, depth))
            stack += [(c, depth + 1) for c in reversed(children.get(span["span_id"], []))]
    return ordered


_TOKEN_KEYS = ("input_tokens", "output_tokens", "reasoning_output_tokens", "total_tokens")
MAX_SHOWN_CHARS = 2000  # of an input or output on the page


def _llm_row(span: dict[str, Any], depth: int, start_ns: int, total_ns: float) -> dict[str, Any]:
    metrics = span.get("metrics", {})
    cost = metrics.get("estimated_total_cost")
    return {"name": span["name"], "kind": span["span_kind"], "depth": depth, "status": span["status"],
            "offset_ms": (span["start_ns"] - start_ns) / 1e6, "duration_ms": span["duration"] / 1e6,
            "left": 100 * (span["start_ns"] - start_ns) / total_ns,
            "width": max(100 * span["duration"] / total_ns, 0.5),
            "model": "/".join(span[k] for k in ("model_provider", "model_name") if span.get(k)),
            "tokens": {k: int(metrics[k]) for k in _TOKEN_KEYS if k in metrics},
            "cost": cost / 1e9 if cost is not None else None,  # nanodollars to dollars
            "input": (span.get("input") or {}).get("value", "")[:MAX_SHOWN_CHARS],
            "output": (span.get("output") or {}).get("value", "")[:MAX_SHOWN_CHARS],
            "error": span.get("_error"), "evaluations": span.get("evaluation", {})}


# ---------------------------------------------------------------------------------------------- widgets
@dataclass
class WidgetRequest:
    """One widget request in the v2 shape: named metric queries, formulas with their labels, scalar aggregators."""

    queries: dict[str, str]
    formulas: list[tuple[str, str]]  # (formula, legend label)
    aggregators: dict[str, str] = field(default_factory=dict)
    display: str = "line"


def template_values(variables: list[dict[str, Any]]) -> dict[str, str]:
    """Each template variable's default as a scope term (`$env` -> `env:demo`; `*` when it has none)."""
    out = {}
    for tv in variables:
        defaults = tv.get("defaults") or ([tv["default"]] if tv.get("default") else [])
        value = defaults[0] if defaults else "*"
        prefix = tv.get("prefix")
        out[tv["name"]] = "*" if value == "*" else f"{prefix}:{value}" if prefix else value
    return out


def fill_variables(query: str, values: dict[str, str]) -> str:
    """The query with `$name` replaced by its value; an unknown or `*` variable drops out of a scope list."""
    filled = _VARIABLE.sub(lambda m: values.get(m.group(1), "*"), query)
    filled = re.sub(r"\{\*,", "{", filled)
    return re.sub(r",\*(?=[,}])", "", filled)


def widget_request(raw: dict[str, Any], variables: dict[str, str]) -> WidgetRequest:
    """A widget request (the classic `q` or the v2 `queries` + `formulas`) with its template variables filled.

    Raises:
        ValueError: a data source other than metrics (logs, events...), which the page does not query.
    """
    display = str(raw.get("display_type") or "line")
    if "q" in raw:
        query = fill_variables(raw["q"], variables)
        return WidgetRequest({"query1": query}, [("query1", query)], {"query1": raw.get("aggregator", "avg")},
                             display)
    queries, aggregators = {}, {}
    for q in raw.get("queries") or []:
        if q.get("data_source") != "metrics":
            raise ValueError(f"the {q.get('data_source')!r} data source is not drawn, only metrics")
        queries[q["name"]] = fill_variables(q["query"], variables)
        aggregators[q["name"]] = q.get("aggregator", "avg")
    formulas = [(f["formula"], f.get("alias") or f["formula"]) for f in raw.get("formulas") or []]
    return WidgetRequest(queries, formulas, aggregators, display)


def _flatten(widgets: list[dict[str, Any]], section: str | None = None
             ) -> list[tuple[dict[str, Any], str | None]]:
    """Every widget definition in layout order, group widgets opened (each inner widget with its group's title)."""
    out: list[tuple[dict[str, Any], str | None]] = []
    for widget in widgets:
        definition = widget.get("definition") or {}
        if definition.get("type") == "group":
            out += _flatten(definition.get("widgets") or [], definition.get("title") or section)
        else:
            out.append((definition, section))
    return out


def _limit(definition: dict[str, Any]) -> int:
    """How many entries a toplist shows: its formula limit or sort count (Datadog's default 10)."""
    for request in definition.get("requests") or []:
        for formula in request.get("formulas") or []:
            if (formula.get("limit") or {}).get("count"):
                return int(formula["limit"]["count"])
        if (request.get("sort") or {}).get("count"):
            return int(request["sort"]["count"])
    return 10


def _run(instance: dict[str, Any]) -> dict[str, Any]:
    """One workflow run as its row shows it: when, who started it, the outcome, and the Cases it opened."""
    attrs = instance["attributes"]
    monitor = (attrs.get("source") or {}).get("monitor") or {}
    cases = [s["outputs"]["key"] for s in attrs.get("steps") or []
             if s.get("actionId") == "com.datadoghq.dd.casem.createCase" and isinstance(s.get("outputs"), dict)
             and s["outputs"].get("key")]
    return {"id": instance["id"], "started": iso_when(attrs.get("startTimestamp")),
            "status": attrs["instanceStatus"]["displayName"], "kind": attrs["instanceStatus"]["detailsKind"],
            "trigger": instance.get("trigger_kind", "api"), "monitor_id": monitor.get("monitorId"),
            "monitor_name": monitor.get("monitorName"),
            "group": monitor.get("group") if monitor.get("group") not in (None, "*") else None,
            "failure": (attrs.get("failure") or {}).get("reason"), "cases": cases}

