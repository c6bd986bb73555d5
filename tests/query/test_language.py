"""Parser tables for the sandbox's Datadog query language: valid text -> AST, invalid text -> error and message."""

from __future__ import annotations

import pytest

from autonomic_lib.errors import QueryError, UnsupportedQueryError
from autonomic_lib.query.language import (
    AllTags, And, BinaryOp, ChangeSpec, FunctionCall, MetricQuery, MonitorQuery, Negate, Not, Number, Or, QueryRef, TagTerm,
    TemplateVar, parse_formula, parse_monitor, parse_query, render_expr,
)

ALL = AllTags()


def term(text: str) -> TagTerm:
    key, sep, value = text.partition(":")
    return TagTerm(key, value, "*" in text) if sep else TagTerm(None, key, "*" in text)


def mq(metric: str, scope=ALL, aggr: str | None = "avg", **kw) -> MetricQuery:
    return MetricQuery(aggr, metric, scope, **kw)


VALID = [
    ("avg:system.cpu.user{*}", mq("system.cpu.user")),
    ("system.cpu.idle{*}", mq("system.cpu.idle", aggr=None)),
    ("sum:m{env:demo}", mq("m", term("env:demo"), "sum")),
    ("max:m_1.x{ENV:Demo}", mq("m_1.x", term("env:demo"), "max")),
    ("p95:m{*}", mq("m", aggr="p95")),
    # scopes
    ("avg:m{env:prod,service:web}", mq("m", And((term("env:prod"), term("service:web"))))),
    ("avg:m{service:web-*}", mq("m", TagTerm("service", "web-*", True))),
    ("avg:m{cluster:*-trace}", mq("m", TagTerm("cluster", "*-trace", True))),
    ("avg:m{path:/api/*/v1}", mq("m", TagTerm("path", "/api/*/v1", True))),
    ("avg:m{url:http://x.io:80}", mq("m", TagTerm("url", "http://x.io:80"))),
    ("avg:m{production}", mq("m", TagTerm(None, "production"))),
    ("avg:m{!host:a,env:demo}", mq("m", And((Not(term("host:a")), term("env:demo"))))),
    ("avg:m{env:staging AND (az:us-east-1a OR az:us-east-1c)}",
     mq("m", And((term("env:staging"), Or((term("az:us-east-1a"), term("az:us-east-1c"))))))),
    ("avg:m{env:a or env:b and not host:x}",
     mq("m", Or((term("env:a"), And((term("env:b"), Not(term("host:x")))))))),
    ("avg:m{NOT (env:a OR env:b)}", mq("m", Not(Or((term("env:a"), term("env:b")))))),
    ("avg:m{service IN (web, api-*)}", mq("m", Or((term("service:web"), TagTerm("service", "api-*", True))))),
    ("avg:m{env:demo AND service NOT IN (web, api)}",
     mq("m", And((term("env:demo"), Not(Or((term("service:web"), term("service:api")))))))),
    ("avg:m{service in (web)}", mq("m", term("service:web"))),
    ("avg:m{android,not:x}", mq("m", And((term("android"), term("not:x"))))),
    ("avg:m{$env,$host}", mq("m", And((TemplateVar("$env"), TemplateVar("$host"))))),
    ("avg:m{env:$env.value}", mq("m", TemplateVar("env:$env.value"))),
    # groups, modifiers, rollups
    ("avg:m{*} by {agent_id}", mq("m", group_by=("agent_id",))),
    ("sum:m{env:demo} by {agent_id,env}.as_count()",
     mq("m", term("env:demo"), "sum", group_by=("agent_id", "env"), modifier="as_count")),
    ("sum:m{*}.as_rate()", mq("m", aggr="sum", modifier="as_rate")),
    ("avg:m{*}.rollup(max)", mq("m", rollup_method="max")),
    ("avg:m{*}.rollup(sum, 120)", mq("m", rollup_method="sum", rollup_seconds=120)),
    ("avg:m{*}.rollup(60)", mq("m", rollup_seconds=60)),
    ("sum:m{*} by {host}.rollup(sum, 60).as_count()",
     mq("m", aggr="sum", group_by=("host",), modifier="as_count", rollup_method="sum", rollup_seconds=60)),
    ("sum : m { env:demo } by { host } . as_count ( )",
     mq("m", term("env:demo"), "sum", group_by=("host",), modifier="as_count")),
    # arithmetic
    ("a{*} + b{*} * c{*}", BinaryOp("+", mq("a", aggr=None), BinaryOp("*", mq("b", aggr=None), mq("c", aggr=None)))),
    ("(a{*} + b{*}) * 2", BinaryOp("*", BinaryOp("+", mq("a", aggr=None), mq("b", aggr=None)), Number(2))),
    ("a{*} - b{*} - 1", BinaryOp("-", BinaryOp("-", mq("a", aggr=None), mq("b", aggr=None)), Number(1))),
    ("a{*} / b{*} / 2.5", BinaryOp("/", BinaryOp("/", mq("a", aggr=None), mq("b", aggr=None)), Number(2.5))),
    ("-a{*} * -3", BinaryOp("*", Negate(mq("a", aggr=None)), Negate(Number(3)))),
    ("100 * sum:err{*}.as_count() / sum:req{*}.as_count()",
     BinaryOp("/", BinaryOp("*", Number(100), mq("err", aggr="sum", modifier="as_count")),
              mq("req", aggr="sum", modifier="as_count"))),
    # functions
    ("anomalies(avg:m{*}, 'agile', 2, direction='above', alert_window='last_15m')",
     FunctionCall("anomalies", (mq("m"), "agile", Number(2)), (("direction", "above"), ("alert_window", "last_15m")))),
    ("timeshift(avg:m{*}, -3600)", FunctionCall("timeshift", (mq("m"), Negate(Number(3600))))),
    ("abs(a{*} - b{*})", FunctionCall("abs", (BinaryOp("-", mq("a", aggr=None), mq("b", aggr=None)),))),
    ('top(avg:m{*} by {host}, 10, "mean", "desc")',
     FunctionCall("top", (mq("m", group_by=("host",)), Number(10), "mean", "desc"))),
    ("f(x=-1.5, y='w')", FunctionCall("f", (), (("x", -1.5), ("y", "w")))),
]


