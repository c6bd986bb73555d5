"""The DogStatsD parser: a table of valid and malformed datagrams, what the real `datadog` client sends, and
random bytes that must never raise."""

from __future__ import annotations

import socket
from typing import Iterator

import pytest
from datadog import DogStatsd
from hypothesis import given, settings
from hypothesis import strategies as st

from autonomic_lib.sandbox.dogstatsd.protocol import (
    Event, Malformed, MetricSample, Packet, Parser, ServiceCheck, normalize_tags, parse_event, parse_service_check)


def one_sample(line: str) -> MetricSample:
    packet = Parser().parse(line.encode())
    assert not packet.malformed, packet.malformed
    assert len(packet.samples) == 1
    return packet.samples[0]


VALID = [
    # DOC's examples
    ("page.views:1|c", MetricSample("page.views", "c", (1.0,), "", 1.0, ())),
    ("fuel.level:0.5|g", MetricSample("fuel.level", "g", (0.5,), "", 1.0, ())),
    ("song.length:240|h|@0.5", MetricSample("song.length", "h", (240.0,), "", 0.5, ())),
    ("users.uniques:1234|s", MetricSample("users.uniques", "s", (), "1234", 1.0, ())),
    ("users.online:1|c|#country:china", MetricSample("users.online", "c", (1.0,), "", 1.0, ("country:china",))),
    ("users.online:1|c|@0.5|#country:china", MetricSample("users.online", "c", (1.0,), "", 0.5, ("country:china",))),
    # timers and distributions parse (what happens to them is the aggregator's and backend's business)
    ("req.time:12.5|ms", MetricSample("req.time", "ms", (12.5,), "", 1.0, ())),
    ("req.size:3|d", MetricSample("req.size", "d", (3.0,), "", 1.0, ())),
    # v1.1 value packing, empty values skipped like the Agent; a set's value is opaque, colons included
    ("lat:1:2.5:3|h", MetricSample("lat", "h", (1.0, 2.5, 3.0), "", 1.0, ())),
    ("lat:1::3:|ms", MetricSample("lat", "ms", (1.0, 3.0), "", 1.0, ())),
    ("ids:a:b|s", MetricSample("ids", "s", (), "a:b", 1.0, ())),
    # v1.2 container id, origin fields and unknown fields are ignored; options in any order
    ("m:1|c|c:83a9f3|#a", MetricSample("m", "c", (1.0,), "", 1.0, ("a",))),
    ("m:1|c|#a|card:low|e:it-false,cn-x|x:unknown", MetricSample("m", "c", (1.0,), "", 1.0, ("a",))),
    # v1.3 timestamps
    ("m:5|g|#a|T1767225600", MetricSample("m", "g", (5.0,), "", 1.0, ("a",), 1767225600)),
    ("m:5|c|T1767225600|@1", MetricSample("m", "c", (5.0,), "", 1.0, (), 1767225600)),
    # tags as the HTTP intake keeps them: lower case, bad characters to '_', sorted, unique, empty ones dropped
    ("m:1|g|#Env:Prod,b,,a,b,wh@t", MetricSample("m", "g", (1.0,), "", 1.0, ("a", "b", "env:prod", "wh_t"))),
    ("m:1|g|#a|#b", MetricSample("m", "g", (1.0,), "", 1.0, ("b",))),  # the last tags field wins, as in the Agent
    # names: other characters become '_'
    ("my-app.req count:1|c", MetricSample("my_app.req_count", "c", (1.0,), "", 1.0, ())),
    ("neg:-3e2|g", MetricSample("neg", "g", (-300.0,), "", 1.0, ())),
]


@pytest.mark.parametrize("line,expected", VALID, ids=[v[0] for v in VALID])
def test_valid_metric_lines(line: str, expected: MetricSample) -> None:
    assert one_sample(line) == expected


