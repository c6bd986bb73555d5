"""The monitor evaluation service without HTTP: transitions become events in the logs backend, replays retract."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from autonomic_lib.sandbox.logs.backend import Logs
from autonomic_lib.sandbox.metrics.store import SeriesPoints
from autonomic_lib.sandbox.monitors.backend import Monitors
from autonomic_lib.sandbox.monitors.service import MonitorEvaluator
from tests.sandbox.monitors.conftest import T0, body


@pytest.fixture
def evaluator(monitors: Monitors, logs: Logs) -> MonitorEvaluator:
    return MonitorEvaluator(monitors=monitors, events=logs, metrics=monitors.metrics)


def write(monitors: Monitors, values: list[float], start: int = T0) -> None:
    """One point a minute from `start` for m.x{env:demo}."""
    monitors.metrics.write([SeriesPoints("m.x", ("env:demo",), np.arange(len(values)) * 60 + start,
                                         np.array(values, dtype=float), type="gauge")])


def test_the_evaluator_writes_each_transition_as_an_event_in_the_logs_backend(
        monitors: Monitors, logs: Logs, evaluator: MonitorEvaluator) -> None:
    created = monitors.create(body("avg(last_2m):avg:m.x{env:demo} > 3", tags=["team:a"]))
    write(monitors, [1, 1, 1, 5, 5, 5, 5, 5, 1, 1, 1, 1])
    evaluator.run(now=T0 + 12 * 60)
    history = monitors.history(created["id"])
    assert [(r["previous"], r["current"]) for r in history] == [("OK", "Alert"), ("Alert", "OK")]
    events = [event for r in history if (event := logs.get_event(r["event_id"])) is not None]
    assert [(e["title"], e["date_happened"], e["source_type_name"]) for e in events] == [
        ("[Triggered] Latency high", history[0]["at"], "monitor"),
        ("[Recovered] Latency high", history[1]["at"], "monitor")]
    assert all({"monitor_id:1", "team:a"} <= set(e["tags"]) for e in events)
    listed = logs.list_events(start=T0, end=T0 + 3600, sources=["monitor"])
    assert [e["id"] for e in listed] == [r["event_id"] for r in reversed(history)]
    monitor = monitors.get(created["id"])
    assert monitor is not None and monitor["overall_state"] == "OK"


def test_a_replay_that_no_longer_makes_a_transition_retracts_its_event(
        monitors: Monitors, logs: Logs, evaluator: MonitorEvaluator) -> None:
    created = monitors.create(body("avg(last_2m):avg:m.x{env:demo} > 3"))
    write(monitors, [1, 1, 1, 5, 5, 5, 5, 5, 1, 1, 1, 1])
    evaluator.run(now=T0 + 12 * 60)
    retracted = [r["event_id"] for r in monitors.history(created["id"])]
    write(monitors, [1, 1, 1, 1, 1], start=T0 + 3 * 60)  # late data: the spike never happened
    evaluator.run(now=T0 + 12 * 60)
    assert monitors.history(created["id"]) == []
    assert [logs.get_event(i) for i in retracted] == [None, None]
    assert logs.list_events(start=T0, end=T0 + 3600) == []


# ------------------------------------------------------------------------------------------ isolation and outbox
def test_a_monitor_that_fails_to_evaluate_is_marked_and_the_others_still_alert_and_notify(
        monitors: Monitors, logs: Logs, monkeypatch: pytest.MonkeyPatch) -> None:
    """One monitor's unexpected error once aborted the loop for all, and their notifications with it."""
    from autonomic_lib.sandbox.monitors import service

    broken = monitors.create(body("avg(last_2m):avg:m.x{env:demo} > 3", name="broken"))
    healthy = monitors.create(body("avg(last_2m):avg:m.x{env:demo} > 3", name="healthy"))
    real_plan = service.plan_monitor

    def plan(monitor: dict[str, Any], **kwargs: Any) -> Any:
        if monitor["id"] == broken["id"]:
            raise TypeError("unsupported operand type(s) for >: 'float' and 'NoneType'")
        return real_plan(monitor, **kwargs)

    monkeypatch.setattr(service, "plan_monitor", plan)
    notified: list[tuple[int, str]] = []
    evaluator = MonitorEvaluator(monitors=monitors, events=logs, metrics=monitors.metrics,
                                 notify=lambda monitor, t: notified.append((monitor["id"], t.current)))
    write(monitors, [1, 1, 1, 5, 5, 5, 5, 5, 1, 1, 1, 1])
    summary = {r["monitor_id"]: r for r in evaluator.run(now=T0 + 12 * 60)}
    assert "TypeError" in summary[broken["id"]]["error"]
    assert notified == [(healthy["id"], "Alert"), (healthy["id"], "OK")]
    status = {s["monitor_id"]: s for s in monitors.evaluation_status()}
    assert "TypeError" in status[broken["id"]]["error"] and status[healthy["id"]]["error"] is None


def test_a_notification_that_fails_stays_owed_and_is_delivered_once_by_the_next_run(
        monitors: Monitors, logs: Logs) -> None:
    """Transitions are stored with their notification pending: a failing hook (or a crash) loses none."""
    created = monitors.create(body("avg(last_2m):avg:m.x{env:demo} > 3"))
    write(monitors, [1, 1, 1, 5, 5, 5, 5, 5, 1, 1, 1, 1])

    def failing(monitor: dict[str, Any], transition: Any) -> None:
        raise RuntimeError("the workflow engine is down")

    MonitorEvaluator(monitors=monitors, events=logs, metrics=monitors.metrics, notify=failing).run(now=T0 + 12 * 60)
    assert [r["notified"] for r in monitors.history(created["id"])] == [False, False]
    delivered: list[str] = []
    restarted = MonitorEvaluator(monitors=monitors, events=logs, metrics=monitors.metrics,
                                 notify=lambda monitor, t: delivered.append(t.current))
    restarted.run(now=T0 + 12 * 60)
    restarted.run(now=T0 + 13 * 60)
    assert delivered == ["Alert", "OK"]
    assert [r["notified"] for r in monitors.history(created["id"])] == [True, True]


def test_a_notification_failing_every_time_is_given_up_with_its_reason(monitors: Monitors, logs: Logs) -> None:
    created = monitors.create(body("avg(last_2m):avg:m.x{env:demo} > 3"))
    write(monitors, [1, 1, 1, 5, 5, 5, 5, 5])

    def failing(monitor: dict[str, Any], transition: Any) -> None:
        raise RuntimeError("always")

    evaluator = MonitorEvaluator(monitors=monitors, events=logs, metrics=monitors.metrics, notify=failing)
    for minute in range(8, 8 + service_attempts()):
        evaluator.run(now=T0 + minute * 60)
    (row,) = monitors.history(created["id"])
    assert row["notified"] is True and "RuntimeError: always" in row["notify_error"]


def service_attempts() -> int:
    from autonomic_lib.sandbox.monitors.service import MAX_NOTIFY_ATTEMPTS
    return MAX_NOTIFY_ATTEMPTS
