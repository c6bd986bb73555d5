"""Log monitors without HTTP: the query grammar, window values over stored logs, and the evaluation service judging
them like metric monitors (groups, windows, missing data, recovery, late logs, notifications)."""

from __future__ import annotations

from typing import Any

import pytest

from autonomic_lib.errors import IntakeError, QueryError
from autonomic_lib.sandbox.logs.backend import Logs
from autonomic_lib.sandbox.monitors.backend import Monitors
from autonomic_lib.sandbox.monitors.evaluator import GroupState
from autonomic_lib.sandbox.monitors.log_evaluator import plan_log_monitor, run_log_monitor
from autonomic_lib.sandbox.monitors.log_query import parse_log_monitor
from autonomic_lib.sandbox.monitors.service import MonitorEvaluator
from tests.sandbox.monitors.conftest import T0

ERRORS = 'logs("service:autonomic-refiner status:error").index("*").rollup("count")'


def log_alert(query: str, **options: Any) -> dict[str, Any]:
    return {"type": "log alert", "query": query, "name": "Refiner errors", "message": "x", "tags": [],
            "options": options}


def put(logs: Logs, minute: float, *, status: str = "error", service: str = "autonomic-refiner",
        agent: str = "a1", **attributes: Any) -> None:
    """One log `minute` minutes after T0 (the way the intake route stores it: tags carry service and ddtags)."""
    logs.ingest([{"k": int((T0 + minute * 60) * 1000), "message": "Optimization failed", "status": status,
                  "service": service, "tags": [f"service:{service}", f"agent_id:{agent}", "env:demo"],
                  "attributes": attributes}])


@pytest.fixture
def evaluator(monitors: Monitors, logs: Logs) -> MonitorEvaluator:
    service = MonitorEvaluator(monitors=monitors, events=logs, metrics=monitors.metrics)
    logs.on_ingest(service.learn_logs)
    return service


