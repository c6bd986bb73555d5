"""The official client's LogsApi and EventsApi against a real sandbox: intake, search, paging, events, refusals."""

from __future__ import annotations

import gzip
import re
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import orjson
import pytest
import urllib3
from datadog_api_client import ApiClient
from datadog_api_client.exceptions import ApiException, ForbiddenException, NotFoundException
from datadog_api_client.v1.api.events_api import EventsApi
from datadog_api_client.v1.api.logs_api import LogsApi as LogsApiV1
from datadog_api_client.v1.model.event_alert_type import EventAlertType
from datadog_api_client.v1.model.event_create_request import EventCreateRequest
from datadog_api_client.v1.model.event_priority import EventPriority
from datadog_api_client.v1.model.http_log import HTTPLog as HTTPLogV1
from datadog_api_client.v1.model.http_log_item import HTTPLogItem as HTTPLogItemV1
from datadog_api_client.v1.model.logs_list_request import LogsListRequest as LogsListRequestV1
from datadog_api_client.v1.model.logs_list_request_time import LogsListRequestTime as LogsListRequestTimeV1
from datadog_api_client.v1.model.logs_sort import LogsSort as LogsSortV1
from datadog_api_client.v2.api.logs_api import LogsApi
from datadog_api_client.v2.model.content_encoding import ContentEncoding
from datadog_api_client.v2.model.http_log import HTTPLog
from datadog_api_client.v2.model.http_log_item import HTTPLogItem
from datadog_api_client.v2.model.log_type import LogType
from datadog_api_client.v2.model.logs_list_request import LogsListRequest
from datadog_api_client.v2.model.logs_list_request_page import LogsListRequestPage
from datadog_api_client.v2.model.logs_list_response import LogsListResponse
from datadog_api_client.v2.model.logs_query_filter import LogsQueryFilter
from datadog_api_client.v2.model.logs_sort import LogsSort

from autonomic_lib.errors import IntakeError, QueryError, UnsupportedQueryError
from autonomic_lib.sandbox.logs.search import LogView, normalize_status, parse_query, parse_time
from autonomic_lib.sandbox.server import SandboxServer

from tests.conftest import client_for, start_sandbox

pytestmark = pytest.mark.api


def unique(prefix: str = "autonomic") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def now_ms() -> int:
    return int(time.time() * 1000)


def submit(client: ApiClient, *items: dict[str, Any], encoding: ContentEncoding | None = None) -> None:
    kwargs = {"content_encoding": encoding} if encoding else {}
    body = HTTPLog([HTTPLogItem(**{"message": "", **item}) for item in items])
    assert LogsApi(client).submit_log(body=body, **kwargs) == {}


def search(client: ApiClient, query: str, *, limit: int = 1000, sort: LogsSort | None = None,
           cursor: str | None = None, start: str = "now-15m", end: str = "now") -> LogsListResponse:
    page = LogsListRequestPage(limit=limit, **({"cursor": cursor} if cursor else {}))
    body = LogsListRequest(filter=LogsQueryFilter(query=query, _from=start, to=end), page=page,
                           **({"sort": sort} if sort else {}))
    return LogsApi(client).list_logs(body=body)


def messages(client: ApiClient, query: str, **kwargs: Any) -> list[str]:
    return sorted(log.attributes.message for log in search(client, query, **kwargs).data)


def raw(server: SandboxServer, method: str, path: str, body: bytes | None = None, *, api_key: str | None = "ok",
        app_key: str | None = None, headers: dict[str, str] | None = None, **fields: Any) -> urllib3.BaseHTTPResponse:
    """A hand-built request, for what the client refuses to send or cannot express."""
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    if api_key:
        hdrs["DD-API-KEY"] = server.config.api_key if api_key == "ok" else api_key
    if app_key:
        hdrs["DD-APPLICATION-KEY"] = server.config.app_key if app_key == "ok" else app_key
    return urllib3.request(method, server.url + path, body=body, headers=hdrs, retries=False, fields=fields or None)


def stored_logs(server: SandboxServer) -> int:
    return server.sandbox.documents.count("log")


