"""Log monitor evaluation: a `log alert` monitor's window values, read from the stored logs, judged like a metric
monitor's.

The judging (states, thresholds and recovery levels, missing data, new_group_delay, timeout, notifications, state
history) is the metric evaluator's (evaluator.py), minute by minute: this module only plans the monitor and reads
its data. Its grid has one row per group (the `.by()` facets' values) of logs per minute, and the value of every
window computed over the whole window, as Datadog's log monitors compute it: the number of matching logs, the
number of unique values of a facet, or a measure aggregated over the window's logs.

Logs are read through the logs backend's public search (Logs.search: the same query syntax and matching as the
Log Explorer routes), a page at a time and at most MAX_LOGS per read. Sandbox choices: the sandbox has one log
index, so `.index()` reads every log; a log without a value for every `.by()` facet is left out of the groups (its
count is in no group); a tag facet with several values takes the log's first.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from autonomic_lib.errors import QueryError
from autonomic_lib.query.language import Number
from autonomic_lib.sandbox.logs.backend import Logs, log_key
from autonomic_lib.sandbox.monitors.evaluator import (
    MAX_CATCHUP,
    GroupState,
    Grid,
    MonitorEvalError,
    MonitorPlan,
    Transition,
    run_monitor,
    timing_options,
)
from autonomic_lib.sandbox.monitors.log_query import LogMonitorQuery, parse_log_monitor

STEP = 60  # a log monitor's presence row is per minute; its windows are whole minutes
MAX_LOGS = 1_000_000  # logs one read may hold (a day of evaluations); past it the monitor shows an error
PAGE = 50_000
LOG_SOURCE = "logs()"  # the key log intake is learned under (never a metric name: those have no parentheses)
_PERCENTILES = {"median": 50.0, "pc75": 75.0, "pc90": 90.0, "pc95": 95.0, "pc98": 98.0, "pc99": 99.0}


@dataclass(frozen=True, kw_only=True)
class LogMonitorPlan(MonitorPlan):
    """A MonitorPlan whose data is logs: `search` is the parsed log monitor query (its metric `expression` is
    unused, a NaN constant)."""

    search: LogMonitorQuery


def plan_log_monitor(monitor: dict[str, Any]) -> LogMonitorPlan:
    """Resolve a stored `log alert` monitor into its plan; MonitorEvalError when its query cannot be read."""
    try:
        parsed = parse_log_monitor(str(monitor.get("query")))
    except QueryError as exc:
        raise MonitorEvalError(f"log monitor query cannot be parsed: {exc}") from None
    options = monitor.get("options") or {}
    thresholds = options.get("thresholds") or {}

    def level(name: str) -> float | None:
        return None if thresholds.get(name) is None else float(thresholds[name])

    return LogMonitorPlan(
        monitor_id=int(monitor.get("id") or 0), expression=Number(math.nan), search=parsed,
        time_aggr=parsed.rollup, window=parsed.window, operator=parsed.operator,
        critical=float(thresholds.get("critical", parsed.threshold)), critical_recovery=level("critical_recovery"),
        warning=level("warning"), warning_recovery=level("warning_recovery"), anomaly=None,
        recovery_window=parsed.window, step=STEP,
        **timing_options(options, window=parsed.window, query_window=parsed.window, counts=parsed.rollup == "count"))


def run_log_monitor(plan: MonitorPlan, logs: Logs, first_eval: int, last_eval: int,
                    states: dict[str, GroupState]) -> list[Transition]:
    """Evaluate minutes first_eval..last_eval of a log monitor (evaluator.run_monitor over the logs)."""
    return run_monitor(plan, logs, first_eval, last_eval, states, fetch=fetch_log_grid)


def first_log_time(plan: MonitorPlan, logs: Logs, now: int) -> int | None:
    """When the monitor's first matching log is (at most MAX_CATCHUP back), in epoch seconds; None without any."""
    page = logs.search(query=_query_of(plan).search, start_ms=(now - MAX_CATCHUP) * 1000, end_ms=(now + 60) * 1000,
                       newest_first=False, limit=1)
    return page.logs[0]["k"][0] // 1000 if page.logs else None


