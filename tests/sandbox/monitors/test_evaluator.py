"""Monitor evaluation: each option on a tiny hand-made series, then the real client, then seed-demo end to end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from datadog_api_client.v1.api.events_api import EventsApi
from datadog_api_client.v1.api.monitors_api import MonitorsApi
from datadog_api_client.v1.model.monitor import Monitor
from datadog_api_client.v1.model.monitor_type import MonitorType
from datadog_api_client.v2.api.metrics_api import MetricsApi
from datadog_api_client.v2.model.metric_intake_type import MetricIntakeType
from datadog_api_client.v2.model.metric_payload import MetricPayload
from datadog_api_client.v2.model.metric_point import MetricPoint
from datadog_api_client.v2.model.metric_series import MetricSeries

from autonomic_lib.query.language import parse_monitor
from autonomic_lib.sandbox.metrics.evaluate import kind_from_store
from autonomic_lib.sandbox.metrics.store import MetricStore, SeriesPoints
from autonomic_lib.sandbox.monitors.backtest import backtest
from autonomic_lib.sandbox.monitors.evaluator import GroupState, overall_state, plan_monitor, run_monitor, state_to_json
from autonomic_lib.sandbox.monitors.states import MonitorState
from autonomic_lib.sandbox.server import SandboxServer
from tests.conftest import client_for, start_sandbox

T0 = 1_767_225_600  # 2026-01-01 00:00 UTC, a minute boundary


def store_with(series: dict[tuple[str, ...], list[float | None]], metric: str = "m.x", mtype: str = "gauge",
               every: int = 60) -> MetricStore:
    """One point per `every` seconds from T0 for each tag set; None leaves a gap."""
    store = MetricStore()
    for tags, values in series.items():
        ts = np.array([T0 + every * i for i, v in enumerate(values) if v is not None])
        vs = np.array([v for v in values if v is not None], dtype=float)
        store.write([SeriesPoints(metric, tags, ts, vs, type=mtype)])
    return store


def monitor(query: str, **options: Any) -> dict[str, Any]:
    thresholds = options.pop("thresholds", {})
    return {"id": 7, "query": query, "options": {"thresholds": thresholds, **options}}


def minutes(store: MetricStore, mon: dict[str, Any], span: int = 60, **kw: Any) -> list[tuple[int, str, str, str]]:
    """(minute after T0, group, previous, current) of every transition over `span` minutes."""
    return [((t.at - T0) // 60, t.group, t.previous, t.current) for t in backtest(store, mon, T0, T0 + span * 60, **kw)]


# ---------------------------------------------------------------------------------------------------- thresholds
def test_avg_alerts_at_the_minute_the_window_average_crosses_and_recovers():
    store = store_with({("env:demo",): [1, 1, 1, 5, 5, 5, 5, 5, 1, 1, 1, 1]})
    got = minutes(store, monitor("avg(last_2m):avg:m.x{env:demo} > 3"))
    assert got == [(5, "*", "OK", "Alert"), (9, "*", "Alert", "OK")]  # [3,5) averages 5; [7,9) averages 3


def test_max_alerts_when_any_point_crosses_and_min_only_when_all_do():
    store = store_with({("env:demo",): [1, 1, 9, 1, 1, 1, 1, 1]})
    assert minutes(store, monitor("max(last_3m):avg:m.x{env:demo} > 3"))[0][:4] == (3, "*", "OK", "Alert")
    assert minutes(store, monitor("min(last_3m):avg:m.x{env:demo} > 3")) == []


def test_min_alerts_when_any_point_is_below_a_below_threshold():
    store = store_with({("env:demo",): [5, 5, 0, 5, 5, 5, 5, 5, 5]})
    got = minutes(store, monitor("min(last_2m):avg:m.x{env:demo} < 1"))
    assert got == [(3, "*", "OK", "Alert"), (5, "*", "Alert", "OK")]


def test_sum_and_last_aggregations():
    store = store_with({("env:demo",): [1, 1, 1, 1, 1, 0, 0, 0, 0]})
    assert minutes(store, monitor("sum(last_3m):avg:m.x{env:demo} >= 3"))[0] == (3, "*", "OK", "Alert")
    assert minutes(store, monitor("last(last_3m):avg:m.x{env:demo} < 0.5"))[0] == (6, "*", "OK", "Alert")


@pytest.mark.parametrize("operator, threshold, first_alert", [
    (">", 4, 4), (">=", 5, 4), ("<", 2, 1), ("<=", 1, 1), ("==", 3, 3), ("!=", 1, 2)])
def test_each_comparison_operator(operator: str, threshold: float, first_alert: int):
    store = store_with({("env:demo",): [1, 2, 3, 5, 5]})
    got = minutes(store, monitor(f"avg(last_1m):avg:m.x{{env:demo}} {operator} {threshold}"), span=6)
    assert got[0] == (first_alert, "*", "OK", "Alert")


def test_multi_alert_evaluates_each_group_on_its_own():
    store = store_with({("env:demo", "agent_id:a1"): [1, 1, 5, 5, 1, 1], ("env:demo", "agent_id:a2"): [1] * 6,
                        ("env:staging", "agent_id:a3"): [9] * 6})
    got = minutes(store, monitor("max(last_1m):max:m.x{env:demo} by {agent_id} > 3"), span=10)
    assert got == [(3, "agent_id:a1", "OK", "Alert"), (5, "agent_id:a1", "Alert", "OK")]


def test_warning_and_recovery_thresholds_hold_a_state_until_the_value_is_back_under_them():
    values = [1, 6, 11, 9, 7, 6, 4, 2, 1]  # crit 10 (recovers <= 8), warn 5 (recovers <= 3)
    store = store_with({("env:demo",): values})
    mon = monitor("avg(last_1m):avg:m.x{env:demo} > 10",
                  thresholds={"critical": 10, "critical_recovery": 8, "warning": 5, "warning_recovery": 3})
    got = [(m, prev, cur) for m, _, prev, cur in minutes(store, mon, span=10)]
    assert got == [(2, "OK", "Warn"), (3, "Warn", "Alert"), (5, "Alert", "Warn"), (8, "Warn", "OK")]


def test_what_if_threshold_override_changes_the_backtest_only():
    store = store_with({("env:demo",): [1, 1, 4, 4, 1, 1]})
    mon = monitor("avg(last_1m):avg:m.x{env:demo} > 3")
    assert len(minutes(store, mon, span=8)) == 2
    assert minutes(store, mon, span=8, overrides={"thresholds": {"critical": 5}}) == []


def test_the_plan_holds_the_parsed_query_and_evaluates_it_as_written():
    query = "avg(last_1m):avg:m.x{env:demo} * 0.1234567 > 0.12345675"
    assert plan_monitor(monitor(query)).expression == parse_monitor(query).expression
    store = store_with({("env:demo",): [1, 1, 1]})
    assert minutes(store, monitor(query), span=4) == []  # 0.1234567, not a re-parsed rounding of it (0.123457)
    assert minutes(store, monitor(query.replace("0.12345675", "0.12345665")), span=4)[0][3] == "Alert"


def test_the_step_reads_the_submission_interval_as_the_query_evaluation_does():
    store = MetricStore()
    store.write([SeriesPoints("m.x", ("host:a",), np.array([T0]), np.array([1.0]), type="gauge", interval=10)])
    store.write([SeriesPoints("m.x", ("host:b",), np.array([T0]), np.array([1.0]), type="gauge", interval=30)])
    plan = plan_monitor(monitor("avg(last_5m):avg:m.x{*} > 1"), store=store)
    assert plan.step == kind_from_store(store, "m.x").interval == 30  # the most recent declaration, like the unit
    assert plan_monitor(monitor("avg(last_5m):avg:m.x{*} > 1")).step == 60  # unknown without a store or kinds


def test_states_are_datadogs_names_on_the_wire_and_in_the_stored_state():
    assert [s.wire for s in MonitorState] == ["OK", "Warn", "Alert", "No Data"]
    assert sorted(MonitorState, key=lambda s: s.severity) == [MonitorState.OK, MonitorState.NO_DATA,
                                                               MonitorState.WARN, MonitorState.ALERT]
    assert all(MonitorState.from_wire(s.wire) is s for s in MonitorState)
    store, states = store_with({("env:demo",): [1, 5, 5, 1, 1]}), {}
    made = run_monitor(plan_monitor(monitor("avg(last_1m):avg:m.x{env:demo} > 3", thresholds={"warning": 2})),
                       store, T0 + 60, T0 + 240, states)
    assert [(type(t.previous), t.previous, t.current) for t in made] == [(str, "OK", "Alert"), (str, "Alert", "OK")]
    assert [t.threshold for t in made] == [3, 3]
    stored = json.loads(json.dumps(state_to_json(states["*"])))
    assert stored["status"] == "OK" and type(states["*"].status) is str
    assert overall_state({"a": GroupState(status="No Data"), "b": GroupState(status="Warn")}) == "Warn"


# ---------------------------------------------------------------------------------------------------- missing data
def test_no_data_after_the_timeframe_only_for_a_group_that_had_data():
    store = store_with({("env:demo",): [1, 1, 1]})
    mon = monitor("avg(last_2m):avg:m.x{env:demo} > 3", notify_no_data=True, no_data_timeframe=5)
    assert minutes(store, mon, span=15) == [(8, "*", "OK", "No Data")]  # data ends at 3:00; 8:00 - 3:00 = 5 min
    empty = store_with({("env:other",): [1, 1, 1]})
    assert minutes(empty, mon, span=15) == []


def test_a_gauge_without_data_keeps_its_last_state_but_an_empty_sum_counts_as_zero():
    store = store_with({("env:demo",): [5, 5]})
    assert minutes(store, monitor("max(last_2m):max:m.x{env:demo} > 3"), span=20) == [(1, "*", "OK", "Alert")]
    counts = store_with({("env:demo",): [2]}, mtype="count")
    got = minutes(counts, monitor("sum(last_2m):sum:m.x{env:demo}.as_count() >= 1"), span=20)
    assert got == [(1, "*", "OK", "Alert"), (3, "*", "Alert", "OK")]


def test_on_missing_data_resolve_and_show_no_data():
    store = store_with({("env:demo",): [5, 5]})
    q = "max(last_2m):max:m.x{env:demo} > 3"
    assert minutes(store, monitor(q, on_missing_data="resolve"), span=10)[-1] == (4, "*", "Alert", "OK")
    assert minutes(store, monitor(q, on_missing_data="show_no_data"), span=10)[-1] == (4, "*", "Alert", "No Data")


def test_timeout_h_resolves_an_alert_after_hours_without_data():
    store = store_with({("env:demo",): [5, 5]})
    got = minutes(store, monitor("max(last_2m):max:m.x{env:demo} > 3", timeout_h=1), span=90)
    assert got == [(1, "*", "OK", "Alert"), (62, "*", "Alert", "OK")]


# ---------------------------------------------------------------------------------------------------- delays, windows
def test_new_group_delay_skips_a_new_group_until_the_delay_has_passed():
    store = store_with({("agent_id:a1",): [9] * 10, ("agent_id:a2",): [None] * 4 + [9] * 6})
    mon = monitor("max(last_1m):max:m.x{*} by {agent_id} > 3", new_group_delay=180)
    assert minutes(store, mon, span=12) == [(4, "agent_id:a1", "OK", "Alert"), (8, "agent_id:a2", "OK", "Alert")]


def test_evaluation_delay_shifts_the_window_back():
    store = store_with({("env:demo",): [1, 1, 1, 5, 1, 1, 1, 1, 1, 1]})
    assert minutes(store, monitor("max(last_1m):avg:m.x{env:demo} > 3"), span=12)[0][0] == 4
    delayed = minutes(store, monitor("max(last_1m):avg:m.x{env:demo} > 3", evaluation_delay=180), span=12)
    assert delayed[0][0] == 7
    t = backtest(store, monitor("max(last_1m):avg:m.x{env:demo} > 3", evaluation_delay=180), T0, T0 + 720)[0]
    assert (t.window_start, t.window_end) == (T0 + 180, T0 + 240)


def test_require_full_window_skips_windows_with_a_missing_minute():
    store = store_with({("env:demo",): [5, None, 5, 5, 5, 5]})
    assert minutes(store, monitor("avg(last_3m):avg:m.x{env:demo} > 3"), span=8)[0][0] == 1
    full = minutes(store, monitor("avg(last_3m):avg:m.x{env:demo} > 3", require_full_window=True), span=8)
    assert full[0][0] == 5  # [2, 5) is the first window with a point in every minute


# ---------------------------------------------------------------------------------------------------- determinism
def test_same_data_gives_the_same_transitions_however_the_minutes_are_batched():
    rng = np.random.default_rng(3)
    store = store_with({("agent_id:a1",): list(rng.integers(0, 10, 120)),
                        ("agent_id:a2",): list(rng.integers(0, 10, 120))})
    mon = monitor("avg(last_3m):avg:m.x{*} by {agent_id} > 6", thresholds={"critical": 6, "warning": 4})
    at_once = backtest(store, mon, T0, T0 + 7200)
    assert at_once == backtest(store, mon, T0, T0 + 7200)
    plan, states = plan_monitor(mon), {}
    piecewise = []
    for first in range(T0, T0 + 7200, 7 * 60):  # 7-minute batches, states carried over
        last = min(first + 6 * 60, T0 + 7200 - 60)
        piecewise += run_monitor(plan, store, first, last, states)
    assert piecewise == at_once and len(at_once) > 4
    assert all(isinstance(s, GroupState) for s in states.values())


# ---------------------------------------------------------------------------------------------------- through the API
@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    # a short quiet period (SandboxConfig): the background-evaluator test need not wait the default 2 s
    srv = start_sandbox(tmp_path_factory.mktemp("monitors"), late_data=("autonomic.*", "eval.*"),
                        evaluation_quiet_seconds=0.2)
    yield srv
    srv.stop()


def _sandbox_get(server: SandboxServer, path: str, method: str = "GET") -> Any:
    headers = {"DD-API-KEY": server.config.api_key, "DD-APPLICATION-KEY": server.config.app_key}
    response = httpx.request(method, server.url + path, headers=headers, timeout=60)
    response.raise_for_status()
    return response.json()


def test_get_monitor_shows_alert_at_the_right_minute_through_the_client(server: SandboxServer):
    now = int(server.sandbox.policy.clock()) // 60 * 60
    start = now - 30 * 60
    values = [1.0] * 10 + [9.0] * 5 + [1.0] * 15  # 9 from minute 10 to 14
    with client_for(server) as client:
        mon = MonitorsApi(client).create_monitor(Monitor(
            name="eval test", type=MonitorType.QUERY_ALERT, message="high",
            query="max(last_2m):max:eval.api{env:demo} by {agent_id} > 5", tags=["team:test"]))
        MetricsApi(client).submit_metrics(MetricPayload(series=[MetricSeries(
            metric="eval.api", type=MetricIntakeType.GAUGE, tags=["env:demo", "agent_id:a1"],
            points=[MetricPoint(timestamp=start + 60 * i, value=v) for i, v in enumerate(values)])]))
        evaluated = _sandbox_get(server, "/sandbox/evaluate", "POST")["evaluated"]
        got = MonitorsApi(client).get_monitor(mon.id, group_states="all")
        events = EventsApi(client).list_events(start=start, end=now + 60, tags=f"monitor:{mon.id}").events
    # the background evaluator (quiet 0.2 s) may have judged the data before this POST on a loaded machine: the
    # transitions are checked in the history below, whichever run made them
    assert any(e["monitor_id"] == mon.id for e in evaluated)
    group = got.state.groups["agent_id:a1"]
    assert str(got.overall_state) == "OK" and str(group.status) == "OK"
    assert group.last_triggered_ts == start + 11 * 60  # the first window [10, 11) holding a 9
    assert group.last_resolved_ts == start + 17 * 60  # the first window [15, 17) without one
    history = _sandbox_get(server, f"/sandbox/monitors/{mon.id}/history")["transitions"]
    assert [(h["current"], h["at"], h["value"], h["threshold"]) for h in history] == [
        ("Alert", start + 660, 9.0, 5.0), ("OK", start + 1020, 1.0, 5.0)]
    assert sorted(e.alert_type.value for e in events) == ["error", "success"]
    assert all("agent_id:a1" in e.tags and e.source_type_name == "monitor" for e in events)
    status = {m["monitor_id"]: m for m in _sandbox_get(server, "/sandbox/evaluation")["monitors"]}
    assert status[mon.id]["evaluated_until"] >= now


def test_history_of_an_unknown_monitor_is_a_404(server: SandboxServer):
    with pytest.raises(httpx.HTTPStatusError) as info:
        _sandbox_get(server, "/sandbox/monitors/999999/history")
    assert info.value.response.status_code == 404


@pytest.mark.slow
def test_seed_demo_makes_the_three_kit_monitors_alert_at_their_incidents_and_recover(tmp_path: Path):
    from autonomic_lib.assets import import_assets
    from autonomic_lib.client import make_api_client
    from autonomic_lib.settings import Settings
    from autonomic_lib.traffic import run_scenario

    srv = start_sandbox(tmp_path / "seed", late_data=("autonomic.*",))
    try:
        settings = Settings(api_key=srv.config.api_key, app_key=srv.config.app_key, host=srv.url)
        import_assets(settings)
        with make_api_client(settings) as client:
            ledger = run_scenario("seed-demo", 7, api_client=client)
        _sandbox_get(srv, "/sandbox/evaluate", "POST")
        by_name = {m["name"]: m["monitor_id"] for m in _sandbox_get(srv, "/sandbox/evaluation")["monitors"]}
        history = {name.split("] ")[1].split(":")[0]: _sandbox_get(srv, f"/sandbox/monitors/{i}/history")["transitions"]
                   for name, i in by_name.items()}
    finally:
        srv.stop()
    minute = {k: [((h["at"] - ledger.start) / 60, h["group"], h["current"]) for h in v] for k, v in history.items()}
    # phases: baseline 0-240 min, budget_breach 240-255, latency_spike 255-285, optimization_failure 285-315
    budget = minute["Budget breach"]
    assert {g for _, g, _ in budget} == {"agent_id:agent-01", "agent_id:agent-02", "agent_id:agent-04"}
    for group in {g for _, g, _ in budget}:  # each breaching agent alerts, then resolves once its window is empty
        states = [(m, state) for m, g, state in budget if g == group]
        assert [state for _, state in states] == ["Alert", "OK"]
        assert 240 < states[0][0] <= 255 and states[0][0] < states[1][0] <= states[0][0] + 10
    latency = minute["Latency anomaly"]  # spike 1 starts at 258 min, spike 3 ends at 280 min
    assert any(258 < m <= 263 and state == "Alert" for m, _, state in latency)
    assert latency[-1][2] == "OK" and 280 < latency[-1][0] <= 300
    assert all(m > 255 for m, _, _ in latency)  # the asset's bounds: no chance alert in the 4 h baseline
    failure = minute["Optimization failure"]
    assert [state for _, _, state in failure] == ["Alert", "OK", "Alert", "OK"]
    assert all(285 < m <= 315 for m, _, _ in failure)
    assert {g for _, g, _ in failure} == {"agent_id:agent-02,failure_reason:hallucination_persists"}


def test_the_background_evaluator_catches_up_once_ingest_is_quiet(server: SandboxServer):
    import time

    now = int(server.sandbox.policy.clock()) // 60 * 60
    with client_for(server) as client:
        mon = MonitorsApi(client).create_monitor(Monitor(
            name="background", type=MonitorType.QUERY_ALERT, message="",
            query="max(last_5m):max:eval.bg{env:demo} > 5"))
        MetricsApi(client).submit_metrics(MetricPayload(series=[MetricSeries(
            metric="eval.bg", type=MetricIntakeType.GAUGE, tags=["env:demo"],
            points=[MetricPoint(timestamp=now - 600 + 60 * i, value=9.0) for i in range(5)])]))
        deadline = time.monotonic() + 30  # a bound on waiting, not a timing assertion
        while time.monotonic() < deadline:
            got = MonitorsApi(client).get_monitor(mon.id, group_states="all")
            if str(got.overall_state) == "Alert":
                break
            time.sleep(0.2)
    assert str(got.overall_state) == "Alert"
    assert got.state.groups["*"].last_triggered_ts == now - 540  # the first minute whose window holds a point


def test_band_route_returns_the_expected_band_of_an_anomaly_monitor(server: SandboxServer):
    now = int(server.sandbox.policy.clock()) // 60 * 60
    start = now - 4 * 3600
    rng = np.random.default_rng(0)
    with client_for(server) as client:
        MetricsApi(client).submit_metrics(MetricPayload(series=[MetricSeries(
            metric="autonomic.band.test", type=MetricIntakeType.GAUGE, tags=["env:demo"],
            points=[MetricPoint(timestamp=start + 60 * i, value=float(1.5 + rng.normal(0, 0.1)))
                    for i in range(240)])]))
        mon = MonitorsApi(client).create_monitor(Monitor(
            name="band", type=MonitorType.QUERY_ALERT, message="",
            query="avg(last_1h):anomalies(avg:autonomic.band.test{env:demo}, 'basic', 2, direction='both', "
                  "alert_window='last_15m', interval=60, count_default_zero='true') >= 1",
            options={"thresholds": {"critical": 1.0, "critical_recovery": 0.0},
                     "threshold_windows": {"trigger_window": "last_15m", "recovery_window": "last_15m"}}))
    body = _sandbox_get(server, f"/sandbox/monitors/{mon.id}/band?from={now - 3600}&to={now}")
    assert body["columns"] == ["time", "value", "lower", "upper", "anomalous"]
    rows = [dict(zip(body["columns"], p)) for p in body["points"]]
    assert len(rows) == 60 and all(r["lower"] < 1.5 < r["upper"] for r in rows)