# ------------------------------------------------------------------------------------------ intake
@pytest.mark.parametrize("encoding", [None, ContentEncoding.GZIP, ContentEncoding.DEFLATE])
def test_submitted_logs_come_back_with_reserved_fields_tags_and_attributes(
        api_client: ApiClient, encoding: ContentEncoding | None) -> None:
    service, at = unique(), now_ms() - 60_000
    submit(api_client, {"message": "Verdict FAIL for agent a1", "service": service, "ddsource": "Python",
                        "hostname": "Node-1", "ddtags": "env:Demo, role:auditor", "status": "ERROR",
                        "timestamp": at, "agent": {"id": "a1", "tokens": 900}},
           {"message": "retrying", "service": service, "level": "warning",
            "timestamp": datetime.fromtimestamp(at / 1000 + 1, timezone.utc).isoformat()}, encoding=encoding)
    first, second = search(api_client, f"service:{service}", sort=LogsSort.TIMESTAMP_ASCENDING).data
    attrs = first.attributes
    assert first.type == LogType.LOG and attrs.service == service and attrs.host == "Node-1" and attrs.status == "error"
    assert attrs.timestamp == datetime.fromtimestamp(at / 1000, timezone.utc)
    assert attrs.tags == ["env:demo", "role:auditor", f"service:{service}", "source:python", "host:node-1"]
    assert attrs.attributes == {"agent": {"id": "a1", "tokens": 900}}
    assert second.attributes.status == "warn" and second.attributes.tags == [f"service:{service}"]
    assert [log.id for log in search(api_client, f"service:{service}", sort=LogsSort.TIMESTAMP_ASCENDING).data] == [
        first.id, second.id]  # ids are stable


def test_logs_without_a_timestamp_are_stamped_now_with_info_status(api_client: ApiClient) -> None:
    service, before = unique(), datetime.now(timezone.utc)
    submit(api_client, {"message": "hello", "service": service})
    (only,) = search(api_client, f"service:{service}").data
    assert only.attributes.status == "info" and before - timedelta(seconds=1) <= only.attributes.timestamp


def test_ddtags_query_parameter_applies_to_every_log(api_client: ApiClient) -> None:
    service = unique()
    body = HTTPLog([HTTPLogItem(message="x", service=service, ddtags="role:refiner")])
    LogsApi(api_client).submit_log(body=body, ddtags="env:param")
    (only,) = search(api_client, f"service:{service}").data
    assert only.attributes.tags == ["env:param", "role:refiner", f"service:{service}"]


def test_a_log_over_1_mb_is_accepted_and_truncated(api_client: ApiClient) -> None:
    service = unique()
    submit(api_client, {"message": "start " + "x" * 1_200_000, "service": service})
    (only,) = search(api_client, f"service:{service}").data
    assert only.attributes.message.startswith("start x") and 1_000_000 < len(only.attributes.message) <= 1_048_576


def test_legacy_v1_input_stores_like_v2(session_sandbox: SandboxServer, api_client: ApiClient) -> None:
    service = unique()
    with pytest.warns(DeprecationWarning, match="submit_log is deprecated"):  # the client's v1 intake still works
        response = LogsApiV1(api_client).submit_log(body=HTTPLogV1([HTTPLogItemV1(message="from v1", service=service)]))
    assert response == {}
    lines = b"first line\n\nsecond line\n"
    path = f"/v1/input/{session_sandbox.config.api_key}?ddsource=heroku&service={service}&host=dyno-1&ddtags=env:old"
    reply = raw(session_sandbox, "POST", path, lines, api_key=None, headers={"Content-Type": "text/plain"})
    assert reply.status == 200 and reply.json() == {}
    assert messages(api_client, f"service:{service}") == ["first line", "from v1", "second line"]
    assert messages(api_client, f"service:{service} source:heroku host:dyno-1 env:old") == ["first line", "second line"]
    refused = raw(session_sandbox, "POST", "/v1/input/" + "0" * 32, b"[]", api_key=None)
    assert refused.status == 403 and refused.json()["code"] == 403


