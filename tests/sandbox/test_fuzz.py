"""Malformed input against the running sandbox: a 4xx in the API's error shape, never a 500, nothing half stored.

Two parts. Regression tests, one parametrized case per kind of 500 a probe found (each answered 500 before its
fix): wrong JSON types where a number, a string or an object belongs, numbers `str.isdigit()` takes and `int()`
refuses ('²'), integers past 64 bits or past the year 9999, queries nested thousands deep, workflow step
parameters of the wrong type. Then property tests (hypothesis) that mutate valid bodies and query strings of each
product's endpoints (wrong types at every field, deleted fields, huge and odd numbers, unicode digits, deep but
storable nesting) and check, for every example: status < 500; a 4xx carries the API's error body (v1
`{"errors": [str]}`, JSON:API `{"errors": [{status, title, detail}]}`, Workflow Automation `{"errors":
[{detail}]}`); a refused batch stored nothing; the server logged no internal error and still answers afterwards.

The fuzz has its own sandbox (module scope): what it gets accepted (monitors, workflows, projects with any key,
cases) stays out of the session's, and the stored counts it compares have no other writer. Generation is
derandomized, so a run passes or fails the same way every time.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Literal
from urllib.parse import quote, urlencode

import msgpack
import pytest
import urllib3
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from autonomic_lib.sandbox.automation.cases import STANDARD_TYPE_ID
from autonomic_lib.sandbox.server import SandboxServer
from tests.conftest import start_sandbox

Style = Literal["v1", "jsonapi", "detail"]
Json = Any
EXPLORE = int(os.environ.get("AUTONOMIC_FUZZ_EXAMPLES") or 0)


def fuzz(examples: int = 60) -> settings:
    """`examples` derandomized examples (the same ones every run, so CI cannot flake on a rare one); set
    AUTONOMIC_FUZZ_EXAMPLES=2000 for that many random ones instead, to search further by hand."""
    return settings(max_examples=EXPLORE or examples, derandomize=not EXPLORE, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


HTTP = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(total=30))


# ---------------------------------------------------------------------------------------------------- plumbing
@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    server = start_sandbox(tmp_path_factory.mktemp("fuzz"), late_data=("fuzz.late.*",))
    yield server
    server.stop()


class _Errors(logging.Handler):
    """Collects what the sandbox logs as an internal error (a 500's traceback): no input may lead there."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("internal error"):
            self.records.append(record)


@pytest.fixture(autouse=True)
def no_internal_error(server: SandboxServer, request: pytest.FixtureRequest) -> Iterator[_Errors]:
    """After each test: nothing reached the sandbox's last resort, and the server still answers (an xfail test is
    one whose 500 lands separately: only the answer is checked)."""
    handler = _Errors()
    logger = logging.getLogger("autonomic_lib.sandbox")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
    if request.node.get_closest_marker("xfail") is None:
        assert [r.getMessage() for r in handler.records] == []
    assert send(server, "GET", "/api/v1/validate")[0] == 200


def send(server: SandboxServer, method: str, path: str, body: Json = None, *, data: bytes | None = None,
         params: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> tuple[int, Json]:
    """One request with both keys (and `headers`); `body` is written by the stdlib (integers past 64 bits, which
    orjson refuses), `data` sent as given. A fresh connection each time, so a 500 (which closes it) cannot fail the
    next request."""
    headers = {"Content-Type": "application/json", "DD-API-KEY": server.config.api_key,
               "DD-APPLICATION-KEY": server.config.app_key, "Connection": "close", **(headers or {})}
    if body is not None:
        data = json.dumps(body).encode()
    url = server.url + path + ("?" + urlencode(params) if params else "")
    response = HTTP.request(method, url, body=data, headers=headers)
    try:
        answer = json.loads(response.data) if response.data else None
    except ValueError:
        answer = response.data
    return response.status, answer


def assert_refusal_shape(status: int, answer: Json, style: Style) -> None:
    """Not a 500; a 4xx carries Datadog's error body for the API (http/routing.py's error styles)."""
    assert status < 500, (status, answer)
    if status < 400:
        return
    assert isinstance(answer, dict) and isinstance(answer.get("errors"), list) and answer["errors"], answer
    for error in answer["errors"]:
        if style == "v1":
            assert isinstance(error, str) and error, answer
        elif style == "jsonapi":
            assert isinstance(error, dict) and error.get("status") == str(status), answer
            assert isinstance(error.get("title"), str) and isinstance(error.get("detail"), str), answer
        else:
            assert isinstance(error, dict) and isinstance(error.get("detail"), str) and error["detail"], answer


def refused(server: SandboxServer, method: str, path: str, body: Json = None, *, style: Style = "v1",
            data: bytes | None = None, params: dict[str, str] | None = None) -> str:
    """Send, expect a 400 in the API's error shape; returns the error text (every error, joined)."""
    status, answer = send(server, method, path, body, data=data, params=params)
    assert status == 400, (status, answer)
    assert_refusal_shape(status, answer, style)
    return " ".join(e if isinstance(e, str) else e["detail"] for e in answer["errors"])


def now() -> int:
    return int(time.time()) // 60 * 60 - 60


def name(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:10]}"


def count(server: SandboxServer, kind: str) -> int:
    """Stored documents of a kind (`log`, `event`, `monitor`, `workflow`, `case`)."""
    return server.sandbox.documents.count(kind)


# ---------------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def project(server: SandboxServer) -> str:
    status, answer = send(server, "POST", "/api/v2/cases/projects",
                          {"data": {"type": "project", "attributes": {"key": "FUZZ", "name": "Fuzz"}}})
    assert status == 201, answer
    return str(answer["data"]["id"])


def case_body(project: str) -> Json:
    return {"data": {"type": "case", "attributes": {"title": "fuzz", "type_id": STANDARD_TYPE_ID, "priority": "P3",
                                                     "description": "d", "custom_attributes": {"a": 1}},
                     "relationships": {"project": {"data": {"id": project, "type": "project"}},
                                       "assignee": {"data": {"id": "u1", "type": "user"}}}}}


@pytest.fixture(scope="module")
def case(server: SandboxServer, project: str) -> str:
    status, answer = send(server, "POST", "/api/v2/cases", case_body(project))
    assert status == 201, answer
    return str(answer["data"]["id"])


def workflow_body(steps: list[Json], *, inputs: Json = None) -> Json:
    spec: dict[str, Any] = {"triggers": [{"apiTrigger": {}, "startStepNames": [steps[0]["name"]]}], "steps": steps}
    if inputs is not None:
        spec["inputSchema"] = {"parameters": inputs}
    return {"data": {"type": "workflows", "attributes": {"name": name("fuzz"), "published": True, "spec": spec}}}


def step(action: str, **parameters: Json) -> Json:
    return {"name": "Only", "actionId": f"com.datadoghq.{action}",
            "parameters": [{"name": k, "value": v} for k, v in parameters.items()]}


def run_once(server: SandboxServer, steps: list[Json], payload: Json = None) -> Json:
    """Create the workflow, run it once through the API and return the finished instance's attributes."""
    status, answer = send(server, "POST", "/api/v2/workflows", workflow_body(steps))
    assert status == 201, answer
    workflow = answer["data"]["id"]
    try:
        status, answer = send(server, "POST", f"/api/v2/workflows/{workflow}/instances",
                              {"meta": {"payload": payload or {}}})
        assert status == 200, answer
        status, answer = send(server, "GET", f"/api/v2/workflows/{workflow}/instances/{answer['data']['id']}")
        assert status == 200, answer
        return answer["data"]["attributes"]
    finally:
        send(server, "DELETE", f"/api/v2/workflows/{workflow}")


# ------------------------------------------------------------------------------------------ regressions: metrics
def _v2_series(**fields: Json) -> Json:
    return {"series": [{"metric": name("fuzz.m"), "type": 3, "points": [{"timestamp": now(), "value": 1.0}],
                        **fields}]}


def _v1_series(**fields: Json) -> Json:
    return {"series": [{"metric": name("fuzz.m"), "type": "gauge", "points": [[now(), 1.0]], **fields}]}


SERIES_500S = [  # (case, path, body, what the 400 names): each was a 500 before
    ("v2 type {}", "/api/v2/series", _v2_series(type={}), "series[0].type"),
    ("v2 type [3]", "/api/v2/series", _v2_series(type=[3]), "series[0].type"),
    ("v1 type {}", "/api/v1/series", _v1_series(type={}), "series[0].type"),
    ("v1 type ['gauge']", "/api/v1/series", _v1_series(type=["gauge"]), "series[0].type"),
    ("v2 value [1, 2]", "/api/v2/series", _v2_series(points=[{"timestamp": now(), "value": [1, 2]}]),
     "points[0].value"),
    ("v2 value [1] after a number", "/api/v2/series",
     _v2_series(points=[{"timestamp": now(), "value": 1}, {"timestamp": now() - 60, "value": [1]}]), "points[1].value"),
    ("v1 value [1, 2]", "/api/v1/series", _v1_series(points=[[now(), [1, 2]]]), "points[0].value"),
    ("v2 timestamp [t, t]", "/api/v2/series", _v2_series(points=[{"timestamp": [now(), now()], "value": 1}]),
     "points[0].timestamp"),
    ("v1 timestamp []", "/api/v1/series", _v1_series(points=[[[], 1.0]]), "points[0].timestamp"),
    ("v2 interval 2**63", "/api/v2/series", _v2_series(interval=2**63), "series[0].interval"),
    ("v1 interval 10**19", "/api/v1/series", _v1_series(interval=10**19), "series[0].interval"),
]


@pytest.mark.parametrize(("path", "body", "named"), [c[1:] for c in SERIES_500S], ids=[c[0] for c in SERIES_500S])
def test_a_malformed_series_is_a_400_naming_the_field_and_stores_nothing(server: SandboxServer, path: str,
                                                                         body: Json, named: str) -> None:
    before = server.sandbox.store.count_points()
    assert named in refused(server, "POST", path, body)
    assert server.sandbox.store.count_points() == before


def test_a_v1_timestamp_past_the_year_9999_is_refused_not_wrapped(server: SandboxServer) -> None:
    """`[1e308, 1]` was cast to int64's minimum (a RuntimeWarning, an error under pytest) for a late-data metric."""
    body = {"series": [{"metric": name("fuzz.late"), "points": [[1e308, 1.0]]}]}
    assert "0 to 253402300799" in refused(server, "POST", "/api/v1/series", body)


QUERY_500S = [  # GET /api/v1/query parameters
    ("to=10**20", {"to": str(10**20)}, "'to'"),
    ("from=-10**20", {"from": str(-10**20)}, "'from'"),
    ("3000 nested -", {"query": "-" * 3000 + "avg:fuzz.q{*}"}, "nested more than 100 levels"),
    ("3000 binary -", {"query": "-".join(["1"] * 3000)}, "nested more than 100 levels"),
    ("3000 nested calls", {"query": "abs(" * 3000 + "avg:fuzz.q{*}" + ")" * 3000}, "nested more than 100 levels"),
    ("3000 nested !", {"query": "avg:fuzz.q{" + "!" * 3000 + "a:b}"}, "nested more than 100 levels"),
    ("3000 nested ( in a scope", {"query": "avg:fuzz.q{" + "(" * 3000 + "a:b" + ")" * 3000 + "}"},
     "nested more than 100 levels"),
    ("3000 nested NOT", {"query": "avg:fuzz.q{" + "NOT " * 3000 + "a:b}"}, "nested more than 100 levels"),
    ("rollup 10**20 s", {"query": "avg:fuzz.q{*}.rollup(avg, 100000000000000000000)"}, "rollup interval"),
]


@pytest.fixture(scope="module")
def queried(server: SandboxServer) -> str:
    """The metric the queries read, with a point (a query of a metric without data never reaches the store)."""
    body = {"series": [{"metric": "fuzz.q", "type": 3, "points": [{"timestamp": now() - 120, "value": 1.0}],
                        "tags": ["env:a", "host:b"]}]}
    assert send(server, "POST", "/api/v2/series", body)[0] == 202
    return "fuzz.q"


@pytest.mark.parametrize(("params", "named"), [c[1:] for c in QUERY_500S], ids=[c[0] for c in QUERY_500S])
def test_a_malformed_v1_query_is_a_400_naming_the_parameter(server: SandboxServer, queried: str,
                                                            params: dict[str, str], named: str) -> None:
    base = {"from": str(now() - 600), "to": str(now()), "query": "avg:fuzz.q{*}"}
    assert named in refused(server, "GET", "/api/v1/query", params={**base, **params})


def _formula_request(kind: str, **attributes: Json) -> Json:
    return {"data": {"type": kind, "attributes": {
        "from": (now() - 600) * 1000, "to": now() * 1000,
        "queries": [{"data_source": "metrics", "name": "a", "query": "avg:fuzz.q{*}"}], **attributes}}}


V2_QUERY_500S = [
    ("timeseries 3000 nested - formula", "timeseries",
     _formula_request("timeseries_request", formulas=[{"formula": "-" * 3000 + "a"}]), "nested more than 100"),
    ("scalar 3000 nested query", "scalar",
     _formula_request("scalar_request", queries=[{"data_source": "metrics", "name": "a",
                                                   "query": "-" * 3000 + "avg:fuzz.q{*}"}]), "nested more than 100"),
    ("scalar name 3", "scalar",  # an absent name is fine (optional in the spec), one of the wrong type is not
     _formula_request("scalar_request", queries=[{"data_source": "metrics", "name": 3, "query": "avg:fuzz.q{*}"}]),
     "queries[0]"),
    ("timeseries formula over an unnamed query", "timeseries",
     _formula_request("timeseries_request", formulas=[{"formula": "a * 2"}],
                      queries=[{"data_source": "metrics", "query": "avg:fuzz.q{*}"}]), "'a'"),
]


@pytest.mark.parametrize(("kind", "body", "named"), [c[1:] for c in V2_QUERY_500S], ids=[c[0] for c in V2_QUERY_500S])
def test_a_malformed_v2_query_is_a_400_naming_the_field(server: SandboxServer, kind: str, body: Json,
                                                        named: str) -> None:
    assert named in refused(server, "POST", f"/api/v2/query/{kind}", body)


# ------------------------------------------------------------------------------------- regressions: logs, events
EVENT_500S = [
    ("date_happened 10**17", {"date_happened": 10**17}, "'date_happened'"),
    ("date_happened 2**63", {"date_happened": 2**63}, "'date_happened'"),
]


@pytest.mark.parametrize(("fields", "named"), [c[1:] for c in EVENT_500S], ids=[c[0] for c in EVENT_500S])
def test_a_malformed_event_is_a_400_naming_the_field(server: SandboxServer, fields: Json, named: str) -> None:
    before = count(server, "event")
    assert named in refused(server, "POST", "/api/v1/events", {"title": "fuzz", "text": "t", **fields})
    assert count(server, "event") == before


def test_an_event_without_date_happened_but_null_happens_now(server: SandboxServer) -> None:
    """`"date_happened": null` compared None with an integer (a 500); null means "now", like a missing field."""
    status, answer = send(server, "POST", "/api/v1/events", {"title": "fuzz", "text": "t", "date_happened": None})
    assert status == 202 and abs(answer["event"]["date_happened"] - time.time()) < 60


PARAM_500S = [  # (case, path, parameters, what the 400 names)
    ("events start=²", "/api/v1/events", {"start": "²", "end": "10"}, "'start'"),
    ("events end=-²", "/api/v1/events", {"start": "1", "end": "-²"}, "'end'"),
    ("events start=2**63", "/api/v1/events", {"start": str(2**63), "end": "10"}, "'start'"),
    ("events page=²", "/api/v1/events", {"start": "1", "end": "10", "page": "²"}, "'page'"),
    ("logs page[limit]=²", "/api/v2/logs/events", {"page[limit]": "²"}, "'page[limit]'"),
    ("logs filter[from]=²", "/api/v2/logs/events", {"filter[from]": "²"}, "filter.from"),
    ("snapshot start=²", "/api/v1/graph/snapshot", {"start": "²", "end": "10", "metric_query": "avg:a{*}"},
     "'start'"),
    ("snapshot start=-²", "/api/v1/graph/snapshot", {"start": "-²", "end": "10", "metric_query": "avg:a{*}"},
     "'start'"),
    ("snapshot width=²", "/api/v1/graph/snapshot",
     {"start": "1", "end": "10", "metric_query": "avg:a{*}", "width": "²"}, "'width'"),
    ("snapshot end=10**20", "/api/v1/graph/snapshot", {"start": "1", "end": str(10**20), "metric_query": "avg:a{*}"},
     "'end'"),
    ("cases page[number]=10**20", "/api/v2/cases", {"page[number]": str(10**20)}, "'page[number]'"),
]


@pytest.mark.parametrize(("path", "params", "named"), [c[1:] for c in PARAM_500S], ids=[c[0] for c in PARAM_500S])
def test_a_malformed_query_parameter_is_a_400_naming_it(server: SandboxServer, path: str, params: dict[str, str],
                                                        named: str) -> None:
    style: Style = "jsonapi" if path.startswith("/api/v2/cases") else "v1"
    assert named in refused(server, "GET", path, params=params, style=style)


LOG_SEARCH_500S = [
    ("filter.from ²", {"filter": {"from": "²"}}, "filter.from"),
    ("filter.to ²", {"filter": {"to": "²"}}, "filter.to"),
    ("3000 nested (", {"filter": {"query": "(" * 3000 + "a" + ")" * 3000}}, "nested more than 100"),
    ("3000 nested -", {"filter": {"query": "-" * 3000 + "a"}}, "nested more than 100"),
    ("3000 nested NOT", {"filter": {"query": "NOT " * 3000 + "a"}}, "nested more than 100"),
]


@pytest.mark.parametrize(("body", "named"), [c[1:] for c in LOG_SEARCH_500S], ids=[c[0] for c in LOG_SEARCH_500S])
def test_a_malformed_log_search_is_a_400_naming_the_problem(server: SandboxServer, body: Json, named: str) -> None:
    assert named in refused(server, "POST", "/api/v2/logs/events/search", body)


@pytest.mark.parametrize("field", ["timestamp", "date"])
def test_a_log_time_in_unicode_digits_is_refused_or_kept_as_an_attribute(server: SandboxServer, field: str) -> None:
    """`"timestamp": "²"` passed isdigit() and failed int() (a 500); other date attributes stay attributes."""
    before = count(server, "log")
    status, answer = send(server, "POST", "/api/v2/logs", [{"message": "fuzz", field: "²"}])
    assert_refusal_shape(status, answer, "jsonapi")
    assert (status, count(server, "log")) == ((400, before) if field == "timestamp" else (202, before + 1))


# ------------------------------------------------------------------------------------ regressions: monitors, dash
def _monitor(**fields: Json) -> Json:
    return {"type": "query alert", "name": name("fuzz"), "message": "m",
            "query": "avg(last_5m):avg:fuzz.mon{*} > 1", **fields}


MONITOR_500S = [
    ("type {}", _monitor(type={}), "'type'"),
    ("type [1]", _monitor(type=["query alert"]), "'type'"),
    ("options [null]", _monitor(options=[None]), "'options'"),
    ("thresholds [1]", _monitor(options={"thresholds": [1]}), "'options.thresholds'"),
    ("threshold_windows [null]", _monitor(
        query="avg(last_1h):anomalies(avg:fuzz.mon{*}, 'basic', 2, alert_window='last_15m') >= 1",
        options={"thresholds": {"critical": 1}, "threshold_windows": [None]}), "threshold_windows"),
    ("3000 nested - in the query", _monitor(query="avg(last_5m):" + "-" * 3000 + "avg:fuzz.mon{*} > 1"),
     "nested more than 100"),
]


@pytest.mark.timeout(20)
@pytest.mark.parametrize(("query", "named"), [
    ("avg(last_9999999999m):avg:fuzz.mon{*} > 1", "bad window"),
    ("avg(last_5m):avg:fuzz.mon{*}.rollup(avg, 100000000000000000000) > 1", "rollup interval")])
def test_a_monitor_window_or_rollup_past_a_month_or_a_year_is_refused(server: SandboxServer, query: str,
                                                                      named: str) -> None:
    """Not a 500 but worse: `last_9999999999m` was accepted and its evaluation never ended (the evaluator, and
    POST /sandbox/evaluate, hung); a rollup past 64 bits failed every evaluation. Windows are at most a month
    (Datadog's longest rolling window), rollups at most a year."""
    assert named in refused(server, "POST", "/api/v1/monitor", _monitor(query=query))


@pytest.mark.parametrize(("body", "named"), [c[1:] for c in MONITOR_500S], ids=[c[0] for c in MONITOR_500S])
def test_a_malformed_monitor_is_a_400_naming_the_field(server: SandboxServer, body: Json, named: str) -> None:
    before = count(server, "monitor")
    assert named in refused(server, "POST", "/api/v1/monitor", body)
    assert count(server, "monitor") == before


def _dashboard(**fields: Json) -> Json:
    return {"title": "fuzz", "layout_type": "ordered",
            "widgets": [{"definition": {"type": "timeseries", "requests": [{"q": "avg:a{*}"}]}}], **fields}


DASHBOARD_500S = [
    ("template_variables 1.5", _dashboard(template_variables=1.5), "template_variables"),
    ("widget type [1]", _dashboard(widgets=[{"definition": {"type": ["timeseries"], "requests": []}}]), "type"),
    ("requests []", _dashboard(widgets=[{"definition": {"type": "timeseries", "requests": []}}]), "requests"),
]


@pytest.mark.parametrize(("body", "named"), [c[1:] for c in DASHBOARD_500S], ids=[c[0] for c in DASHBOARD_500S])
def test_a_malformed_dashboard_is_a_400_naming_the_field(server: SandboxServer, body: Json, named: str) -> None:
    assert named in refused(server, "POST", "/api/v1/dashboard", body)


@pytest.fixture(scope="module")
def anomaly_monitor(server: SandboxServer) -> int:
    """An anomaly monitor kept for the module: its history and band routes read their parameters."""
    query = "avg(last_1h):anomalies(avg:fuzz.band{*}, 'basic', 2, alert_window='last_15m') >= 1"
    status, answer = send(server, "POST", "/api/v1/monitor", _monitor(query=query, options={
        "thresholds": {"critical": 1}, "threshold_windows": {"trigger_window": "last_15m",
                                                             "recovery_window": "last_15m"}}))
    assert status == 200, answer
    return int(answer["id"])


@pytest.mark.timeout(30)
def test_an_anomaly_band_over_8000_years_is_refused(server: SandboxServer, anomaly_monitor: int) -> None:
    """GET /sandbox/monitors/{id}/band?from=0&to=253402300799 ran out of memory after 20 s (a 500)."""
    path = f"/sandbox/monitors/{anomaly_monitor}/band"
    assert "31 days" in refused(server, "GET", path, params={"from": "0", "to": "253402300799"})
    assert "31 days" in refused(server, "GET", path, params={"from": "20", "to": "10"})


# ---------------------------------------------------------------------------------- regressions: automation
WORKFLOW_500S = [
    ("inputSchema.parameters 1.5", workflow_body([step("core.noop")], inputs=1.5), "inputSchema"),
    ("input names [1] twice", workflow_body([step("core.noop")], inputs=[{"name": [1], "type": "STRING"}] * 2),
     "inputSchema"),
    ("outboundEdges 1.5", workflow_body([{**step("core.noop"), "outboundEdges": 1.5}]), "outboundEdges"),
    ("outboundEdges [[null, null]] (a 500 at its first run)",
     workflow_body([{**step("core.noop"), "outboundEdges": [[None, None]]}]), "outboundEdges[0]"),
    ("inputSchema [null] (a 500 at its first run)", {"data": {"type": "workflows", "attributes": {
        "name": "fuzz", "spec": {**workflow_body([step("core.noop")])["data"]["attributes"]["spec"],
                                 "inputSchema": [None]}}}}, "inputSchema"),
    ("input name null (a 500 at its first run)", workflow_body([step("core.noop")], inputs=[
        {"name": None, "type": "NUMBER", "defaultValue": 2}]), "inputSchema.parameters"),
    ("step parameter name null (a 500 at its first run)", workflow_body([
        {"name": "Only", "actionId": "com.datadoghq.core.echo", "parameters": [{"name": None, "value": 1}]}]),
     "steps[0].parameters"),
]


@pytest.mark.parametrize(("body", "named"), [c[1:] for c in WORKFLOW_500S], ids=[c[0] for c in WORKFLOW_500S])
def test_a_malformed_workflow_is_a_400_naming_the_field(server: SandboxServer, body: Json, named: str) -> None:
    before = count(server, "workflow")
    assert named in refused(server, "POST", "/api/v2/workflows", body, style="detail")
    assert count(server, "workflow") == before


STEP_500S = [  # a run whose step parameter has the wrong type fails that step, naming it (the run still answers)
    ("if comparisonOperator [1]", [step("core.if", conditions=[{"leftValue": 1, "comparisonOperator": [1],
                                                                 "rightValue": 1}])], "comparison operator"),
    ("if comparisonOperator {}", [step("core.if", conditions=[{"leftValue": 1, "comparisonOperator": {},
                                                                "rightValue": 1}])], "comparison operator"),
    ("searchCases page_size [1]", [step("dd.casem.searchCases", page_size=[1])], "page_size"),
    ("searchCases page_number 1e308", [step("dd.casem.searchCases", page_number=1e308)], "page_number"),
    ("createCase status [1]", [step("dd.casem.createCase", project_id="p", title="t", status=[1])], "status"),
    ("template index [²]", [step("core.echo", value="{{ Trigger.a.[²] }}")], None),
]


@pytest.mark.parametrize(("steps", "named"), [c[1:] for c in STEP_500S], ids=[c[0] for c in STEP_500S])
def test_a_step_parameter_of_the_wrong_type_fails_the_step_naming_it(server: SandboxServer, steps: list[Json],
                                                                     named: str | None) -> None:
    attributes = run_once(server, steps, payload={"a": [1, 2]})
    if named is None:  # not an index: the path does not resolve and renders empty, as Handlebars does
        assert attributes["instanceStatus"]["detailsKind"] == "SUCCEEDED", attributes
        assert attributes["steps"][0]["unresolved"] == ["Trigger.a.[²]"]
    else:
        assert attributes["instanceStatus"]["detailsKind"] == "FAILED", attributes
        assert named in attributes["failure"]["reason"]


@pytest.mark.parametrize("template", ["{{ . }}", "{{ Steps }}", "{{}}"])
def test_a_step_echoing_the_whole_context_stores_a_snapshot(server: SandboxServer, template: str) -> None:
    """`{{ . }}` put the live Steps dict inside the step's own output: a cycle JSON cannot write (a 500)."""
    attributes = run_once(server, [step("core.echo", value=template)])
    assert attributes["instanceStatus"]["detailsKind"] == "SUCCEEDED", attributes


def test_instance_paging_in_unicode_digits_is_a_400(server: SandboxServer) -> None:
    status, answer = send(server, "POST", "/api/v2/workflows", workflow_body([step("core.noop")]))
    assert status == 201
    path = f"/api/v2/workflows/{answer['data']['id']}/instances"
    assert "'page[size]'" in refused(server, "GET", path, params={"page[size]": "²"}, style="detail")
    assert "'page[number]'" in refused(server, "GET", path, params={"page[number]": "٣"}, style="detail")
    send(server, "DELETE", f"/api/v2/workflows/{answer['data']['id']}")


CASE_500S: list[tuple[str, Callable[[Json], None], str]] = [
    ("status [1]", lambda b: b["data"]["attributes"].update(status=[1]), "status"),
    ("status {}", lambda b: b["data"]["attributes"].update(status={}), "status"),
    ("relationships.project 'x'", lambda b: b["data"]["relationships"].update(project="x"), "project"),
    ("relationships.project.data 1.5", lambda b: b["data"]["relationships"].update(project={"data": 1.5}), "project"),
    ("relationships.assignee 'x'", lambda b: b["data"]["relationships"].update(assignee="x"), "assignee"),
    ("relationships.assignee.data []", lambda b: b["data"]["relationships"].update(assignee={"data": [1]}),
     "assignee"),
    ("custom_attributes 'x'", lambda b: b["data"]["attributes"].update(custom_attributes="x"), "custom_attributes"),
    ("custom_attributes 1.5", lambda b: b["data"]["attributes"].update(custom_attributes=1.5), "custom_attributes"),
]


@pytest.mark.parametrize(("mutate", "named"), [c[1:] for c in CASE_500S], ids=[c[0] for c in CASE_500S])
def test_a_malformed_case_is_a_400_naming_the_field(server: SandboxServer, project: str,
                                                    mutate: Callable[[Json], None], named: str) -> None:
    body = case_body(project)
    mutate(body)
    before = count(server, "case")
    assert named in refused(server, "POST", "/api/v2/cases", body, style="jsonapi")
    assert count(server, "case") == before


@pytest.mark.parametrize("status", [[1], {}, {"a": 1}])
def test_a_case_status_action_of_the_wrong_type_is_a_400(server: SandboxServer, case: str, status: Json) -> None:
    body = {"data": {"type": "case", "attributes": {"status": status}}}
    assert "status" in refused(server, "POST", f"/api/v2/cases/{case}/status", body, style="jsonapi")


@pytest.mark.parametrize("types", [1, 1.5])
def test_a_project_with_malformed_case_types_is_a_400(server: SandboxServer, types: Json) -> None:
    body = {"data": {"type": "project", "attributes": {"key": "FZT", "name": "p", "enabled_custom_case_types": types}}}
    assert "enabled_custom_case_types" in refused(server, "POST", "/api/v2/cases/projects", body, style="jsonapi")


# -------------------------------------------------------------------- ranges that were accepted, now named
BOUNDS = [  # not 500s: accepted before, though past what the storage or the clock holds, or in unicode digits
    ("v1 query from=٣", "GET", "/api/v1/query", None, {"from": "٣", "to": "10", "query": "avg:a{*}"}, "'from'"),
    ("timeseries to 2**63", "POST", "/api/v2/query/timeseries", _formula_request("timeseries_request", to=2**63),
     None, "data.attributes.to"),
    ("scalar from 10**19", "POST", "/api/v2/query/scalar", _formula_request("scalar_request", **{"from": 10**19}),
     None, "data.attributes.from"),
    ("timeseries interval 2**63", "POST", "/api/v2/query/timeseries",
     _formula_request("timeseries_request", interval=2**63), None, "data.attributes.interval"),
    ("event related_event_id 2**63", "POST", "/api/v1/events", {"title": "t", "text": "t", "related_event_id": 2**63},
     None, "'related_event_id'"),
    ("project case types 'CUSTOM'", "POST", "/api/v2/cases/projects", {"data": {"type": "project", "attributes": {
        "key": "FZT", "name": "p", "enabled_custom_case_types": "CUSTOM"}}}, None, "enabled_custom_case_types"),
]


@pytest.mark.parametrize(("method", "path", "body", "params", "named"), [c[1:] for c in BOUNDS],
                         ids=[c[0] for c in BOUNDS])
def test_a_number_out_of_range_is_a_400_naming_the_range(server: SandboxServer, method: str, path: str, body: Json,
                                                         params: dict[str, str] | None, named: str) -> None:
    style: Style = "jsonapi" if path.startswith("/api/v2/cases") else "v1"
    assert named in refused(server, method, path, body, params=params, style=style)


# ------------------------------------------------------------------------------------------ the last resort
@pytest.mark.parametrize(("path", "backend", "method", "style"), [
    ("/api/v1/monitor", "monitors", "search", "v1"),
    ("/api/v2/cases/projects", "automation.cases", "list_projects", "jsonapi"),
    ("/api/v2/workflows", "automation", "list_workflows", "detail"),
])
def test_a_bug_answers_500_in_the_apis_error_shape_and_is_logged(server: SandboxServer, monkeypatch: pytest.MonkeyPatch,
                                                                 no_internal_error: _Errors, path: str, backend: str,
                                                                 method: str, style: Style) -> None:
    """What no input may reach: a bug is a 500 in the API's own error shape (a client reads it as Datadog's),
    logged with its traceback, and the next request is served."""
    target: Any = server.sandbox
    for part in backend.split("."):
        target = getattr(target, part)

    def bug(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(target, method, bug)
    status, answer = send(server, "GET", path)
    assert status == 500
    detail = answer["errors"][0] if style == "v1" else answer["errors"][0]["detail"]
    assert detail == "Internal sandbox error: RuntimeError"
    if style == "jsonapi":
        assert answer["errors"][0]["status"] == "500" and answer["errors"][0]["title"] == "Internal Server Error"
    [record] = no_internal_error.records
    assert record.getMessage() == f"internal error on GET {path}" and record.exc_info is not None
    no_internal_error.records.clear()  # the one bug this test planted


# ------------------------------------------------------------------------- JSON too deep to store (size bounds)
def _nested(depth: int) -> Json:
    value: Json = 1
    for level in range(depth):
        value = [value] if level % 2 else {"a": value}
    return value


DEEP = _nested(300)  # parses (orjson reads 1024 levels) but cannot be written back (orjson writes 254)


@pytest.mark.parametrize(("path", "body", "style"), [
    ("/api/v1/monitor", _monitor(options={"x": DEEP}), "v1"),
    ("/api/v2/workflows", workflow_body([step("core.echo", value=DEEP)]), "detail"),
    ("/api/v2/logs", [{"message": "fuzz", "x": DEEP}], "jsonapi"),
    ("/api/v1/dashboard", _dashboard(x=DEEP), "v1"),
], ids=["monitor options", "workflow step parameter", "log attribute", "dashboard field"])
def test_json_nested_300_deep_is_a_400(server: SandboxServer, path: str, body: Json, style: Style) -> None:
    status, answer = send(server, "POST", path, body)
    assert_refusal_shape(status, answer, style)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------- hypothesis
ODD_TEXT = ["", " ", "²", "٣", "-²", "1e999", "NaN", "-0", "0x10", "1_000", "9" * 25, "-" + "9" * 25,
            "now-9999999999w", "{{ . }}", "{{ Steps }}", "{{ Trigger.a.[²] }}", "${1}", "((((", "-" * 150 + "1",
            "\x00", "x" * 5000, "avg:a{*}", "P1", "OPEN", "true", "2026-01-01T00:00:00Z", "9999-12-31T23:59:59-14:00"]
ODD_NUMBERS = [0, -1, 1, 2**31, 2**63 - 1, 2**63, 2**64 - 1, 10**17, 10**20, -(10**20), 10**400, 1e308, -1e308, -0.0,
               0.5, 5e-324]
SCALARS = st.one_of(st.none(), st.booleans(), st.sampled_from(ODD_NUMBERS), st.integers(),
                    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(ODD_TEXT), st.text(max_size=12))
ODD = st.sampled_from([*ODD_NUMBERS, *ODD_TEXT, [1, 2], [[]], [None], {}, {"a": {"b": [1]}}])
VALUES = st.one_of(ODD, SCALARS, st.lists(SCALARS, max_size=3),
                   st.dictionaries(st.text(max_size=6), SCALARS, max_size=3),
                   st.integers(2, 60).map(_nested))  # deeper bodies: test_json_nested_300_deep_is_a_400
PARAM_TEXT = st.one_of(st.sampled_from([*ODD_TEXT, *map(str, ODD_NUMBERS)]), st.integers().map(str),
                       st.text(st.characters(exclude_categories=["Cs"]), max_size=20))
Path = tuple[Any, ...]


def _paths(value: Json, prefix: Path = ()) -> list[Path]:
    """Every place in a JSON value (the root included), to mutate."""
    inner = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    return [prefix] + [p for key, child in inner for p in _paths(child, (*prefix, key))]


def _at(body: Json, path: Path) -> Json:
    for key in path:
        body = body[key]
    return body


@st.composite
def mutated(draw: st.DrawFn, base: Json) -> Json:
    """A valid body with 1-3 mutations: a field replaced by an odd value, deleted, or wrapped in an array."""
    body = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(body)))
        how = draw(st.sampled_from(["replace", "replace", "delete", "wrap"])) if path else "replace"
        new = copy.deepcopy(draw(VALUES)) if how == "replace" else [_at(body, path)]  # the odd values are shared
        if not path:
            body = new
        elif how == "delete":
            del _at(body, path[:-1])[path[-1]]
        else:
            _at(body, path[:-1])[path[-1]] = new
    return body