MALFORMED = [
    ("page.views", "no '|<type>'"),
    ("page.views:1", "no '|<type>'"),
    (":1|c", "expected <name>:<value>"),
    ("page.views:|c", "expected <name>:<value>"),
    ("page.views:1|", "unknown metric type ''"),
    ("page.views:1|x", "unknown metric type 'x'"),
    ("page.views:1|C", "unknown metric type 'C'"),
    ("page.views:one|c", "not a finite number"),
    ("page.views:1_000|c", "not a finite number"),
    ("page.views: 1|c", "not a finite number"),
    ("page.views:nan|g", "not a finite number"),
    ("page.views:inf|g", "not a finite number"),
    ("page.views:1e999|g", "not a finite number"),
    ("lat:::|h", "no value in a packed value list"),
    ("lat:1:x|h", "not a finite number"),
    ("page.views:1|c|@", "sample rate"),
    ("page.views:1|c|@0", "sample rate"),
    ("page.views:1|c|@1.5", "sample rate"),
    ("page.views:1|c|@-0.5", "sample rate"),
    ("page.views:1|c|@half", "not a finite number"),
    ("page.views:1.|c|@1e", "not a finite number"),
    ("page.views:1e5e|g", "not a finite number"),
    ("page.views:1|g|T", "timestamp"),
    ("page.views:1|g|T0", "timestamp"),
    ("page.views:1|g|T-5", "timestamp"),
    ("page.views:1|g|T12.5", "timestamp"),
    ("1views:1|c", "must start with a letter"),
    ("_views:1|c", "must start with a letter"),
    ("v" * 201 + ":1|c", "at most 200 characters"),
]


@pytest.mark.parametrize("line,reason", MALFORMED, ids=[m[0][:40] for m in MALFORMED])
def test_malformed_metric_lines_are_refused_with_a_reason(line: str, reason: str) -> None:
    packet = Parser().parse(line.encode())
    assert not packet.samples and len(packet.malformed) == 1
    excerpt, why = packet.malformed[0]
    assert reason in why
    assert len(excerpt) <= 120


def test_a_packet_holds_many_messages_one_per_line() -> None:
    """CLIENT buffering joins messages with '\\n' and ends the payload with one; '\\r\\n' works too (AGENT dropCR)."""
    packet = Parser().parse(b"a:1|c\nb:2|g\r\n\n_e{1,1}:t|x\n_sc|chk|0\nbad\nc:3|h\n")
    assert [s.name for s in packet.samples] == ["a", "b", "c"]
    assert [e.title for e in packet.events] == ["t"]
    assert [c.name for c in packet.checks] == ["chk"]
    assert packet.malformed == [("bad", "no '|<type>' after the value")]


def test_a_line_that_is_not_utf8_is_refused_and_the_others_kept() -> None:
    packet = Parser().parse(b"a:1|c\n\xff\xfe:1|c\nb:2|c")
    assert [s.name for s in packet.samples] == ["a", "b"]
    assert packet.malformed[0][1] == "not UTF-8"


@pytest.mark.parametrize("line,expected", [
    ("_e{5,4}:title|text", Event("title", "text")),
    ("_e{5,0}:title|", Event("title", "")),
    ("_e{3,8}:a|b|c|d\\ne|f|t:error", Event("a|b", "c|d\ne|f", alert_type="error")),  # '|' inside, '\\n' a break
    ("_e{21,36}:An exception occurred|Cannot parse CSV file from 10.0.0.17|t:warning|#err_type:bad_file",
     Event("An exception occurred", "Cannot parse CSV file from 10.0.0.17", alert_type="warning",
           tags=("err_type:bad_file",))),  # DOC's example
    ("_e{1,1}:t|x|d:1767225600|h:web-1|k:deploy|p:low|s:jenkins|t:success|#env:demo,Host:Y|c:abc",
     Event("t", "x", timestamp=1767225600, hostname="web-1", aggregation_key="deploy", priority="low",
           source_type_name="jenkins", alert_type="success", tags=("env:demo", "Host:Y"))),
    # a bad priority, alert type or date is left out and named, the event kept (AGENT logs and keeps it)
    ("_e{1,1}:t|x|p:urgent|t:fatal|d:yesterday", Event("t", "x", ignored=("p:urgent", "t:fatal", "d:yesterday"))),
])
def test_events(line: str, expected: Event) -> None:
    assert parse_event(line.encode()) == expected