def bad_payloads() -> list[tuple[str, bytes, dict[str, str], int, str]]:
    now = now_ms()

    def body(*extra: Any) -> bytes:
        return orjson.dumps([{"message": "fine", "service": "autonomic-bad"}, *extra])

    big = orjson.dumps([{"message": "y" * 900_000} for _ in range(6)])
    return [
        ("not json", b"[{message", {}, 400, "Invalid JSON"),
        ("too many entries", orjson.dumps([{"message": "m"}] * 1001), {}, 400, "maximum array size of 1000"),
        ("too old", body({"message": "old", "timestamp": now - 19 * 3_600_000}), {}, 400, "18 hours in the past"),
        ("seconds, not ms", body({"message": "s", "timestamp": now // 1000}), {}, 400, "epoch milliseconds"),
        ("future", body({"message": "later", "timestamp": now + 3 * 3_600_000}), {}, 400, "in the future"),
        ("bad timestamp", body({"message": "t", "timestamp": "yesterday"}), {}, 400, "logs[1].timestamp"),
        ("not an object", body(42), {}, 400, "logs[1] must be an object"),
        ("too big", big, {}, 413, "Payload too large"),
        ("gzip bomb", gzip.compress(b"[" + b" " * 6_000_000 + b"]"), {"Content-Encoding": "gzip"}, 413, "decompressed"),
        ("corrupt gzip", b"\x1f\x8b\x08\x00garbage", {"Content-Encoding": "gzip"}, 400, "gzip"),
        ("unknown encoding", body(), {"Content-Encoding": "br"}, 400, "Content-Encoding"),
        ("logplex", b"83 <40>1 2012-11-30T06:45:29+00:00 host app web.3 - msg",
         {"Content-Type": "application/logplex-1"}, 400, "logplex"),
    ]


@pytest.mark.parametrize("case", range(len(bad_payloads())), ids=[c[0] for c in bad_payloads()])
def test_bad_log_payloads_get_datadogs_status_and_store_nothing(session_sandbox: SandboxServer, case: int) -> None:
    name, body, headers, status, fragment = bad_payloads()[case]
    before = stored_logs(session_sandbox)
    reply = raw(session_sandbox, "POST", "/api/v2/logs", body, headers=headers)
    assert reply.status == status, (name, reply.data[:300])
    (error,) = reply.json()["errors"]  # HTTPLogErrors: {status, title, detail}
    assert error["status"] == str(status) and error["title"] and fragment in error["detail"], (name, error)
    assert stored_logs(session_sandbox) == before, f"{name}: part of a refused payload was stored"


# ------------------------------------------------------------------------------------------ search
@pytest.fixture(scope="module")
def corpus(session_sandbox: SandboxServer) -> Iterator[str]:
    """Five agent-swarm logs under one unique service prefix; tests query inside `service:<prefix>-*`."""
    prefix = unique("swarm")
    logs = [
        {"message": "Verdict FAIL for agent a1: hallucinated citation", "service": f"{prefix}-auditor",
         "status": "error", "hostname": "node-1", "ddtags": "env:demo,role:auditor",
         "agent_id": "a1", "verdict": "fail", "latency_ms": 1200, "usage": {"tokens": 900}},
        {"message": "Refiner proposed fix v2 for agent a1", "service": f"{prefix}-refiner", "ddtags": "env:demo",
         "agent_id": "a1", "version": 2, "latency_ms": 300},
        {"message": "Evaluator rejected fix: regression on golden set", "service": f"{prefix}-evaluator",
         "status": "WARNING", "ddtags": "env:staging", "agent_id": "a2", "reasons": ["regression", "cost"],
         "latency_ms": 800},
        {"message": "Verdict PASS for agent a2", "service": f"{prefix}-auditor", "ddtags": "env:demo,role:auditor",
         "agent_id": "a2", "verdict": "pass", "http.url": "/api/v1/chat"},
        {"message": "optimization failed twice; human needed", "service": f"{prefix}-chatbot", "status": "success",
         "ddsource": "python", "failure_reason": "two rejections"},
    ]
    with client_for(session_sandbox) as client:
        submit(client, *logs)
    yield prefix


LETTERS = {"Verdict FAIL": "a", "Refiner": "b", "Evaluator": "c", "Verdict PASS": "d", "optimization": "e"}


@pytest.mark.parametrize("query, expected", [
    ("verdict", "ad"),  # free text: a word of the message, case-insensitive
    ("VERDICT fail", "a"),
    ('"fix v2"', "b"),  # a sequence of words, in order
    ('"v2 fix"', ""),
    ("verd*", "ad"),
    ("optimiz*", "e"),
    ("Verdict OR optimization", "ade"),
    ("status:error", "a"),
    ("status:warn", "c"),
    ("status:ok", "e"),
    ("service:{p}-auditor", "ad"),
    ("service:{p}-*itor", "ad"),
    ("env:demo -status:error", "bd"),
    ("env:(demo OR staging) AND NOT role:auditor", "bc"),
    ("(status:error OR status:warn) role:*", "a"),
    ("source:python", "e"),
    ("host:node-1", "a"),
    ("tags:env:staging", "c"),
    ("@agent_id:a1", "ab"),
    ("@agent_id:a*", "abcd"),
    ("@agent_id:A1", ""),  # attribute search is case-sensitive
    ("@usage.tokens:900", "a"),
    ("@latency_ms:>500", "ac"),
    ("@latency_ms:[300 TO 800]", "bc"),
    ("@reasons:cost", "c"),
    ('@http.url:"/api/v1/chat"', "d"),
    ("-@agent_id:*", "e"),
    ('@failure_reason:"two rejections"', "e"),
    ("@failure_reason:two?rejections", "e"),
])
def test_search_query_features(api_client: ApiClient, corpus: str, query: str, expected: str) -> None:
    found = messages(api_client, f"service:{corpus}-* ({query.format(p=corpus)})")
    assert "".join(sorted(next(v for k, v in LETTERS.items() if m.startswith(k)) for m in found)) == expected


@pytest.mark.parametrize("query, status, fragment", [
    ("*:hello", 400, "Unsupported query: full-text search"),
    ("CIDR(@network.client.ip,13.0.0.0/8)", 400, "CIDR()"),
    ("#duration:>5", 400, "calculated fields"),
    ("error && fail", 400, "'&' must be escaped"),
    ("@latency_ms:{1 TO 5}", 400, "exclusive ranges"),
    ("status:>3", 400, "numeric search on the tag"),
    ("(status:error", 400, "Error parsing query: missing ')'"),
    ('"unterminated', 400, "unterminated"),
    ("service:", 400, "missing value after service:"),
    ("error OR", 400, "ends where a term was expected"),
])
def test_unsupported_or_bad_queries_get_400_naming_them(api_client: ApiClient, query: str, status: int,
                                                        fragment: str) -> None:
    with pytest.raises(ApiException) as info:
        search(api_client, query)
    assert info.value.status == status and fragment in info.value.body["errors"][0], info.value.body


def test_time_range_accepts_date_math_iso_and_epoch_ms(api_client: ApiClient) -> None:
    service, now = unique(), now_ms()
    submit(api_client, *({"message": f"m{age}", "service": service, "timestamp": now - age * 60_000}
                         for age in (120, 30, 1)))
    q = f"service:{service}"
    assert messages(api_client, q, start="now-3h") == ["m1", "m120", "m30"]
    assert messages(api_client, q, start="now-1h") == ["m1", "m30"]
    assert messages(api_client, q, start="now-1h", end="now-10m") == ["m30"]
    iso = datetime.fromtimestamp((now - 45 * 60_000) / 1000, timezone.utc).isoformat()
    assert messages(api_client, q, start=iso) == ["m1", "m30"]
    assert messages(api_client, q, start=str(now - 5 * 60_000), end=str(now)) == ["m1"]
    with pytest.raises(ApiException) as info:
        search(api_client, q, start="yesterday")
    assert info.value.status == 400 and "filter.from" in info.value.body["errors"][0]


@pytest.fixture(scope="module")
def many_logs(session_sandbox: SandboxServer) -> str:
    """2500 logs of one service in three payloads, ten to a millisecond so that paging must break ties."""
    service, base = unique(), now_ms() - 10 * 60_000
    logs = [{"message": f"n{i}", "service": service, "timestamp": base + i // 10} for i in range(2500)]
    with client_for(session_sandbox) as client:
        for start in range(0, 2500, 1000):
            submit(client, *logs[start:start + 1000])
    return service


@pytest.mark.parametrize("sort", [LogsSort.TIMESTAMP_ASCENDING, LogsSort.TIMESTAMP_DESCENDING])
def test_paging_2500_logs_by_1000_returns_each_exactly_once(session_sandbox: SandboxServer, api_client: ApiClient,
                                                            many_logs: str, sort: LogsSort) -> None:
    service = many_logs
    seen: list[tuple[datetime, str]] = []
    cursor, pages = None, 0
    while True:
        response = search(api_client, f"service:{service}", sort=sort, cursor=cursor)
        pages += 1
        seen += [(log.attributes.timestamp, log.attributes.message) for log in response.data]
        if "page" not in response.meta:
            assert "links" not in response
            break
        assert response.links.next.startswith(session_sandbox.url + "/api/v2/logs/events?")
        cursor = response.meta.page.after
    assert pages == 3 and len(seen) == 2500 and {m for _, m in seen} == {f"n{i}" for i in range(2500)}
    times = [t for t, _ in seen]
    assert times == sorted(times, reverse=sort == LogsSort.TIMESTAMP_DESCENDING)
    request = LogsListRequest(filter=LogsQueryFilter(query=f"service:{service}"), page=LogsListRequestPage(limit=1000),
                              sort=sort)
    assert len(list(LogsApi(api_client).list_logs_with_pagination(body=request))) == 2500


def test_next_link_serves_the_same_page_as_the_cursor(session_sandbox: SandboxServer, api_client: ApiClient) -> None:
    service = unique()
    submit(api_client, *({"message": f"k{i}", "service": service} for i in range(5)))
    first = search(api_client, f"service:{service}", limit=2, sort=LogsSort.TIMESTAMP_ASCENDING)
    second = search(api_client, f"service:{service}", limit=2, sort=LogsSort.TIMESTAMP_ASCENDING,
                    cursor=first.meta.page.after)
    via_link = urllib3.request("GET", first.links.next, retries=False, headers={
        "DD-API-KEY": session_sandbox.config.api_key, "DD-APPLICATION-KEY": session_sandbox.config.app_key}).json()
    assert [d["id"] for d in via_link["data"]] == [log.id for log in second.data]
    got = LogsApi(api_client).list_logs_get(filter_query=f"service:{service}", page_limit=5)
    assert len(got.data) == 5 and "page" not in got.meta


def test_a_foreign_cursor_is_refused(api_client: ApiClient) -> None:
    with pytest.raises(ApiException) as info:
        search(api_client, "*", cursor="bm90LWEtY3Vyc29y")
    assert info.value.status == 400 and "page.cursor" in info.value.body["errors"][0]


# ------------------------------------------------------------------------------------------ events
def create(client: ApiClient, **fields: Any) -> Any:
    return EventsApi(client).create_event(body=EventCreateRequest(**{"text": "details", **fields}))


def test_events_post_list_get_round_trip(session_sandbox: SandboxServer, api_client: ApiClient) -> None:
    tag, now = unique("run"), int(time.time())
    deploy = create(api_client, title="Deployed agent a1 v2", tags=[f"run:{tag}", "env:demo", "agent_id:a1"],
                    alert_type=EventAlertType.SUCCESS, source_type_name="my_apps", host="node-1",
                    aggregation_key="a1")
    failed = create(api_client, title="Optimization failed for a2", tags=[f"run:{tag}", "env:demo", "agent_id:a2"],
                    alert_type=EventAlertType.ERROR, priority=EventPriority.LOW, date_happened=now - 3600)
    assert deploy.status == "ok" and deploy.event.id_str == str(deploy.event.id) and deploy.event.priority is None
    assert deploy.event.url.startswith(f"{session_sandbox.url}/event/event?id={deploy.event.id}&token=")
    events = EventsApi(api_client)

    def titles(**params: Any) -> list[str]:
        return [e.title for e in events.list_events(**{"start": now - 7200, "end": now + 60, **params}).events]

    assert titles(tags=f"run:{tag}") == ["Deployed agent a1 v2", "Optimization failed for a2"]  # newest first
    assert titles(tags=f"run:{tag},agent_id:a2") == ["Optimization failed for a2"]  # every tag must match
    assert titles(tags=f"run:{tag}", priority=EventPriority.LOW) == ["Optimization failed for a2"]
    assert titles(tags=f"run:{tag}", priority=EventPriority.NORMAL) == ["Deployed agent a1 v2"]
    assert titles(tags=f"run:{tag}", sources="my_apps") == ["Deployed agent a1 v2"]
    assert titles(tags=f"run:{tag}", start=now - 600) == ["Deployed agent a1 v2"]
    assert titles(tags=f"run:{tag}", page=1) == []
    got = events.get_event(failed.event.id).event
    assert (got.title, got.alert_type, got.date_happened, got.priority) == (
        "Optimization failed for a2", EventAlertType.ERROR, now - 3600, EventPriority.LOW)
    page = urllib3.request("GET", deploy.event.url, retries=False)
    assert page.status == 200 and "Deployed agent a1 v2" in page.data.decode()


def test_an_event_too_far_in_the_past_is_refused_with_datadogs_message(api_client: ApiClient) -> None:
    with pytest.raises(ApiException) as info:
        create(api_client, title="old", date_happened=int(time.time()) - 19 * 3600)
    assert info.value.status == 400 and info.value.body == {"errors": ["Event too far in the past"]}


@pytest.mark.parametrize("fields, fragment", [
    ({"title": "t", "text": "x" * 4001}, "limit is 4000"),
    ({"title": "t", "text": "x", "aggregation_key": "k" * 101}, "aggregation_key"),
    ({"title": "t", "text": "x", "priority": "high"}, "priority"),
    ({"title": "t", "text": "x", "alert_type": "fatal"}, "alert_type"),
    ({"text": "x"}, "'title'"),
    ({"title": "t", "text": "x", "tags": "env:demo"}, "'tags'"),
])
def test_invalid_events_get_400_and_are_not_stored(session_sandbox: SandboxServer, fields: dict[str, Any],
                                                   fragment: str) -> None:
    before = session_sandbox.sandbox.documents.count("event")
    reply = raw(session_sandbox, "POST", "/api/v1/events", orjson.dumps(fields))
    assert reply.status == 400 and fragment in reply.json()["errors"][0]
    assert session_sandbox.sandbox.documents.count("event") == before


def test_unknown_event_is_404_and_missing_start_is_400(session_sandbox: SandboxServer, api_client: ApiClient) -> None:
    with pytest.raises(NotFoundException) as info:
        EventsApi(api_client).get_event(987_654_321)
    assert info.value.body == {"errors": ["Event not found"]}
    reply = raw(session_sandbox, "GET", "/api/v1/events", app_key="ok", end=1)
    assert reply.status == 400 and reply.json() == {"errors": ["The parameter 'start' is required"]}


def test_v1_log_list_pages_with_next_log_id_over_the_same_search(session_sandbox: SandboxServer,
                                                                 api_client: ApiClient) -> None:
    """v1 list_logs (POST /api/v1/logs-queries/list): the v2 search's logs, `limit` a page, `nextLogId` the first
    log of the next page (sent back as startAt), null on the last; naive times read in time.timezone."""
    service, at = unique(), now_ms() - 120_000
    submit(api_client, *({"message": f"line {i}", "service": service, "hostname": "h1", "timestamp": at + i * 1000,
                          "ddtags": "env:demo", "agent": {"id": f"a{i}"}} for i in range(5)))
    api = LogsApiV1(api_client)
    now = datetime.now(timezone.utc)
    window = LogsListRequestTimeV1(_from=now - timedelta(minutes=10), to=now)

    def page(**fields: Any) -> Any:
        return api.list_logs(body=LogsListRequestV1(query=f"service:{service}", time=window, **fields))

    first = page(sort=LogsSortV1.TIME_ASCENDING, limit=2, index="main")
    assert first.status == "done" and [log.content.message for log in first.logs] == ["line 0", "line 1"]
    content = first.logs[0].content
    assert (content.host, content.service, content.attributes) == ("h1", service, {"agent": {"id": "a0"}})
    assert content.timestamp == datetime.fromtimestamp(at / 1000, timezone.utc) and "env:demo" in content.tags
    second = page(sort=LogsSortV1.TIME_ASCENDING, limit=2, start_at=first.next_log_id)
    last = page(sort=LogsSortV1.TIME_ASCENDING, limit=2, start_at=second.next_log_id)
    assert [log.content.message for log in second.logs + last.logs] == ["line 2", "line 3", "line 4"]
    assert last.next_log_id is None
    newest = page(sort=LogsSortV1.TIME_DESCENDING, limit=3)
    assert [log.content.message for log in newest.logs] == ["line 4", "line 3", "line 2"]
    assert [log.content.message for log in page(limit=3, start_at=newest.next_log_id).logs] == ["line 1", "line 0"]
    assert len(page().logs) == 5  # 50 by default

    # a time with its offset (the client writes even a naive datetime with Z) is that instant whatever the
    # timezone, as the recorded answer to ListLogs_235998668 shows; a time without one is read in the timezone
    zoned = LogsListRequestTimeV1(_from=now - timedelta(minutes=10), to=now, timezone="Europe/Paris")
    assert len(api.list_logs(body=LogsListRequestV1(query=f"service:{service}", time=zoned)).logs) == 5
    for zone, wall, found in (("Europe/Paris", ZoneInfo("Europe/Paris"), 5),
                              ("UTC+03:00", timezone(timedelta(hours=3)), 5),
                              ("UTC-05:00", timezone(timedelta(hours=3)), 0)):  # the wall times of another zone
        naive = {"from": (now - timedelta(minutes=10)).astimezone(wall).replace(tzinfo=None).isoformat(),
                 "to": now.astimezone(wall).replace(tzinfo=None).isoformat()}
        body = orjson.dumps({"query": f"service:{service}", "time": {**naive, "timezone": zone}})
        reply = raw(session_sandbox, "POST", "/api/v1/logs-queries/list", body, app_key="ok")
        assert reply.status == 200 and len(reply.json()["logs"]) == found, zone
    outside = LogsListRequestTimeV1(_from=now - timedelta(hours=3), to=now - timedelta(hours=2))
    assert api.list_logs(body=LogsListRequestV1(query=f"service:{service}", time=outside)).logs == []


@pytest.mark.parametrize("body, named", [
    ({"query": "*"}, "'time'"),
    ({"time": {"from": "now-1h", "to": "now"}, "limit": 1001}, "limit"),
    ({"time": {"from": "now-1h", "to": "now"}, "sort": "up"}, "'sort'"),
    ({"time": {"from": "now-1h", "to": "now"}, "startAt": "not-an-id"}, "startAt"),
    ({"time": {"from": "now-1h", "to": "now", "timezone": "Mars/Olympus"}, "query": "*"}, "time.timezone"),
    ({"time": {"from": "now", "to": "now-1h"}}, "time.to"),
])
def test_v1_log_list_refuses_a_bad_request_naming_the_field(session_sandbox: SandboxServer, body: dict[str, Any],
                                                            named: str) -> None:
    reply = raw(session_sandbox, "POST", "/api/v1/logs-queries/list", orjson.dumps(body), app_key="ok")
    assert reply.status == 400 and named in reply.json()["errors"][0]


def test_event_stream_takes_any_int64_window_as_the_spec_types_it(session_sandbox: SandboxServer,
                                                                  api_client: ApiClient) -> None:
    """The spec types start/end as int64 and its ListEvents example sends 2**63-1 for both: an empty stream, not a
    400; an event stored now is still found by a window reaching that far, and 2**63 is still refused."""
    event = create(api_client, title="Far window event").event
    api = EventsApi(api_client)
    assert api.list_events(start=2**63 - 1, end=2**63 - 1).events == []
    assert event.id in [e.id for e in api.list_events(start=event.date_happened, end=2**63 - 1).events]
    reply = raw(session_sandbox, "GET", "/api/v1/events", app_key="ok", start=1, end=2**63)
    assert reply.status == 400 and "'end'" in reply.json()["errors"][0]


def test_the_key_less_event_page_needs_its_unguessable_token(session_sandbox: SandboxServer,
                                                            api_client: ApiClient) -> None:
    """Event ids are sequential and the page takes no key: the id alone must not open it (it did: 200)."""
    first, second = (create(api_client, title=f"Private event {n}").event for n in (1, 2))
    assert second.id == first.id + 1  # guessable ids: why the page must not trust them alone
    token = parse_qs(urlsplit(first.url).query)["token"][0]
    assert re.fullmatch(r"[0-9a-f]{32}", token) and token != parse_qs(urlsplit(second.url).query)["token"][0]
    assert EventsApi(api_client).get_event(first.id).event.url == first.url  # the same link from every answer

    def page(query: str) -> urllib3.BaseHTTPResponse:
        return urllib3.request("GET", f"{session_sandbox.url}/event/event?{query}", retries=False)

    assert page(urlsplit(first.url).query).status == 200
    unknown = page("id=987654321").data
    for query in (f"id={first.id}", f"id={first.id}&token=", f"id={first.id}&token={'0' * 32}",
                  f"id={second.id}&token={token}", f"id=0{first.id}&token={token}", f"token={token}"):
        reply = page(query)
        assert reply.status == 404 and reply.data == unknown, query  # a wrong token looks like an unknown id
        assert b"Private event" not in reply.data
    for key in (session_sandbox.config.api_key, session_sandbox.config.app_key):
        assert key not in first.url


# ------------------------------------------------------------------------------------------ auth and durability
def test_logs_intake_refuses_missing_or_wrong_api_key(session_sandbox: SandboxServer) -> None:
    before = stored_logs(session_sandbox)
    for key in (None, "0" * 32):
        reply = raw(session_sandbox, "POST", "/api/v2/logs", b'[{"message": "x"}]', api_key=key)
        assert reply.status == 403 and reply.json()["errors"][0]["detail"] == "API key is missing or invalid"
    with client_for(session_sandbox, api_key="1" * 32) as client:
        with pytest.raises(ForbiddenException):
            submit(client, {"message": "nope"})
    assert stored_logs(session_sandbox) == before


@pytest.mark.parametrize("api_key, app_key", [("ok", None), ("ok", "f" * 40), (None, "ok"), ("0" * 32, "ok")])
def test_search_and_event_list_need_both_keys(session_sandbox: SandboxServer, api_key: str | None,
                                              app_key: str | None) -> None:
    reply = raw(session_sandbox, "POST", "/api/v2/logs/events/search", b"{}", api_key=api_key, app_key=app_key)
    assert reply.status == 403 and "errors" in reply.json()
    reply = raw(session_sandbox, "GET", "/api/v1/events", api_key=api_key, app_key=app_key, start=0, end=1)
    assert reply.status == 403 and "errors" in reply.json()


def test_event_post_needs_a_valid_api_key_only(session_sandbox: SandboxServer) -> None:
    with client_for(session_sandbox, api_key="2" * 32) as client:
        with pytest.raises(ForbiddenException):
            create(client, title="nope")
    with client_for(session_sandbox, app_key="") as client:
        assert create(client, title="no app key needed").status == "ok"


def test_logs_and_events_survive_a_restart(tmp_path) -> None:
    server = start_sandbox(tmp_path)
    with client_for(server) as client:
        submit(client, {"message": "durable", "service": "autonomic-durable"})
        event_id = create(client, title="durable").event.id
    server.stop()
    again = start_sandbox(tmp_path)
    try:
        with client_for(again) as client:
            assert messages(client, "service:autonomic-durable") == ["durable"]
            assert EventsApi(client).get_event(event_id).event.title == "durable"
            assert create(client, title="next").event.id > event_id  # ids are never reused
    finally:
        again.stop()


# ------------------------------------------------------------------------------------------ pure helpers
@pytest.mark.parametrize("value, status", [(3, "error"), ("ERR", "error"), ("Warning", "warn"), ("fatal", "emerg"),
                                           ("trace", "debug"), ("success", "ok"), ("whatever", "warn"),
                                           ("", "info"), (12, "info")])
def test_status_names_follow_the_status_remapper(value: Any, status: str) -> None:
    assert normalize_status(value) == status


def test_date_math_and_refusals() -> None:
    assert parse_time("now-15m", 1_000_000_000, "f") == 1_000_000_000 - 900_000
    assert parse_time("now-1d+2h", 100_000_000, "f") == 100_000_000 - 86_400_000 + 7_200_000
    assert parse_time("2026-01-01T00:00:00Z", 0, "f") == 1_767_225_600_000
    assert parse_time("1767225600000", 0, "f") == 1_767_225_600_000
    for bad in ("now/d", "now-1M", "tomorrow"):
        with pytest.raises(IntakeError):
            parse_time(bad, 0, "filter.from")


def test_parser_distinguishes_bad_from_unsupported_syntax() -> None:
    view = LogView({"message": "Payment-gateway TIMEOUT after 3000ms", "tags": ["env:demo"], "status": "error",
                    "attributes": {"http": {"status_code": 504}, "flags": [True]}})
    assert parse_query("payment gateway timeout").matches(view)
    assert parse_query('"gateway timeout" @http.status_code:504 @flags:true').matches(view)
    assert not parse_query("time").matches(view)  # words, not substrings: use time* for a prefix
    assert parse_query("time*").matches(view)
    with pytest.raises(UnsupportedQueryError):
        parse_query("a || b")
    with pytest.raises(QueryError) as info:
        parse_query("(a")
    assert not isinstance(info.value, UnsupportedQueryError)
