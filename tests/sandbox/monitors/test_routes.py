"""Monitors through the official client against the session sandbox (type checks on)."""

from __future__ import annotations

from typing import Any

import pytest
from datadog_api_client import ApiClient
from datadog_api_client.exceptions import ApiException, ForbiddenException, NotFoundException
from datadog_api_client.v1.api.monitors_api import MonitorsApi
from datadog_api_client.v1.model.monitor import Monitor
from datadog_api_client.v1.model.monitor_options import MonitorOptions
from datadog_api_client.v1.model.monitor_overall_states import MonitorOverallStates
from datadog_api_client.v1.model.monitor_threshold_window_options import MonitorThresholdWindowOptions
from datadog_api_client.v1.model.monitor_thresholds import MonitorThresholds
from datadog_api_client.v1.model.monitor_type import MonitorType
from datadog_api_client.v1.model.monitor_update_request import MonitorUpdateRequest

from autonomic_lib.sandbox.server import SandboxServer
from tests.conftest import client_for, errors_of, raw, unique

pytestmark = pytest.mark.api


def metric_monitor(name: str, query: str = "avg(last_5m):avg:autonomic.latency{env:demo} by {role} > 2",
                   **extra: Any) -> Monitor:
    return Monitor(name=name, type=MonitorType.METRIC_ALERT, query=query, message="Slow. @workflow-open-case", **extra)


def anomaly_monitor(name: str, alert_window: str = "last_15m", trigger_window: str = "last_15m",
                    threshold: str = "1") -> Monitor:
    query = ("avg(last_1h):anomalies(avg:autonomic.latency{env:demo}, 'basic', 2, direction='above', "
             f"alert_window='{alert_window}', interval=60, count_default_zero='true') >= {threshold}")
    options = MonitorOptions(thresholds=MonitorThresholds(critical=float(threshold), critical_recovery=0.0),
                             threshold_windows=MonitorThresholdWindowOptions(trigger_window=trigger_window,
                                                                             recovery_window=trigger_window))
    return Monitor(name=name, type=MonitorType.QUERY_ALERT, query=query, options=options)


def test_metric_alert_is_created_as_query_alert_with_datadog_defaults(api_client: ApiClient) -> None:
    api, name = MonitorsApi(api_client), unique("[autonomic] latency")
    created = api.create_monitor(body=metric_monitor(name, tags=["team:ai"], priority=2))

    assert created.type == MonitorType.QUERY_ALERT and created.overall_state == MonitorOverallStates.NO_DATA
    assert created.multi is True and created.deleted is None and created.restricted_roles is None
    assert created.matching_downtimes == [] and created.priority == 2 and created.creator.handle
    assert created.created == created.modified and created["created_at"] > 0
    options = created.options
    assert options.thresholds.critical == 2 and options.notify_no_data is False and options.include_tags is True
    assert options.new_host_delay == 300 and options.notify_audit is False and options.silenced == {}
    fetched = api.get_monitor(created.id)
    assert fetched.query == created.query and fetched.name == name


