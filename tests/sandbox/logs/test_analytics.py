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

from datadog_api_client.v2.api.metrics_api import MetricsApi
from datadog_api_client.v2.model.events_aggregation import EventsAggregation
from datadog_api_client.v2.model.events_compute import EventsCompute
from datadog_api_client.v2.model.events_data_source import EventsDataSource
from datadog_api_client.v2.model.events_group_by import EventsGroupBy
from datadog_api_client.v2.model.events_query_group_bys import EventsQueryGroupBys
from datadog_api_client.v2.model.events_scalar_query import EventsScalarQuery
from datadog_api_client.v2.model.events_search import EventsSearch
from datadog_api_client.v2.model.events_timeseries_query import EventsTimeseriesQuery
from datadog_api_client.v2.model.query_formula import QueryFormula
from datadog_api_client.v2.model.scalar_formula_query_request import ScalarFormulaQueryRequest
from datadog_api_client.v2.model.scalar_formula_request import ScalarFormulaRequest
from datadog_api_client.v2.model.scalar_formula_request_attributes import ScalarFormulaRequestAttributes
from datadog_api_client.v2.model.scalar_formula_request_queries import ScalarFormulaRequestQueries
from datadog_api_client.v2.model.scalar_formula_request_type import ScalarFormulaRequestType
from datadog_api_client.v2.model.timeseries_formula_query_request import TimeseriesFormulaQueryRequest
from datadog_api_client.v2.model.timeseries_formula_request import TimeseriesFormulaRequest
from datadog_api_client.v2.model.timeseries_formula_request_attributes import TimeseriesFormulaRequestAttributes
from datadog_api_client.v2.model.timeseries_formula_request_queries import TimeseriesFormulaRequestQueries
from datadog_api_client.v2.model.timeseries_formula_request_type import TimeseriesFormulaRequestType

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


@pytest.mark.parametrize("kind", ["timeseries", "scalar"])
def test_events_as_a_formula_data_source_count_the_events_by_facet(session_sandbox: SandboxServer, kind: str) -> None:
    """Events (v1 and v2 alike) as a data source of /api/v2/query/*, searched as the event search sees them: it was a
    400 naming the data source."""
    source = unique("evsrc")
    now_s = int(time.time()) // 60 * 60
    for host, offset in (("h1", 150), ("h1", 90), ("h2", 90)):
        status, _ = raw(session_sandbox, "POST", "/api/v1/events", {
            "title": "deploy", "text": "v2", "host": host, "tags": [f"team:{source}"],
            "date_happened": now_s - offset})
        assert status == 202
    query = {"data_source": "events", "name": "a", "search": {"query": f"team:{source}"},
             "compute": {"aggregation": "count"}, "group_by": [{"facet": "host", "limit": 10}]}
    attributes = {"from": (now_s - 180) * 1000, "to": now_s * 1000, "queries": [query]}
    if kind == "timeseries":
        attributes["interval"] = 60_000
    status, answer = raw(session_sandbox, "POST", f"/api/v2/query/{kind}",
                         {"data": {"type": f"{kind}_request", "attributes": attributes}})
    assert status == 200, answer
    body = answer["data"]["attributes"]
    if kind == "scalar":
        groups = [tuple(g) for g in body["columns"][0]["values"]]
        counts = dict(zip(groups, body["columns"][1]["values"]))
        assert counts == {("h1",): 2.0, ("h2",): 1.0}  # a scalar group column holds the values
    else:
        totals = {tuple(s["group_tags"]): sum(v for v in values if v is not None)
                  for s, values in zip(body["series"], body["values"])}
        assert totals == {("host:h1",): 2.0, ("host:h2",): 1.0}


def test_logs_as_a_formula_data_source_through_the_client(api_client: ApiClient) -> None:
    service = unique("src")
    now_ms = int(time.time() * 1000) // 60_000 * 60_000
    LogsApi(api_client).submit_log(body=HTTPLog([
        HTTPLogItem(message="m", service=service, hostname=host, status="error", duration=float(d),
                    timestamp=now_ms - offset)
        for host, d, offset in (("h1", 1, 150_000), ("h1", 3, 90_000), ("h2", 10, 90_000))]))
    search = EventsSearch(query=f"service:{service}")
    by_host = EventsQueryGroupBys([EventsGroupBy(facet="host", limit=10)])
    api = MetricsApi(api_client)
    series = api.query_timeseries_data(body=TimeseriesFormulaQueryRequest(data=TimeseriesFormulaRequest(
        type=TimeseriesFormulaRequestType.TIMESERIES_REQUEST, attributes=TimeseriesFormulaRequestAttributes(
            _from=now_ms - 180_000, to=now_ms, interval=60_000, queries=TimeseriesFormulaRequestQueries([
                EventsTimeseriesQuery(data_source=EventsDataSource.LOGS, name="errors", search=search,
                                      compute=EventsCompute(aggregation=EventsAggregation.COUNT),
                                      group_by=by_host)]))))).data.attributes
    tags = [list(s.group_tags.value) for s in series.series.value]  # the client wraps lists in models
    assert tags == [["host:h1"], ["host:h2"]]
    values = [[v for v in row.value] for row in series.values.value]
    assert [sum(v or 0 for v in row) for row in values] == [2.0, 1.0]
    scalar = api.query_scalar_data(body=ScalarFormulaQueryRequest(data=ScalarFormulaRequest(
        type=ScalarFormulaRequestType.SCALAR_REQUEST, attributes=ScalarFormulaRequestAttributes(
            _from=now_ms - 180_000, to=now_ms, formulas=[QueryFormula(formula="avg_duration")],
            queries=ScalarFormulaRequestQueries([EventsScalarQuery(
                data_source=EventsDataSource.LOGS, name="avg_duration", search=search, group_by=by_host,
                compute=EventsCompute(aggregation=EventsAggregation.AVG, metric="@duration"))]))))).data.attributes
    columns = {c.name: c.values for c in scalar.columns}
    assert [v[0] for v in columns["host"]] == ["h1", "h2"] and list(columns["avg_duration"]) == [2.0, 10.0]


def test_a_formula_over_a_logs_query_is_a_400_saying_what_to_do(session_sandbox: SandboxServer) -> None:
    body = {"data": {"type": "timeseries_request", "attributes": {
        "from": SPAN[0], "to": SPAN[1], "formulas": [{"formula": "a * 2"}],
        "queries": [{"data_source": "logs", "name": "a", "compute": {"aggregation": "count"}}]}}}
    status, answer = raw(session_sandbox, "POST", "/api/v2/query/timeseries", body)
    assert status == 400 and "formulas[0]" in answer["errors"][0] and "query's name" in answer["errors"][0]