def fetch_log_grid(plan: MonitorPlan, logs: Logs, start: int, end: int, kinds: Any = None) -> Grid:
    """The monitor's groups over [start, end) (minute multiples): logs per minute and each window's value."""
    query = _query_of(plan)
    buckets = (end - start) // STEP
    per_group: dict[tuple[str, ...], list[list[Any]]] = {}
    for doc in _matching(logs, query.search, start, end):
        tags = _group_tags(doc, query.group_by)
        if tags is None:
            continue
        value = _rollup_input(doc, query)
        if value is None:
            continue
        bucket = (doc["k"][0] // 1000 - start) // STEP
        if 0 <= bucket < buckets:
            per_group.setdefault(tags, [[] for _ in range(buckets)])[bucket].append(value)
    keys = sorted(per_group)
    values = np.full((len(keys), buckets), np.nan)
    windows = np.full((len(keys), buckets + 1), np.nan)
    for i, tags in enumerate(keys):
        per_bucket = per_group[tags]
        counts = np.array([len(b) for b in per_bucket], dtype=float)
        values[i] = np.where(counts > 0, counts, np.nan)
        windows[i] = _window_values(query.rollup, per_bucket, counts, plan.window // STEP)
    return Grid(start, STEP, [",".join(t) if t else "*" for t in keys], keys, values, windows)


def _query_of(plan: MonitorPlan) -> LogMonitorQuery:
    if not isinstance(plan, LogMonitorPlan):
        raise MonitorEvalError(f"monitor {plan.monitor_id} is not a log monitor")
    return plan.search


def _matching(logs: Logs, search: str, start: int, end: int) -> Iterator[dict[str, Any]]:
    """Logs matching `search` timed in [start, end) seconds, oldest first, page by page (at most MAX_LOGS)."""
    after, seen = None, 0
    while True:
        page = logs.search(query=search, start_ms=start * 1000, end_ms=end * 1000 - 1, newest_first=False,
                           limit=PAGE, after=after)
        seen += len(page.logs)
        if seen > MAX_LOGS:
            raise MonitorEvalError(f"over {MAX_LOGS:,} logs match the monitor's search in one read; narrow the "
                                   "search or the window")
        yield from page.logs
        if not page.more:
            return
        after = log_key(page.logs[-1]["id"])


def _window_values(rollup: str, per_bucket: list[list[Any]], counts: np.ndarray, width: int) -> np.ndarray:
    """The rollup over the `width` buckets before each bucket boundary 0..n (NaN for an empty window)."""
    n = len(per_bucket)
    cum_n = np.concatenate(([0.0], np.cumsum(counts)))
    lo = np.maximum(np.arange(n + 1) - width, 0)
    in_window = cum_n - cum_n[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        if rollup == "count":
            out = in_window
        elif rollup in ("sum", "avg"):
            cum = np.concatenate(([0.0], np.cumsum([math.fsum(b) for b in per_bucket])))
            out = cum - cum[lo] if rollup == "sum" else (cum - cum[lo]) / in_window
        elif rollup in ("min", "max"):
            edge = pd.Series([(min(b) if rollup == "min" else max(b)) if b else np.nan for b in per_bucket])
            rolled = edge.rolling(width, min_periods=1)
            out = np.concatenate(([np.nan], (rolled.min() if rollup == "min" else rolled.max()).to_numpy()))
        elif rollup == "cardinality":
            out = _sliding_unique(per_bucket, width)
        else:
            out = np.array([np.percentile([v for b in per_bucket[max(j - width, 0):j] for v in b],
                                          _PERCENTILES[rollup]) if in_window[j] else np.nan for j in range(n + 1)])
    return np.where(in_window > 0, out, np.nan)


def _sliding_unique(per_bucket: list[list[Any]], width: int) -> np.ndarray:
    """How many distinct values the `width` buckets before each boundary hold (one pass, a running counter)."""
    seen: Counter[Any] = Counter()
    out = np.zeros(len(per_bucket) + 1)
    for j in range(1, len(per_bucket) + 1):
        seen.update(per_bucket[j - 1])
        if j - 1 - width >= 0:
            seen.subtract(per_bucket[j - 1 - width])
            seen += Counter()  # drop the values whose count fell to zero
        out[j] = len(seen)
    return out


def _group_tags(doc: dict[str, Any], facets: tuple[str, ...]) -> tuple[str, ...] | None:
    """The log's group as `facet:value` tags, or None when it lacks a facet."""
    tags = []
    for facet in facets:
        value = facet_value(doc, facet)
        if value is None:
            return None
        tags.append(f"{facet}:{value}")
    return tuple(tags)


def _rollup_input(doc: dict[str, Any], query: LogMonitorQuery) -> Any:
    """What the log gives the rollup: 1 for a count, the facet's value for cardinality, the measure as a number
    (None when the log has none, so it is not in the window)."""
    if query.rollup == "count" or query.measure is None:
        return 1
    if query.rollup == "cardinality":
        return facet_value(doc, query.measure)
    value = _attribute(doc, query.measure.removeprefix("@"))
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def facet_value(doc: dict[str, Any], facet: str) -> str | None:
    """A facet's value in a stored log: `@path` reads attributes, `status` the status, any other name a tag."""
    if facet.startswith("@"):
        value = _attribute(doc, facet[1:])
        return None if value is None or isinstance(value, (dict, list)) else str(value)
    if facet == "status":
        return str(doc.get("status")) if doc.get("status") else None
    prefix = facet.lower() + ":"
    return next((t[len(prefix):] for t in doc.get("tags", ()) if t.startswith(prefix)), None)


def _attribute(doc: dict[str, Any], path: str) -> Any:
    """The attribute at a dotted path (nested objects, or a literal dotted key); a list gives its first item."""
    node: Any = doc.get("attributes") or {}
    if path in node:
        node = node[path]
    else:
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
    return node[0] if isinstance(node, list) and node else node


__all__ = ["LOG_SOURCE", "LogMonitorPlan", "facet_value", "fetch_log_grid", "first_log_time", "plan_log_monitor",
           "run_log_monitor"]
