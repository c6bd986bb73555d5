"""Monitor evaluation: every metric monitor, once per minute of data time, per group, with Datadog's options.

How it runs (DESIGN.md "Time"). Each monitor is evaluated at every minute boundary t; the window it reads ends at
t - evaluation_delay. The evaluator catches up minute by minute from where it left off, or, for a monitor never
evaluated, from the first minute its data covers (at most MAX_CATCHUP back). So a timeline backfilled at once is
evaluated as if it had arrived live, and a monitor created after its data exists evaluates the history the data
covers: that is a sandbox choice (Datadog only evaluates from creation on) that makes the kit's backfill story work.
Data older than where a monitor left off is not re-evaluated (Datadog does not re-evaluate the past either).
Evaluation is deterministic: the same data and monitor give the same transitions, whatever the batching.

Semantics (DATADOG.md 3.4-3.6; sandbox choices marked):
- time aggregation avg/sum/min/max/last over `last_N[mhdw]`, computed literally over the window's points: `max`
  alerts if any point crosses an "above" threshold and `min` only if all do; for "below" alerts the roles swap.
  Points are the query's rollup at `step` seconds: the metric's submission interval (10 s in the kit), rounded up to
  10/15/20/30/60 s, or 60 s when unknown (sandbox choice; Datadog does not document its monitor rollup).
- thresholds critical/warning with critical_recovery/warning_recovery (hysteresis). For above-operators a state
  holds while value > recovery and recovers at value <= recovery (below: mirrored); so the documented anomaly
  setting critical_recovery 0 recovers when no point is anomalous (sandbox reading; the strictness is unconfirmed).
- missing data (Datadog's on_missing_data guide): `show_no_data`/`show_and_notify_no_data` -> No Data when the
  window is empty; `resolve` -> OK; `default` (and the legacy notify_no_data=false) -> an empty `sum` window
  evaluates as 0, any other aggregation keeps the last known status; legacy notify_no_data=true -> No Data after
  no_data_timeframe minutes without data (default 2x the window). A group must have had data before it can go No
  Data. timeout_h resolves Alert/Warn after that many hours without data.
- require_full_window: evaluated only when every minute of the window has a point (sandbox reading of "a full
  window"); new_group_delay: a group is not evaluated until that many seconds after its first evaluation with data.
- multi alert: one state per group of `by {...}` (key "agent_id:a1,failure_reason:x"); a simple alert has "*".
  overall_state is the worst group state (Alert > Warn > No Data > OK), "No Data" while there is no group.
- log monitors (log_evaluator.py) bring their own data: a grid whose `windows` hold each window's value computed
  over the whole window (a log count, unique values, a measure); the judging below is the same.
- change monitors (`change|pct_change(avg(last_5m),1h_ago)`, DATADOG.md 3.4; "the difference between the current
  series and the series N minutes ago is computed, and then average/min/max/sum over the selected period",
  docs.datadoghq.com/monitors/types/metric/ Change tab): each point minus the point `shift` earlier, or for
  pct_change that difference in percent of the earlier point's magnitude (no value where the earlier point is
  missing or 0: sandbox reading), then the window's time aggregation.
- a custom schedule (schedule.py): evaluated only at its recurrences' occurrences.
- cumulative windows (`current_1h|1d|1mo`, cumulative.py): the window runs from the start of the period holding the
  window's end; points are 60 s buckets (sandbox choice: a month of 10 s buckets per group is too much).
- anomalies(): the value is the fraction of points outside the band in the trigger window (threshold_windows), the
  recovery condition is read over the recovery window; see anomaly.py for the algorithms and their approximations.

Measured (bench/monitors.py; never asserted in tests):
- speed: 24 h minute by minute of the three kit monitors over 100 agents (100 groups each for the two grouped
  monitors, 2 M points) takes 0.6-0.7 s, against 40-50 s for one store query per monitor and minute (60-70x).
- the kit's latency anomaly monitor (assets/monitors/latency_anomaly.json: agile, hourly, >= 0.2 of 15 min, with
  the bounds its query sets, 3) on clean 24 h baselines: no false alert on the real swarm simulation, 0.1 a day on
  synthetic seed-like latency (1 in 10 days). At the seed's bounds 2 (the asset's description says why it changed):
  2-3 false alert episodes a day on the synthetic latency (10 seeds: 1-6), 5-6 on the real swarm. That is chance,
  not the model: a calibrated 2-deviation band leaves 2-3 % of points outside, and 3 of 15 such points in a window
  happen a few times a day.
- detection delay of the seed's 25 s spikes (3 x 4 min, 5 min apart): 2-3 minutes after the first spike starts
  (the 3rd anomalous one-minute point makes 20 % of the window), at the asset's bounds and at the seed's.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from autonomic_lib.errors import AutonomicError, IntakeError, QueryError
from autonomic_lib.query.language import CHANGE_AGGREGATORS, Expr, FunctionCall, metric_queries, parse_monitor
from autonomic_lib.query.windows import window_seconds
from autonomic_lib.sandbox.metrics.evaluate import MetricKind, evaluate_expression, evaluate_grid, store_kinds
from autonomic_lib.sandbox.monitors.anomaly import (
    AnomalySpec,
    anomalous_points,
    expected_band,
    fill_counts,
    history_reason,
    spec_from_call,
)
from autonomic_lib.sandbox.monitors.cumulative import Periods, periods_of
from autonomic_lib.sandbox.monitors.schedule import CustomSchedule, custom_schedule_of
from autonomic_lib.sandbox.monitors.states import MonitorState

log = logging.getLogger("autonomic_lib.sandbox")
NOT_EVALUATED = -1  # in a code array: the state is unchanged at that evaluation
MAX_CATCHUP = 7 * 86400
MAX_SPAN = 86400  # evaluation minutes per data fetch
KindFn = Callable[[str], MetricKind]


@dataclass(frozen=True)
class Transition:
    """One change of a group's state, at one evaluation (the notifications hook receives these in time order)."""

    monitor_id: int
    group: str  # "*" for a simple alert, else comma-joined group tags
    group_tags: tuple[str, ...]
    previous: str
    current: str
    at: int  # epoch seconds of the evaluation
    value: float | None
    threshold: float | None
    window_start: int
    window_end: int


