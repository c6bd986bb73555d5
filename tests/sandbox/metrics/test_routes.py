"""The official datadog-api-client against a real sandbox server: submit, query, refuse, persist."""

from __future__ import annotations

import gzip
import threading
import uuid
import zlib

import orjson
import pytest
import urllib3
from datadog_api_client import ApiClient
from datadog_api_client.exceptions import ApiException, ForbiddenException
from datadog_api_client.v1.api.authentication_api import AuthenticationApi
from datadog_api_client.v1.api.metrics_api import MetricsApi as MetricsApiV1
from datadog_api_client.v1.model.distribution_point import DistributionPoint
from datadog_api_client.v1.model.distribution_points_payload import DistributionPointsPayload
from datadog_api_client.v1.model.distribution_points_series import DistributionPointsSeries
from datadog_api_client.v1.model.metrics_payload import MetricsPayload
from datadog_api_client.v1.model.point import Point
from datadog_api_client.v1.model.series import Series as SeriesV1
from datadog_api_client.v2.api.metrics_api import MetricsApi
from datadog_api_client.v2.model.formula_limit import FormulaLimit  # noqa: F401  (model exists in the pinned client)
from datadog_api_client.v2.model.metric_content_encoding import MetricContentEncoding
from datadog_api_client.v2.model.metric_intake_type import MetricIntakeType
from datadog_api_client.v2.model.metric_payload import MetricPayload
from datadog_api_client.v2.model.metric_point import MetricPoint
from datadog_api_client.v2.model.metric_resource import MetricResource
from datadog_api_client.v2.model.metric_series import MetricSeries
from datadog_api_client.v2.model.metrics_aggregator import MetricsAggregator
from datadog_api_client.v2.model.metrics_data_source import MetricsDataSource
from datadog_api_client.v2.model.metrics_scalar_query import MetricsScalarQuery
from datadog_api_client.v2.model.metrics_timeseries_query import MetricsTimeseriesQuery
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

from autonomic_lib.sandbox.server import SandboxServer

from tests.conftest import client_for, start_sandbox

pytestmark = pytest.mark.api
COUNT, GAUGE = MetricIntakeType.COUNT, MetricIntakeType.GAUGE


def unique(name: str) -> str:
    return f"test.{name}.{uuid.uuid4().hex[:8]}"


def series(metric: str, points: list[tuple[int, float]], tags: list[str] = (), kind=GAUGE, **extra) -> MetricSeries:
    return MetricSeries(metric=metric, type=kind, tags=list(tags),
                        points=[MetricPoint(timestamp=t, value=float(v)) for t, v in points], **extra)


def submit(client: ApiClient, *items: MetricSeries, encoding: MetricContentEncoding | None = None) -> None:
    kwargs = {"content_encoding": encoding} if encoding else {}
    response = MetricsApi(client).submit_metrics(body=MetricPayload(series=list(items)), **kwargs)
    assert response.errors == []


