"""Change monitors and cumulative windows: parsed by query/, checked by model.py, evaluated on tiny series."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.monitors.cumulative import Periods, periods_of
from autonomic_lib.sandbox.monitors.evaluator import plan_monitor
from autonomic_lib.sandbox.monitors.model import normalise_monitor
from tests.sandbox.monitors.test_evaluator import T0, minutes, monitor, store_with


def utc(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


# ---------------------------------------------------------------------------------------------------- change
def test_change_compares_each_point_with_the_point_a_timeshift_earlier():
    store = store_with({("env:demo",): [1] * 10 + [5] * 10})
    got = minutes(store, monitor("change(avg(last_1m),5m_ago):avg:m.x{env:demo} > 3"), span=25)
    # the 5 at minute 10 is 4 above the 1 of minute 5; from minute 15 both are 5 (a change of 0)
    assert got == [(11, "*", "OK", "Alert"), (16, "*", "Alert", "OK")]


def test_pct_change_is_the_change_in_percent_of_the_earlier_point():
    store = store_with({("env:demo",): [2] * 10 + [3] * 10})
    assert minutes(store, monitor("pct_change(avg(last_1m),5m_ago):avg:m.x{env:demo} > 40"), span=25)[0] == \
        (11, "*", "OK", "Alert")  # 3 is 50 % above 2
    assert minutes(store, monitor("pct_change(avg(last_1m),5m_ago):avg:m.x{env:demo} > 60"), span=25) == []


def test_a_drop_is_a_negative_change_and_the_time_aggregation_applies_to_the_changes():
    store = store_with({("env:demo",): [9] * 10 + [1] * 10})
    got = minutes(store, monitor("change(min(last_3m),last_5m):avg:m.x{env:demo} < -5"), span=25)
    assert got[0] == (11, "*", "OK", "Alert")  # the first -8 enters the 3-minute window at minute 11


def test_change_has_no_value_before_a_timeshift_of_history():
    store = store_with({("env:demo",): [100] * 10})
    plan = plan_monitor(monitor("change(avg(last_1m),1h_ago):avg:m.x{env:demo} < 1"))
    assert plan.change == ("change", 3600)
    assert minutes(store, monitor("change(avg(last_1m),1h_ago):avg:m.x{env:demo} < 1"), span=15) == []


# ---------------------------------------------------------------------------------------------------- cumulative
def test_a_cumulative_hour_sums_from_the_top_of_the_hour_and_starts_again_at_the_next():
    store = store_with({("env:demo",): [1] * 100})
    got = minutes(store, monitor("sum(current_1h):sum:m.x{env:demo} >= 30"), span=100)
    assert got == [(30, "*", "OK", "Alert"), (60, "*", "Alert", "OK"), (90, "*", "OK", "Alert")]


def test_hour_starts_moves_where_the_cumulative_hour_begins():
    store = store_with({("env:demo",): [1] * 100})
    mon = monitor("sum(current_1h):sum:m.x{env:demo} >= 30",
                  scheduling_options={"evaluation_window": {"hour_starts": 15}})
    got = minutes(store, mon, span=100)
    assert got == [(45, "*", "OK", "Alert"), (75, "*", "Alert", "OK")]  # the hours start at :15


def test_max_over_a_cumulative_day_keeps_the_days_peak_until_the_day_ends():
    values = [1.0] * (26 * 60)
    values[60] = 9.0  # 01:00 on the first day
    store = store_with({("env:demo",): values})
    got = minutes(store, monitor("max(current_1d):avg:m.x{env:demo} > 5"), span=26 * 60)
    assert got == [(61, "*", "OK", "Alert"), (24 * 60 + 1, "*", "Alert", "OK")]


@pytest.mark.parametrize("periods, at, start", [
    (Periods("hour"), "2026-01-01T10:42:00", "2026-01-01T10:00:00"),
    (Periods("hour", hour_minute=50), "2026-01-01T10:42:00", "2026-01-01T09:50:00"),
    (Periods("day"), "2026-01-01T10:42:00", "2026-01-01T00:00:00"),
    (Periods("day", day_time=(12, 30)), "2026-01-01T10:42:00", "2025-12-31T12:30:00"),
    (Periods("day", "Asia/Tokyo"), "2026-01-01T15:01:00", "2026-01-01T15:00:00"),  # midnight in Tokyo is 15:00 UTC
    (Periods("day", "Asia/Tokyo"), "2026-01-01T14:59:00", "2025-12-31T15:00:00"),
    (Periods("month"), "2026-03-01T00:00:00", "2026-03-01T00:00:00"),
    (Periods("month", day_time=(4, 0)), "2026-03-01T03:00:00", "2026-02-01T04:00:00"),
    (Periods("day", "America/New_York"), "2026-03-08T12:00:00", "2026-03-08T05:00:00"),  # EST midnight
    (Periods("day", "America/New_York"), "2026-03-09T12:00:00", "2026-03-09T04:00:00"),  # EDT midnight
])
def test_where_a_period_starts(periods: Periods, at: str, start: str):
    assert periods.start(utc(at)) == utc(start)


def test_boundaries_follow_the_zone_across_a_daylight_saving_change():
    bounds = Periods("day", "America/New_York").boundaries(utc("2026-03-07T12:00:00"), utc("2026-03-10T12:00:00"))
    lengths = {int(b - a) // 3600 for a, b in zip(bounds[:-1], bounds[1:])}
    assert lengths == {23, 24}


# ---------------------------------------------------------------------------------------------------- checks
def body(query: str, **options: Any) -> dict[str, Any]:
    return {"type": "query alert", "query": query, "name": "x", "options": options}


EXAMPLE_SCHEDULE = {"recurrences": [{"rrule": "FREQ=DAILY;INTERVAL=1", "timezone": "America/Los_Angeles",
                                      "start": "2024-10-26T09:13:00"}]}


def test_the_client_examples_cumulative_month_body_is_accepted():
    """CreateMonitor_1539578087's body: a current_1mo window, its evaluation window and custom schedule."""
    fields = normalise_monitor(body("avg(current_1mo):avg:system.load.5{*} > 0.5", thresholds={"critical": 0.5},
                                    notify_audit=False, include_tags=False,
                                    scheduling_options={"evaluation_window": {"day_starts": "04:00",
                                                                              "month_starts": 1},
                                                        "custom_schedule": EXAMPLE_SCHEDULE}))
    assert fields["query"] == "avg(current_1mo):avg:system.load.5{*} > 0.5"
    assert periods_of("month", fields["options"]) == Periods("month", day_time=(4, 0))