@dataclass(frozen=True, kw_only=True)
class MonitorPlan:
    """A monitor definition resolved to what the evaluation needs (parsed once per run)."""

    monitor_id: int
    expression: Expr  # the parsed query evaluated; for anomalies the inner query
    time_aggr: str
    window: int
    operator: str
    critical: float
    critical_recovery: float | None
    warning: float | None
    warning_recovery: float | None
    anomaly: AnomalySpec | None
    recovery_window: int
    step: int
    evaluation_delay: int
    require_full_window: bool
    new_group_delay: int
    empty_as_zero: bool
    resolve_on_missing: bool
    no_data_after: int | None
    timeout: int | None
    change: tuple[str, int] | None = None  # ("change" | "pct_change", timeshift seconds)
    periods: Periods | None = None  # a cumulative window's periods
    schedule: CustomSchedule | None = None  # evaluated only at its occurrences (schedule.py)


@dataclass
class GroupState:
    """What the evaluator remembers of one group between runs."""

    status: str | None = None  # None until the group's first evaluation (new_group_delay)
    first_seen: int | None = None
    last_data: int | None = None  # end of the last bucket with data
    last_triggered_ts: int = 0
    last_notified_ts: int = 0
    last_resolved_ts: int = 0
    last_nodata_ts: int = 0
    value: float | None = None
    reason: str | None = None


class MonitorEvalError(AutonomicError):
    """A stored monitor cannot be evaluated (the reason is shown in /sandbox/evaluation, never raised to a client)."""