def history(monitors: Monitors, monitor_id: int) -> list[tuple[str, str, str, int]]:
    return [(r["group"], r["previous"], r["current"], (r["at"] - T0) // 60) for r in monitors.history(monitor_id)]


# ------------------------------------------------------------------------------------------ grammar
def test_the_documented_forms_parse_into_their_parts() -> None:
    parsed = parse_log_monitor('logs("service:foo AND type:error").index("main").rollup("count").by("source")'
                               '.last("5m") > 2')
    assert (parsed.search, parsed.indexes, parsed.rollup, parsed.measure, parsed.group_by, parsed.window,
            parsed.operator, parsed.threshold) == ("service:foo AND type:error", ("main",), "count", None,
                                                  ("source",), 300, ">", 2.0)
    measure = parse_log_monitor('logs("*").rollup("avg", "@duration").by("@service,host").last("2h") <= 0.5')
    assert (measure.rollup, measure.measure, measure.group_by, measure.window, measure.indexes) == (
        "avg", "@duration", ("@service", "host"), 7200, ("*",))
    quoted = parse_log_monitor(r'logs("@msg:\"a b\"").rollup("cardinality", "@user").last("1m") >= 10')
    assert quoted.search == '@msg:"a b"' and quoted.measure == "@user"


@pytest.mark.parametrize("query, words", [
    ('logs("x").rollup("count").last("5m")', "invalid operator"),
    ('logs("x").rollup("count").last("2881m") > 1', "1 to 2880"),
    ('logs("x").rollup("count").last("49h") > 1', "1 to 48"),
    ('logs("x").rollup("count").last("5d") > 1', "#m"),
    ('logs("x").last("5m") > 1', ".rollup("),
    ('logs("x").rollup("avg").last("5m") > 1', "needs exactly one measure"),
    ('logs("x").rollup("count", "@a").last("5m") > 1', "takes no measure"),
    ('logs("x").rollup("p99", "@a").last("5m") > 1', "is not one of"),
    ('logs("x").rollup("count").rollup("count").last("5m") > 1', "twice"),
    ('logs("x").rollup("count").where("a").last("5m") > 1', "unknown method"),
    ('logs("service:a) > 1', "unterminated"),
    ('logs("x").rollup("count").last("5m") > 1 extra', "invalid operator"),
    ('logs("x").rollup("count").last("5m") > 1e999', "invalid operator"),
    ('logs("x").rollup("count").last("5m") > > 1', "is not a number"),
    ('events("x").rollup("count").last("5m") > 1', 'starts with logs('),
])
def test_malformed_queries_are_refused_naming_the_part(query: str, words: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_log_monitor(query)
    assert words in str(caught.value)


def test_the_model_checks_the_search_and_the_thresholds(monitors: Monitors) -> None:
    created = monitors.create(log_alert(f'{ERRORS}.by("agent_id").last("5m") > 0'))
    assert created["type"] == "log alert" and created["multi"] is True
    assert created["options"]["thresholds"] == {"critical": 0}
    with pytest.raises(IntakeError, match="does not match"):
        monitors.create(log_alert(f'{ERRORS}.last("5m") > 0', thresholds={"critical": 3}))
    with pytest.raises(IntakeError, match="missing '\\)'"):
        monitors.create(log_alert('logs("(service:a").rollup("count").last("5m") > 0'))
    with pytest.raises(IntakeError, match="not supported by the sandbox"):
        monitors.create(log_alert('logs("*:foo").rollup("count").last("5m") > 0'))
    with pytest.raises(IntakeError, match="invalid operator specified"):  # Datadog's recorded wording
        monitors.create({"type": "log alert", "query": "query"})


# ------------------------------------------------------------------------------------------ evaluation
def run(plan_doc: dict[str, Any], logs: Logs, first: int, last: int,
        states: dict[str, GroupState] | None = None) -> list[tuple[str, str, str, int]]:
    states = {} if states is None else states
    made = run_log_monitor(plan_log_monitor({**plan_doc, "id": 1}), logs, T0 + first * 60, T0 + last * 60, states)
    return [(t.group, t.previous, t.current, (t.at - T0) // 60) for t in made]


def test_a_count_alerts_while_the_window_holds_enough_logs_and_recovers_when_they_age_out(logs: Logs) -> None:
    for minute in (3.2, 3.5, 4.1):
        put(logs, minute)
    put(logs, 4.5, status="info")  # not an error: not counted
    put(logs, 4.6, service="autonomic-auditor")  # another service: not counted
    assert run(log_alert(f'{ERRORS}.last("5m") > 2'), logs, 1, 15) == [("*", "OK", "Alert", 5),
                                                                        ("*", "Alert", "OK", 9)]


def test_the_value_is_the_number_of_logs_in_the_window(logs: Logs) -> None:
    for minute in (0.5, 1.5, 1.7, 2.5):
        put(logs, minute)
    plan_doc = log_alert(f'{ERRORS}.last("3m") > 10')
    states: dict[str, GroupState] = {}
    run(plan_doc, logs, 3, 3, states)
    assert states["*"].value == 4.0  # [0, 3 min): all four
    run(plan_doc, logs, 4, 4, states)
    assert states["*"].value == 3.0  # [1, 4 min)


def test_by_a_facet_each_group_alerts_and_recovers_on_its_own(logs: Logs) -> None:
    put(logs, 1.5, agent="a1")
    put(logs, 6.5, agent="a2")
    made = run(log_alert(f'{ERRORS}.by("agent_id").last("2m") > 0'), logs, 1, 12)
    assert made == [("agent_id:a1", "OK", "Alert", 2), ("agent_id:a1", "Alert", "OK", 4),
                    ("agent_id:a2", "OK", "Alert", 7), ("agent_id:a2", "Alert", "OK", 9)]


def test_groups_by_an_attribute_and_by_status(logs: Logs) -> None:
    put(logs, 1.5, failure_reason="regression")
    put(logs, 1.6, status="warn", failure_reason="timeout")
    made = run(log_alert('logs("service:autonomic-refiner").rollup("count").by("@failure_reason,status")'
                         '.last("5m") >= 1'), logs, 2, 2)
    assert made == [("@failure_reason:regression,status:error", "OK", "Alert", 2),
                    ("@failure_reason:timeout,status:warn", "OK", "Alert", 2)]


@pytest.mark.parametrize("rollup, expected", [
    ('"cardinality", "@user"', 2.0), ('"avg", "@duration"', 3.0), ('"sum", "@duration"', 9.0),
    ('"min", "@duration"', 1.0), ('"max", "@duration"', 5.0), ('"median", "@duration"', 3.0)])
def test_measures_and_unique_counts_are_computed_over_the_whole_window(logs: Logs, rollup: str,
                                                                       expected: float) -> None:
    put(logs, 0.5, user="u1", duration=1)
    put(logs, 1.5, user="u2", duration=3)
    put(logs, 2.5, user="u1", duration="5")  # a numeric string is a number, as in Datadog's measures
    put(logs, 2.6, user="u3")  # no duration: not in the measure's window
    states: dict[str, GroupState] = {}
    run(log_alert(f'logs("*").rollup({rollup}).last("3m") > 100'), logs, 3, 3, states)
    assert states["*"].value == (3.0 if rollup.startswith('"cardinality"') else expected)


def test_an_empty_count_window_is_zero_and_recovers_but_a_measure_keeps_its_last_state(logs: Logs) -> None:
    put(logs, 1.5, duration=9)
    count = run(log_alert(f'{ERRORS}.last("1m") > 0'), logs, 1, 6)
    measure = run(log_alert('logs("*").rollup("avg", "@duration").last("1m") > 5'), logs, 1, 6)
    assert count == [("*", "OK", "Alert", 2), ("*", "Alert", "OK", 3)]
    assert measure == [("*", "OK", "Alert", 2)]  # no logs, no value: the last known status stays


def test_show_no_data_and_resolve_apply_to_log_monitors(logs: Logs) -> None:
    put(logs, 1.5)
    no_data = run(log_alert(f'{ERRORS}.last("2m") > 0', on_missing_data="show_no_data"), logs, 1, 8)
    assert no_data == [("*", "OK", "Alert", 2), ("*", "Alert", "No Data", 4)]
    notify = run(log_alert(f'{ERRORS}.last("2m") > 0', notify_no_data=True, no_data_timeframe=5), logs, 1, 10)
    assert notify == [("*", "OK", "Alert", 2), ("*", "Alert", "OK", 4), ("*", "OK", "No Data", 7)]


def test_a_below_threshold_monitor_alerts_when_logs_stop(logs: Logs) -> None:
    for minute in range(0, 5):
        put(logs, minute + 0.5, status="info")
    heartbeat = 'logs("service:autonomic-refiner").rollup("count").last("2m") < 1'
    assert run(log_alert(heartbeat), logs, 2, 9) == [("*", "OK", "Alert", 7)]


def test_evaluation_delay_shifts_the_window(logs: Logs) -> None:
    put(logs, 1.5)
    made = run(log_alert(f'{ERRORS}.last("1m") > 0', evaluation_delay=120), logs, 1, 8)
    assert made == [("*", "OK", "Alert", 4), ("*", "Alert", "OK", 5)]


# ------------------------------------------------------------------------------------------ the service
def test_the_service_evaluates_log_monitors_notifies_and_records_their_history(
        monitors: Monitors, logs: Logs, evaluator: MonitorEvaluator) -> None:
    notified: list[tuple[str, str]] = []
    evaluator.notify = lambda monitor, t: notified.append((t.group, t.current))
    created = monitors.create(log_alert(f'{ERRORS}.by("agent_id").last("5m") > 0'))
    put(logs, 2.5, agent="a7")
    evaluator.run(now=T0 + 20 * 60)
    assert history(monitors, created["id"]) == [("agent_id:a7", "OK", "Alert", 3),
                                                ("agent_id:a7", "Alert", "OK", 8)]
    assert notified == [("agent_id:a7", "Alert"), ("agent_id:a7", "OK")]
    monitor = monitors.get(created["id"])
    assert monitor is not None and monitor["overall_state"] == "OK"
    assert set(monitor["state"]["groups"]) == {"agent_id:a7"}
    titles = [e["title"] for e in logs.list_events(start=T0, end=T0 + 3600, sources=["monitor"])]
    assert titles == ["[Recovered on {agent_id:a7}] Refiner errors", "[Triggered on {agent_id:a7}] Refiner errors"]


def test_log_intake_marks_new_data_and_late_logs_replay_the_monitor(
        monitors: Monitors, logs: Logs, evaluator: MonitorEvaluator) -> None:
    created = monitors.create(log_alert(f'{ERRORS}.last("2m") > 1'))
    put(logs, 1.2)
    before = evaluator._written
    put(logs, 9.5)
    assert evaluator._written == before + 1  # log intake triggers the background evaluation
    evaluator.run(now=T0 + 12 * 60)
    assert history(monitors, created["id"]) == []
    put(logs, 1.4)  # a late log in minutes already judged: the monitor is replayed with it
    evaluator.run(now=T0 + 12 * 60)
    assert history(monitors, created["id"]) == [("*", "OK", "Alert", 2), ("*", "Alert", "OK", 4)]


def test_a_monitor_of_another_type_is_stored_but_never_evaluated(
        monitors: Monitors, logs: Logs, evaluator: MonitorEvaluator) -> None:
    created = monitors.create({"type": "event-v2 alert", "query": 'events("*").rollup("count").last("5m") > 0',
                               "name": "events"})
    put(logs, 1.5)
    report = {r["monitor_id"]: r for r in evaluator.run(now=T0 + 10 * 60)}[created["id"]]
    assert "not evaluated by the sandbox" in report["not_evaluated"]
    monitor = monitors.get(created["id"])
    assert monitor is not None and monitor["overall_state"] == "No Data" and monitors.history(created["id"]) == []
    status = {s["monitor_id"]: s for s in monitors.evaluation_status()}[created["id"]]
    assert "event-v2 alert" in status["not_evaluated"]


@pytest.mark.parametrize("query, words", [
    ('logs("' + "(" * 3000 + 'a' + ")" * 3000 + '").rollup("count").last("5m") > 0', "nested more than"),
    ('logs("' + "a " * 5000 + '").rollup("count").last("5m") > 0', "at most 8192"),
    ('logs("' + "\\\\" * 4000 + '").rollup("count").last("5m") > 0', "no word to search for"),
])
def test_hostile_log_queries_are_a_400_in_bounded_time(monitors: Monitors, query: str, words: str) -> None:
    with pytest.raises(IntakeError) as caught:
        monitors.create(log_alert(query))
    assert caught.value.status == 400 and words in str(caught.value)
    assert monitors.count() == 0