def _odd_params(names: list[str]) -> st.SearchStrategy[dict[str, str]]:
    return st.dictionaries(st.sampled_from(names), PARAM_TEXT, max_size=len(names))


def _check(server: SandboxServer, method: str, path: str, body: Json = None, *, style: Style = "v1",
           params: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> tuple[int, Json]:
    status, answer = send(server, method, path, body, params=params, headers=headers)
    assert_refusal_shape(status, answer, style)
    return status, answer


@pytest.mark.parametrize("version", [1, 2])
@fuzz()
@given(data=st.data())
def test_fuzz_series_intake(server: SandboxServer, version: int, data: st.DataObject) -> None:
    """A refused payload adds no point: every series is checked before anything is stored."""
    t = now()
    point: Json = [t, 1.5] if version == 1 else {"timestamp": t, "value": 1.5}
    series: Json = {"metric": name("fuzz.series"), "type": "gauge" if version == 1 else 3, "interval": 10,
                    "tags": ["env:fuzz"], "points": [point, copy.deepcopy(point)]}
    series.update({"host": "h1"} if version == 1 else {"unit": "byte", "resources": [{"name": "h1", "type": "host"}]})
    body = data.draw(mutated({"series": [series, {**copy.deepcopy(series), "metric": name("fuzz.series")}]}))
    before = server.sandbox.store.count_points()
    status, _ = _check(server, "POST", f"/api/v{version}/series", body)
    if status >= 400:
        assert server.sandbox.store.count_points() == before


@fuzz()
@given(data=st.data())
def test_fuzz_distribution_points(server: SandboxServer, data: st.DataObject) -> None:
    """Any body, well formed or not, is the same 400 saying distributions are unsupported, and stores nothing."""
    series: Json = {"metric": name("fuzz.dist"), "type": "distribution", "tags": ["env:fuzz"], "host": "h1",
                    "points": [[now(), [1.0, 2.5]], [now() - 10, [3.0]]]}
    before = server.sandbox.store.count_points()
    status, answer = _check(server, "POST", "/api/v1/distribution_points", data.draw(mutated({"series": [series]})))
    assert status == 400 and "not supported by the sandbox" in answer["errors"][0]
    assert server.sandbox.store.count_points() == before


QUERIES = ["avg:fuzz.q{env:a,host:b} by {host}", "sum:fuzz.q{*}.as_count().rollup(sum, 60)",
           "avg:fuzz.q{env:a AND NOT (host:b OR host:c)} / 2 - -avg:fuzz.r{*}", "max:fuzz.q{host:web-*}.fill(zero)"]
QUERY_BITS = ["(", ")", "{", "}", ",", ":", "*", "-", "+", "/", "!", " by ", ".rollup(", "avg:", " NOT ", " OR ",
              " IN ", "'", '"', "²", "٣", "1e999", "9" * 25, ".as_count()", "$env", "anomalies(", "abs(", "-" * 150,
              "(" * 150, "{" * 40, " ", ".", "last_5m", "e", "0", ".rollup(avg, 99999999999999999999)",
              "-" * 1200, "!" * 1200, "NOT " * 400, "abs(" * 400]
WINDOWS = ["last_5m", "last_1h", "last_0m", "last_٣m", "last_32d", "last_9999999999m", "current_1mo", "last_5x",
           "current_1h", "current_1d", "current_1w", "current_0d"]
SHIFTS = ["5m_ago", "1h_ago", "0m_ago", "٣m_ago", "99999999999d_ago", "last_1d", "current_1d", "5x_ago"]


@st.composite
def odd_query(draw: st.DrawFn) -> str:
    """A real query with 1-3 edits: a piece of query syntax (or an odd number) inserted, a slice cut out, or the
    whole nested in n unary minuses, function calls or parentheses (n about the bound, or far past it)."""
    text = draw(st.sampled_from(QUERIES))
    for _ in range(draw(st.integers(1, 3))):
        at, how = draw(st.integers(0, len(text))), draw(st.sampled_from(["nest", "insert", "cut", "insert"]))
        if how == "insert":
            text = text[:at] + draw(st.sampled_from(QUERY_BITS)) + text[at:]
        elif how == "cut":
            text = text[:at] + text[at + draw(st.integers(1, 5)):]
        else:
            depth, (opening, closing) = draw(st.sampled_from([1500, 101, 100, 99, 1])), draw(st.sampled_from(
                [("-", ""), ("abs(", ")"), ("(", ")"), ("-(", ")")]))
            text = opening * depth + text + closing * depth
    return text


@fuzz()
@given(query=st.one_of(odd_query(), odd_query(), PARAM_TEXT),
       times=st.one_of(st.just({}), _odd_params(["from", "to"])))  # odd times are refused before the query
def test_fuzz_v1_query_parameters(server: SandboxServer, queried: str, query: str,
                                  times: dict[str, str]) -> None:
    params = {"from": str(now() - 3600), "to": str(now()), "query": query, **times}
    _check(server, "GET", "/api/v1/query", params=params)


@pytest.mark.parametrize("kind", ["timeseries", "scalar"])
@fuzz()
@given(data=st.data())
def test_fuzz_v2_query_bodies(server: SandboxServer, queried: str, kind: str,
                              data: st.DataObject) -> None:
    body = _formula_request(f"{kind}_request", interval=60000, formulas=[{"formula": "a * 2 - b"}], queries=[
        {"data_source": "metrics", "name": "a", "query": data.draw(st.one_of(st.just(QUERIES[0]), odd_query())),
         "aggregator": "avg"},
        {"data_source": "metrics", "name": "b", "query": QUERIES[1], "aggregator": "sum"}])
    _check(server, "POST", f"/api/v2/query/{kind}", data.draw(mutated(body)))


@fuzz()
@given(data=st.data())
def test_fuzz_logs_intake(server: SandboxServer, data: st.DataObject) -> None:
    """A refused payload adds no log (one transaction)."""
    item = {"message": "fuzz", "service": "fuzz", "ddsource": "py", "ddtags": "env:fuzz,a:b", "hostname": "h1",
            "status": "error", "timestamp": now() * 1000, "date": now() * 1000, "attr": {"x": 1, "y": ["a"]}}
    body = data.draw(mutated([item, {**item, "message": "second"}]))
    before = count(server, "log")
    status, _ = _check(server, "POST", "/api/v2/logs", body, style="jsonapi")
    if status >= 400:
        assert count(server, "log") == before


@fuzz()
@given(data=st.data())
def test_fuzz_log_search(server: SandboxServer, data: st.DataObject) -> None:
    body = {"filter": {"query": "service:fuzz @attr.x:>0 -status:info (a OR b*)", "from": "now-15m", "to": "now",
                       "indexes": ["*"]}, "sort": "timestamp", "page": {"limit": 5}}
    _check(server, "POST", "/api/v2/logs/events/search", data.draw(mutated(body)))


@fuzz()
@given(data=st.data(), params=_odd_params(["filter[query]", "filter[from]", "filter[to]", "sort", "page[limit]",
                                           "page[cursor]"]))
def test_fuzz_log_list_parameters(server: SandboxServer, data: st.DataObject, params: dict[str, str]) -> None:
    _check(server, "GET", "/api/v2/logs/events", params=params)


@fuzz()
@given(data=st.data())
def test_fuzz_v1_log_list(server: SandboxServer, data: st.DataObject) -> None:
    body: Json = {"index": "main", "query": "service:fuzz* status:error", "sort": "asc", "limit": 10,
                  "time": {"from": "2026-01-01T00:00:00Z", "to": "now", "timezone": "Europe/Paris"}}
    _check(server, "POST", "/api/v1/logs-queries/list", data.draw(mutated(body)))


@fuzz()
@given(data=st.data())
def test_fuzz_event_post(server: SandboxServer, data: st.DataObject) -> None:
    body = {"title": "fuzz", "text": "text", "date_happened": now(), "priority": "normal", "host": "h1",
            "tags": ["env:fuzz"], "alert_type": "info", "aggregation_key": "k", "source_type_name": "fuzz",
            "related_event_id": 1, "device_name": "d"}
    before = count(server, "event")
    status, _ = _check(server, "POST", "/api/v1/events", data.draw(mutated(body)))
    if status >= 400:
        assert count(server, "event") == before  # the fuzz's sandbox has no monitor writing events


@fuzz()
@given(params=_odd_params(["start", "end", "page", "priority", "sources", "tags", "unaggregated"]),
       event_id=st.one_of(PARAM_TEXT, st.integers(min_value=0).map(str)))
def test_fuzz_event_list_and_get(server: SandboxServer, params: dict[str, str], event_id: str) -> None:
    _check(server, "GET", "/api/v1/events", params={"start": str(now() - 600), "end": str(now()), **params})
    if event_id and "/" not in event_id and event_id not in (".", ".."):
        _check(server, "GET", "/api/v1/events/" + quote(event_id, safe=""))


MONITORS = [
    {"type": "query alert", "name": "fuzz", "message": "m @workflow-none", "tags": ["env:fuzz"], "priority": 3,
     "query": "avg(last_5m):avg:fuzz.mon{env:fuzz} by {host} > 1",
     "options": {"thresholds": {"critical": 1, "warning": 0.5}, "notify_no_data": True, "no_data_timeframe": 10,
                 "evaluation_delay": 60, "new_group_delay": 60, "timeout_h": 1, "renotify_interval": 10}},
    {"type": "query alert", "name": "fuzz anomaly", "message": "m",
     "query": "avg(last_1h):anomalies(sum:fuzz.mon{*}.as_count(), 'basic', 2, direction='above', "
              "alert_window='last_15m', interval=60, count_default_zero='true') >= 1",
     "options": {"thresholds": {"critical": 1, "critical_recovery": 0},
                 "threshold_windows": {"trigger_window": "last_15m", "recovery_window": "last_15m"}}},
    {"type": "query alert", "name": "fuzz change", "message": "m",
     "query": "pct_change(avg(last_5m),1h_ago):avg:fuzz.mon{env:fuzz} by {host} > 50",
     "options": {"thresholds": {"critical": 50, "warning": 20}}},
    {"type": "query alert", "name": "fuzz formula", "message": "m",  # stored, not evaluated
     "query": 'formula("query1 / query2").rollup("sum").last("5m") > 100',
     "options": {"thresholds": {"critical": 100}, "variables": [
         {"data_source": "metrics", "name": "query1", "query": "sum:fuzz.mon{env:fuzz} by {host}"},
         {"data_source": "aggregate_filtered_query", "name": "query2",
          "base_query": {"data_source": "metrics", "name": "query2", "query": "max:fuzz.mon{*}"},
          "filter_query": {"data_source": "reference_table", "name": "f", "table_name": "t",
                           "columns": [{"name": "c"}]},
          "filters": [{"base_attribute": "host", "filter_attribute": "c"}]}]}},
    {"type": "query alert", "name": "fuzz cumulative", "message": "m",
     "query": "sum(current_1d):sum:fuzz.mon{env:fuzz}.as_count() > 100",
     "options": {"thresholds": {"critical": 100}, "scheduling_options": {
         "evaluation_window": {"day_starts": "04:00", "month_starts": 1, "timezone": "Europe/Paris"}}}},
]


@fuzz()
@given(data=st.data(), which=st.sampled_from(MONITORS))
def test_fuzz_monitor_create(server: SandboxServer, data: st.DataObject, which: Json) -> None:
    """The query is the monitor's (or an odd window over an odd query); a monitor accepted by the fuzz is deleted
    at once, after one evaluation, which must end."""
    before = count(server, "monitor")
    query = data.draw(st.one_of(st.just(which["query"]), st.builds(
        "avg({}):{} > 1".format, st.sampled_from(WINDOWS), odd_query()), st.builds(
        "change(avg({}),{}):{} > 1".format, st.sampled_from(WINDOWS), st.sampled_from(SHIFTS), odd_query())))
    status, answer = _check(server, "POST", "/api/v1/monitor", data.draw(mutated({**which, "query": query})))
    if status == 200:
        _check(server, "POST", "/sandbox/evaluate")
        assert send(server, "DELETE", f"/api/v1/monitor/{answer['id']}")[0] == 200
    assert count(server, "monitor") == before


@fuzz()
@given(params=_odd_params(["page", "page_size", "id_offset", "name", "tags", "monitor_tags", "group_states"]),
       history=_odd_params(["from", "to", "group"]), ids=PARAM_TEXT)
def test_fuzz_monitor_parameters(server: SandboxServer, anomaly_monitor: int, params: dict[str, str],
                                 history: dict[str, str], ids: str) -> None:
    _check(server, "GET", "/api/v1/monitor", params=params)
    _check(server, "GET", "/api/v1/monitor/can_delete", params={"monitor_ids": ids})
    _check(server, "GET", f"/sandbox/monitors/{anomaly_monitor}/history", params=history)
    band = {"from": str(now() - 3600), "to": str(now()), **history}
    _check(server, "GET", f"/sandbox/monitors/{anomaly_monitor}/band", params=band)


WORKFLOW = workflow_body([
    {"name": "Check", "actionId": "com.datadoghq.core.if", "parameters": [
        {"name": "conditions", "value": [{"leftValue": "{{ Trigger.n }}", "comparisonOperator": "gt",
                                          "rightValue": 1}]}, {"name": "joinOperator", "value": "and"}],
     "outboundEdges": [{"nextStepName": "Find", "branchName": "true"}, {"nextStepName": "Set", "branchName": "false"}]},
    {"name": "Find", "actionId": "com.datadoghq.dd.casem.searchCases", "parameters": [
        {"name": "filter", "value": "status:open"}, {"name": "page_size", "value": "{{ Trigger.n }}"}],
     "outboundEdges": [{"nextStepName": "Open", "branchName": "main"}]},
    {"name": "Open", "actionId": "com.datadoghq.dd.casem.createCase", "parameters": [
        {"name": "project_id", "value": "{{ Trigger.project }}"}, {"name": "title", "value": "fuzz {{ Trigger.n }}"},
        {"name": "priority", "value": "P3"}]},
    {"name": "Set", "actionId": "com.datadoghq.core.setVariables", "parameters": [
        {"name": "variables", "value": [{"name": "x", "value": "{{ Steps.Check }}"}]}],
     "outboundEdges": [{"nextStepName": "Wait", "branchName": "main"}]},
    {"name": "Wait", "actionId": "com.datadoghq.core.sleep", "parameters": [{"name": "durationSeconds", "value": 5}]},
], inputs=[{"name": "n", "type": "NUMBER", "defaultValue": 2}, {"name": "project", "type": "STRING"}])


@fuzz(40)
@given(data=st.data())
def test_fuzz_workflow_create_and_run(server: SandboxServer, project: str, data: st.DataObject) -> None:
    """A mutated workflow is refused (a 400 naming the problem) or created; created, one run with a mutated payload
    answers (a step of the wrong type fails the run, naming it), and the workflow is deleted."""
    before = count(server, "workflow")
    status, answer = _check(server, "POST", "/api/v2/workflows", data.draw(mutated(WORKFLOW)), style="detail")
    if status == 201:
        workflow = answer["data"]["id"]
        payload = data.draw(mutated({"meta": {"payload": {"n": 3, "project": project}}}))
        _check(server, "POST", f"/api/v2/workflows/{workflow}/instances", payload, style="detail")
        _check(server, "GET", f"/api/v2/workflows/{workflow}/instances", style="detail",
               params=data.draw(_odd_params(["page[size]", "page[number]"])))
        assert send(server, "DELETE", f"/api/v2/workflows/{workflow}")[0] == 204
    else:
        assert count(server, "workflow") == before


@fuzz()
@given(params=_odd_params(["limit", "page", "sort", "filter[query]", "filter[includeUnpublished]"]))
def test_fuzz_workflow_list_parameters(server: SandboxServer, params: dict[str, str]) -> None:
    _check(server, "GET", "/api/v2/workflows", params=params, style="detail")


@fuzz()
@given(data=st.data())
def test_fuzz_case_create(server: SandboxServer, project: str, data: st.DataObject) -> None:
    before = count(server, "case")
    status, _ = _check(server, "POST", "/api/v2/cases", data.draw(mutated(case_body(project))), style="jsonapi")
    if status >= 400:
        assert count(server, "case") == before


CASE_ACTIONS = [("status", {"status": "IN_PROGRESS"}), ("status", {"status_name": "Open"}),
                ("priority", {"priority": "P1"}), ("assign", {"assignee_id": "u2"}), ("unassign", {}),
                ("title", {"title": "t2"}), ("description", {"description": "d2"}), ("archive", {}),
                ("attributes", {"attributes": {"a": ["b"]}}), ("comment", {"comment": "c"})]


@fuzz()
@given(data=st.data(), action=st.sampled_from(CASE_ACTIONS))
def test_fuzz_case_actions(server: SandboxServer, case: str, data: st.DataObject,
                           action: tuple[str, Json]) -> None:
    body = data.draw(mutated({"data": {"type": "case", "attributes": action[1]}}))
    _check(server, "POST", f"/api/v2/cases/{case}/{action[0]}", body, style="jsonapi")


@fuzz()
@given(data=st.data(), params=_odd_params(["page[size]", "page[number]", "sort[field]", "sort[asc]", "filter"]))
def test_fuzz_case_projects_and_search(server: SandboxServer, data: st.DataObject, params: dict[str, str]) -> None:
    body = {"data": {"type": "project", "attributes": {"key": "FZ" + data.draw(st.sampled_from("ABCDEFGH")) * 2,
                                                       "name": "p", "enabled_custom_case_types": []}}}
    _check(server, "POST", "/api/v2/cases/projects", data.draw(mutated(body)), style="jsonapi")
    _check(server, "GET", "/api/v2/cases", params=params, style="jsonapi")


@fuzz(30)
@given(data=st.data(), params=_odd_params(["start", "end", "width", "height", "metric_query", "graph_def", "title"]))
def test_fuzz_dashboards_and_snapshots(server: SandboxServer, data: st.DataObject, params: dict[str, str]) -> None:
    status, answer = _check(server, "POST", "/api/v1/dashboard", data.draw(mutated(_dashboard(
        description="d", template_variables=[{"name": "env", "prefix": "env", "default": "fuzz"}]))))
    if status == 200:
        send(server, "DELETE", f"/api/v1/dashboard/{answer['id']}")
    _check(server, "GET", "/api/v1/graph/snapshot",
           params={"start": str(now() - 600), "end": str(now()), "metric_query": QUERIES[0], **params})


POST_ENDPOINTS = [("/api/v2/series", "v1"), ("/api/v1/series", "v1"), ("/api/v2/query/timeseries", "v1"),
                  ("/api/v2/logs", "jsonapi"), ("/api/v2/logs/events/search", "v1"), ("/api/v1/events", "v1"),
                  ("/api/v1/monitor", "v1"), ("/api/v2/workflows", "detail"), ("/api/v2/cases", "jsonapi"),
                  ("/api/intake/llm-obs/v1/trace/spans", "jsonapi"), ("/api/v2/llmobs", "jsonapi"),
                  ("/api/intake/llm-obs/v2/eval-metric", "jsonapi"),
                  ("/api/v2/llm-obs/v1/spans/events/search", "jsonapi")]


@fuzz()
@given(raw_body=st.one_of(st.binary(max_size=64), st.sampled_from([b"[" * 2000, b"{", b"1e999", b'"\\ud800"',
                                                                  b"\xff\xfe", b"null", b"[]", b"{}"])),
       endpoint=st.sampled_from(POST_ENDPOINTS))
def test_fuzz_bytes_that_are_not_a_request(server: SandboxServer, raw_body: bytes, endpoint: tuple[str, Style]) -> None:
    status, answer = send(server, "POST", endpoint[0], data=raw_body)
    assert_refusal_shape(status, answer, endpoint[1])


# ------------------------------------------------------------------------- metric metadata and the v2 metric reads
@fuzz()
@given(data=st.data())
def test_fuzz_metric_metadata_edit(server: SandboxServer, queried: str, data: st.DataObject) -> None:
    """A refused edit changes nothing (every field is checked before the edit is stored)."""
    path = "/api/v1/metrics/fuzz.q"
    before = send(server, "GET", path)[1]
    body = {"type": "count", "unit": "byte", "per_unit": "second", "description": "d", "short_name": "s",
            "integration": "fuzz", "statsd_interval": 10}
    status, _ = _check(server, "PUT", path, data.draw(mutated(body)))
    if status >= 400:
        assert send(server, "GET", path)[1] == before


@fuzz()
@given(listing=_odd_params(["filter[configured]", "filter[is_configurable]", "filter[tags_configured]",
                            "filter[metric_type]", "filter[include_percentiles]", "filter[tags]", "window[seconds]",
                            "page[size]", "page[cursor]"]),
       tags=_odd_params(["window[seconds]", "filter[tags]", "filter[match]", "filter[include_tag_values]",
                         "filter[allow_partial]", "page[limit]"]))
def test_fuzz_v2_metric_reads(server: SandboxServer, queried: str, listing: dict[str, str],
                              tags: dict[str, str]) -> None:
    _check(server, "GET", "/api/v2/metrics", params=listing)
    _check(server, "GET", "/api/v2/metrics/fuzz.q/all-tags", params=tags)


# ---------------------------------------------------------------------------------------------------- events v2
V2_EVENT = {"data": {"type": "event", "attributes": {
    "title": "fuzz", "message": "m", "category": "change", "tags": ["env:fuzz"], "host": "h1", "aggregation_key": "k",
    "integration_id": "custom-events", "attributes": {
        "changed_resource": {"name": "flag", "type": "feature_flag"}, "author": {"name": "a", "type": "user"},
        "impacted_resources": [{"name": "svc", "type": "service"}], "new_value": {"a": 1}, "prev_value": {"a": 0}}}}}
V2_ALERT = {"data": {"type": "event", "attributes": {"title": "fuzz", "category": "alert", "attributes": {
    "status": "error", "priority": "1", "links": [{"category": "runbook", "url": "https://x"}], "custom": {"a": 1}}}}}


@fuzz()
@given(data=st.data(), which=st.sampled_from([V2_EVENT, V2_ALERT]))
def test_fuzz_v2_event_post(server: SandboxServer, data: st.DataObject, which: Json) -> None:
    before = count(server, "event")
    status, answer = _check(server, "POST", "/api/v2/events", data.draw(mutated(which)))
    if status >= 400:
        assert count(server, "event") == before
    else:
        _check(server, "GET", f"/api/v2/events/{answer['data']['attributes']['attributes']['evt']['uid']}")


@fuzz()
@given(data=st.data(), params=_odd_params(["filter[query]", "filter[from]", "filter[to]", "sort", "page[limit]",
                                           "page[cursor]"]), event_id=PARAM_TEXT)
def test_fuzz_v2_event_list_search_and_get(server: SandboxServer, data: st.DataObject, params: dict[str, str],
                                           event_id: str) -> None:
    _check(server, "GET", "/api/v2/events", params=params)
    body = {"filter": {"query": "env:fuzz @a:>0 (fuzz OR m*)", "from": "now-15m", "to": "now"},
            "options": {"timezone": "GMT"}, "sort": "timestamp", "page": {"limit": 5}}
    _check(server, "POST", "/api/v2/events/search", data.draw(mutated(body)))
    if event_id and "/" not in event_id and event_id not in (".", ".."):
        _check(server, "GET", "/api/v2/events/" + quote(event_id, safe=""))


@fuzz()
@given(data=st.data())
def test_fuzz_log_aggregate(server: SandboxServer, data: st.DataObject) -> None:
    body = {"compute": [{"aggregation": "count", "type": "timeseries", "interval": "5m"},
                        {"aggregation": "pc90", "metric": "@attr.x"}, {"aggregation": "cardinality", "metric": "host"}],
            "filter": {"from": "now-15m", "to": "now", "query": "service:fuzz", "indexes": ["main"]},
            "group_by": [{"facet": "host", "limit": 5, "missing": "none", "total": "all",
                          "sort": {"type": "measure", "aggregation": "avg", "metric": "@attr.x", "order": "asc"}},
                         {"facet": "@attr.y", "limit": 3, "sort": {"type": "alphabetical", "order": "desc"}}],
            "options": {"timezone": "GMT"}}
    _check(server, "POST", "/api/v2/logs/analytics/aggregate", data.draw(mutated(body)))


@fuzz(30)
@given(data=st.data(), list_id=PARAM_TEXT)
def test_fuzz_dashboard_lists(server: SandboxServer, data: st.DataObject, list_id: str) -> None:
    """A mutated list or items body is refused or applied; a refused items change leaves the list as it was."""
    status, answer = send(server, "POST", "/api/v1/dashboard", _dashboard())
    assert status == 200
    dashboard = answer["id"]
    status, created = _check(server, "POST", "/api/v1/dashboard/lists/manual", data.draw(mutated({"name": "fuzz"})))
    if status == 200:
        items = f"/api/v2/dashboard/lists/manual/{created['id']}/dashboards"
        before = send(server, "GET", items)[1]
        body = {"dashboards": [{"id": dashboard, "type": "custom_timeboard"}]}
        for method in ("POST", "PUT", "DELETE"):
            if _check(server, method, items, data.draw(mutated(body)))[0] >= 400:
                assert send(server, "GET", items)[1] == before
            before = send(server, "GET", items)[1]
        _check(server, "PUT", f"/api/v1/dashboard/lists/manual/{created['id']}", data.draw(mutated({"name": "f"})))
        assert send(server, "DELETE", f"/api/v1/dashboard/lists/manual/{created['id']}")[0] == 200
    if list_id and "/" not in list_id and list_id not in (".", ".."):
        _check(server, "GET", "/api/v1/dashboard/lists/manual/" + quote(list_id, safe=""))
    send(server, "DELETE", f"/api/v1/dashboard/{dashboard}")


CASE_ACTIONS_MORE = [("due_date", {"due_date": "2026-12-31"}), ("due_date", {"due_date": None}),
                     ("resolved_reason", {"security_resolved_reason": "FALSE_POSITIVE"})]


@fuzz()
@given(data=st.data(), action=st.sampled_from(CASE_ACTIONS_MORE),
       params=_odd_params(["query_filter", "group_bys", "limit"]))
def test_fuzz_more_case_actions_count_and_aggregate(server: SandboxServer, case: str, project: str,
                                                   data: st.DataObject, action: tuple[str, Json],
                                                   params: dict[str, str]) -> None:
    body = data.draw(mutated({"data": {"type": "case", "attributes": action[1]}}))
    _check(server, "POST", f"/api/v2/cases/{case}/{action[0]}", body, style="jsonapi")
    status, cell = send(server, "POST", f"/api/v2/cases/{case}/comment",
                        {"data": {"type": "case", "attributes": {"comment": "c"}}})
    assert status == 200
    path = f"/api/v2/cases/{case}/comment/{cell['data'][0]['id']}"
    _check(server, "PUT", path, data.draw(mutated({"data": {"type": "case", "attributes": {"comment": "e"}}})),
           style="jsonapi")
    _check(server, "DELETE", path, style="jsonapi")
    patch = {"data": {"type": "project", "attributes": {
        "name": "p", "enabled_custom_case_types": [], "settings": {"integration_monitor": {"enabled": True}}}}}
    _check(server, "PATCH", f"/api/v2/cases/projects/{project}", data.draw(mutated(patch)), style="jsonapi")
    _check(server, "GET", "/api/v2/cases/count", params=params, style="jsonapi")
    aggregate = {"data": {"type": "aggregate", "attributes": {"query_filter": "status:open",
                                                              "group_by": {"groups": ["priority"], "limit": 5}}}}
    _check(server, "POST", "/api/v2/cases/aggregate", data.draw(mutated(aggregate)), style="jsonapi")



@pytest.fixture(scope="module")
def finished_instance(server: SandboxServer) -> tuple[str, str]:
    status, answer = send(server, "POST", "/api/v2/workflows", workflow_body([step("core.noop")]))
    assert status == 201, answer
    workflow = answer["data"]["id"]
    status, answer = send(server, "POST", f"/api/v2/workflows/{workflow}/instances", {"meta": {"payload": {}}})
    assert status == 200, answer
    return workflow, answer["data"]["id"]


@fuzz()
@given(workflow=PARAM_TEXT, instance=PARAM_TEXT)
def test_fuzz_workflow_instance_cancel(server: SandboxServer, finished_instance: tuple[str, str], workflow: str,
                                       instance: str) -> None:
    """Odd ids are a 4xx; a finished instance is a 400 and stays as it was."""
    workflow_id, instance_id = finished_instance
    path = f"/api/v2/workflows/{workflow_id}/instances/{instance_id}"
    before = send(server, "GET", path)[1]
    assert _check(server, "PUT", f"{path}/cancel", style="detail")[0] == 400
    assert send(server, "GET", path)[1] == before
    if all(x and "/" not in x and x not in (".", "..") for x in (workflow, instance)):
        _check(server, "PUT", f"/api/v2/workflows/{quote(workflow, safe='')}/instances/{quote(instance, safe='')}"
                              "/cancel", style="detail")


@pytest.mark.parametrize("kind", ["timeseries", "scalar"])
@fuzz()
@given(data=st.data())
def test_fuzz_v2_query_over_logs(server: SandboxServer, queried: str, kind: str, data: st.DataObject) -> None:
    body = _formula_request(f"{kind}_request", interval=60000, formulas=[{"formula": "l"}, {"formula": "m"}], queries=[
        {"data_source": "logs", "name": "l", "search": {"query": "service:fuzz"}, "indexes": ["*"],
         "compute": {"aggregation": "pc90", "metric": "@attr.x", "interval": 60000},
         "group_by": [{"facet": "host", "limit": 5, "sort": {"type": "measure", "aggregation": "count",
                                                             "order": "desc"}}]},
        {"data_source": "metrics", "name": "m", "query": QUERIES[0], "aggregator": "avg"}])
    _check(server, "POST", f"/api/v2/query/{kind}", data.draw(mutated(body)))


@fuzz()
@given(active=_odd_params(["from", "host", "tag_filter"]), search=_odd_params(["q"]))
def test_fuzz_v1_metric_lists(server: SandboxServer, queried: str, active: dict[str, str],
                              search: dict[str, str]) -> None:
    _check(server, "GET", "/api/v1/metrics", params={"from": str(now() - 600), **active})
    _check(server, "GET", "/api/v1/search", params=search)


# ------------------------------------------------------------------------------------------ LLM Observability
def _llm_span(trace_id: str, span_id: str, parent_id: str, kind: str) -> Json:
    return {"trace_id": trace_id, "span_id": span_id, "parent_id": parent_id, "name": kind,
            "start_ns": time.time_ns() - 10**9, "duration": 2e9, "status": "ok", "tags": ["team:fuzz"],
            "meta": {"kind": kind, "input": {"messages": [{"role": "user", "content": "hi"}]},
                     "output": {"value": "ok"}, "metadata": {"model_name": "m", "model_provider": "p"}},
            "metrics": {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5, "input_cost": 0.1}}


def _every_stored_span_renders(server: SandboxServer) -> None:
    """Every stored span (the intake takes them up to 24 h old and 10 min ahead) comes back whole through the Export
    API: nothing was stored half made."""
    stored = count(server, "llmobs-span")
    status, answer = send(server, "POST", "/api/v2/llm-obs/v1/spans/events/search", {"data": {
        "type": "spans", "attributes": {"filter": {"from": "now-2d", "to": "now+1h"}, "page": {"limit": 5000}}}})
    assert status == 200, answer
    assert len(answer["data"]) == min(stored, 5000)
    for item in answer["data"]:
        attributes = item["attributes"]
        assert {"span_id", "trace_id", "name", "start_ns", "duration", "ml_app", "span_kind", "status"} <= set(
            attributes), attributes


@fuzz()
@given(data=st.data())
def test_fuzz_llmobs_span_intake(server: SandboxServer, data: st.DataObject) -> None:
    """Each span stands alone: a refused request stores nothing, an accepted one at most its spans, each whole."""
    trace_id = uuid.uuid4().hex
    body = {"data": {"type": "span", "attributes": {
        "ml_app": "fuzz-app", "session_id": "s1", "tags": ["env:fuzz"],
        "spans": [_llm_span(trace_id, "1", "undefined", "workflow"), _llm_span(trace_id, "2", "1", "llm")]}}}
    before = count(server, "llmobs-span")
    status, _ = _check(server, "POST", "/api/intake/llm-obs/v1/trace/spans", data.draw(mutated(body)),
                       style="jsonapi")
    added = count(server, "llmobs-span") - before  # a mutated id may replace a span an earlier example stored
    assert added == 0 if status >= 400 else 0 <= added <= 2
    _every_stored_span_renders(server)


@fuzz()
@given(data=st.data())
def test_fuzz_llmobs_ddtrace_events_through_the_agent(server: SandboxServer, data: st.DataObject) -> None:
    """ddtrace's event list, as its LLMObsSpanWriter posts it to the Agent's EVP proxy."""
    trace_id = uuid.uuid4().hex
    event = {**_llm_span(trace_id, "7", "undefined", "llm"), "tags": ["ml_app:fuzz-app", "env:fuzz"],
             "_dd": {"span_id": "7", "trace_id": trace_id}}
    event["meta"] = {"span": {"kind": "llm"}, "model_name": "m", "model_provider": "p", "input": {"value": "x"}}
    body = [{"_dd.stage": "raw", "event_type": "span", "spans": [event]}]
    before = count(server, "llmobs-span")
    status, _ = _check(server, "POST", "/evp_proxy/v2/api/v2/llmobs", data.draw(mutated(body)), style="jsonapi",
                       headers={"X-Datadog-EVP-Subdomain": "llmobs-intake"})
    added = count(server, "llmobs-span") - before
    assert added == 0 if status >= 400 else 0 <= added <= 1
    _every_stored_span_renders(server)


def _apm_payload(trace_id: str) -> Json:
    """A v0.4 trace payload as ddtrace sends the local Agent with APM tracing on: a workflow and an llm span each
    carrying `_llmobs` (still a JSON value here; `_packed` packs it to bytes as ddtrace does), and a plain APM span."""
    def carried(span_id: int, parent_id: int, kind: str) -> Json:
        struct = {"name": kind, "trace_id": trace_id, "parent_id": str(parent_id) if parent_id else "undefined",
                  "ml_app": "fuzz-app", "tags": {"ml_app": "fuzz-app", "env": "fuzz"}, "metrics": {"input_tokens": 3},
                  "meta": {"span": {"kind": kind}, "model_name": "m", "model_provider": "p", "input": {"value": "x"}}}
        return {**_apm_span(span_id, parent_id), "meta_struct": {"_llmobs": struct}}
    return [[carried(7, 0, "workflow"), carried(8, 7, "llm"), _apm_span(9, 8)]]


def _apm_span(span_id: int, parent_id: int) -> Json:
    return {"trace_id": 1, "span_id": span_id, "parent_id": parent_id, "name": "op", "service": "svc",
            "resource": "op", "type": "llm", "start": time.time_ns() - 10**9, "duration": 10**6, "error": 0,
            "meta": {"env": "fuzz"}, "metrics": {"_sampling_priority_v1": 1.0}}


def _packed(payload: Json) -> bytes | None:
    """The payload in msgpack, each span's meta_struct values packed to bytes first; None if msgpack cannot write
    it (an integer past 64 bits)."""
    traces = copy.deepcopy(payload)
    try:
        for trace in traces if isinstance(traces, list) else []:
            for span in trace if isinstance(trace, list) else []:
                structs = span.get("meta_struct") if isinstance(span, dict) else None
                for key, value in structs.items() if isinstance(structs, dict) else []:
                    structs[key] = msgpack.packb(value)
        return bytes(msgpack.packb(traces))
    except (OverflowError, TypeError, ValueError):
        return None


def _put_traces(server: SandboxServer, payload: bytes) -> int:
    """PUT a trace payload to the local Agent's v0.4 intake: never a 5xx; a 4xx in the JSON:API error shape."""
    before = count(server, "llmobs-span")
    status, answer = send(server, "PUT", "/v0.4/traces", data=payload, headers={"Content-Type": "application/msgpack"})
    assert_refusal_shape(status, answer, "jsonapi")
    added = count(server, "llmobs-span") - before
    assert added == 0 if status >= 400 else 0 <= added <= 2
    _every_stored_span_renders(server)
    return status


@fuzz()
@given(data=st.data())
def test_fuzz_llmobs_spans_on_apm_traces(server: SandboxServer, data: st.DataObject) -> None:
    """ddtrace's default with APM tracing on: LLM Obs spans in the v0.4 payload's meta_struct, fields mutated."""
    payload = _packed(data.draw(mutated(_apm_payload(uuid.uuid4().hex))))
    assume(payload is not None)
    assert payload is not None
    _put_traces(server, payload)


@fuzz()
@given(data=st.data(), cut=st.integers(0, 10_000), edits=st.lists(st.tuples(st.integers(0, 10_000),
                                                                             st.binary(min_size=1, max_size=3)),
                                                                   max_size=4))
def test_fuzz_apm_trace_bytes(server: SandboxServer, data: st.DataObject, cut: int,
                              edits: list[tuple[int, bytes]]) -> None:
    """A valid v0.4 payload with bytes overwritten and cut short, or random bytes: msgpack decoding never a 500."""
    valid = _packed(_apm_payload(uuid.uuid4().hex))
    assert valid is not None
    payload = bytearray(valid)
    for at, replacement in edits:
        at %= len(payload)
        payload[at:at + len(replacement)] = replacement
    payload = payload[:len(payload) - cut % 40] if cut % 3 else payload
    _put_traces(server, bytes(payload))
    _put_traces(server, data.draw(st.binary(max_size=64)))


@fuzz()
@given(data=st.data())
def test_fuzz_llmobs_evaluation_intake(server: SandboxServer, data: st.DataObject) -> None:
    item = {"join_on": {"span": {"trace_id": "t", "span_id": "1"}}, "ml_app": "fuzz-app",
            "timestamp_ms": time.time_ns() // 10**6, "metric_type": "score", "label": "quality", "score_value": 0.5,
            "tags": ["env:fuzz"], "assessment": "pass", "reasoning": "fine"}
    body = {"data": {"type": "evaluation_metric", "attributes": {"metrics": [item, {
        **copy.deepcopy(item), "join_on": {"tag": {"key": "msg", "value": "m1"}}}]}}}
    before = count(server, "llmobs-evaluation")
    status, _ = _check(server, "POST", "/api/intake/llm-obs/v2/eval-metric", data.draw(mutated(body)),
                       style="jsonapi")
    added = count(server, "llmobs-evaluation") - before
    assert added == 0 if status >= 400 else 0 <= added <= 2


@fuzz()
@given(data=st.data())
def test_fuzz_llmobs_span_search(server: SandboxServer, data: st.DataObject) -> None:
    body = {"data": {"type": "spans", "attributes": {
        "filter": {"from": "now-1h", "to": "now", "ml_app": "fuzz-app", "span_kind": "llm", "trace_id": "t",
                   "span_id": "1", "span_name": "llm", "tags": {"team": "fuzz"}, "query": "team:fu* ml_app:fuzz-app"},
        "page": {"limit": 5, "cursor": "WzEsImEiXQ"}, "options": {"time_offset": 0}, "sort": "-timestamp"}}}
    _check(server, "POST", "/api/v2/llm-obs/v1/spans/events/search", data.draw(mutated(body)), style="jsonapi")


@fuzz()
@given(params=_odd_params(["filter[from]", "filter[to]", "filter[query]", "filter[ml_app]", "filter[tag][team]",
                           "sort", "page[limit]", "page[cursor]"]))
def test_fuzz_llmobs_span_list_parameters(server: SandboxServer, params: dict[str, str]) -> None:
    _check(server, "GET", "/api/v2/llm-obs/v1/spans/events", params=params, style="jsonapi")


# ------------------------------------------------------------------------------------------ downtimes, search
DOWNTIME = {"data": {"type": "downtime", "attributes": {
    "scope": "env:fuzz AND host:h1", "message": "m", "monitor_identifier": {"monitor_tags": ["env:fuzz"]},
    "display_timezone": "Europe/Paris", "mute_first_recovery_notification": True,
    "notify_end_states": ["alert", "warn"], "notify_end_types": ["expired", "canceled"],
    "schedule": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T02:00:00+00:00"}}}}
RECURRING = {"data": {"type": "downtime", "attributes": {
    "scope": "*", "monitor_identifier": {"monitor_id": 1},
    "schedule": {"timezone": "America/New_York", "recurrences": [
        {"duration": "2h", "rrule": "FREQ=WEEKLY;BYDAY=MO,TU;INTERVAL=2", "start": "2026-01-05T09:00:00"}]}}}}


@fuzz()
@given(data=st.data(), which=st.sampled_from([DOWNTIME, RECURRING]))
def test_fuzz_downtime_create_update_and_cancel(server: SandboxServer, data: st.DataObject, which: Json) -> None:
    """A refused downtime stores nothing; an accepted one takes a mutated update (refused or applied), lists,
    silences evaluation without error, and cancels."""
    before = count(server, "downtime")
    status, answer = _check(server, "POST", "/api/v2/downtime", data.draw(mutated(which)))
    if status != 200:
        assert count(server, "downtime") == before
        return
    downtime = answer["data"]["id"]
    update = data.draw(mutated({"data": {"type": "downtime", "id": downtime, "attributes": {
        "message": "n", "scope": "env:other", "schedule": {"end": "2026-01-02T00:00:00Z"}}}}))
    _check(server, "PATCH", f"/api/v2/downtime/{downtime}", update)
    _check(server, "GET", "/api/v2/downtime", params={"include": "created_by,monitor", "page[limit]": "5"})
    _check(server, "POST", "/sandbox/evaluate")
    assert send(server, "DELETE", f"/api/v2/downtime/{downtime}")[0] == 204


@fuzz()
@given(params=_odd_params(["current_only", "include", "page[offset]", "page[limit]"]), downtime_id=PARAM_TEXT)
def test_fuzz_downtime_parameters(server: SandboxServer, anomaly_monitor: int, params: dict[str, str],
                                  downtime_id: str) -> None:
    _check(server, "GET", "/api/v2/downtime", params=params)
    _check(server, "GET", f"/api/v2/monitor/{anomaly_monitor}/downtime_matches", params=params)
    if downtime_id and "/" not in downtime_id and downtime_id not in (".", ".."):
        _check(server, "GET", "/api/v2/downtime/" + quote(downtime_id, safe=""))
        _check(server, "DELETE", "/api/v2/downtime/" + quote(downtime_id, safe=""))


SEARCHES = ["", "status:alert type:metric", 'status:"no data" tag:env:fuzz', "*fuzz* muted:false",
            "notification:workflow-none metric:fuzz.mon scope:env:fuzz", "group:host:*"]


@fuzz()
@given(query=st.one_of(st.sampled_from(SEARCHES), PARAM_TEXT, st.builds("{} {}".format, st.sampled_from(SEARCHES),
                                                                        PARAM_TEXT)),
       params=_odd_params(["page", "per_page", "sort"]))
def test_fuzz_monitor_search(server: SandboxServer, anomaly_monitor: int, query: str, params: dict[str, str]) -> None:
    _check(server, "GET", "/api/v1/monitor/search", params={"query": query, **params})
    _check(server, "GET", "/api/v1/monitor/groups/search", params={"query": query, **params})