@pytest.mark.parametrize("text, expected", VALID, ids=[v[0] for v in VALID])
def test_valid_queries_parse_to_ast(text, expected):
    assert parse_query(text) == expected


@pytest.mark.parametrize("text, expected", VALID, ids=[v[0] for v in VALID])
def test_rendered_queries_parse_back_to_the_same_ast(text, expected):
    assert parse_query(render_expr(expected)) == expected


def test_rendered_numbers_keep_their_precision():
    assert render_expr(parse_query("avg:m{*} * 0.1234567")) == "(avg:m{*}) * (0.1234567)"


INVALID = [
    ("avg:m{a,b AND c}", QueryError, "cannot mix symbolic"),
    ("avg:m{!a OR b}", QueryError, "cannot mix symbolic"),
    ("avg:m{a, b IN (x, y)}", QueryError, "cannot mix symbolic"),
    ("median:m{*}", QueryError, "unknown space aggregator 'median'"),
    ("avg:1abc{*}", QueryError, "expected a metric name"),
    ("avg:my-metric{*}", QueryError, "a metric name has only letters"),
    ("avg:m{env:a", QueryError, "unexpected end of query at position 11: expected ',', '}'"),
    ("avg:m{env:a}}", QueryError, "unexpected '}' at position 12"),
    ("avg:m{}", QueryError, "unexpected '}' at position 6"),
    ("avg:m{env:}", QueryError, "incomplete tag 'env:'"),
    ("(a{*} + b{*}", QueryError, "expected ')'"),
    ("m", QueryError, "needs a scope"),
    ("avg:m{*} by {host:a}", QueryError, "'by' takes tag keys"),
    ("avg:m{*}.as_count().as_rate()", QueryError, "may appear only once"),
    ("avg:m{*}.rollup(sum).rollup(max)", QueryError, "may appear only once"),
    ("avg:m{*}.rollup(median)", QueryError, "unknown rollup method 'median'"),
    ("avg:m{*}.rollup(sum, 0)", QueryError, "whole number of seconds"),
    ("avg:m{*}.rollup(sum, 1.5)", QueryError, "whole number of seconds"),
    ("avg:m{*}.as_count(1)", QueryError, "takes no arguments"),
    ("avg:m{*}.foo()", QueryError, "unknown modifier .foo()"),
    ("f(x=1, 2)", QueryError, "positional argument after keyword"),
    ("avg:m{*} > 1", QueryError, "unexpected '>'"),
    ("avg:m{*}.fill(zero)", UnsupportedQueryError, ".fill() is not supported"),
    ("avg:m{*}.weighted()", UnsupportedQueryError, ".weighted() is not supported"),
    ("avg:m{*}.rollup(avg, 'daily')", UnsupportedQueryError, "calendar rollup"),
]