def v1_points(client: ApiClient, query: str, start: int, end: int) -> dict[tuple[str, ...], list[tuple[int, float]]]:
    """Query v1 and return {tag_set: [(epoch s, value), ...]}."""
    response = MetricsApiV1(client).query_metrics(_from=start, to=end, query=query)
    assert response.status == "ok"
    return {tuple(s.tag_set): [(int(p.value[0] // 1000), p.value[1]) for p in s.pointlist] for s in response.series}


def plain(attrs) -> tuple[list[int], list[list[float | None]]]:
    """times and values of a v2 timeseries response as plain lists (the client wraps them in model lists)."""
    return list(attrs.times.value), [list(v.value) for v in attrs.values.value]


def raw_post(server: SandboxServer, path: str, body: bytes, headers: dict[str, str] | None = None,
             api_key: str | None = "default") -> urllib3.BaseHTTPResponse:
    """A hand-built request, for payloads the client cannot produce (bad JSON, size bombs, ...)."""
    hdrs = {"Content-Type": "application/json"}
    if api_key:
        hdrs["DD-API-KEY"] = server.config.api_key if api_key == "default" else api_key
    hdrs.update(headers or {})
    return urllib3.request("POST", server.url + path, body=body, headers=hdrs, retries=False)


# ------------------------------------------------------------------------------------------ round trips
def test_submitted_points_come_back_from_v1_and_v2_queries(api_client: ApiClient, now: int) -> None:
    metric = unique("roundtrip")
    submit(api_client, series(metric, [(now - 50, 1.0), (now - 30, 3.0)], ["env:demo"],
                              resources=[MetricResource(name="web-01", type="host")], unit="second"))

    response = MetricsApiV1(api_client).query_metrics(_from=now - 60, to=now, query=f"avg:{metric}{{env:demo}}")
    (only,) = response.series
    assert only.metric == metric and only.aggr == "avg" and only.interval == 1
    assert [(p.value[0], p.value[1]) for p in only.pointlist] == [((now - 50) * 1000.0, 1.0), ((now - 30) * 1000.0, 3.0)]

    body = TimeseriesFormulaQueryRequest(data=TimeseriesFormulaRequest(
        type=TimeseriesFormulaRequestType.TIMESERIES_REQUEST,
        attributes=TimeseriesFormulaRequestAttributes(
            _from=(now - 60) * 1000, to=now * 1000, interval=60_000,
            queries=TimeseriesFormulaRequestQueries([MetricsTimeseriesQuery(
                data_source=MetricsDataSource.METRICS, name="a", query=f"avg:{metric}{{host:web-01}}")])),
    ))
    attrs = MetricsApi(api_client).query_timeseries_data(body=body).data.attributes
    assert plain(attrs) == ([(now - 60) * 1000], [[2.0]])
    assert attrs.series.value[0].unit[0].name == "second"


def test_v1_intake_accepts_tuple_points_and_string_types(api_client: ApiClient, now: int) -> None:
    metric = unique("v1")
    payload = MetricsPayload(series=[SeriesV1(metric=metric, type="count", host="web-02", tags=["env:demo"],
                                               points=[Point([float(now - 20), 4.0]), Point([float(now - 10), 6.0])])])
    assert MetricsApiV1(api_client).submit_metrics(body=payload).status == "ok"
    assert v1_points(api_client, f"sum:{metric}{{host:web-02}}.as_count()", now - 60, now) == {
        (): [(now - 20, 4.0), (now - 10, 6.0)]}


@pytest.mark.parametrize("encoding", [MetricContentEncoding.GZIP, MetricContentEncoding.DEFLATE,
                                      MetricContentEncoding.ZSTD1])
def test_compressed_payloads_are_accepted(api_client: ApiClient, now: int, encoding: MetricContentEncoding) -> None:
    metric = unique("enc")
    submit(api_client, series(metric, [(now - 5, 7.5)]), encoding=encoding)
    assert v1_points(api_client, f"max:{metric}{{*}}", now - 60, now) == {(): [(now - 5, 7.5)]}


def test_last_point_wins_for_the_same_series_and_second(api_client: ApiClient, now: int) -> None:
    metric = unique("dupe")
    submit(api_client, series(metric, [(now - 10, 1.0)], ["env:demo"], kind=COUNT))
    submit(api_client, series(metric, [(now - 10, 5.0)], ["env:demo"], kind=COUNT))  # a retried request, say
    assert v1_points(api_client, f"sum:{metric}{{*}}.as_count()", now - 60, now) == {(): [(now - 10, 5.0)]}


def test_concurrent_writers_are_all_kept(session_sandbox: SandboxServer, now: int) -> None:
    metric = unique("concurrent")
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            with client_for(session_sandbox) as client:
                for j in range(10):
                    submit(client, series(metric, [(now - 59 + j, 1.0)], [f"writer:w{i}"], kind=COUNT))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with client_for(session_sandbox) as client:
        groups = v1_points(client, f"sum:{metric}{{*}} by {{writer}}.rollup(sum, 60)", now - 60, now)
    assert groups == {(f"writer:w{i}",): [(now - 60, 10.0)] for i in range(8)}


def test_restart_keeps_data(tmp_path, now: int) -> None:
    metric = unique("durable")
    server = start_sandbox(tmp_path)
    with client_for(server) as client:
        submit(client, series(metric, [(now - 30, 42.0)], ["env:demo"]))
    server.stop()
    restarted = start_sandbox(tmp_path)
    try:
        with client_for(restarted) as client:
            assert v1_points(client, f"avg:{metric}{{env:demo}}", now - 60, now) == {(): [(now - 30, 42.0)]}
    finally:
        restarted.stop()


# ------------------------------------------------------------------------------------------ query semantics
def test_query_semantics_over_http(api_client: ApiClient, now: int) -> None:
    verdicts, latency = unique("verdict"), unique("latency")
    start = (now - 120) // 120 * 120  # buckets align to UNIX time
    submit(api_client,
           series(verdicts, [(start + 10 * i, 1.0) for i in range(12)], ["verdict:pass", "agent_id:a1"], kind=COUNT),
           series(verdicts, [(start + 10 * i, 1.0) for i in range(4)], ["verdict:fail", "agent_id:a1"], kind=COUNT),
           series(verdicts, [(start + 10 * i, 2.0) for i in range(6)], ["verdict:pass", "agent_id:a2"], kind=COUNT),
           series(latency, [(start, 1.0), (start + 30, 3.0), (start + 60, 10.0)], ["role:auditor"]),
           series(latency, [(start, 5.0), (start + 70, 20.0)], ["role:refiner"]))

    # as_count on counts: sum per 60 s bucket (12 passes over 120 s for a1, 6 x 2 for a2)
    assert v1_points(api_client, f"sum:{verdicts}{{verdict:pass}}.as_count().rollup(sum, 60)", start, now) == {
        (): [(start, 6.0 + 12.0), (start + 60, 6.0)]}
    # as_rate divides by the interval
    assert v1_points(api_client, f"sum:{verdicts}{{verdict:pass,agent_id:a1}}.as_rate().rollup(sum, 60)", start, now) == {
        (): [(start, 0.1), (start + 60, 0.1)]}
    # gauge rollups and grouping
    assert v1_points(api_client, f"avg:{latency}{{*}} by {{role}}.rollup(max, 60)", start, now) == {
        ("role:auditor",): [(start, 3.0), (start + 60, 10.0)], ("role:refiner",): [(start, 5.0), (start + 60, 20.0)]}
    assert v1_points(api_client, f"avg:{latency}{{*}}.rollup(avg, 60)", start, now) == {
        (): [(start, (2.0 + 5.0) / 2), (start + 60, (10.0 + 20.0) / 2)]}
    # boolean tag filters
    assert v1_points(api_client, f"sum:{verdicts}{{verdict:pass AND NOT agent_id:a2}}.as_count().rollup(sum, 120)",
                     start, now) == {(): [(start, 12.0)]}
    assert v1_points(api_client, f"sum:{verdicts}{{agent_id:a*,!verdict:pass}}.as_count().rollup(sum, 120)",
                     start, now) == {(): [(start, 4.0)]}
    # arithmetic between queries: pass rate in percent
    rate = v1_points(api_client, f"100 * sum:{verdicts}{{verdict:pass,agent_id:a1}}.as_count().rollup(sum, 120) / "
                                 f"sum:{verdicts}{{agent_id:a1}}.as_count().rollup(sum, 120)", start, now)
    assert rate == {(): [(start, 75.0)]}


def test_v2_formulas_and_scalar_queries(api_client: ApiClient, now: int) -> None:
    ok, failed = unique("ok"), unique("failed")
    start = (now - 120) // 120 * 120  # buckets align to UNIX time
    submit(api_client,
           series(ok, [(start + 10, 3.0), (start + 70, 1.0)], ["agent_id:a1"], kind=COUNT),
           series(failed, [(start + 20, 1.0)], ["agent_id:a1"], kind=COUNT))
    queries = [MetricsTimeseriesQuery(data_source=MetricsDataSource.METRICS, name="s", query=f"sum:{ok}{{*}}.as_count()"),
               MetricsTimeseriesQuery(data_source=MetricsDataSource.METRICS, name="f", query=f"sum:{failed}{{*}}.as_count()")]
    body = TimeseriesFormulaQueryRequest(data=TimeseriesFormulaRequest(
        type=TimeseriesFormulaRequestType.TIMESERIES_REQUEST,
        attributes=TimeseriesFormulaRequestAttributes(
            _from=start * 1000, to=now * 1000, interval=120_000,
            queries=TimeseriesFormulaRequestQueries(queries), formulas=[QueryFormula(formula="s / (s + f) * 100")])))
    attrs = MetricsApi(api_client).query_timeseries_data(body=body).data.attributes
    assert plain(attrs) == ([start * 1000], [[80.0]])

    scalar = ScalarFormulaQueryRequest(data=ScalarFormulaRequest(
        type=ScalarFormulaRequestType.SCALAR_REQUEST,
        attributes=ScalarFormulaRequestAttributes(_from=start * 1000, to=now * 1000, queries=ScalarFormulaRequestQueries([
            MetricsScalarQuery(data_source=MetricsDataSource.METRICS, name="s", aggregator=MetricsAggregator.SUM,
                               query=f"sum:{ok}{{*}} by {{agent_id}}.as_count()")]))))
    columns = MetricsApi(api_client).query_scalar_data(body=scalar).data.attributes.columns
    assert [c.name for c in columns] == ["agent_id", "s"]
    assert columns[0].values == [["a1"]] and columns[1].values == [4.0]


def test_v2_queries_without_a_name_are_answered_but_no_formula_can_name_them(api_client: ApiClient,
                                                                            now: int) -> None:
    """`name` is optional in the spec (2.62.0's MetricsTimeseriesQuery / MetricsScalarQuery): an unnamed query is
    answered under its place; a formula over names no query has (the QueryScalarData example's `a+b` over one
    unnamed query) is a 400 naming the unknown name, not a guess."""
    metric = unique("unnamed")
    start = (now - 120) // 60 * 60
    submit(api_client, series(metric, [(start + 10, 2.0), (start + 70, 4.0)], ["env:a"]))
    attributes = TimeseriesFormulaRequestAttributes(
        _from=start * 1000, to=now * 1000, interval=60_000, queries=TimeseriesFormulaRequestQueries([
            MetricsTimeseriesQuery(data_source=MetricsDataSource.METRICS, query=f"avg:{metric}{{*}} by {{env}}")]))
    body = TimeseriesFormulaQueryRequest(data=TimeseriesFormulaRequest(
        type=TimeseriesFormulaRequestType.TIMESERIES_REQUEST, attributes=attributes))
    answer = MetricsApi(api_client).query_timeseries_data(body=body).data.attributes
    assert plain(answer) == ([start * 1000, (start + 60) * 1000], [[2.0, 4.0]])
    assert [list(s.group_tags.value) for s in answer.series.value] == [["env:a"]]

    scalar = ScalarFormulaRequestAttributes(_from=start * 1000, to=now * 1000, queries=ScalarFormulaRequestQueries([
        MetricsScalarQuery(data_source=MetricsDataSource.METRICS, aggregator=MetricsAggregator.AVG,
                           query=f"avg:{metric}{{*}} by {{env}}")]))
    request = ScalarFormulaQueryRequest(data=ScalarFormulaRequest(type=ScalarFormulaRequestType.SCALAR_REQUEST,
                                                                  attributes=scalar))
    columns = MetricsApi(api_client).query_scalar_data(body=request).data.attributes.columns
    assert [c.name for c in columns] == ["env", "data.attributes.queries[0]"] and columns[1].values == [3.0]

    scalar.formulas = [QueryFormula(formula="a+b")]
    with pytest.raises(ApiException) as info:
        MetricsApi(api_client).query_scalar_data(body=request)
    assert info.value.status == 400 and "'a'" in info.value.body["errors"][0]


def test_distribution_points_are_refused_loudly_and_nothing_is_stored(session_sandbox: SandboxServer,
                                                                        api_client: ApiClient, now: int) -> None:
    """The sandbox has no distribution type: submit_distribution_points is a 400 saying so and what to send instead
    (issue 12: refused loudly, not kept as something that answers count: or p95: wrong)."""
    metric = unique("dist")
    body = DistributionPointsPayload(series=[DistributionPointsSeries(
        metric=metric, points=[DistributionPoint([float(now), [1.0, 2.0, 3.0]])], tags=["env:test"])])
    with pytest.raises(ApiException) as info:
        MetricsApiV1(api_client).submit_distribution_points(body=body)
    assert info.value.status == 400
    message = info.value.body["errors"][0]
    assert "not supported by the sandbox" in message and "DogStatsD" in message and "/api/v2/series" in message
    assert v1_points(api_client, f"avg:{metric}{{*}}", now - 60, now + 60) == {}
    reply = raw_post(session_sandbox, "/api/v1/distribution_points", zlib.compress(orjson.dumps(body.to_dict())),
                     {"Content-Encoding": "deflate"})
    assert reply.status == 400 and "distribution" in reply.json()["errors"][0].lower()


# ------------------------------------------------------------------------------------------ auth
def test_validate_checks_the_api_key(session_sandbox: SandboxServer) -> None:
    with client_for(session_sandbox) as client:
        assert AuthenticationApi(client).validate().valid is True
    with client_for(session_sandbox, api_key="0" * 32) as client:
        with pytest.raises(ForbiddenException) as info:
            AuthenticationApi(client).validate()
    assert info.value.status == 403 and info.value.body == {"errors": ["Forbidden"]}


def test_missing_api_key_is_refused_with_datadog_message(session_sandbox: SandboxServer) -> None:
    response = urllib3.request("GET", session_sandbox.url + "/api/v1/validate", retries=False)
    assert response.status == 403 and response.json() == {"errors": ["API key required"]}


@pytest.mark.parametrize("app_key", ["", "f" * 40])
def test_queries_need_the_application_key(session_sandbox: SandboxServer, now: int, app_key: str) -> None:
    headers = {"DD-API-KEY": session_sandbox.config.api_key}
    if app_key:
        headers["DD-APPLICATION-KEY"] = app_key
    response = urllib3.request("GET", session_sandbox.url + "/api/v1/query", headers=headers, retries=False,
                               fields={"from": now - 60, "to": now, "query": "avg:x{*}"})
    assert response.status == 403 and "errors" in response.json()


def test_submission_with_a_wrong_api_key_stores_nothing(session_sandbox: SandboxServer, api_client: ApiClient,
                                                        now: int) -> None:
    metric = unique("wrongkey")
    with client_for(session_sandbox, api_key="1" * 32) as client:
        with pytest.raises(ForbiddenException):
            submit(client, series(metric, [(now - 5, 1.0)]))
    assert v1_points(api_client, f"avg:{metric}{{*}}", now - 60, now) == {}


# ------------------------------------------------------------------------------------------ bad input
def test_payload_over_512_kb_is_refused_with_413(api_client: ApiClient, now: int) -> None:
    metric = unique("big")
    big = series(metric, [(now - 3000 + i % 3000, float(i)) for i in range(15_000)], ["env:demo"])
    with pytest.raises(ApiException) as info:
        submit(api_client, big)
    assert info.value.status == 413 and "errors" in info.value.body
    assert v1_points(api_client, f"avg:{metric}{{*}}", now - 3600, now) == {}


def test_decompression_bomb_is_refused_with_413(session_sandbox: SandboxServer) -> None:
    raw = b'{"series": [' + b" " * 6_000_000 + b"]}"
    body = gzip.compress(raw)
    assert len(body) < 512_000
    response = raw_post(session_sandbox, "/api/v2/series", body, {"Content-Encoding": "gzip"})
    assert response.status == 413 and "decompressed" in response.json()["errors"][0]


def bad_payloads(now: int) -> list[tuple[str, bytes, dict[str, str], str]]:
    good = {"metric": "test.bad.ok", "points": [{"timestamp": now - 5, "value": 1.0}]}

    def body(*extra: dict) -> bytes:
        return orjson.dumps({"series": [good, *extra]})

    return [
        ("not json", b"{series", {}, "Invalid JSON"),
        ("no series", b"{}", {}, "'series'"),
        ("string value", body({"metric": "test.bad.x", "points": [{"timestamp": now, "value": "high"}]}), {},
         "series[1].points[0].value"),
        ("float timestamp", body({"metric": "test.bad.x", "points": [{"timestamp": now + 0.5, "value": 1}]}), {},
         "series[1].points[0].timestamp"),
        ("bad type", body({"metric": "test.bad.x", "type": 9, "points": [{"timestamp": now, "value": 1}]}), {},
         "series[1].type"),
        ("no metric", body({"points": [{"timestamp": now, "value": 1}]}), {}, "series[1].metric"),
        ("too old", body({"metric": "test.bad.x", "points": [{"timestamp": now - 7200, "value": 1}]}), {},
         "more than 1 hour in the past"),
        ("future", body({"metric": "test.bad.x", "points": [{"timestamp": now + 3600, "value": 1}]}), {},
         "in the future"),
        ("corrupt gzip", b"\x1f\x8b\x08\x00garbage-that-is-not-deflate", {"Content-Encoding": "gzip"}, "gzip data"),
        ("truncated deflate", zlib.compress(body())[:-6], {"Content-Encoding": "deflate"}, "deflate"),
        ("unknown encoding", body(), {"Content-Encoding": "br"}, "Unsupported Content-Encoding"),
    ]


@pytest.mark.parametrize("case", range(11))
def test_bad_payloads_get_400_and_store_nothing(session_sandbox: SandboxServer, api_client: ApiClient,
                                                now: int, case: int) -> None:
    name, body, headers, fragment = bad_payloads(now)[case]
    before = session_sandbox.sandbox.store.count_points()
    response = raw_post(session_sandbox, "/api/v2/series", body, headers)
    assert response.status == 400, name
    assert fragment in response.json()["errors"][0], (name, response.json())
    assert session_sandbox.sandbox.store.count_points() == before, f"{name}: a partial payload was stored"


def test_late_data_is_accepted_for_enabled_metrics(api_client: ApiClient, now: int) -> None:
    metric = f"test.late.{uuid.uuid4().hex[:8]}"  # the session sandbox enables late data for test.late.*
    submit(api_client, series(metric, [(now - 7200, 2.0)]))
    assert v1_points(api_client, f"avg:{metric}{{*}}", now - 7300, now) == {(): [(now - 7200, 2.0)]}


@pytest.mark.parametrize("query, fragment", [
    ("avg:x{*", "Error parsing query"),
    ("anomalies(avg:x{*}, 'basic', 2)", "anomalies"),
    ("avg:x{$env}", "$env"),
])
def test_bad_queries_get_400_naming_the_problem(api_client: ApiClient, now: int, query: str, fragment: str) -> None:
    with pytest.raises(ApiException) as info:
        MetricsApiV1(api_client).query_metrics(_from=now - 60, to=now, query=query)
    assert info.value.status == 400
    assert fragment in info.value.body["errors"][0]


def test_v2_query_with_wrong_type_is_refused_like_datadog(session_sandbox: SandboxServer, now: int) -> None:
    body = orjson.dumps({"data": {"type": "scalar_request", "attributes": {"from": 0, "to": 1, "queries": []}}})
    response = urllib3.request("POST", session_sandbox.url + "/api/v2/query/timeseries", body=body, retries=False,
                               headers={"DD-API-KEY": session_sandbox.config.api_key, "Content-Type": "application/json",
                                        "DD-APPLICATION-KEY": session_sandbox.config.app_key})
    assert response.status == 400
    assert response.json() == {"errors": ['API input validation failed: Invalid type. Expected "timeseries_request".']}


def test_unknown_route_answers_404_with_errors_body(session_sandbox: SandboxServer) -> None:
    response = urllib3.request("GET", session_sandbox.url + "/api/v1/nothing-here", retries=False,
                               headers={"DD-API-KEY": session_sandbox.config.api_key})
    assert response.status == 404 and response.json() == {"errors": ["Not found"]}