def test_event_lengths_count_utf8_bytes() -> None:
    title, text = "Déployé ✓", "naïve"
    line = f"_e{{{len(title.encode())},{len(text.encode())}}}:{title}|{text}"
    assert parse_event(line.encode()) == Event(title, text)
    packet = Parser().parse(line.encode())
    assert packet.events == [Event(title, text)]


@pytest.mark.parametrize("line,reason", [
    ("_e{5,4}title|text", "header"),
    ("_e{5;4}:title|text", "header"),
    ("_e{5,4:title|text", "header"),
    ("_e{x,4}:title|text", "non-negative integers"),
    ("_e{-5,4}:title|text", "non-negative integers"),
    ("_e{0,4}:|text", "title is empty"),
    ("_e{5,40}:title|text", "shorter than"),
    ("_e{4,4}:title|text", "does not match"),  # the Agent would store title 'titl' and text '|tex'
    ("_e{5,3}:title|text", "does not match"),
    ("_e{2,1}:\xe9t|x", "does not match"),  # 'é' is two bytes: a length of 2 cuts before the '|'
])
def test_malformed_events(line: str, reason: str) -> None:
    with pytest.raises(Malformed, match=reason):
        parse_event(line.encode())


@pytest.mark.parametrize("line,expected", [
    ("_sc|Redis connection|2|#env:dev|m:Redis connection timed out after 10s",
     ServiceCheck("Redis connection", 2, tags=("env:dev",), message="Redis connection timed out after 10s")),
    ("_sc|db|0", ServiceCheck("db", 0)),
    ("_sc|db|3|d:1767225600|h:db-1|#a,b|m:unknown|c:abc", ServiceCheck("db", 3, timestamp=1767225600, hostname="db-1",
                                                                   tags=("a", "b"), message="unknown")),
    ("_sc|db|1|m:first|part", ServiceCheck("db", 1, message="first")),  # split on '|' like the Agent
    ("_sc|db|1|d:soon", ServiceCheck("db", 1, ignored=("d:soon",))),
])
def test_service_checks(line: str, expected: ServiceCheck) -> None:
    assert parse_service_check(line) == expected


@pytest.mark.parametrize("line,reason", [
    ("_sc", "must start with '_sc|'"),
    ("_scx|db|0", "must start with '_sc|'"),
    ("_sc|db", "needs a name and a status"),
    ("_sc||0", "name is empty"),
    ("_sc|db|4", "is not 0, 1, 2 or 3"),
    ("_sc|db|ok", "is not 0, 1, 2 or 3"),
])
def test_malformed_service_checks(line: str, reason: str) -> None:
    with pytest.raises(Malformed, match=reason):
        parse_service_check(line)


def test_tag_normalisation_matches_the_http_intake() -> None:
    assert normalize_tags([" Env:Prod ", "team:A/B", "x:", "é:ü", "a" * 250]) == (
        "a" * 200, "env:prod", "team:a/b", "x", "é:ü")


# ------------------------------------------------------------------------------------------ the real client
@pytest.fixture
def captured() -> Iterator[tuple[DogStatsd, socket.socket]]:
    """The `datadog` package's client sending to a socket of ours, so its exact datagrams can be parsed."""
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.settimeout(2)
    client = DogStatsd(host="127.0.0.1", port=sink.getsockname()[1], disable_telemetry=True,
                       constant_tags=["env:test"])
    yield client, sink
    client.close_socket()
    sink.close()


