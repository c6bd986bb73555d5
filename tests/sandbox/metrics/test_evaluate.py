"""Evaluator checks against hand-computed answers over a small in-memory MetricStore."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autonomic_lib.errors import QueryError, UnsupportedQueryError
from autonomic_lib.query.language import parse_query
from autonomic_lib.query.limits import MAX_POINTS
from autonomic_lib.sandbox.metrics.evaluate import (
    MetricKind, default_interval, effective_interval, evaluate_expression, evaluate_formulas, evaluate_grid,
    evaluate_query, evaluate_scalar,
)
from autonomic_lib.sandbox.metrics.store import MetricStore, SeriesPoints

T0 = 1767225600  # 2026-01-01 00:00 UTC, aligned to every nice interval
HOUR = (T0, T0 + 3600)  # default interval 20 s
NAN = math.nan


def points(metric, tags, offsets, values, **kw) -> SeriesPoints:
    return SeriesPoints(metric, tags, T0 + np.asarray(offsets, dtype=np.int64), np.asarray(values, dtype=float), **kw)


@pytest.fixture(scope="module")
def store():
    s = MetricStore(None)
    s.write([
        # gauge: 20 s buckets give a1 [2, 6], a2 [10, 20], the prod series (no agent_id) [100, -]
        points("test.gauge", ("agent_id:a1", "env:demo", "service:web-01"), [0, 10, 20, 30], [1, 3, 5, 7],
               type="gauge", unit="second"),
        points("test.gauge", ("agent_id:a2", "env:demo", "service:api-01"), [0, 20], [10, 20], type="gauge"),
        points("test.gauge", ("env:prod", "service:web-02"), [0], [100], type="gauge"),
        # count every 10 s: a1 sends 1, a2 sends 2
        points("test.count", ("agent_id:a1",), range(0, 60, 10), [1] * 6, type="count", interval=10),
        points("test.count", ("agent_id:a2",), range(0, 60, 10), [2] * 6, type="count", interval=10),
        # rate of 0.5/s submitted every 10 s
        points("test.rate", ("env:demo",), [0, 10, 20, 30], [0.5] * 4, type="rate", interval=10, unit="request"),
        # pass-rate inputs
        points("test.passed", ("agent_id:a1",), [0], [3], type="count"),
        points("test.passed", ("agent_id:a2",), [0], [1], type="count"),
        points("test.failed", ("agent_id:a1",), [0], [1], type="count"),
        points("test.failed", ("agent_id:a2",), [0], [3], type="count"),
        points("test.failed", ("agent_id:a3",), [0], [2], type="count"),
        # no declared type -> gauge; a repeated tag key puts the series in two groups
        points("test.untyped", ("role:a", "role:b"), [0, 5], [4, 8]),
        points("test.untyped", ("role:a",), [0], [1]),
    ])
    yield s
    s.close()


def single(result):
    assert len(result.series) == 1
    return result.series[0]


def values_of(result):
    return {s.group_tags: s.values.tolist() for s in result.series}


def same(actual, expected):
    np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(expected, dtype=float), equal_nan=True)


@pytest.mark.parametrize("query, expected", [
    ("avg:test.gauge{*}", [(2 + 10 + 100) / 3, (6 + 20) / 2]),
    ("test.gauge{*}", [(2 + 10 + 100) / 3, (6 + 20) / 2]),
    ("sum:test.gauge{*}", [112, 26]),
    ("max:test.gauge{*}", [100, 20]),
    ("min:test.gauge{*}", [2, 6]),
    ("avg:test.gauge{agent_id:a1}.rollup(max)", [3, 7]),
    ("avg:test.gauge{agent_id:a1}.rollup(min)", [1, 5]),
    ("avg:test.gauge{agent_id:a1}.rollup(count)", [2, 2]),
    ("avg:test.gauge{agent_id:a1}.as_count()", [2, 6]),  # gauges ignore the modifiers
    ("avg:test.gauge{agent_id:a1}.as_rate()", [2, 6]),
    ("sum:test.untyped{*}", [(4 + 8) / 2 + 1]),  # no declared type -> gauge -> avg in time, then sum
])
def test_gauge_time_then_space_aggregation(store, query, expected):
    series = single(evaluate_query(query, store, *HOUR))
    assert series.times.tolist() == [T0 + 20 * i for i in range(len(expected))]
    same(series.values, expected)


@pytest.mark.parametrize("query, times, expected", [
    ("avg:test.gauge{agent_id:a1}.rollup(sum, 60)", [T0], [16]),
    ("sum:test.gauge{*}.rollup(avg, 60)", [T0], [4 + 15 + 100]),
    ("sum:test.count{*}.as_count()", [T0, T0 + 20, T0 + 40], [6, 6, 6]),
    ("sum:test.count{*}", [T0, T0 + 20, T0 + 40], [6, 6, 6]),
    ("sum:test.count{*}.as_rate()", [T0, T0 + 20, T0 + 40], [0.3, 0.3, 0.3]),
    ("sum:test.count{*}.rollup(sum, 60).as_count()", [T0], [18]),
    ("sum:test.count{*}.as_rate().rollup(sum, 60)", [T0], [0.3]),
    ("sum:test.count{*}.rollup(count)", [T0, T0 + 20, T0 + 40], [4, 4, 4]),
    ("sum:test.rate{*}", [T0, T0 + 20], [0.5, 0.5]),
    ("sum:test.rate{*}.as_rate()", [T0, T0 + 20], [0.5, 0.5]),
    ("sum:test.rate{*}.as_count()", [T0, T0 + 20], [10, 10]),
    ("sum:test.rate{*}.as_count().rollup(sum, 60)", [T0], [20]),
])
def test_rollups_and_type_modifiers(store, query, times, expected):
    series = single(evaluate_query(query, store, *HOUR))
    assert series.times.tolist() == times
    same(series.values, expected)


def test_group_by_with_missing_key(store):
    result = evaluate_query("avg:test.gauge{*} by {agent_id}", store, *HOUR)
    assert result.group_by == ("agent_id",)
    assert result.interval == 20
    assert [s.group_tags for s in result.series] == [("agent_id:N/A",), ("agent_id:a1",), ("agent_id:a2",)]
    for s in result.series:
        assert s.times.tolist() == [T0, T0 + 20]
    same(result.series[0].values, [100, NAN])
    same(result.series[1].values, [2, 6])
    same(result.series[2].values, [10, 20])


def test_group_by_two_keys_and_descriptive_fields(store):
    result = evaluate_query("sum:test.gauge{env:demo} by {service,agent_id}", store, *HOUR)
    first = result.series[0]
    assert first.group_tags == ("service:api-01", "agent_id:a2")
    assert first.scope == "env:demo,service:api-01,agent_id:a2"
    assert first.expression == "sum:test.gauge{env:demo,service:api-01,agent_id:a2}"
    assert (first.metric, first.aggr, first.unit) == ("test.gauge", "sum", ("second", None))
    assert [s.group_tags for s in result.series][1] == ("service:web-01", "agent_id:a1")

    plain = single(evaluate_query("test.gauge{*}", store, *HOUR))
    assert (plain.group_tags, plain.scope, plain.expression, plain.aggr) == ((), "*", "avg:test.gauge{*}", None)
    counted = evaluate_query("sum:test.count{*} by {agent_id}.as_count()", store, *HOUR).series[0]
    assert counted.expression == "sum:test.count{agent_id:a1}.as_count()"


def test_series_with_repeated_key_joins_every_group(store):
    assert values_of(evaluate_query("sum:test.untyped{*} by {role}", store, *HOUR)) == {
        ("role:a",): [6 + 1], ("role:b",): [6]}


@pytest.mark.parametrize("scope, expected", [
    ("service:web-*", [(2 + 100) / 2, 6]),
    ("service:*-01", [(2 + 10) / 2, (6 + 20) / 2]),
    ("!env:prod", [6, 13]),
    ("agent_id:a1 OR env:prod", [51, 6]),
    ("agent_id IN (a1, a2)", [6, 13]),
    ("agent_id NOT IN (a1)", [55, 20]),
    ("env:demo AND NOT service:api-*", [2, 6]),
    ("env:demo,!agent_id:a2", [2, 6]),
])
def test_scope_filters(store, scope, expected):
    same(single(evaluate_query(f"avg:test.gauge{{{scope}}}", store, *HOUR)).values, expected)


def test_unknown_metric_or_empty_selection_gives_no_series(store):
    result = evaluate_query("avg:no.such.metric{*} by {host}", store, *HOUR)
    assert (result.series, result.interval, result.group_by) == ([], 20, ("host",))
    assert evaluate_query("avg:test.gauge{env:nowhere}", store, *HOUR).series == []
    assert evaluate_query("avg:test.gauge{*}", store, T0 + 7200, T0 + 10800).series == []


def test_pass_rate_formula_matches_groups(store):
    queries = {"a": "sum:test.passed{*} by {agent_id}.as_count()", "b": "sum:test.failed{*} by {agent_id}.as_count()"}
    (result,) = evaluate_formulas(queries, ["a / (a + b) * 100"], store, *HOUR)
    assert values_of(result) == {("agent_id:a1",): [75.0], ("agent_id:a2",): [25.0]}  # a3 has no `a`: dropped
    assert result.group_by == ("agent_id",)
    first = result.series[0]
    assert first.expression == ("sum:test.passed{agent_id:a1}.as_count() / (sum:test.passed{agent_id:a1}.as_count()"
                                " + sum:test.failed{agent_id:a1}.as_count()) * 100")
    assert (first.metric, first.unit) == (None, (None, None))


def test_formulas_default_to_one_result_per_query(store):
    queries = {"b": "sum:test.failed{*}", "a": "sum:test.passed{*}"}
    results = evaluate_formulas(queries, [], store, *HOUR, interval=60)
    assert [values_of(r) for r in results] == [{(): [6.0]}, {(): [4.0]}]
    assert [r.interval for r in results] == [60, 60]
    ratio, total = evaluate_formulas(queries, ["a / b", "a + b + 1"], store, *HOUR)
    same(single(ratio).values, [4 / 6])
    same(single(total).values, [11])


def test_arithmetic_broadcast_constants_and_alignment(store):
    share = evaluate_query("sum:test.passed{*} by {agent_id} / sum:test.passed{*} * 100", store, *HOUR)
    assert values_of(share) == {("agent_id:a1",): [75.0], ("agent_id:a2",): [25.0]}

    scaled = single(evaluate_query("avg:test.gauge{agent_id:a1} * 2 + 1", store, *HOUR))
    same(scaled.values, [5, 13])
    assert (scaled.metric, scaled.unit, scaled.expression) == (
        "test.gauge", ("second", None), "avg:test.gauge{agent_id:a1} * 2 + 1")
    same(single(evaluate_query("10 - -avg:test.gauge{agent_id:a1}", store, *HOUR)).values, [12, 16])
    same(single(evaluate_query("avg:test.gauge{agent_id:a1} / 0", store, *HOUR)).values, [NAN, NAN])

    mixed = single(evaluate_query("avg:test.gauge{agent_id:a1} + avg:test.gauge{env:prod}", store, *HOUR))
    assert mixed.times.tolist() == [T0, T0 + 20]
    same(mixed.values, [102, NAN])
    assert (mixed.metric, mixed.unit) == ("test.gauge", (None, None))

    across = single(evaluate_query("sum:test.count{*}.rollup(sum, 60) / avg:test.gauge{agent_id:a1}", store, *HOUR))
    assert across.times.tolist() == [T0, T0 + 20]  # union of the 60 s and the 20 s buckets
    same(across.values, [18 / 2, NAN])
    assert across.metric is None


def test_grouped_sides_without_common_groups_give_nothing(store):
    assert evaluate_query("sum:test.gauge{*} by {service} + sum:test.gauge{*} by {agent_id}", store, *HOUR).series == []


@pytest.mark.parametrize("start, end, expected", [
    (0, 300, 1), (0, 3600, 20), (0, 4 * 3600, 60), (0, 86400, 300), (0, 7 * 86400, 1800), (0, 1, 1),
])
def test_default_interval(start, end, expected):
    assert default_interval(start, end) == expected


@pytest.mark.parametrize("span, requested, expected", [
    (3600, None, 20), (3600, 10, 10), (3600, 7, 7), (86400, 60, 60), (86400, 10, 60), (86400, 45, 60),
    (30 * 86400, 20, 1800), (7 * 86400, 600, 600),
])
def test_effective_interval(span, requested, expected):
    assert effective_interval(T0, T0 + span, requested) == expected


def test_too_fine_rollup_is_widened_and_keeps_its_method(store):
    result = evaluate_query("sum:test.count{agent_id:a1}.rollup(sum, 10)", store, T0, T0 + 86400)
    assert result.interval == 60
    series = single(result)
    assert series.times.tolist() == [T0]
    same(series.values, [6])  # sum kept (an avg would give 1)
    assert evaluate_query("avg:test.gauge{*}", store, T0, T0 + 86400, interval=10).interval == 60


def test_kinds_override_the_store(store):
    as_count = lambda metric: MetricKind("count")  # noqa: E731 - a one-off stand-in for the catalogue
    same(single(evaluate_query("sum:test.gauge{agent_id:a1}", store, *HOUR, kinds=as_count)).values, [4, 12])
    as_rate = lambda metric: MetricKind("rate", interval=2)  # noqa: E731
    same(single(evaluate_query("sum:test.gauge{agent_id:a1}.as_count()", store, *HOUR, kinds=as_rate)).values,
         [8, 24])


@pytest.mark.parametrize("aggregator, expected", [("avg", 4), ("min", 2), ("max", 6), ("sum", 8), ("last", 6)])
def test_scalar_reductions(store, aggregator, expected):
    ((name, rows),) = evaluate_scalar({"a": ("avg:test.gauge{*} by {agent_id}", aggregator)}, [], store, *HOUR)
    assert name == "a"
    assert dict(rows)[("agent_id:a1",)] == pytest.approx(expected)
    assert [tags for tags, _ in rows] == [("agent_id:N/A",), ("agent_id:a1",), ("agent_id:a2",)]


def test_scalar_formulas(store):
    queries = {"a": ("avg:test.gauge{*} by {agent_id}", "max"), "b": ("sum:test.gauge{*}", "sum"),
               "c": ("avg:test.gauge{*} by {agent_id}", "last")}
    out = evaluate_scalar(queries, ["a - b", "a / (c - c)", "a * c"], store, *HOUR)
    assert [name for name, _ in out] == ["a - b", "a / (c - c)", "a * c"]
    assert dict(out[0][1]) == {("agent_id:N/A",): 100 - 138, ("agent_id:a1",): 6 - 138, ("agent_id:a2",): 20 - 138}
    assert dict(out[1][1]) == {("agent_id:N/A",): None, ("agent_id:a1",): None, ("agent_id:a2",): None}
    assert dict(out[2][1]) == {("agent_id:N/A",): 100 * 100, ("agent_id:a1",): 36, ("agent_id:a2",): 400}


@pytest.mark.parametrize("call, fragment", [
    (lambda s: evaluate_query("anomalies(avg:test.gauge{*}, 'agile', 2)", s, *HOUR),
     "function 'anomalies' is not supported by the sandbox query engine"),
    (lambda s: evaluate_query("avg:test.gauge{*} + abs(avg:test.gauge{*})", s, *HOUR), "function 'abs'"),
    (lambda s: evaluate_query("p95:test.gauge{*}", s, *HOUR), "'p95'"),
    (lambda s: evaluate_query("avg:test.gauge{$env}", s, *HOUR), "template variable $env must be resolved"),
    (lambda s: evaluate_formulas({"a": "avg:test.gauge{*}"}, ["timeshift(a, -3600)"], s, *HOUR), "'timeshift'"),
    (lambda s: evaluate_scalar({"a": ("avg:test.gauge{*}", "percentile")}, [], s, *HOUR), "'percentile'"),
])
def test_unsupported_features_are_refused(store, call, fragment):
    with pytest.raises(UnsupportedQueryError) as info:
        call(store)
    assert fragment in str(info.value)


@pytest.mark.parametrize("call, fragment", [
    (lambda s: evaluate_query("avg:test.gauge{", s, *HOUR), "unexpected end of query"),
    (lambda s: evaluate_query("1 + 2", s, *HOUR), "references no query or metric"),
    (lambda s: evaluate_formulas({"a": "avg:test.gauge{*}"}, ["a + z"], s, *HOUR), "unknown query name 'z'"),
    (lambda s: evaluate_formulas({"a": "avg:test.gauge{*}"}, ["2 * 3"], s, *HOUR), "references no query"),
])
def test_invalid_requests_raise_query_error(store, call, fragment):
    with pytest.raises(QueryError) as info:
        call(store)
    assert type(info.value) is QueryError
    assert fragment in str(info.value)


def test_a_parsed_expression_evaluates_as_its_text(store):
    text = "sum:test.count{*} by {agent_id}.as_count() / 2"
    by_text, by_expr = evaluate_query(text, store, *HOUR), evaluate_expression(parse_query(text), store, *HOUR)
    assert (by_text.interval, by_text.group_by) == (by_expr.interval, by_expr.group_by)
    assert [(s.group_tags, s.expression) for s in by_text.series] == [(s.group_tags, s.expression)
                                                                    for s in by_expr.series]
    for a, b in zip(by_text.series, by_expr.series):
        same(a.values, b.values.tolist())
    with pytest.raises(QueryError, match=r"'\(1\) \+ \(2\)' references no query or metric"):
        evaluate_expression(parse_query("1 + 2"), store, *HOUR)  # errors quote the rendered expression


def test_a_grid_longer_than_the_points_limit_keeps_its_step():
    minutes = MAX_POINTS + 500
    grid_store = MetricStore(None)
    grid_store.write([points("grid.gauge", ("env:demo",), 60 * np.arange(minutes), np.arange(minutes), type="gauge")])
    assert evaluate_query("avg:grid.gauge{*}", grid_store, T0, T0 + 60 * minutes, interval=60).interval > 60
    rows = evaluate_grid(parse_query("avg:grid.gauge{*}"), grid_store, T0, T0 + 60 * minutes, 60)
    assert list(rows) == [()]
    assert rows[()].tolist() == list(range(minutes))