@pytest.mark.parametrize("text, error, fragment", INVALID, ids=[v[0] for v in INVALID])
def test_invalid_queries_raise(text, error, fragment):
    with pytest.raises(error) as info:
        parse_query(text)
    assert fragment in str(info.value)
    assert info.value.query == text
    if error is QueryError:
        assert type(info.value) is QueryError


def test_error_positions_point_at_the_problem():
    with pytest.raises(QueryError) as info:
        parse_query("avg:m{a,b AND c}")
    assert info.value.position == 10
    with pytest.raises(QueryError) as info:
        parse_query("avg:1abc{*}")
    assert info.value.position == 4


def test_formulas_reference_known_names():
    assert parse_formula("a / (a + b) * 100", ["a", "b"]) == BinaryOp(
        "*", BinaryOp("/", QueryRef("a"), BinaryOp("+", QueryRef("a"), QueryRef("b"))), Number(100))
    assert parse_formula("query1", {"query1"}) == QueryRef("query1")


@pytest.mark.parametrize("text, names, fragment", [
    ("a + c", ["a", "b"], "unknown query name 'c'"),
    ("avg:m{*} + a", ["a"], "metric queries are not allowed"),
    ("a +", ["a"], "unexpected end of query"),
])
def test_invalid_formulas(text, names, fragment):
    with pytest.raises(QueryError, match=fragment.replace("(", r"\(")):
        parse_formula(text, names)


MONITORS = [
    ("avg(last_1h):anomalies(avg:autonomic.agent.latency.avg{env:demo}, 'agile', 2, direction='above', "
     "alert_window='last_15m', interval=60, count_default_zero='true') >= 1",
     MonitorQuery("avg", 3600, FunctionCall(
         "anomalies", (mq("autonomic.agent.latency.avg", term("env:demo")), "agile", Number(2)),
         (("direction", "above"), ("alert_window", "last_15m"), ("interval", 60), ("count_default_zero", "true"))),
         ">=", 1.0)),
    ("sum(last_5m):sum:autonomic.optimization.failed{*} by {agent_id}.as_count() >= 1",
     MonitorQuery("sum", 300, mq("autonomic.optimization.failed", aggr="sum", group_by=("agent_id",),
                                 modifier="as_count"), ">=", 1.0)),
    ("max(last_1d):avg:m{env:demo} by {host} != 0.5", MonitorQuery("max", 86400, mq(
        "m", term("env:demo"), group_by=("host",)), "!=", 0.5)),
    ("min(last_1w):m{*} < -2", MonitorQuery("min", 604800, mq("m", aggr=None), "<", -2.0)),
    ("last(last_10m):m{*} <= 3", MonitorQuery("last", 600, mq("m", aggr=None), "<=", 3.0)),
    ("pct_change(last_5m):avg:a{*} / avg:b{*} == 10", MonitorQuery(
        "pct_change", 300, BinaryOp("/", mq("a"), mq("b")), "==", 10.0)),
    ("change(last_4h):m{*} > 1", MonitorQuery("change", 14400, mq("m", aggr=None), ">", 1.0)),
    ("pct_change(avg(last_5m),5m_ago):avg:m{*} > 10", MonitorQuery(
        "pct_change", 300, mq("m"), ">", 10.0, change=ChangeSpec("avg", 300))),
    ("change(max(last_1h),last_1d):avg:m{*} by {host} < -3", MonitorQuery(
        "change", 3600, mq("m", group_by=("host",)), "<", -3.0, change=ChangeSpec("max", 86400))),
    ("avg(current_1mo):avg:system.load.5{*} > 0.5", MonitorQuery(
        "avg", 31 * 86400, mq("system.load.5"), ">", 0.5, cumulative="month")),
    ("sum(current_1h):m{*} >= 3", MonitorQuery("sum", 3600, mq("m", aggr=None), ">=", 3.0, cumulative="hour")),
    ("max(current_1d):m{*} >= 3", MonitorQuery("max", 86400, mq("m", aggr=None), ">=", 3.0, cumulative="day")),
]