def received(sink: socket.socket) -> Packet:
    return Parser().parse(sink.recv(65536))


def test_what_the_datadog_client_sends_parses(captured: tuple[DogStatsd, socket.socket],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    client, sink = captured
    monkeypatch.setattr("datadog.dogstatsd.base.random", lambda: 0.0)  # sampled samples are always sent
    client.increment("app.hits", 2, tags=["route:/a"], sample_rate=0.25)
    assert received(sink).samples == [MetricSample("app.hits", "c", (2.0,), "", 0.25, ("env:test", "route:/a"))]
    client.histogram("app.latency", 0.25, sample_rate=0.5)
    assert received(sink).samples == [MetricSample("app.latency", "h", (0.25,), "", 0.5, ("env:test",))]
    client.timing("app.time", 12)
    client.set("app.users", "u-1")
    client.distribution("app.size", 7)
    client.gauge_with_timestamp("app.queue", 3, timestamp=1767225600)
    client.count_with_timestamp("app.done", 4, timestamp=1767225601)
    samples = [received(sink).samples[0] for _ in range(5)]
    assert [(s.name, s.type, s.values, s.set_value, s.timestamp) for s in samples] == [
        ("app.time", "ms", (12.0,), "", None), ("app.users", "s", (), "u-1", None), ("app.size", "d", (7.0,), "", None),
        ("app.queue", "g", (3.0,), "", 1767225600), ("app.done", "c", (4.0,), "", 1767225601)]


def test_events_and_service_checks_from_the_datadog_client_parse(captured: tuple[DogStatsd, socket.socket]) -> None:
    client, sink = captured
    client.event("Déploiement | v2", "line one\nline two | done", alert_type="success", aggregation_key="deploy",
                 source_type_name="ci", date_happened=1767225600, priority="low", tags=["svc:web"], hostname="h-1")
    assert received(sink).events == [Event("Déploiement | v2", "line one\nline two | done", timestamp=1767225600,
                                           hostname="h-1", aggregation_key="deploy", priority="low",
                                           source_type_name="ci", alert_type="success", tags=("svc:web", "env:test"))]
    client.service_check("app.can_connect", DogStatsd.CRITICAL, tags=["db:main"], timestamp=1767225600,
                         hostname="h-1", message="refused")
    assert received(sink).checks == [ServiceCheck("app.can_connect", 2, timestamp=1767225600, hostname="h-1",
                                                  message="refused", tags=("db:main", "env:test"))]


def test_the_clients_buffered_payload_parses_whole(captured: tuple[DogStatsd, socket.socket]) -> None:
    client, sink = captured
    client.open_buffer()
    for i in range(20):
        client.increment("app.batched", tags=[f"i:{i}"])
    client.close_buffer()
    packet = received(sink)
    assert len(packet.samples) == 20 and not packet.malformed


# ------------------------------------------------------------------------------------------ never raises
@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_never_raise(data: bytes) -> None:
    packet = Parser().parse(data)
    messages = len(packet.samples) + len(packet.events) + len(packet.checks) + len(packet.malformed)
    assert messages <= data.count(b"\n") + 1


_PIECES = st.sampled_from(["a", "m.x", ":", "|", "#", "@", "T", "c", "g", "ms", "h", "s", "d", "1", "0.5", "-",
                           "e", ",", "_e{", "}", "_sc", "\n", "\r", "{", "9", "é", " ", "nan", "k:", "p:", "t:"])


@settings(max_examples=600, deadline=None)
@given(st.lists(_PIECES, max_size=40).map("".join))
def test_near_valid_text_never_raises(text: str) -> None:
    """Random sequences of the protocol's own tokens reach deep into every branch of the parser."""
    packet = Parser().parse(text.encode())
    for sample in packet.samples:
        assert sample.type in ("c", "g", "ms", "h", "s", "d") and 0 < sample.sample_rate <= 1
        assert sample.values or sample.type == "s"
