"""Formula-and-functions monitor queries: parsed in one pass against the names of options.variables."""

from __future__ import annotations

import pytest

from autonomic_lib.errors import IntakeError, QueryError
from autonomic_lib.query.formula_monitor import FormulaMonitorQuery, parse_formula_monitor
from autonomic_lib.query.language import BinaryOp, Number, QueryRef
from autonomic_lib.sandbox.monitors.formula import check_formula_monitor
from autonomic_lib.sandbox.monitors.model import normalise_monitor
from autonomic_lib.sandbox.monitors.unevaluated import is_evaluated, not_evaluated_reason

NAMES = ("query1", "query2")


def test_the_client_examples_rum_formula_query():
    """CreateMonitor_3883669300's query over its two variables."""
    parsed = parse_formula_monitor('formula("query2 / query1 * 100").last("15m") >= 0.8', NAMES)
    assert parsed == FormulaMonitorQuery(
        BinaryOp("*", BinaryOp("/", QueryRef("query2"), QueryRef("query1")), Number(100.0)), "last", "15m", None, (),
        ">=", 0.8)


def test_the_documented_cost_form_with_a_function():
    parsed = parse_formula_monitor("formula('query1').last('7d').change(relative, 10) > 5", NAMES)
    assert (parsed.timeframe, parsed.window, parsed.function, parsed.parameters) == ("last", "7d", "change",
                                                                                     ("relative", "10"))
    anomaly = parse_formula_monitor('formula("query1").last("7d").anomaly(direction=above) >= 1', NAMES)
    assert anomaly.function == "anomaly" and anomaly.parameters == ("direction=above",)


def test_a_rollup_before_the_window_as_the_client_examples_write_it():
    """CreateMonitor_2082938111 / _2608995690: `.rollup("sum")` between formula(...) and the window."""
    parsed = parse_formula_monitor('formula("query1").rollup("sum").last("5m") > 100', NAMES)
    assert (parsed.rollup, parsed.timeframe, parsed.window, parsed.operator, parsed.threshold) == \
        ("sum", "last", "5m", ">", 100.0)
    assert parse_formula_monitor('formula("query1").last("5m") > 1', NAMES).rollup is None


@pytest.mark.parametrize("text, fragment", [
    ('formula("query3").last("15m") > 1', "unknown query name 'query3'"),
    ('formula("query1").last("15x") > 1', 'takes one window such as "15m"'),
    ('formula("query1").every("15m") > 1', '.last("<window>") or .current("<window>")'),
    ('formula("query1").rollup("median").last("5m") > 1', ".rollup() takes one of avg, sum, min, max, count"),
    ('formula("query1").rollup("sum", "60").last("5m") > 1', ".rollup() takes one of"),
    ('formula("query1").rollup("sum") > 1', '.last("<window>") or .current("<window>")'),
    ('formula("query1").last("5m").rollup("sum") > 1', "after the window comes at most one of"),
    ('formula("query1").last("15m").median() > 1', "after the window comes at most one of"),
    ('formula("query1").last("15m") >> 1', "expected a number"),
    ('formula("query1").last("15m") > 1 extra', "expected end of query"),
    ('formula("query1".last("15m") > 1', "expected ')'"),
    ('formula("query1).last("15m") > 1', "expected ')'"),
    ('formula("query1").last("15m") > 1e999', "expected end of query"),
    ('formula("query1").last("15m",) > 1', "an argument or ')'"),
    ("formula(" * 2000, "longer than 4000 characters"),
])
def test_malformed_formula_queries_name_the_problem(text: str, fragment: str):
    with pytest.raises(QueryError, match=fragment.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        parse_formula_monitor(text, NAMES)


def test_variables_are_checked_before_the_query():
    variables = [{"data_source": "rum", "name": "query1", "search": {"query": ""}},
                 {"data_source": "rum", "name": "query2", "search": {"query": "status:error"}}]
    assert check_formula_monitor('formula("query2 / query1").last("5m") > 1', {"variables": variables}).window == "5m"
    with pytest.raises(IntakeError, match="options.variables'"):
        check_formula_monitor('formula("query1").last("5m") > 1', {})
    with pytest.raises(IntakeError, match=r"options.variables\[1\].name.*names two queries"):
        check_formula_monitor('formula("query1").last("5m") > 1', {"variables": [variables[0], variables[0]]})


def test_a_metric_formula_monitor_is_stored_not_evaluated_and_still_checked():
    body = {"type": "query alert", "query": 'formula("a / b").last("5m") > 1', "name": "ratio", "options": {
        "thresholds": {"critical": 1}, "variables": [
            {"data_source": "metrics", "name": "a", "query": "sum:m.a{*} by {host}"},
            {"data_source": "metrics", "name": "b", "query": "sum:m.b{*}"}]}}
    stored = normalise_monitor(body)
    assert stored["query"] == body["query"] and stored["multi"] is False  # as Datadog's recorded answer
    assert not is_evaluated(stored) and "formula and functions metric monitor" in not_evaluated_reason(stored)
    assert is_evaluated({"type": "query alert", "query": "avg(last_5m):sum:m.a{*} > 1"})
    with pytest.raises(IntakeError, match="unknown query name 'c'"):
        normalise_monitor({**body, "query": 'formula("a / c").last("5m") > 1'})
    with pytest.raises(IntakeError, match="does not match"):
        normalise_monitor({**body, "options": {**body["options"], "thresholds": {"critical": 2}}})