# ---------------------------------------------------------------------------------------------------- planning
def plan_monitor(monitor: dict[str, Any], *, kinds: KindFn | None = None, store: Any = None,
                 overrides: dict[str, Any] | None = None) -> MonitorPlan:
    """Resolve a monitor document (or create body) into a MonitorPlan; `overrides` are what-if settings.

    overrides: `query`; `thresholds` (merged into options.thresholds); `options` (merged); and for anomaly monitors
    any AnomalySpec field (`bounds`, `algorithm`, `seasonality`, `direction`, ...).
    """
    overrides = dict(overrides or {})
    query = overrides.pop("query", monitor.get("query"))
    options = {**(monitor.get("options") or {}), **overrides.pop("options", {})}
    thresholds = {**(options.get("thresholds") or {}), **overrides.pop("thresholds", {})}
    try:
        parsed = parse_monitor(str(query))
    except QueryError as exc:
        raise MonitorEvalError(f"monitor query cannot be parsed: {exc}") from None
    change = (parsed.time_aggr, parsed.change.shift) if parsed.change is not None else None
    time_aggr = parsed.change.time_aggr if parsed.change is not None else parsed.time_aggr
    if time_aggr not in ("avg", "sum", "min", "max", "last") or (parsed.time_aggr in CHANGE_AGGREGATORS
                                                                   and change is None):
        raise MonitorEvalError(f"time aggregation {parsed.time_aggr!r} is not evaluated by the sandbox")
    try:
        periods = periods_of(parsed.cumulative, options) if parsed.cumulative else None
        schedule = custom_schedule_of(options)
    except IntakeError as exc:
        raise MonitorEvalError(str(exc)) from None
    if kinds is None and store is not None:
        kinds = store_kinds(store)  # what the query evaluation reads when no catalogue is given
    anomaly = None
    recovery_window = parsed.window_seconds
    if isinstance(parsed.expression, FunctionCall):
        anomaly = spec_from_call(parsed.expression)
        fields = {f.name for f in dataclasses.fields(AnomalySpec)}
        anomaly = dataclasses.replace(anomaly, **{k: overrides.pop(k) for k in list(overrides) if k in fields})
        windows = options.get("threshold_windows") or {}
        recovery = windows.get("recovery_window")
        recovery_window = window_seconds(recovery) if recovery else anomaly.alert_window
        expression, step = anomaly.query, anomaly.interval
    else:
        expression = parsed.expression
        step = 60 if periods is not None else _step(expression, kinds)
    if overrides:
        raise MonitorEvalError(f"unknown override(s) {sorted(overrides)}; expected query, thresholds, options or an "
                               "anomalies() argument")
    window = anomaly.alert_window if anomaly else parsed.window_seconds
    return MonitorPlan(
        monitor_id=int(monitor.get("id") or 0), expression=expression, time_aggr=time_aggr, window=window,
        operator=parsed.operator, critical=float(thresholds.get("critical", parsed.threshold)),
        critical_recovery=_num(thresholds.get("critical_recovery")), warning=_num(thresholds.get("warning")),
        warning_recovery=_num(thresholds.get("warning_recovery")), anomaly=anomaly, recovery_window=recovery_window,
        step=step, change=change, periods=periods, schedule=schedule,
        **timing_options(options, window=window, query_window=parsed.window_seconds,
                         counts=anomaly is None and time_aggr == "sum"))


