"""Evaluates metric queries and v2 formulas over the sandbox MetricStore the way Datadog does: time, then space."""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from autonomic_lib.errors import QueryError, UnsupportedQueryError
from autonomic_lib.query.language import (
    SPACE_AGGREGATORS,
    AllTags,
    And,
    BinaryOp,
    Expr,
    FunctionCall,
    MetricQuery,
    Negate,
    Number,
    QueryRef,
    Scope,
    TagTerm,
    parse_formula,
    parse_query,
    render_expr,
)
from autonomic_lib.query.limits import MAX_POINTS  # a finer requested rollup is widened to fit, its method kept
from autonomic_lib.sandbox.metrics.store import MetricStore

NICE_INTERVALS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 43200, 86400, 604800)
DEFAULT_POINTS = 350  # reproduces Datadog's documented defaults: 1 h -> 20 s, 1 day -> 300 s
SCALAR_AGGREGATORS = ("avg", "min", "max", "sum", "last")
_MISSING_GROUP = "N/A"  # Datadog's label for series lacking a group-by key
# Sandbox choice (Datadog documents no bound on the groups of one query): every group is a row of the answer and of
# the space aggregation, so one series carrying 60 values of each of three keys made `by {a,b,c}` build 216 000
# groups (5-7.5 s, a 67 MB answer). 10 000 is 20 times the kit's widest grouping (by {agent_id,failure_reason}: at
# most 50 x 10 values, assets/tags.csv).
MAX_GROUPS = 10_000
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}
_ATOM = 3


@dataclass(frozen=True)
class MetricKind:
    """What the evaluator needs to know about a metric."""

    type: str  # "gauge" | "count" | "rate"  ("unspecified" is treated as gauge)
    unit: str | None = None
    per_unit: str | None = None
    interval: int | None = None  # submission interval in seconds (rate -> count conversion); None -> 1


@dataclass(kw_only=True)
class Timeseries:
    """One output series: bucket start times and values (NaN = no data), with Datadog's descriptive fields."""

    group_tags: tuple[str, ...]
    scope: str
    expression: str
    metric: str | None
    aggr: str | None
    times: np.ndarray
    values: np.ndarray
    unit: tuple[str | None, str | None] = (None, None)


@dataclass
class QueryResult:
    """The series of one query or formula, the interval actually used and the group-by keys."""

    series: list[Timeseries]
    interval: int
    group_by: tuple[str, ...]


@dataclass
class _Part:
    """An intermediate result: either series or a constant, with the precedence of its expression text."""

    series: list[Timeseries] = field(default_factory=list)
    group_by: tuple[str, ...] = ()
    interval: int | None = None  # widest interval of the metric queries below; None for a constant
    constant: float | None = None
    precedence: int = _ATOM


def default_interval(start: int, end: int) -> int:
    """Smallest nice interval giving at most DEFAULT_POINTS points over [start, end)."""
    return _nice(max(end - start, 1), 1, DEFAULT_POINTS)


def effective_interval(start: int, end: int, requested: int | None) -> int:
    """The requested interval unless it gives more than MAX_POINTS points; then the smallest nice one that fits."""
    if requested is None:
        return default_interval(start, end)
    requested, span = max(int(requested), 1), max(end - start, 1)
    return requested if span / requested <= MAX_POINTS else _nice(span, requested, MAX_POINTS)


def _nice(span: int, at_least: int, points: int) -> int:
    for iv in NICE_INTERVALS:
        if iv >= at_least and span / iv <= points:
            return iv
    return max(at_least, math.ceil(span / points))  # beyond a week per point: no nicer choice exists


def evaluate_query(text: str, store, start: int, end: int, *, interval: int | None = None,
                   kinds: Callable[[str], MetricKind] | None = None) -> QueryResult:
    """Evaluate a classic query (`avg:m{env:demo} by {host}`, arithmetic between queries) over [start, end).

    Args:
        text: the query.
        store: a MetricStore.
        start, end: epoch seconds, start inclusive, end exclusive.
        interval: requested rollup interval in seconds (v2 `interval`); `.rollup(m, N)` in the query wins.
        kinds: metric name -> MetricKind; defaults to what the store knows.

    Raises:
        QueryError: invalid query; UnsupportedQueryError for valid syntax the sandbox does not imitate.
    """
    return evaluate_expression(parse_query(text), store, start, end, interval=interval, kinds=kinds, name=text)