def test_monitor_update_list_filters_and_delete(api_client: ApiClient) -> None:
    api, stem = MonitorsApi(api_client), unique("filters")
    first = api.create_monitor(body=metric_monitor(f"{stem} budget", tags=["kind:budget", "team:ai"]))
    second = api.create_monitor(body=metric_monitor(f"{stem} latency", tags=["kind:latency", "team:ai"],
                                                    query="avg(last_5m):avg:autonomic.latency{env:prod} > 2"))

    assert [m.id for m in api.list_monitors(name=stem.upper())] == [first.id, second.id]
    assert [m.id for m in api.list_monitors(name=stem, monitor_tags="team:ai,kind:latency")] == [second.id]
    assert [m.id for m in api.list_monitors(name=stem, tags="env:prod")] == [second.id]
    assert [m.id for m in api.list_monitors(name=stem, id_offset=first.id)] == [second.id]
    assert [m.id for m in api.list_monitors(name=stem, page=1, page_size=1)] == [second.id]

    updated = api.update_monitor(first.id, body=MonitorUpdateRequest(name=f"{stem} renamed", tags=["kind:cost"]))
    assert updated.name == f"{stem} renamed" and updated.tags == ["kind:cost"] and updated.query == first.query
    assert updated.modified >= first.modified and updated.overall_state == MonitorOverallStates.NO_DATA

    assert api.check_can_delete_monitor(monitor_ids=[first.id, second.id]).data.ok == [first.id, second.id]
    assert api.delete_monitor(first.id).deleted_monitor_id == first.id
    with pytest.raises(NotFoundException) as exc:
        api.get_monitor(first.id)
    assert errors_of(exc) == ["Monitor not found"]
    can = api.check_can_delete_monitor(monitor_ids=[first.id, second.id])
    assert can.data.ok == [second.id] and can.errors == {str(first.id): ["Monitor not found"]}
    api.delete_monitor(second.id)


@pytest.mark.parametrize("query, fragment", [
    ("avg(last_5m):avg:autonomic.latency{env:demo > 2", "The value provided for parameter 'query' is invalid: "
                                                        "unexpected '>' at position"),
    ("avg(last_5m):avg:autonomic.latency{env:demo}", "The value provided for parameter 'query' is invalid"),
    ("avg(last_5m):outliers(avg:m{*} by {host}, 'dbscan', 7) > 0", "not supported by the sandbox"),
])
def test_malformed_monitor_query_is_refused_at_creation(api_client: ApiClient, query: str, fragment: str) -> None:
    api, name = MonitorsApi(api_client), unique("bad query")
    with pytest.raises(ApiException) as exc:
        api.create_monitor(body=metric_monitor(name, query=query))
    assert exc.value.status == 400 and fragment in errors_of(exc)[0]
    assert api.list_monitors(name=name) == []


def test_thresholds_must_match_the_query(api_client: ApiClient) -> None:
    api = MonitorsApi(api_client)
    with pytest.raises(ApiException) as exc:
        api.create_monitor(body=metric_monitor(unique("m"), options=MonitorOptions(
            thresholds=MonitorThresholds(critical=3.0))))
    assert errors_of(exc) == ["Alert threshold (3) does not match that used in the query (2)."]
    with pytest.raises(ApiException) as exc:
        api.create_monitor(body=metric_monitor(unique("m"), options=MonitorOptions(
            thresholds=MonitorThresholds(critical=2.0, warning=2.5))))
    assert "'warning' (2.5) must be below 'critical' (2)" in errors_of(exc)[0]


def test_anomaly_monitor_is_accepted_when_windows_agree(api_client: ApiClient) -> None:
    created = MonitorsApi(api_client).create_monitor(body=anomaly_monitor(unique("anomaly")))
    assert created.type == MonitorType.QUERY_ALERT and created.multi is False
    assert created.options.threshold_windows.trigger_window == "last_15m"


@pytest.mark.parametrize("kwargs, fragment", [
    ({"alert_window": "last_15m", "trigger_window": "last_30m"}, "must equal the query's alert_window (last_15m)"),
    ({"threshold": "1.5"}, "fraction of anomalous points in (0, 1]"),
    ({"alert_window": "last_2h", "trigger_window": "last_2h"}, "at least the alert_window"),
])
def test_anomaly_monitor_rules_are_enforced(api_client: ApiClient, kwargs: dict[str, str], fragment: str) -> None:
    with pytest.raises(ApiException) as exc:
        MonitorsApi(api_client).create_monitor(body=anomaly_monitor(unique("anomaly"), **kwargs))
    assert exc.value.status == 400 and fragment in errors_of(exc)[0]