def timing_options(options: dict[str, Any], *, window: int, query_window: int, counts: bool) -> dict[str, Any]:
    """The MonitorPlan fields every monitor kind reads from its options alike: delays, full window, missing data
    and timeout. `counts`: an empty window is a count of 0 under the default missing-data handling."""
    on_missing = options.get("on_missing_data")
    no_data_after = None
    if on_missing in ("show_no_data", "show_and_notify_no_data"):
        no_data_after = window
    elif on_missing in (None, "default") and options.get("notify_no_data"):
        no_data_after = int(options.get("no_data_timeframe") or 2 * query_window // 60) * 60
    timeout = options.get("timeout_h")
    return {"evaluation_delay": int(options.get("evaluation_delay") or 0),
            "require_full_window": bool(options.get("require_full_window", False)),
            "new_group_delay": int(options.get("new_group_delay") or 0),
            "empty_as_zero": counts and on_missing in (None, "default"),
            "resolve_on_missing": on_missing == "resolve", "no_data_after": no_data_after,
            "timeout": int(float(timeout) * 3600) if timeout else None}


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def _step(expr: Expr, kinds: KindFn | None) -> int:
    """Bucket width of a threshold monitor: the metric's submission interval (as the query evaluation reads it,
    MetricKind.interval) rounded up to one of 10, 15, 20, 30 or 60 s (they divide a minute, so windows hold whole
    buckets); 60 s when the interval is unknown."""
    wanted = max(((kinds(q.metric).interval if kinds else None) or 60 for q in metric_queries(expr)), default=60)
    return next(d for d in (10, 15, 20, 30, 60) if d >= wanted) if wanted < 60 else 60


# ---------------------------------------------------------------------------------------------------- data
@dataclass
class Grid:
    """Each group's rolled-up values on one regular time axis (NaN = no point)."""

    start: int
    step: int
    keys: list[str]
    tags: list[tuple[str, ...]]
    values: np.ndarray  # groups x buckets
    # groups x (buckets + 1): the value of the window ending at each bucket boundary, when the source computes it
    # over the whole window (log monitors: counts, unique values, measures); None: the time aggregation of `values`
    windows: np.ndarray | None = None


def fetch_grid(plan: MonitorPlan, store: Any, start: int, end: int, kinds: KindFn | None) -> Grid:
    """The monitor's expression over [start, end) (both multiples of 60) at the plan's step."""
    step = plan.step
    rows = evaluate_grid(plan.expression, store, start, end, step, kinds=kinds)
    tags = sorted(rows)
    values = np.array([rows[t] for t in tags]) if tags else np.empty((0, (end - start) // step))
    if plan.anomaly is not None:
        for i in range(len(tags)):
            values[i] = fill_counts(values[i], plan.anomaly, store, kinds)
    if plan.change is not None:
        values = changed(values, plan.change[0], plan.change[1] // step)
    return Grid(start, step, [",".join(t) if t else "*" for t in tags], tags, values)


def changed(values: np.ndarray, kind: str, shift: int) -> np.ndarray:
    """Each point minus the point `shift` buckets earlier (pct_change: in percent of that point's magnitude);
    NaN where the earlier point is missing (or 0 for pct_change)."""
    earlier = np.full_like(values, np.nan)
    if shift < values.shape[-1]:
        earlier[..., shift:] = values[..., :values.shape[-1] - shift]
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = values - earlier
        if kind == "change":
            return diff
        return np.where(earlier != 0, diff / np.abs(earlier) * 100.0, np.nan)


def first_data_time(plan: MonitorPlan, store: Any, now: int, kinds: KindFn | None) -> int | None:
    """About when the monitor's data starts (a coarse bucket start, never after the first point), or None."""
    start = now - MAX_CATCHUP
    result = evaluate_expression(plan.expression, store, start, now + 60, kinds=kinds)
    firsts = [int(s.times[np.flatnonzero(~np.isnan(s.values))[0]]) for s in result.series
              if np.any(~np.isnan(s.values))]
    return min(firsts) if firsts else None


# ---------------------------------------------------------------------------------------------------- core
def evaluate_span(plan: MonitorPlan, grid: Grid, evals: np.ndarray, states: dict[str, GroupState],
                  tags_of: dict[str, tuple[str, ...]] | None = None) -> list[Transition]:
    """Evaluate every group at the evaluation times `evals` (minute multiples); updates `states` in place.

    `grid` must start at least window + lookback before the first window and end at the last window's end.
    """
    transitions: list[Transition] = []
    ends = (evals - plan.evaluation_delay) // 60 * 60
    hi = (ends - grid.start) // grid.step
    windows = Windows(window_starts(plan, grid, ends, hi), _segments(plan, grid))  # once for every group
    keys = sorted(set(grid.keys) | set(states))
    index = {k: i for i, k in enumerate(grid.keys)}
    for key in keys:
        row = grid.values[index[key]] if key in index else np.full(grid.values.shape[1], np.nan)
        state = states.get(key)
        window_row = grid.windows[index[key]] if grid.windows is not None and key in index else None
        codes, values, reason, first_seen, last_data = _group_codes(plan, grid, row, hi, windows, ends, evals, state,
                                                                    window_row)
        if state is None:
            if first_seen is None:
                continue  # a group without data does not exist yet
            state = states[key] = GroupState()
        state.first_seen = first_seen
        state.last_data = last_data if last_data is not None else state.last_data
        prev = _state_of(state)
        tags = grid.tags[index[key]] if key in index else (tags_of or {}).get(key, _split(key))
        evaluated = np.flatnonzero(codes != NOT_EVALUATED)
        for k in evaluated:
            if int(codes[k]) != prev:
                code, at = MonitorState(int(codes[k])), int(evals[k])
                value = None if math.isnan(values[k]) else float(values[k])
                transitions.append(Transition(
                    monitor_id=plan.monitor_id, group=key, group_tags=tags, previous=prev.wire, current=code.wire,
                    at=at, value=value, threshold=_threshold(plan, prev, code),
                    window_start=grid.start + int(windows.lo[k]) * grid.step, window_end=int(ends[k])))
                _stamp(state, code, at)
                prev = code
        if len(evaluated):
            state.status = prev.wire
            v = values[evaluated[-1]]
            state.value = None if math.isnan(v) else float(v)
        state.reason = reason
    transitions.sort(key=lambda t: (t.at, t.group))
    return transitions


def _group_codes(plan: MonitorPlan, grid: Grid, row: np.ndarray, hi: np.ndarray, windows: Windows,
                 ends: np.ndarray, evals: np.ndarray, state: GroupState | None, window_row: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, str | None, int | None, int | None]:
    """Per evaluation: the MonitorState code (or NOT_EVALUATED) and the value; why the group is not judged (if so),
    when it first had data in an evaluation window and when its data last ended."""
    step = grid.step
    lo = windows.lo
    present = ~np.isnan(row)
    cum_n = np.concatenate(([0], np.cumsum(present)))
    count = cum_n[hi] - cum_n[lo]
    data = count > 0
    # when the group last had data (end of that bucket), carried over from earlier runs
    last_idx = np.maximum.accumulate(np.where(present, np.arange(len(row)), -1))
    li = np.where(hi > 0, last_idx[np.maximum(hi - 1, 0)], -1)
    prior = state.last_data if state and state.last_data is not None else None
    last_end = np.where(li >= 0, grid.start + (li + 1) * step, prior if prior is not None else -1)
    ever = last_end >= 0
    first_idx = int(np.argmax(data)) if data.any() else None
    first_seen = state.first_seen if state and state.first_seen is not None else (
        int(evals[first_idx]) if first_idx is not None else None)
    reason = None
    if plan.anomaly is not None:
        value, recovery, judged, reason = _anomaly_values(plan, grid, row, hi, ends, first_seen, present)
    else:
        value = (_reduce(plan.time_aggr, row, present, hi, lo, cum_n, windows.segments) if window_row is None
                 else window_row[hi])
        if plan.empty_as_zero:
            value = np.where(data, value, 0.0)
        recovery, judged = value, ~np.isnan(value)
    evaluated = judged.copy()
    if plan.require_full_window:
        evaluated &= _full_window(present, hi, lo, step)
    if first_seen is not None:
        evaluated &= evals >= first_seen + plan.new_group_delay
    else:
        evaluated[:] = False
    gap = ends - last_end
    nodata = ~data & ever & (gap >= plan.no_data_after) if plan.no_data_after is not None else np.zeros_like(data)
    resolve = ~data & ever & ~nodata & plan.resolve_on_missing
    if plan.timeout is not None:
        resolve |= ~data & ever & ~nodata & (gap >= plan.timeout)
    evaluated &= ~nodata & ~resolve
    clear = nodata | resolve
    remembered = _state_of(state)
    alert = _hysteresis(plan.operator, value, recovery, plan.critical, plan.critical_recovery, evaluated, clear,
                        remembered == MonitorState.ALERT)
    warn = np.zeros_like(alert)
    if plan.warning is not None:
        warn = _hysteresis(plan.operator, value, recovery, plan.warning, plan.warning_recovery, evaluated, clear,
                           remembered.triggered)
    codes = np.where(alert, MonitorState.ALERT, np.where(warn, MonitorState.WARN, MonitorState.OK))
    codes = np.where(nodata, MonitorState.NO_DATA, np.where(evaluated | resolve, codes, NOT_EVALUATED))
    last_data = int(last_end[-1]) if len(last_end) and last_end[-1] >= 0 else None
    return codes, np.where(nodata, np.nan, value), reason, first_seen, last_data


@dataclass(frozen=True)
class Windows:
    """Where each evaluation's window starts (a bucket index), and a cumulative window's period per bucket."""

    lo: np.ndarray
    segments: np.ndarray | None


def window_starts(plan: MonitorPlan, grid: Grid, ends: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Each evaluation window's first bucket: `window` before its end, or for a cumulative window the start of the
    period holding its end."""
    if plan.periods is None:
        return hi - plan.window // grid.step
    starts = np.array([plan.periods.start(int(end)) for end in ends], dtype=np.int64)
    return np.minimum((starts - grid.start) // grid.step, hi)


def _segments(plan: MonitorPlan, grid: Grid) -> np.ndarray | None:
    """For a cumulative window, the period of each bucket (windows never cross one); None for a rolling window."""
    if plan.periods is None:
        return None
    times = grid.start + np.arange(grid.values.shape[1], dtype=np.int64) * grid.step
    bounds = plan.periods.boundaries(grid.start, int(times[-1]) if len(times) else grid.start)
    return np.searchsorted(bounds, times, side="right")


def _reduce(aggr: str, row: np.ndarray, present: np.ndarray, hi: np.ndarray, lo: np.ndarray, cum_n: np.ndarray,
            segments: np.ndarray | None = None) -> np.ndarray:
    """The window's time aggregation at each evaluation (NaN for an empty window); windows are [lo, hi) in buckets,
    all of one length unless `segments` (a cumulative window's period per bucket) is given."""
    count = cum_n[hi] - cum_n[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        if aggr in ("sum", "avg"):
            cum = np.concatenate(([0.0], np.cumsum(np.where(present, row, 0.0))))
            total = cum[hi] - cum[lo]
            value = total if aggr == "sum" else total / count
        elif aggr in ("min", "max") and segments is not None:
            value = _segment_extreme(aggr, row, segments)[np.maximum(hi - 1, 0)]
        elif aggr in ("min", "max"):
            wl = int(hi[0] - lo[0]) if len(hi) else 1
            rolled = pd.Series(row).rolling(wl, min_periods=1)
            value = (rolled.max() if aggr == "max" else rolled.min()).to_numpy()[hi - 1]
        else:  # last
            last_idx = np.maximum.accumulate(np.where(present, np.arange(len(row)), -1))[hi - 1]
            value = np.where(last_idx >= 0, row[np.maximum(last_idx, 0)], np.nan)
    return np.where(count > 0, value, np.nan)


def _segment_extreme(aggr: str, row: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """The running max (min) of each segment of equal `segments` values, NaN ignored."""
    out = np.full_like(row, np.nan)
    accumulate = np.fmax.accumulate if aggr == "max" else np.fmin.accumulate
    edges = np.flatnonzero(np.diff(segments)) + 1
    for start, end in zip(np.concatenate(([0], edges)), np.concatenate((edges, [len(row)]))):
        out[start:end] = accumulate(row[start:end])
    return out


def _full_window(present: np.ndarray, hi: np.ndarray, lo: np.ndarray, step: int) -> np.ndarray:
    """True where every minute of the window has at least one point."""
    per = 60 // step
    n = present.shape[0] // per * per
    minutes = np.asarray(present[:n].reshape(-1, per).any(axis=1))
    cum = np.concatenate(([0], np.cumsum(minutes)))
    mhi, mlo = hi // per, lo // per
    return (cum[np.minimum(mhi, minutes.shape[0])] - cum[np.maximum(mlo, 0)]) >= mhi - mlo


def _anomaly_values(plan: MonitorPlan, grid: Grid, row: np.ndarray, hi: np.ndarray, ends: np.ndarray,
                    first_seen: int | None, present: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, str | None]:
    """Fraction of anomalous points in the trigger and recovery windows, and where a band existed to judge."""
    spec = plan.anomaly
    assert spec is not None
    _, lower, upper = expected_band(row, spec)
    banded = present & ~np.isnan(upper)
    bad = anomalous_points(row, lower, upper, spec.direction) & banded
    cum_b = np.concatenate(([0], np.cumsum(banded)))
    cum_a = np.concatenate(([0], np.cumsum(bad)))

    cum_p = np.concatenate(([0], np.cumsum(present)))

    def fraction(width: int) -> tuple[np.ndarray, np.ndarray]:
        """Anomalous share of the window's points; judged only when every point of the window has a band (a
        half-formed band judges a handful of points, and one noisy point would be 50 %)."""
        wl = width // grid.step
        banded_n, present_n = cum_b[hi] - cum_b[hi - wl], cum_p[hi] - cum_p[hi - wl]
        judged = (banded_n > 0) & (banded_n == present_n)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(judged, (cum_a[hi] - cum_a[hi - wl]) / banded_n, np.nan), judged

    value, judged = fraction(plan.window)
    recovery, _ = fraction(plan.recovery_window)
    recovery = np.where(np.isnan(recovery), value, recovery)
    reason = None
    wl = plan.window // grid.step
    has_points = (cum_p[hi] - cum_p[hi - wl]) > 0
    if len(hi) and has_points[-1] and not judged[-1]:
        first = grid.start + int(np.argmax(present)) * grid.step if present.any() else None
        reason = history_reason(spec, first, int(ends[-1]))
    return value, recovery, judged, reason


def _hysteresis(operator: str, value: np.ndarray, recovery: np.ndarray, level: float, recovery_level: float | None,
                evaluated: np.ndarray, clear: np.ndarray, initially: bool) -> np.ndarray:
    """A level's flag per evaluation: set when the value crosses `level`, held while the recovery value stays beyond
    `recovery_level` (or still crosses `level` when there is none), cleared otherwise or by `clear`."""
    with np.errstate(invalid="ignore"):
        trigger = _crosses(operator, value, level) & evaluated
        if recovery_level is None:
            hold = _crosses(operator, recovery, level)
        else:
            hold = recovery > recovery_level if operator in (">", ">=") else \
                recovery < recovery_level if operator in ("<", "<=") else _crosses(operator, recovery, level)
    breaks = (evaluated & ~trigger & ~hold) | clear
    idx = np.arange(len(value))
    last_set = np.maximum.accumulate(np.where(trigger, idx, -2 + int(initially)))
    last_break = np.maximum.accumulate(np.where(breaks, idx, -1 - int(initially)))
    return last_set > last_break


def _crosses(operator: str, value: np.ndarray, level: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return {">": value > level, ">=": value >= level, "<": value < level, "<=": value <= level,
                "==": value == level, "!=": value != level}[operator] & ~np.isnan(value)


def _state_of(state: GroupState | None) -> MonitorState:
    """A group's remembered state (OK before its first evaluation)."""
    return MonitorState.from_wire(state.status) if state is not None and state.status else MonitorState.OK


def _threshold(plan: MonitorPlan, previous: MonitorState, current: MonitorState) -> float | None:
    """The threshold a transition is about: the level entered, or for a recovery the level left."""
    for level, threshold in ((MonitorState.ALERT, plan.critical), (MonitorState.WARN, plan.warning)):
        if current == level or (current == MonitorState.OK and previous == level):
            return threshold
    return None


def _stamp(state: GroupState, code: MonitorState, at: int) -> None:
    if code.triggered:
        state.last_triggered_ts = at
    elif code == MonitorState.OK:
        state.last_resolved_ts = at
    else:
        state.last_nodata_ts = at
    state.last_notified_ts = at


def _split(key: str) -> tuple[str, ...]:
    return () if key == "*" else tuple(key.split(","))


def metric_names(plan: MonitorPlan) -> set[str]:
    """The metrics a monitor reads (to know which new data concerns it)."""
    return {q.metric for q in metric_queries(plan.expression)}


def lookback(plan: MonitorPlan) -> int:
    """Seconds of data before a window that its evaluation reads (the anomaly history, a change's timeshift)."""
    if plan.change is not None:
        return plan.change[1]
    if plan.anomaly is None:
        return 0
    return -(-plan.anomaly.lookback // 60) * 60


def run_monitor(plan: MonitorPlan, store: Any, first_eval: int, last_eval: int, states: dict[str, GroupState],
                kinds: KindFn | None = None, fetch: Callable[..., Grid] = fetch_grid) -> list[Transition]:
    """Evaluate evaluation minutes first_eval..last_eval (inclusive) in spans of a day; updates `states`.

    `fetch(plan, store, start, end, kinds)` reads the data (fetch_grid: metrics; log monitors read logs)."""
    out: list[Transition] = []
    widest = max(plan.window, plan.recovery_window)
    for span_start in range(first_eval, last_eval + 1, MAX_SPAN):
        evals = np.arange(span_start, min(last_eval, span_start + MAX_SPAN - 60) + 1, 60, dtype=np.int64)
        if plan.schedule is not None:
            evals = evals[plan.schedule.mask(evals)]
            if not len(evals):
                continue
        ends = (evals - plan.evaluation_delay) // 60 * 60
        grid_start = int(ends[0]) - widest - lookback(plan)
        grid = fetch(plan, store, grid_start, int(ends[-1]), kinds)
        out += evaluate_span(plan, grid, evals, states)
    return out


def overall_state(groups: dict[str, GroupState], default: str = "No Data") -> str:
    """The worst group state (Alert > Warn > No Data > OK), `default` without groups."""
    statuses = [g.status for g in groups.values() if g.status]
    return max(statuses, key=lambda s: MonitorState.from_wire(s).severity) if statuses else default


def iso(ts: float) -> str:
    """Timestamps as the monitor routes write them (overall_state_modified)."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds")


def state_from_json(data: dict[str, Any]) -> GroupState:
    known = {f.name for f in dataclasses.fields(GroupState)}
    return GroupState(**{k: v for k, v in data.items() if k in known})


def state_to_json(state: GroupState) -> dict[str, Any]:
    return dataclasses.asdict(state)


__all__ = [
    "GroupState",
    "MonitorEvalError",
    "MonitorPlan",
    "Transition",
    "evaluate_span",
    "fetch_grid",
    "first_data_time",
    "overall_state",
    "plan_monitor",
    "run_monitor",
]