def evaluate_expression(expr: Expr, store, start: int, end: int, *, interval: int | None = None,
                        kinds: Callable[[str], MetricKind] | None = None, name: str | None = None) -> QueryResult:
    """evaluate_query for an expression parsed already (a monitor plan holds its parsed query, so it is not rendered
    and parsed again at every evaluation); `name` is the text errors quote, by default the rendered expression."""
    _check_supported(expr)
    part = _Evaluator(store, start, end, interval, kinds).eval(expr)
    if part.constant is not None:
        _with_series(name if name is not None else render_expr(expr), part)
    return QueryResult(part.series, part.interval or effective_interval(start, end, interval), part.group_by)


def evaluate_grid(expr: Expr, store, start: int, end: int, step: int, *,
                  kinds: Callable[[str], MetricKind] | None = None) -> dict[tuple[str, ...], np.ndarray]:
    """Each group's values on the regular grid [start, end) at `step` seconds (NaN = no point), keyed by group tags.

    Read in spans of MAX_POINTS buckets, so a long span is never widened to a coarser step than asked for.
    """
    n = (end - start) // step
    rows: dict[tuple[str, ...], np.ndarray] = {}
    for lo in range(start, end, MAX_POINTS * step):
        result = evaluate_expression(expr, store, lo, min(end, lo + MAX_POINTS * step), interval=step, kinds=kinds)
        for s in result.series:
            row = rows.setdefault(s.group_tags, np.full(n, np.nan))
            idx = (s.times - start) // step
            ok = (idx >= 0) & (idx < n)
            row[idx[ok]] = s.values[ok]
    return rows


def evaluate_formulas(queries: Mapping[str, str], formulas: Sequence[str], store, start: int, end: int, *,
                      interval: int | None = None, kinds: Callable[[str], MetricKind] | None = None
                      ) -> list[QueryResult]:
    """Evaluate v2 named queries and formulas over them; one result per formula, or per query when there are none."""
    parsed, named = _prepare(queries, formulas)
    evaluator = _Evaluator(store, start, end, interval, kinds, queries=parsed)
    results = []
    for name, expr in named:
        part = _with_series(name, evaluator.eval(expr))
        results.append(QueryResult(part.series, part.interval or effective_interval(start, end, interval),
                                   part.group_by))
    return results


def evaluate_scalar(queries: Mapping[str, tuple[str, str]], formulas: Sequence[str], store, start: int, end: int,
                    *, kinds: Callable[[str], MetricKind] | None = None
                    ) -> list[tuple[str, list[tuple[tuple[str, ...], float | None]]]]:
    """Reduce each query's series over [start, end) with its aggregator, then combine them with the formulas.

    Args:
        queries: name -> (query, aggregator), the aggregator one of SCALAR_AGGREGATORS.

    Returns:
        Per formula (or per query when there are no formulas): its name (the formula text or the query name) and
        one (group_tags, value) per group, value None when the group had no data.
    """
    for name, (_, aggregator) in queries.items():
        if aggregator not in SCALAR_AGGREGATORS:
            raise UnsupportedQueryError(f"scalar aggregator {aggregator!r} of query {name!r} is not supported by the "
                                        f"sandbox query engine; expected one of {', '.join(SCALAR_AGGREGATORS)}")
    parsed, named = _prepare({name: text for name, (text, _) in queries.items()}, formulas)
    series_evaluator = _Evaluator(store, start, end, None, kinds, queries=parsed)
    reduced: dict[str, _Part] = {}
    for name in parsed:
        part = _with_series(name, series_evaluator.eval(QueryRef(name)))
        reduce = _REDUCERS[queries[name][1]]
        # each reduced value becomes a one-point series, so formulas reuse the timeseries arithmetic
        points = [_with_values(s, np.array([start]), np.array([reduce(s.values)])) for s in part.series]
        reduced[name] = _Part(points, part.group_by, part.interval, precedence=part.precedence)
    scalar_evaluator = _Evaluator(store, start, end, None, kinds, refs=reduced)
    out = []
    for name, expr in named:
        part = _with_series(name, scalar_evaluator.eval(expr))
        out.append((name, [(s.group_tags, None if np.isnan(s.values[0]) else float(s.values[0]))
                           for s in part.series]))
    return out


