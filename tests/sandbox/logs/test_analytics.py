"""Log analytics without HTTP (analytics.py over the logs backend), then through the official client's
`aggregate_logs` with the examples' request bodies, type checking on."""

from __future__ import annotations

import time
from typing import Any

import pytest
from datadog_api_client import ApiClient
from datadog_api_client.v2.api.logs_api import LogsApi
from datadog_api_client.v2.model.http_log import HTTPLog
from datadog_api_client.v2.model.http_log_item import HTTPLogItem
from datadog_api_client.v2.model.logs_aggregate_request import LogsAggregateRequest
from datadog_api_client.v2.model.logs_aggregate_sort import LogsAggregateSort
from datadog_api_client.v2.model.logs_aggregate_sort_type import LogsAggregateSortType
from datadog_api_client.v2.model.logs_aggregation_function import LogsAggregationFunction
from datadog_api_client.v2.model.logs_compute import LogsCompute
from datadog_api_client.v2.model.logs_compute_type import LogsComputeType
from datadog_api_client.v2.model.logs_group_by import LogsGroupBy
from datadog_api_client.v2.model.logs_query_filter import LogsQueryFilter
from datadog_api_client.v2.model.logs_sort_order import LogsSortOrder

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.logs.analytics import parse_aggregation
from autonomic_lib.sandbox.logs.backend import Logs
from autonomic_lib.sandbox.server import SandboxServer
from autonomic_lib.sandbox.storage.database import open_database
from autonomic_lib.sandbox.storage.documents import DocumentStore

from tests.conftest import raw, unique

T0_MS = 1_767_225_600_000  # 2026-01-01 00:00 UTC
SPAN = (T0_MS - 900_000, T0_MS)


def a_log(ms: int, service: str, status: str = "info", tags: tuple[str, ...] = (), **attributes: Any) -> dict[str, Any]:
    return {"k": ms, "message": "m", "status": status, "service": service, "tags": [*tags, f"service:{service}"],
            "attributes": attributes}


@pytest.fixture
def logs() -> Logs:
    logs = Logs(DocumentStore(open_database(None)), clock=lambda: T0_MS / 1000)
    logs.ingest([
        a_log(T0_MS - 600_000, "refiner", "error", ("role:refiner", "env:demo"), duration=4.0),
        a_log(T0_MS - 590_000, "refiner", "error", ("role:refiner", "env:demo"), duration=2.0),
        a_log(T0_MS - 300_000, "auditor", "info", ("role:auditor", "env:demo"), duration=1.0),
        a_log(T0_MS - 200_000, "auditor", "warn", ("role:auditor",), duration=3.0, agent={"ids": ["a1", "a2"]}),
        a_log(T0_MS - 100_000, "chatbot", "info", (), duration="slow"),
    ])
    return logs


def run(logs: Logs, body: dict[str, Any], query: str | None = None) -> list[dict[str, Any]]:
    return logs.aggregate(query=query, start_ms=SPAN[0], end_ms=SPAN[1], spec=parse_aggregation(body, *SPAN))


def test_totals_over_every_matching_log(logs: Logs) -> None:
    [bucket] = run(logs, {"compute": [{"aggregation": "count"}, {"aggregation": "avg", "metric": "@duration"},
                                      {"aggregation": "cardinality", "metric": "service"},
                                      {"aggregation": "max", "metric": "@duration"},
                                      {"aggregation": "median", "metric": "@duration"}]})
    assert bucket == {"by": {}, "computes": {"c0": 5.0, "c1": 2.5, "c2": 3.0, "c3": 4.0, "c4": 2.5}}
    assert run(logs, {}, query="service:refiner") == [{"by": {}, "computes": {"c0": 2.0}}]
    assert run(logs, {}, query="service:nobody") == []


def test_group_by_keeps_the_top_groups_by_count_and_sorts_as_asked(logs: Logs) -> None:
    by_service = run(logs, {"group_by": [{"facet": "service", "limit": 2}]})
    assert [(b["by"], b["computes"]["c0"]) for b in by_service] == [({"service": "auditor"}, 2.0),
                                                                    ({"service": "refiner"}, 2.0)]  # a tie
    alphabetical = run(logs, {"group_by": [{"facet": "service", "sort": {"type": "alphabetical", "order": "desc"}}]})
    assert [b["by"]["service"] for b in alphabetical] == ["refiner", "chatbot", "auditor"]
    by_measure = run(logs, {"group_by": [{"facet": "service", "sort": {
        "type": "measure", "aggregation": "pc90", "metric": "@duration", "order": "asc"}}]})
    assert [b["by"]["service"] for b in by_measure] == ["auditor", "refiner", "chatbot"]  # no measure: last


def test_tag_keys_attributes_missing_and_total(logs: Logs) -> None:
    buckets = run(logs, {"group_by": [{"facet": "env", "missing": "none"}]})
    assert {b["by"]["env"]: b["computes"]["c0"] for b in buckets} == {"demo": 3.0, "none": 2.0}
    assert [b["by"] for b in run(logs, {"group_by": [{"facet": "@agent.ids"}]})] == [{"@agent.ids": "a1"},
                                                                                    {"@agent.ids": "a2"}]
    nested = run(logs, {"group_by": [{"facet": "status", "limit": 1, "total": "all"}, {"facet": "service"}]})
    assert [(b["by"], b["computes"]["c0"]) for b in nested] == [
        ({"status": "error", "service": "refiner"}, 2.0), ({"status": "all", "service": "auditor"}, 2.0),
        ({"status": "all", "service": "refiner"}, 2.0), ({"status": "all", "service": "chatbot"}, 1.0)]