@pytest.mark.parametrize("query, options, fragment", [
    ("change(last_5m):avg:m{*} > 1", {}, "write the documented form change(avg(last_5m),last_1h)"),
    ("pct_change(last_5m):avg:m{*} > 1", {}, "pct_change(<window>) without a time aggregation"),
    ("avg(current_1h):avg:m{*} > 1", {"scheduling_options": {"evaluation_window": {"hour_starts": 60}}},
     "hour_starts"),
    ("avg(current_1h):avg:m{*} > 1",
     {"scheduling_options": {"evaluation_window": {"hour_starts": 5, "day_starts": "04:00"}}}, "set alone"),
    ("avg(current_1d):avg:m{*} > 1", {"scheduling_options": {"evaluation_window": {"day_starts": "4am"}}},
     "day_starts must be \"HH:mm\""),
    ("avg(current_1d):avg:m{*} > 1",
     {"scheduling_options": {"evaluation_window": {"day_starts": "04:00", "timezone": "Mars/Base"}}},
     "timezone 'Mars/Base' is not an IANA time zone"),
    ("avg(current_1w):avg:m{*} > 1", {}, "expected one of current_1h, current_1d, current_1mo"),
    ("avg(last_5m):avg:m{*} > 1", {"scheduling_options": {"custom_schedule": {"recurrences": [
        {"rrule": "FREQ=MINUTELY", "timezone": "UTC", "start": "2026-01-01T00:00:00"}]}}},
     "custom_schedule.recurrences[0].rrule' is invalid: FREQ=MINUTELY is not supported by the sandbox"),
    ("avg(last_5m):avg:m{*} > 1", {"scheduling_options": {"custom_schedule": {"recurrences": [
        {"rrule": "FREQ=DAILY", "timezone": "Mars/Base", "start": "2026-01-01T00:00:00"}]}}},
     "custom_schedule.recurrences[0].timezone' is invalid"),
    ("avg(last_5m):avg:m{*} > 1", {"scheduling_options": {"custom_schedule": {"recurrences": []}}},
     "expected 1 to 20 recurrences"),
])
def test_refusals_name_what_is_wrong(query: str, options: dict[str, Any], fragment: str):
    with pytest.raises(IntakeError) as caught:
        normalise_monitor(body(query, **options))
    assert caught.value.status == 400 and fragment in str(caught.value)


