"""Monitor search and monitor group search: the query syntax without HTTP, the shapes through the real client."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from datadog_api_client import ApiClient
from datadog_api_client.exceptions import ApiException
from datadog_api_client.v1.api.monitors_api import MonitorsApi
from datadog_api_client.v1.model.monitor import Monitor
from datadog_api_client.v1.model.monitor_type import MonitorType

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.monitors import search as ms
from autonomic_lib.sandbox.monitors.backend import Monitors
from autonomic_lib.sandbox.server import SandboxServer
from tests.conftest import errors_of
from tests.sandbox.monitors.conftest import body


def put_state(monitors: Monitors, created: dict[str, Any], overall: str, groups: dict[str, str]) -> None:
    monitors.save_state(created, overall_state=overall, changed_at=1, groups={
        name: {"name": name, "status": status, "last_triggered_ts": 100 if status == "Alert" else 0,
               "last_notified_ts": 0, "last_resolved_ts": 0, "last_nodata_ts": 0} for name, status in groups.items()})


@pytest.fixture
def three(monitors: Monitors) -> list[dict[str, Any]]:
    latency = monitors.create(body("avg(last_5m):avg:m.latency{env:demo} by {role} > 5", name="Latency high",
                                   tags=["team:ai", "env:demo"], message="Slow. @workflow-open-case"))
    budget = monitors.create(body("sum(last_5m):sum:m.cost{env:demo} > 2", name="Budget breach",
                                  tags=["team:finance"], message="Spend. @slack-ops"))
    anomaly_query = ("avg(last_1h):anomalies(avg:m.latency{env:demo}, 'basic', 2, direction='above', "
                     "alert_window='last_15m', interval=60, count_default_zero='true') >= 1")
    anomaly = monitors.create(body(anomaly_query, name="Latency anomaly", tags=["team:ai"], options={
        "thresholds": {"critical": 1, "critical_recovery": 0},
        "threshold_windows": {"trigger_window": "last_15m", "recovery_window": "last_15m"}}))
    put_state(monitors, latency, "Alert", {"role:auditor": "Alert", "role:refiner": "OK"})
    put_state(monitors, budget, "OK", {"*": "OK"})
    return [latency, budget, anomaly]


@pytest.mark.parametrize("query, names", [
    ("", ["Latency high", "Budget breach", "Latency anomaly"]),
    ("status:alert", ["Latency high"]),
    ('status:"no data"', ["Latency anomaly"]),
    ("type:metric", ["Latency high", "Budget breach"]),
    ("type:anomaly", ["Latency anomaly"]),
    ("tag:team:ai", ["Latency high", "Latency anomaly"]),
    ("tag:team:*", ["Latency high", "Budget breach", "Latency anomaly"]),
    ("latency", ["Latency high", "Latency anomaly"]),
    ("*breach*", ["Budget breach"]),
    ("title:budget", ["Budget breach"]),
    ("message:spend", ["Budget breach"]),
    ("notification:slack-ops", ["Budget breach"]),
    ("metric:m.cost", ["Budget breach"]),
    ("scope:env:demo", ["Latency high", "Budget breach", "Latency anomaly"]),
    ("type:metric status:ok", ["Budget breach"]),
    ("muted:false", ["Latency high", "Budget breach", "Latency anomaly"]),
    ("muted:true", []),
])
def test_search_terms(monitors: Monitors, three: list[dict[str, Any]], query: str, names: list[str]) -> None:
    rows, metadata, _ = monitors.find(query=query)
    assert [r["name"] for r in rows] == names and metadata["total_count"] == len(names)


def test_a_bare_number_finds_the_monitor_by_id(monitors: Monitors, three: list[dict[str, Any]]) -> None:
    assert [r["id"] for r in monitors.find(query=str(three[1]["id"]))[0]] == [three[1]["id"]]


def test_muted_follows_the_groups_downtimes_silence(monitors: Monitors, three: list[dict[str, Any]]) -> None:
    monitors.silenced_groups = lambda m: {"role:auditor"} if m["id"] == three[0]["id"] else set()
    assert monitors.find(query="muted:true")[0] == []  # one of two groups: the monitor is not muted
    groups, _, _ = monitors.find(query="muted:true", groups=True)
    assert [(g["id"], g["group"]) for g in groups] == [(three[0]["id"], "role:auditor")]
    monitors.silenced_groups = lambda m: {"role:auditor", "role:refiner"} if m["id"] == three[0]["id"] else set()
    assert [r["name"] for r in monitors.find(query="muted:true")[0]] == ["Latency high"]


def test_group_search_lists_each_evaluated_group(monitors: Monitors, three: list[dict[str, Any]]) -> None:
    rows, metadata, counts = monitors.find(groups=True)
    assert [(r["name"], r["group"], r["status"]) for r in rows] == [
        ("Latency high", "role:auditor", "Alert"), ("Latency high", "role:refiner", "OK"), ("Budget breach", "*", "OK")]
    assert counts["status"] == [{"count": 2, "name": "OK"}, {"count": 1, "name": "Alert"}]
    assert [r["group"] for r in monitors.find(query="group:role:a*", groups=True)[0]] == ["role:auditor"]


def test_facets_count_every_match_and_pages_cut_the_list(monitors: Monitors, three: list[dict[str, Any]]) -> None:
    rows, metadata, counts = monitors.find(per_page=2, page=1, sort="name,asc")
    assert [r["name"] for r in rows] == ["Latency high"]
    assert metadata == {"total_count": 3, "page_count": 2, "page": 1, "per_page": 2}
    assert counts["type"] == [{"count": 2, "name": "metric"}, {"count": 1, "name": "anomaly"}]
    assert {"count": 2, "name": "team:ai"} in counts["tag"] and counts["muted"] == [{"count": 3, "name": False}]
    assert [r["name"] for r in monitors.find(sort="name,desc")[0]] == ["Latency high", "Latency anomaly",
                                                                        "Budget breach"]


@pytest.mark.parametrize("query, fragment", [
    ("status:alert OR status:warn", "boolean operators"),
    ("-tag:team:ai", "boolean operators"),
    ("(status:alert)", "boolean operators"),
    ("owner:me", "unknown attribute 'owner'"),
    ("x " * 60, "more than 50 terms"),
    ("x" * 3000, "at most 2000 characters"),
])
def test_search_syntax_the_sandbox_does_not_read_is_a_400(query: str, fragment: str) -> None:
    with pytest.raises(IntakeError, match=fragment):
        ms.parse_search(query, ms.MONITOR_FIELDS)


def test_bad_sort_and_page_size_are_400s(monitors: Monitors) -> None:
    with pytest.raises(IntakeError, match="'sort'"):
        monitors.find(sort="priority,asc")
    with pytest.raises(IntakeError, match="'per_page'"):
        monitors.find(per_page=5000)


def test_notification_handles_are_read_without_a_pattern() -> None:
    assert ms.notification_handles("Hi @slack-ops, see @workflow-open-case(x=1) and me@example.com @") == [
        "slack-ops", "workflow-open-case"]


# ---------------------------------------------------------------------------------------------------- the client
@pytest.mark.api
def test_search_through_the_client(api_client: ApiClient) -> None:
    api, tag = MonitorsApi(api_client), f"search:t{uuid.uuid4().hex[:8]}"
    made = [api.create_monitor(body=Monitor(name=f"searched {i}", type=MonitorType.METRIC_ALERT, tags=[tag],
                                            message="@slack-ops", query="avg(last_5m):avg:m.search{env:demo} > 1"))
            for i in range(3)]
    found = api.search_monitors(query=f"tag:{tag}", per_page=2, page=0, sort="name,asc")  # the example's call, filtered
    assert [m.id for m in found.monitors] == [m.id for m in made[:2]]
    assert found.metadata.total_count == 3 and found.metadata.page_count == 2 and found.metadata.per_page == 2
    assert found.monitors[0].classification == "metric" and found.monitors[0].metrics == ["m.search"]
    assert found.monitors[0].notifications[0].handle == "slack-ops" and str(found.monitors[0].status) == "No Data"
    assert api.search_monitors().metadata.total_count >= 3  # the SearchMonitors example: no arguments
    groups = api.search_monitor_groups()  # the SearchMonitorGroups example
    assert groups.metadata.page == 0 and isinstance(groups.groups, list)


@pytest.mark.api
def test_a_bad_search_is_a_400_through_the_client(api_client: ApiClient) -> None:
    with pytest.raises(ApiException) as exc:
        MonitorsApi(api_client).search_monitors(query="status:alert OR status:warn")
    assert exc.value.status == 400 and "boolean operators" in errors_of(exc)[0]


@pytest.mark.api
def test_group_search_through_the_client_shows_evaluated_groups(session_sandbox: SandboxServer,
                                                                api_client: ApiClient) -> None:
    api, tag = MonitorsApi(api_client), f"search:g{uuid.uuid4().hex[:8]}"
    created = api.create_monitor(body=Monitor(name="grouped", type=MonitorType.METRIC_ALERT, tags=[tag],
                                              query="avg(last_5m):avg:m.search{env:demo} by {role} > 1"))
    doc = session_sandbox.sandbox.monitors.get(created.id)
    assert doc is not None
    put_state(session_sandbox.sandbox.monitors, doc, "Alert", {"role:a": "Alert", "role:b": "OK"})
    found = api.search_monitor_groups(query=f"tag:{tag} status:alert")
    assert [(g.monitor_id, g.group, g.group_tags, str(g.status)) for g in found.groups] == [
        (created.id, "role:a", ["role:a"], "Alert")]
    assert found.groups[0].last_triggered_ts == 100