@pytest.mark.parametrize("text, expected", MONITORS, ids=[m[0][:40] for m in MONITORS])
def test_monitor_queries(text, expected):
    assert parse_monitor(text) == expected


@pytest.mark.parametrize("text, error, fragment", [
    ("median(last_5m):m{*} > 1", QueryError, "unknown monitor time aggregator 'median'"),
    ("avg(last_5x):m{*} > 1", QueryError, "bad window"),
    ("avg(5m):m{*} > 1", QueryError, "a window like last_5m"),
    ("avg(last_5m):m{*}", QueryError, "expected"),
    ("avg(last_5m):m{*} => 1", QueryError, "unexpected"),
    ("avg(current_1w):m{*} > 1", QueryError, "expected one of current_1h, current_1d, current_1mo"),
    ("avg(current_2h):m{*} > 1", QueryError, "bad cumulative window 'current_2h'"),
    ("avg(avg(last_5m),5m_ago):m{*} > 1", QueryError, "outer aggregator is change or pct_change"),
    ("change(last(last_5m),5m_ago):m{*} > 1", QueryError, "in the change form; expected one of avg, sum"),
    ("change(avg(last_5m),5x_ago):m{*} > 1", QueryError, "bad timeshift '5x_ago'"),
    ("change(avg(last_5m),99999999m_ago):m{*} > 1", QueryError, "at most a month"),
    ("change(avg(current_1d),5m_ago):m{*} > 1", QueryError, "not the cumulative current_1d"),
])
def test_invalid_monitor_queries(text, error, fragment):
    with pytest.raises(error, match=fragment):
        parse_monitor(text)


TAGS = ("env:demo", "agent_id:a1", "service:web-01", "production", "role:db:primary")
MATCHES = [
    ("*", True),
    ("env:demo", True),
    ("env:prod", False),
    ("ENV:Demo", True),
    ("service:web-*", True),
    ("service:*-01", True),
    ("service:*eb*", True),
    ("service:api-*", False),
    ("env:*", True),
    ("host:*", False),
    ("production", True),
    ("prod*", True),
    ("demo", False),
    ("role:db:primary", True),
    ("role:db:*", True),
    ("!env:demo", False),
    ("!env:prod,agent_id:a1", True),
    ("env:prod OR agent_id:a1", True),
    ("env:prod OR agent_id:a2", False),
    ("NOT (env:prod OR agent_id:a2)", True),
    ("env:demo AND NOT service:web-*", False),
    ("agent_id IN (a2, a1)", True),
    ("agent_id NOT IN (a1)", False),
    ("agent_id NOT IN (a2, a3)", True),
]


@pytest.mark.parametrize("scope, expected", MATCHES, ids=[m[0] for m in MATCHES])
def test_scope_matches(scope, expected):
    assert parse_query(f"avg:m{{{scope}}}").scope.matches(TAGS) is expected


def test_template_variable_cannot_match():
    with pytest.raises(UnsupportedQueryError, match=r"template variable \$env must be resolved"):
        parse_query("avg:m{$env}").scope.matches(TAGS)


@pytest.mark.parametrize("text, canonical", [
    ("avg:m{*}", "avg:m{*}"),
    ("m{ENV:demo , !host:a}", "m{env:demo,!host:a}"),
    ("sum:m{env:a AND (b OR c)} by {host}.rollup(sum, 60).as_rate()",
     "sum:m{env:a AND (b OR c)} by {host}.as_rate().rollup(sum, 60)"),
    ("avg:m{env:a and not host:b}", "avg:m{env:a,!host:b}"),
    ("avg:m{NOT (a OR b)}", "avg:m{NOT (a OR b)}"),
    ("avg:m{svc NOT IN (a, b)}", "avg:m{NOT (svc:a OR svc:b)}"),
    ("avg:m{$env}.rollup(30)", "avg:m{$env}.rollup(30)"),
])
def test_canonical_rendering(text, canonical):
    query = parse_query(text)
    assert query.render() == canonical
    assert parse_query(canonical) == query


def test_parse_results_are_cached():
    assert parse_query("avg:cache.me{env:demo}") is parse_query("avg:cache.me{env:demo}")
    assert parse_monitor("avg(last_5m):m{*} > 1") is parse_monitor("avg(last_5m):m{*} > 1")