def _parse_named(name: str, text: str) -> Expr:
    """A query of a batch, parsed; its error names which query it is."""
    try:
        return parse_query(text)
    except QueryError as exc:
        raise type(exc)(f"query {name!r}: {exc}", query=exc.query, position=exc.position) from None


def _prepare(queries: Mapping[str, str], formulas: Sequence[str]) -> tuple[dict[str, Expr], list[tuple[str, Expr]]]:
    """Parse and check everything before evaluating anything; returns the queries and the named outputs.

    The outputs are the formulas, or each query by its name when there are no formulas.
    """
    parsed = {name: _parse_named(name, text) for name, text in queries.items()}
    named = [(f, parse_formula(f, queries.keys())) for f in formulas] or [(n, QueryRef(n)) for n in parsed]
    for expr in itertools.chain(parsed.values(), (e for _, e in named)):
        _check_supported(expr)
    return parsed, named


def _with_series(name: str, part: _Part) -> _Part:
    if part.constant is not None:
        raise QueryError(f"{name!r} references no query or metric", query=name)
    return part


def _check_supported(expr: Expr) -> None:
    """Refuse, before touching the store, what the sandbox does not imitate."""
    if isinstance(expr, FunctionCall):
        raise UnsupportedQueryError(f"function {expr.name!r} is not supported by the sandbox query engine")
    if isinstance(expr, MetricQuery):
        if expr.space_aggr is not None and expr.space_aggr not in SPACE_AGGREGATORS:
            raise UnsupportedQueryError(f"percentile aggregator {expr.space_aggr!r} is not supported by the sandbox "
                                        "query engine")
        for var in expr.scope.template_vars():
            raise UnsupportedQueryError(f"template variable {var} must be resolved before the query is evaluated")
    elif isinstance(expr, BinaryOp):
        _check_supported(expr.left)
        _check_supported(expr.right)
    elif isinstance(expr, Negate):
        _check_supported(expr.operand)


class _Evaluator:
    """Walks an expression; metric queries read the store, named references read `refs` (evaluated once each)."""

    def __init__(self, store, start: int, end: int, interval: int | None, kinds: Callable[[str], MetricKind] | None,
                 *, queries: Mapping[str, Expr] | None = None, refs: dict[str, _Part] | None = None):
        self.store, self.start, self.end, self.interval = store, int(start), int(end), interval
        self.kinds = _memoize(kinds or store_kinds(store))
        self.queries = queries or {}
        self.refs: dict[str, _Part] = dict(refs or {})

    def eval(self, expr: Expr) -> _Part:
        if isinstance(expr, Number):
            return _Part(constant=float(expr.value))
        if isinstance(expr, QueryRef):
            if expr.name not in self.refs:
                self.refs[expr.name] = self.eval(self.queries[expr.name])
            return self.refs[expr.name]
        if isinstance(expr, MetricQuery):
            return self._metric(expr)
        if isinstance(expr, Negate):
            return _negate(self.eval(expr.operand))
        if isinstance(expr, BinaryOp):
            return _combine(expr.op, self.eval(expr.left), self.eval(expr.right))
        raise UnsupportedQueryError(f"function {getattr(expr, 'name', expr)!r} is not supported by the sandbox "
                                    "query engine")

    def _metric(self, q: MetricQuery) -> _Part:
        iv = effective_interval(self.start, self.end, q.rollup_seconds or self.interval)
        kind = self.kinds(q.metric)
        method, multiply, divide = _time_aggregation(kind, q, iv)
        selected = [s for s in self.store.series(q.metric) if q.scope.matches(s.tags)]
        if not selected:
            return _Part([], q.group_by, iv)
        _check_group_count(q, selected)
        labels_of = {s.id: _group_labels(s, q.group_by) for s in selected}
        labels = sorted({g for ls in labels_of.values() for g in ls})
        index = {g: i for i, g in enumerate(labels)}
        groups_of = {sid: [index[g] for g in ls] for sid, ls in labels_of.items()}
        sid, bucket, value = self.store.rollup(list(groups_of), self.start, self.end, iv, method)
        if multiply != 1 or divide != 1:
            value = value * multiply / divide
        times, matrix = _space_aggregate(sid, bucket, value, groups_of, len(labels), q.space_aggr or "avg", iv)
        series = []
        for label, row in zip(labels, matrix):
            if np.isnan(row).all():
                continue  # a group without data in the window is not reported, like Datadog
            scope = _group_scope(q.scope, label)
            series.append(Timeseries(group_tags=label, scope=scope,
                                     expression=f"{q.space_aggr or 'avg'}:{q.metric}{{{scope}}}{q.suffix()}",
                                     metric=q.metric, aggr=q.space_aggr, times=times, values=row,
                                     unit=(kind.unit, kind.per_unit)))
        return _Part(series, q.group_by, iv)