def test_a_timeseries_has_a_point_per_interval_and_counts_empty_buckets_as_zero(logs: Logs) -> None:
    [bucket] = run(logs, {"compute": [{"aggregation": "count", "type": "timeseries", "interval": "5m"},
                                      {"aggregation": "sum", "metric": "@duration", "type": "timeseries",
                                       "interval": "5m"}]})
    counts = [(p["time"], p["value"]) for p in bucket["computes"]["c0"]]
    assert counts == [("2025-12-31T23:45:00.000Z", 0.0), ("2025-12-31T23:50:00.000Z", 2.0),
                      ("2025-12-31T23:55:00.000Z", 3.0), ("2026-01-01T00:00:00.000Z", 0.0)]
    assert [p["value"] for p in bucket["computes"]["c1"]] == [6.0, 4.0]


@pytest.mark.parametrize(("body", "named"), [
    ({"compute": [{"aggregation": "mode"}]}, "compute[0].aggregation"),
    ({"compute": [{"aggregation": "avg"}]}, "compute[0].metric"),
    ({"compute": [{"aggregation": "sum", "metric": "duration"}]}, "@attribute"),
    ({"compute": [{"aggregation": "count", "type": "timeseries", "interval": "100ms"}]}, "compute[0].interval"),
    ({"compute": [{"aggregation": "count", "type": "timeseries", "interval": "soon"}]}, "compute[0].interval"),
    ({"group_by": [{"facet": "a", "limit": 1000}, {"facet": "b", "limit": 11}]}, "10000 buckets"),
    ({"group_by": [{"facet": "a", "histogram": {"interval": 1, "min": 0, "max": 9}}]}, "group_by[0].histogram"),
    ({"group_by": [{"limit": 3}]}, "group_by[0].facet"),
    ({"group_by": [{"facet": "a", "sort": {"order": "up"}}]}, "group_by[0].sort.order"),
    ({"page": {"cursor": "abc"}}, "page.cursor"),
])
def test_a_malformed_aggregation_is_a_400_naming_the_field(body: dict[str, Any], named: str) -> None:
    with pytest.raises(IntakeError) as exc:
        parse_aggregation(body, *SPAN)
    assert exc.value.status == 400 and named in str(exc.value)


# ------------------------------------------------------------------------------------------ through the client
def test_the_examples_bodies_aggregate_submitted_logs(api_client: ApiClient) -> None:
    service = unique("agg")
    now_ms = int(time.time() * 1000)
    LogsApi(api_client).submit_log(body=HTTPLog([
        HTTPLogItem(message="failed", service=service, hostname=host, ddtags="env:test", status="error",
                    duration=float(d), timestamp=now_ms - 60_000)
        for host, d in (("h1", 1), ("h1", 3), ("h2", 10))]))
    api = LogsApi(api_client)
    # the body of AggregateLogs_2955613758.py, narrowed to this test's service
    body = LogsAggregateRequest(
        compute=[LogsCompute(aggregation=LogsAggregationFunction.COUNT, interval="5m", type=LogsComputeType.TIMESERIES)],
        filter=LogsQueryFilter(_from="now-15m", indexes=["main"], query=f"service:{service}", to="now"),
        group_by=[LogsGroupBy(facet="host", missing="miss", total="recall", sort=LogsAggregateSort(
            type=LogsAggregateSortType.MEASURE, order=LogsSortOrder.ASCENDING,
            aggregation=LogsAggregationFunction.PERCENTILE_90, metric="@duration"))])
    response = api.aggregate_logs(body=body)
    assert response.meta.status.value == "done"
    hosts = [b.by["host"] for b in response.data.buckets]
    assert hosts == ["h1", "h2", "recall"]
    recall = response.data.buckets[-1].computes["c0"]
    assert sum(point.value for point in recall.value) == 3.0
    total = api.aggregate_logs(body=LogsAggregateRequest(
        compute=[LogsCompute(aggregation=LogsAggregationFunction.AVG, metric="@duration")],
        filter=LogsQueryFilter(query=f"service:{service} host:h1")))
    assert total.data.buckets[0].computes["c0"] == 2.0


def test_a_bad_aggregation_over_http_is_a_400(session_sandbox: SandboxServer) -> None:
    status, answer = raw(session_sandbox, "POST", "/api/v2/logs/analytics/aggregate",
                         {"compute": [{"aggregation": "pc42", "metric": "@duration"}]})
    assert status == 400 and "compute[0].aggregation" in answer["errors"][0]


@pytest.mark.parametrize(("kind", "source"), [("timeseries", "logs"), ("scalar", "events")])
def test_logs_and_events_as_formula_data_sources_are_a_400_naming_the_source(session_sandbox: SandboxServer, kind: str,
                                                                            source: str) -> None:
    """Not evaluated by the sandbox's /api/v2/query/* (metrics only): refused, naming the data source."""
    body = {"data": {"type": f"{kind}_request", "attributes": {
        "from": SPAN[0], "to": SPAN[1], "queries": [{"data_source": source, "name": "a", "search": {"query": "*"},
                                                     "compute": {"aggregation": "count"}, "query": "*"}]}}}
    status, answer = raw(session_sandbox, "POST", f"/api/v2/query/{kind}", body)
    assert status == 400 and f"data_source '{source}' is not supported by the sandbox" in answer["errors"][0]