def test_anomaly_monitor_needs_both_threshold_windows(session_sandbox: SandboxServer) -> None:
    body = anomaly_monitor(unique("anomaly")).to_dict()
    del body["options"]["threshold_windows"]["recovery_window"]
    status, answer = raw(session_sandbox, "POST", "/api/v1/monitor", body)
    assert status == 400 and "both trigger_window and recovery_window" in answer["errors"][0]


def test_monitor_options_are_checked_against_the_spec(session_sandbox: SandboxServer) -> None:
    body = {**metric_monitor(unique("opts")).to_dict(), "options": {"on_missing_data": "sometimes"}}
    status, answer = raw(session_sandbox, "POST", "/api/v1/monitor", body)
    assert status == 400 and answer["errors"][0].startswith("options.on_missing_data: 'sometimes' is not one of")


def test_a_monitor_type_datadog_does_not_have_is_refused(session_sandbox: SandboxServer) -> None:
    status, answer = raw(session_sandbox, "POST", "/api/v1/monitor", {"type": "nonsense", "query": "x"})
    assert status == 400 and "parameter 'type' is invalid" in answer["errors"][0]


def test_validate_endpoints(api_client: ApiClient) -> None:
    api = MonitorsApi(api_client)
    assert api.validate_monitor(body=metric_monitor("v")) == {}
    with pytest.raises(ApiException) as exc:
        api.validate_monitor(body=metric_monitor("v", query="avg(last_5m):nope"))
    assert exc.value.status == 400 and "parameter 'query' is invalid" in errors_of(exc)[0]
    created = api.create_monitor(body=metric_monitor(unique("validate")))
    assert api.validate_existing_monitor(created.id, body=metric_monitor("v")) == {}
    with pytest.raises(NotFoundException):
        api.validate_existing_monitor(10 ** 9, body=metric_monitor("v"))
    api.delete_monitor(created.id)


def test_group_states_come_from_the_monitor_document(api_client: ApiClient, session_sandbox: SandboxServer) -> None:
    api = MonitorsApi(api_client)
    created = api.create_monitor(body=metric_monitor(unique("groups")))
    docs = session_sandbox.sandbox.documents
    doc = docs.get("monitor", created.id)
    group = {"last_triggered_ts": 1767225300, "last_notified_ts": 1767225300, "last_resolved_ts": 0,
             "last_nodata_ts": 0}
    doc["overall_state"] = "Alert"
    doc["state"] = {"groups": {"role:refiner": {"name": "role:refiner", "status": "Alert", **group},
                               "role:auditor": {"name": "role:auditor", "status": "OK", **group}}}
    docs.put("monitor", created.id, doc)  # what the monitor evaluator will do

    alerting = api.get_monitor(created.id, group_states="alert")
    assert alerting.overall_state == MonitorOverallStates.ALERT and list(alerting.state.groups) == ["role:refiner"]
    assert alerting.state.groups["role:refiner"].last_triggered_ts == 1767225300
    assert set(api.get_monitor(created.id, group_states="all").state.groups) == {"role:refiner", "role:auditor"}
    assert "state" not in api.get_monitor(created.id).to_dict()
    (listed,) = [m for m in api.list_monitors(name=created.name, group_states="all")]
    assert len(listed.state.groups) == 2
    api.delete_monitor(created.id)


@pytest.mark.parametrize("method, path", [("GET", "/api/v1/monitor"), ("POST", "/api/v1/monitor/validate")])
def test_resources_need_the_application_key(session_sandbox: SandboxServer, method: str, path: str) -> None:
    status, answer = raw(session_sandbox, method, path, {} if method == "POST" else None, app_key=False)
    assert status == 403 and answer == {"errors": ["Application key required"]}


def test_wrong_application_key_is_forbidden_through_the_client(session_sandbox: SandboxServer) -> None:
    with client_for(session_sandbox, app_key="not-the-key") as client, pytest.raises(ForbiddenException):
        MonitorsApi(client).list_monitors()