def _time_aggregation(kind: MetricKind, q: MetricQuery, iv: int) -> tuple[str, float, float]:
    """Rollup method and the (multiply, divide) applied to its per-bucket result, from the metric type and modifier.

    The as_count/as_rate conversions only apply to sums: they turn per-bucket totals into counts or per-second
    rates, which has no meaning for avg/min/max/last of individual points or for a count of points.
    """
    if kind.type == "count":
        method = q.rollup_method or "sum"
        return method, 1.0, float(iv) if (q.modifier == "as_rate" and method == "sum") else 1.0
    if kind.type == "rate":
        method = q.rollup_method or "sum"
        if method != "sum":
            return method, 1.0, 1.0
        # a rate point stands for value * submission interval events; as_count keeps that count per bucket
        return method, float(kind.interval or 1), 1.0 if q.modifier == "as_count" else float(iv)
    return q.rollup_method or "avg", 1.0, 1.0  # gauges ignore as_count/as_rate


def _group_labels(series, keys: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Group tags of a series: one combination per value of each key (several when a key repeats), N/A if absent."""
    if not keys:
        return [()]
    return [tuple(f"{k}:{v}" for k, v in zip(keys, combo)) for combo in itertools.product(*_group_values(series, keys))]


def _group_values(series, keys: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """The series' values of each group-by key, lower-cased and sorted; N/A for a key it lacks."""
    return tuple(tuple(sorted({v.lower() for v in series.tag_values(k)})) or (_MISSING_GROUP,) for k in keys)


def _check_group_count(q: MetricQuery, selected: Sequence[Any]) -> None:
    """Refuse a query with more than MAX_GROUPS groups, counted before the groups are built.

    Series with the same values under the group-by keys count once. The groups of one series are all distinct, so
    one with more than MAX_GROUPS of them is refused from its value counts alone; the others' groups go into a set
    that is given up on as soon as it passes the bound (fewer than 2 x MAX_GROUPS are ever made).
    """
    if not q.group_by:
        return
    shapes = {_group_values(s, q.group_by) for s in selected}
    count, exact = max(math.prod(len(values) for values in shape) for shape in shapes), len(shapes) == 1
    if count <= MAX_GROUPS:
        seen: set[tuple[str, ...]] = set()
        for shape in shapes:
            seen.update(itertools.product(*shape))
            if len(seen) > MAX_GROUPS:
                count, exact = len(seen), False
                break
    if count > MAX_GROUPS:
        text = render_expr(q)
        raise UnsupportedQueryError(
            f"query {text!r} grouped by {{{','.join(q.group_by)}}} makes {'' if exact else 'at least '}{count} "
            f"groups; the sandbox evaluates at most {MAX_GROUPS} groups per query (narrow the scope or group by "
            "fewer tags)", query=text)


def _group_scope(scope: Scope, label: tuple[str, ...]) -> str:
    """The query's filter plus the group's tags, e.g. `env:demo,agent_id:a1` (`*` when neither exists)."""
    parts = [] if isinstance(scope, AllTags) else list(scope.operands) if isinstance(scope, And) else [scope]
    parts += [TagTerm(key, value) for key, _, value in (tag.partition(":") for tag in label)]
    if not parts:
        return "*"
    return parts[0].render() if len(parts) == 1 else And(tuple(parts)).render()


def _space_aggregate(sid: np.ndarray, bucket: np.ndarray, value: np.ndarray, groups_of: dict[int, list[int]],
                     n_groups: int, method: str, iv: int) -> tuple[np.ndarray, np.ndarray]:
    """Combine rolled-up rows per (group, bucket); returns the sorted bucket times and a groups x times matrix."""
    if len(bucket) == 0:
        return bucket, np.full((n_groups, 0), np.nan)
    # buckets are multiples of iv, so slots index them without sorting (np.unique would sort 100k+ rows)
    lo = int(bucket.min())
    slot = (bucket - lo) // iv
    present = np.zeros(int(slot.max()) + 1, dtype=bool)
    present[slot] = True
    times = lo + np.flatnonzero(present).astype(np.int64) * iv
    t_index = (np.cumsum(present) - 1)[slot]
    n_times = len(times)
    # rows of a series that belongs to k groups are repeated k times, once per group
    ids = np.fromiter(groups_of, dtype=np.int64)
    counts = np.zeros(int(ids.max()) + 1, dtype=np.int64)
    counts[ids] = [len(groups_of[i]) for i in ids]
    offsets = np.zeros_like(counts)
    offsets[ids] = np.concatenate(([0], np.cumsum(counts[ids])[:-1]))
    flat = np.fromiter(itertools.chain.from_iterable(groups_of[i] for i in ids), dtype=np.int64)
    per_row = counts[sid]
    rows = np.repeat(np.arange(len(sid)), per_row)
    within = np.arange(len(rows)) - np.repeat(np.cumsum(per_row) - per_row, per_row)
    key = flat[offsets[sid[rows]] + within] * n_times + t_index[rows]
    vals = value[rows]
    size = n_groups * n_times
    filled = np.bincount(key, minlength=size) > 0
    if method in ("sum", "avg"):
        total = np.bincount(key, weights=vals, minlength=size)
        out = total if method == "sum" else total / np.maximum(np.bincount(key, minlength=size), 1)
    else:
        out = np.full(size, np.inf if method == "min" else -np.inf)
        (np.minimum if method == "min" else np.maximum).at(out, key, vals)
    return times, np.where(filled, out, np.nan).reshape(n_groups, n_times)


# ---------------------------------------------------------------------------------------------------- arithmetic
def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _wrap(text: str, precedence: int, needed: int) -> str:
    return f"({text})" if precedence < needed else text


def _with_values(s: Timeseries, times: np.ndarray, values: np.ndarray, **changes: Any) -> Timeseries:
    return dataclasses.replace(s, times=times, values=values, **changes)


def _apply(op: str, left, right):
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if op == "+":
            return np.add(left, right)
        if op == "-":
            return np.subtract(left, right)
        if op == "*":
            return np.multiply(left, right)
        right = np.asarray(right, dtype=np.float64)
        return np.where(right == 0, np.nan, np.divide(left, np.where(right == 0, 1.0, right)))


def _negate(part: _Part) -> _Part:
    if part.constant is not None:
        return _Part(constant=-part.constant)
    series = [_with_values(s, s.times, -s.values, expression="-" + _wrap(s.expression, part.precedence, _ATOM))
              for s in part.series]
    return _Part(series, part.group_by, part.interval, precedence=_ATOM)


def _combine(op: str, left: _Part, right: _Part) -> _Part:
    """Apply `op` to two results: constants broadcast, an ungrouped single series broadcasts, else match by groups."""
    prec = _PRECEDENCE[op]
    # the right operand needs parentheses at equal precedence too: a - (b - c)
    lneed, rneed = prec, prec + 1
    if left.constant is not None and right.constant is not None:
        return _Part(constant=float(_apply(op, left.constant, right.constant)))
    if left.constant is not None or right.constant is not None:
        series_side = right if left.constant is not None else left
        out = []
        for s in series_side.series:
            if left.constant is not None:
                values = _apply(op, left.constant, s.values)
                text = f"{_number_text(left.constant)} {op} {_wrap(s.expression, right.precedence, rneed)}"
            else:
                assert right.constant is not None  # one side is a constant, and it is not the left
                values = _apply(op, s.values, right.constant)
                text = f"{_wrap(s.expression, left.precedence, lneed)} {op} {_number_text(right.constant)}"
            out.append(_with_values(s, s.times, np.asarray(values, dtype=np.float64), expression=text))
        return _Part(out, series_side.group_by, series_side.interval, precedence=prec)
    out = []
    for ls, rs in _pairs(left.series, right.series):
        times = np.union1d(ls.times, rs.times)
        values = _apply(op, _reindex(ls, times), _reindex(rs, times))
        group_tags = ls.group_tags or rs.group_tags
        out.append(Timeseries(
            group_tags=group_tags,
            scope=ls.scope if ls.scope == rs.scope else (",".join(group_tags) or "*"),
            expression=f"{_wrap(ls.expression, left.precedence, lneed)} {op} "
                       f"{_wrap(rs.expression, right.precedence, rneed)}",
            metric=ls.metric if ls.metric == rs.metric else None,
            aggr=ls.aggr if ls.aggr == rs.aggr else None,
            times=times, values=values, unit=(None, None)))
    intervals = [iv for iv in (left.interval, right.interval) if iv is not None]
    return _Part(out, left.group_by or right.group_by, max(intervals, default=None), precedence=prec)


def _pairs(left: list[Timeseries], right: list[Timeseries]) -> list[tuple[Timeseries, Timeseries]]:
    if len(left) == 1 and not left[0].group_tags:
        return [(left[0], r) for r in right]
    if len(right) == 1 and not right[0].group_tags:
        return [(lt, right[0]) for lt in left]
    by_group = {r.group_tags: r for r in right}
    return [(lt, by_group[lt.group_tags]) for lt in left if lt.group_tags in by_group]  # unmatched groups drop


def _reindex(s: Timeseries, times: np.ndarray) -> np.ndarray:
    """Values of `s` on a wider sorted time axis, NaN where `s` has no bucket."""
    if len(s.times) == len(times):
        return s.values  # the union of a subset with its superset is the superset itself
    out = np.full(len(times), np.nan)
    out[np.searchsorted(times, s.times)] = s.values
    return out


# ---------------------------------------------------------------------------------------------------- helpers
def _last(values: np.ndarray) -> float:
    present = values[~np.isnan(values)]
    return float(present[-1]) if len(present) else math.nan


def _reducer(fn: Callable[[np.ndarray], float]) -> Callable[[np.ndarray], float]:
    def reduce(values: np.ndarray) -> float:
        present = values[~np.isnan(values)]
        return float(fn(present)) if len(present) else math.nan
    return reduce


_REDUCERS: dict[str, Callable[[np.ndarray], float]] = {
    "avg": _reducer(np.mean), "min": _reducer(np.min), "max": _reducer(np.max), "sum": _reducer(np.sum), "last": _last,
}


def kind_from_store(store: MetricStore, metric: str) -> MetricKind:
    """MetricKind from what the intake recorded: type (unspecified -> gauge), unit and the submission interval of
    the most recently created series declaring one (as for the unit)."""
    mtype = store.metric_type(metric)
    intervals = [s.interval for s in store.series(metric) if s.interval]
    return MetricKind(mtype if mtype in ("count", "rate") else "gauge", store.metric_unit(metric), None,
                      intervals[-1] if intervals else None)


def store_kinds(store: MetricStore) -> Callable[[str], MetricKind]:
    """kind_from_store as a `kinds` lookup: for callers given a store but no catalogue (Metrics.kind)."""
    return lambda metric: kind_from_store(store, metric)


def _memoize(fn: Callable[[str], MetricKind]) -> Callable[[str], MetricKind]:
    cache: dict[str, MetricKind] = {}

    def cached(metric: str) -> MetricKind:
        if metric not in cache:
            cache[metric] = fn(metric)
        return cache[metric]
    return cached