# ---------------------------------------------------------------------------------------------------- through the API
@pytest.mark.api
def test_a_change_monitor_alerts_through_the_client(session_sandbox: Any, api_client: Any):
    import uuid

    from datadog_api_client.v1.api.monitors_api import MonitorsApi
    from datadog_api_client.v1.model.monitor import Monitor
    from datadog_api_client.v1.model.monitor_type import MonitorType
    from datadog_api_client.v2.api.metrics_api import MetricsApi
    from datadog_api_client.v2.model.metric_intake_type import MetricIntakeType
    from datadog_api_client.v2.model.metric_payload import MetricPayload
    from datadog_api_client.v2.model.metric_point import MetricPoint
    from datadog_api_client.v2.model.metric_series import MetricSeries

    from tests.conftest import raw

    metric = f"grammar.change.m{uuid.uuid4().hex[:8]}"
    now = int(session_sandbox.sandbox.policy.clock()) // 60 * 60
    start = now - 40 * 60
    created = MonitorsApi(api_client).create_monitor(body=Monitor(
        name="change", type=MonitorType.QUERY_ALERT, query=f"change(avg(last_1m),5m_ago):avg:{metric}{{*}} > 3"))
    MetricsApi(api_client).submit_metrics(body=MetricPayload(series=[MetricSeries(
        metric=metric, type=MetricIntakeType.GAUGE, tags=["env:demo"],
        points=[MetricPoint(timestamp=start + 60 * i, value=v) for i, v in enumerate([1.0] * 10 + [5.0] * 10)])]))
    raw(session_sandbox, "POST", "/sandbox/evaluate")
    _, history = raw(session_sandbox, "GET", f"/sandbox/monitors/{created.id}/history")
    assert [(t["current"], t["at"] - start, t["value"]) for t in history["transitions"]] == [
        ("Alert", 11 * 60, 4.0), ("OK", 16 * 60, 0.0)]


def test_a_cumulative_transition_reports_its_window_from_the_period_start():
    from autonomic_lib.sandbox.monitors.backtest import backtest

    store = store_with({("env:demo",): [1] * 100})
    [first, *_] = backtest(store, monitor("sum(current_1h):sum:m.x{env:demo} >= 30"), T0, T0 + 100 * 60)
    assert (first.window_start, first.window_end) == (T0, T0 + 30 * 60)


def test_a_custom_schedule_evaluates_only_at_its_occurrences():
    store = store_with({("env:demo",): [5] * 200})
    plain = monitor("avg(last_5m):avg:m.x{env:demo} > 3")
    scheduled = monitor("avg(last_5m):avg:m.x{env:demo} > 3", scheduling_options={"custom_schedule": {"recurrences": [
        {"rrule": "FREQ=DAILY", "timezone": "UTC", "start": "2026-01-01T02:30:00"}]}})
    assert minutes(store, plain, span=200)[0][:4] == (1, "*", "OK", "Alert")
    assert minutes(store, scheduled, span=200) == [(150, "*", "OK", "Alert")]  # 02:30, the day's one evaluation


def test_the_examples_schedule_occurs_at_0913_in_los_angeles():
    from autonomic_lib.sandbox.monitors.schedule import custom_schedule_of

    schedule = custom_schedule_of({"scheduling_options": {"custom_schedule": EXAMPLE_SCHEDULE}})
    assert schedule is not None
    day = np.arange(utc("2026-01-01T00:00:00"), utc("2026-01-02T00:00:00"), 60, dtype=np.int64)
    assert [datetime.fromtimestamp(int(t), UTC).isoformat() for t in day[schedule.mask(day)]] == [
        "2026-01-01T17:13:00+00:00"]  # 09:13 PST
