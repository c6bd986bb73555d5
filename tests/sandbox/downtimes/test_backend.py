"""Downtimes without HTTP: their schedules, and what they do to the evaluator's notifications."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.downtimes import model as dm
from autonomic_lib.sandbox.downtimes.backend import Downtimes
from autonomic_lib.sandbox.logs.backend import Logs
from autonomic_lib.sandbox.monitors.backend import Monitors
from autonomic_lib.sandbox.monitors.service import MonitorEvaluator
from autonomic_lib.sandbox.storage.database import open_database
from autonomic_lib.sandbox.storage.documents import DocumentStore
from tests.sandbox.monitors.conftest import T0, Clock, body
from tests.sandbox.monitors.test_service import write

SPIKE = [1, 1, 1, 5, 5, 5, 5, 5, 1, 1, 1, 1]  # avg(last_2m) > 3 alerts at T0+5m, recovers at T0+10m
LASTING = [1, 1, 1] + [5] * 40


@pytest.fixture
def downtimes(monitors: Monitors, clock: Clock) -> Downtimes:
    return Downtimes(DocumentStore(open_database(None)), clock, monitors)


@pytest.fixture
def notified() -> list[tuple[str, str, int]]:
    return []


@pytest.fixture
def evaluator(monitors: Monitors, logs: Logs, downtimes: Downtimes,
              notified: list[tuple[str, str, int]]) -> MonitorEvaluator:
    return MonitorEvaluator(monitors=monitors, events=logs, metrics=monitors.metrics, silence=downtimes.silence,
                            notify=lambda monitor, t: notified.append((t.previous, t.current, t.at)))


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def downtime(scope: str = "*", identifier: dict[str, Any] | None = None, start: float = T0,
             end: float | None = None, **extra: Any) -> dict[str, Any]:
    schedule = {"start": iso(start), "end": iso(end) if end is not None else None}
    return {"data": {"type": "downtime", "attributes": {
        "scope": scope, "monitor_identifier": identifier or {"monitor_tags": ["*"]}, "schedule": schedule, **extra}}}


def test_a_muted_monitor_changes_state_but_does_not_notify(
        monitors: Monitors, downtimes: Downtimes, evaluator: MonitorEvaluator, notified: list) -> None:
    created = monitors.create(body("avg(last_2m):avg:m.x{env:demo} > 3"))
    made = downtimes.create(downtime(end=T0 + 3600))
    write(monitors, SPIKE)
    evaluator.run(now=T0 + 12 * 60)

    history = monitors.history(created["id"])
    assert [(r["previous"], r["current"]) for r in history] == [("OK", "Alert"), ("Alert", "OK")]
    assert all(r["notified"] and r["silenced"] == f"muted by downtime {made['id']}" for r in history)
    assert notified == []


def test_an_alert_still_firing_when_the_downtime_expires_is_notified_at_its_end(
        monitors: Monitors, downtimes: Downtimes, evaluator: MonitorEvaluator, notified: list) -> None:
    monitors.create(body("avg(last_2m):avg:m.x{env:demo} > 3"))
    downtimes.create(downtime(end=T0 + 8 * 60))
    write(monitors, LASTING)
    evaluator.run(now=T0 + 12 * 60)
    assert notified == [("OK", "Alert", T0 + 8 * 60)]


def test_a_downtime_still_running_holds_the_alert_until_it_ends(
        monitors: Monitors, downtimes: Downtimes, evaluator: MonitorEvaluator, notified: list) -> None:
    monitors.create(body("avg(last_2m):avg:m.x{env:demo} > 3"))
    downtimes.create(downtime(end=T0 + 20 * 60))
    write(monitors, LASTING)
    evaluator.run(now=T0 + 12 * 60)
    assert notified == []
    evaluator.run(now=T0 + 21 * 60)
    assert notified == [("OK", "Alert", T0 + 20 * 60)]


def test_notify_end_types_decide_whether_the_end_notifies(
        monitors: Monitors, downtimes: Downtimes, evaluator: MonitorEvaluator, notified: list) -> None:
    monitors.create(body("avg(last_2m):avg:m.x{env:demo} > 3"))
    downtimes.create(downtime(end=T0 + 8 * 60, notify_end_types=["canceled"]))
    write(monitors, LASTING)
    evaluator.run(now=T0 + 12 * 60)
    assert notified == []


def test_a_canceled_downtime_stops_muting_from_its_cancellation(
        monitors: Monitors, downtimes: Downtimes, evaluator: MonitorEvaluator, notified: list, clock: Clock) -> None:
    monitors.create(body("avg(last_2m):avg:m.x{env:demo} > 3"))
    made = downtimes.create(downtime(end=None))
    clock.now = T0 + 2 * 60
    downtimes.cancel(made["id"])
    write(monitors, SPIKE)
    evaluator.run(now=T0 + 12 * 60)
    assert [n[:2] for n in notified] == [("OK", "Alert"), ("Alert", "OK")]
    assert downtimes.status(downtimes.get(made["id"]) or {}) == "canceled"


@pytest.mark.parametrize(("scope", "identifier", "muted"), [
    ("env:demo", None, True),
    ("env:prod", None, False),  # the query's scope is env:demo
    ("*", {"monitor_tags": ["team:a"]}, True),
    ("*", {"monitor_tags": ["team:a", "team:b"]}, False),  # every tag must be on the monitor
    ("*", {"monitor_id": 999}, False),
])
def test_which_monitors_a_downtime_silences(monitors: Monitors, downtimes: Downtimes, evaluator: MonitorEvaluator,
                                            notified: list, scope: str, identifier: dict | None,
                                            muted: bool) -> None:
    monitors.create(body("avg(last_2m):avg:m.x{env:demo} > 3", tags=["team:a"]))
    downtimes.create(downtime(scope, identifier, end=T0 + 3600))
    write(monitors, SPIKE)
    evaluator.run(now=T0 + 12 * 60)
    assert (notified == []) is muted


def test_a_grouped_monitor_is_silenced_only_for_the_groups_in_scope(
        monitors: Monitors, downtimes: Downtimes, evaluator: MonitorEvaluator, notified: list) -> None:
    import numpy as np

    from autonomic_lib.sandbox.metrics.store import SeriesPoints
    monitors.create(body("avg(last_2m):avg:m.x{*} by {env} > 3"))
    downtimes.create(downtime("env:demo", end=T0 + 3600))
    for env in ("demo", "prod"):
        monitors.metrics.write([SeriesPoints("m.x", (f"env:{env}",), np.arange(len(SPIKE)) * 60 + T0,
                                             np.array(SPIKE, dtype=float), type="gauge")])
    evaluator.run(now=T0 + 12 * 60)
    assert [n[:2] for n in notified] == [("OK", "Alert"), ("Alert", "OK")]  # env:prod only


def test_recurring_windows_follow_the_rule_in_its_timezone() -> None:
    schedule = dm.resolve_schedule({"timezone": "America/New_York", "recurrences": [
        {"duration": "1h", "rrule": "FREQ=WEEKLY;BYDAY=MO", "start": "2026-01-05T09:00:00"}]}, now=T0)
    doc = {"schedule": schedule, "canceled_at": None}
    found = list(dm.windows(doc, T0, T0 + 15 * 86400))
    assert [iso(w.start) for w in found] == ["2026-01-05T14:00:00+00:00", "2026-01-12T14:00:00+00:00"]
    assert all(w.end is not None and w.end - w.start == 3600 for w in found)
    assert dm.status(doc, datetime(2026, 1, 12, 14, 30, tzinfo=UTC).timestamp()) == "active"
    assert dm.status(doc, datetime(2026, 1, 12, 16, tzinfo=UTC).timestamp()) == "scheduled"


def test_a_daily_rule_from_long_ago_is_still_bounded_work() -> None:
    schedule = dm.resolve_schedule({"recurrences": [
        {"duration": "1h", "rrule": "FREQ=DAILY", "start": "2000-01-01T00:00:00"}]}, now=T0)
    doc = {"schedule": schedule, "canceled_at": None}
    far = datetime(9000, 6, 1, 0, 30, tzinfo=UTC).timestamp()
    assert dm.status(doc, far) == "active" and dm.status(doc, far + 3600) == "scheduled"
    assert len(list(dm.windows(doc, T0, dm.MAX_EPOCH_S))) <= 367


@pytest.mark.parametrize("rule", ["FREQ=DAILY;INTERVAL=0", "FREQ=DAILY;INTERVAL=x", "FREQ=WEEKLY;BYDAY=XX",
                                  "FREQ=DAILY;COUNT=99999999999", "FREQ=HOURLY", "DTSTART=20260101;FREQ=DAILY"])
def test_bad_rules_are_400s(rule: str) -> None:
    with pytest.raises(IntakeError, match="rrule"):
        dm.resolve_schedule({"recurrences": [{"duration": "1h", "rrule": rule}]}, now=T0)


def test_an_update_cannot_change_the_id(downtimes: Downtimes) -> None:
    made = downtimes.create(downtime())
    with pytest.raises(IntakeError, match="data.id"):
        downtimes.update(made["id"], {"data": {"type": "downtime", "id": "other", "attributes": {}}})


def test_a_schedule_update_merges_within_its_kind_and_replaces_across(downtimes: Downtimes, clock: Clock) -> None:
    made = downtimes.create(downtime(start=T0, end=T0 + 3600))

    def update(schedule: dict[str, Any]) -> dict[str, Any] | None:
        return downtimes.update(made["id"], {"data": {"type": "downtime", "id": made["id"],
                                                      "attributes": {"schedule": schedule}}})
    later = update({"end": iso(T0 + 7200)})
    assert later is not None and later["schedule"] == {"start": T0, "end": T0 + 7200}  # the start is kept
    recurring = update({"recurrences": [{"duration": "1h", "rrule": "FREQ=DAILY", "start": "2026-01-01T06:00:00"}]})
    assert recurring is not None and recurring["schedule"]["timezone"] == "UTC"
    moved = update({"timezone": "Europe/Paris"})
    assert moved is not None and moved["schedule"]["recurrences"] == recurring["schedule"]["recurrences"]
    with pytest.raises(IntakeError, match="schedule"):
        downtimes.create(downtime(schedule={"timezone": "UTC"}))


def test_matching_downtimes_list_what_silences_a_monitor_now_or_later(monitors: Monitors,
                                                                     downtimes: Downtimes) -> None:
    monitor = monitors.create(body("avg(last_2m):avg:m.x{env:demo} > 3"))
    running = downtimes.create(downtime("env:demo", {"monitor_id": monitor["id"]}, end=T0 + 600))
    downtimes.create(downtime("env:prod", {"monitor_id": monitor["id"]}, end=T0 + 600))  # another scope
    downtimes.create(downtime("*", {"monitor_id": monitor["id"]}, start=T0 - 7200, end=T0 - 3600))  # over
    assert [m["id"] for m in downtimes.matching_v1(monitor)] == [running["legacy_id"]]
    assert downtimes.silenced_groups(monitor) == {"*"}
