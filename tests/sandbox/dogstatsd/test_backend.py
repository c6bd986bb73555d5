"""The DogStatsD backend without a socket: datagrams in, points in the metric store, events in the events stream,
service checks as documents, refusals counted and logged at a bounded rate."""

from __future__ import annotations

import logging
import time
from typing import Iterator

import pytest

from autonomic_lib.sandbox.app import Sandbox, SandboxConfig
from autonomic_lib.sandbox.dogstatsd.backend import DogStatsD, ThrottledLog
from autonomic_lib.sandbox.metrics.evaluate import evaluate_query

T0 = 1_767_225_600


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox(SandboxConfig(api_key="a" * 32, app_key="b" * 40, data_dir=None, late_data=("late.*",)))
    yield box
    box.close()


@pytest.fixture
def clock() -> list[float]:
    return [T0 + 1.0]


@pytest.fixture
def dsd(sandbox: Sandbox, clock: list[float]) -> DogStatsD:
    """A backend over the sandbox's own products, on a clock the test moves."""
    sandbox.policy.clock = lambda: clock[0]
    return DogStatsD(sandbox.metrics, sandbox.logs, sandbox.documents, clock=lambda: clock[0])


def query(sandbox: Sandbox, text: str) -> list[tuple[int, float]]:
    result = evaluate_query(text, sandbox.metrics.store, T0 - 3600, T0 + 3600, kinds=sandbox.metrics.kind)
    assert len(result.series) == 1, result.series
    ts = result.series[0]
    return [(int(t), float(v)) for t, v in zip(ts.times, ts.values) if v == v]


def test_a_closed_bucket_reaches_the_store_and_reads_back_as_datadog_would(dsd: DogStatsD, sandbox: Sandbox,
                                                                          clock: list[float]) -> None:
    dsd.ingest(b"hits:1|c|#env:demo\nhits:2|c|#env:demo\nhits:3|c|@0.5|#env:demo")
    dsd.ingest(b"\n".join(f"lat:{v}|h|@0.5|#env:demo".encode() for v in range(1, 21)))
    assert dsd.flush() == 0  # the bucket is still open
    clock[0] = T0 + 10.2
    assert dsd.flush() > 0
    assert query(sandbox, "sum:hits{env:demo}.as_count().rollup(sum, 60)") == [(T0, 9.0)]  # 1 + 2 + 3 / 0.5
    assert sandbox.metrics.kind("hits").type == "rate"
    assert query(sandbox, "max:lat.max{*}") == [(T0, 20.0)]
    assert query(sandbox, "max:lat.95percentile{*}") == [(T0, 19.0)]  # 40 in weight, rank (95 * 40 - 1) // 100 = 37
    assert query(sandbox, "sum:lat.count{*}.as_count().rollup(sum, 60)") == [(T0, 40.0)]
    assert dsd.counters.metrics == 23 and dsd.counters.points_written > 0


def test_no_host_tag_is_added_and_a_host_tag_sent_is_the_series_host(dsd: DogStatsD, sandbox: Sandbox) -> None:
    dsd.ingest(b"up:1|g\nup:1|g|#host:Web-1")
    dsd.flush(force=True)
    assert sorted(s.tags for s in sandbox.metrics.store.series("up")) == [(), ("host:web-1",)]


def test_events_go_to_the_events_stream(dsd: DogStatsD, sandbox: Sandbox) -> None:
    dsd.ingest(b"_e{8,9}:Deployed|v2 is out|t:success|k:deploy|s:ci|#env:demo,host:web-1\n"
               b"_e{4,0}:Note||d:1767225000|h:box|#host:ignored,team:a")
    events = sandbox.logs.list_events(start=T0 - 3600, end=T0 + 60)
    assert [(e["title"], e["date_happened"], e.get("host"), e["tags"], e["alert_type"], e["priority"])
            for e in events] == [
        ("Deployed", T0 + 1, "web-1", ["env:demo"], "success", "normal"),  # no d: -> now; the host tag is the host
        ("Note", 1767225000, "box", ["team:a"], "info", "normal"),  # h: wins over a host tag
    ]
    assert events[0]["aggregation_key"] == "deploy" and events[0]["source_type_name"] == "ci"
    assert dsd.counters.events == 2


def test_service_checks_are_kept_and_listed(dsd: DogStatsD) -> None:
    dsd.ingest(b"_sc|db.up|2|#env:demo,host:db-1|m:refused\n_sc|db.up|0|d:1767225000\n_sc|web.up|1")
    found = dsd.service_checks(start=T0 - 3600, end=T0 + 60, check="db.up")
    assert [(c["status"], c["timestamp"], c["host_name"], c["tags"], c["message"]) for c in found] == [
        (2, T0 + 1, "db-1", ["env:demo"], "refused"), (0, 1767225000, None, [], "")]
    assert len(dsd.service_checks(start=T0 - 3600, end=T0 + 60)) == 3
    assert dsd.counters.service_checks == 3


def test_malformed_lines_are_counted_and_logged_at_a_bounded_rate(dsd: DogStatsD,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="autonomic_lib.sandbox.dogstatsd"):
        dsd.ingest(b"\n".join([b"bad line"] * 50 + [b"ok:1|c"]))
    assert dsd.counters.malformed == 50 and dsd.counters.metrics == 1
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == dsd.throttled.burst and "malformed DogStatsD message 'bad line'" in lines[0]
    assert dsd.throttled.suppressed == 40


def test_distributions_are_refused_counted_and_logged_once_per_metric(dsd: DogStatsD,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="autonomic_lib.sandbox.dogstatsd"):
        for _ in range(3):
            dsd.ingest(b"size:1:2|d\nother.size:1|d")
    assert dsd.counters.unsupported == 9
    assert sorted(r.getMessage().split()[2] for r in caplog.records) == ["other.size", "size"]
    assert "no distribution type" in caplog.records[0].getMessage()
    dsd.flush(force=True)
    assert dsd.metrics.store.metrics() == []


def test_timestamped_samples_obey_the_intakes_window(dsd: DogStatsD, sandbox: Sandbox) -> None:
    now = int(T0 + 1)
    dsd.ingest(f"q:1|g|T{now - 600}\nq:2|g|T{now - 7200}\nq:3|g|T{now + 1200}\nlate.q:4|g|T{now - 7200}\n"
               f"lat:1|h|T{now}".encode())
    assert (dsd.counters.out_of_window, dsd.counters.unsupported) == (2, 1)
    dsd.flush()
    assert query(sandbox, "avg:q{*}.rollup(avg, 60)") == [((now - 600) // 60 * 60, 1.0)]
    assert len(sandbox.metrics.store.series("late.q")) == 1  # late data enabled for late.*


def test_contexts_beyond_the_bound_are_dropped_and_counted(dsd: DogStatsD) -> None:
    dsd.aggregator.max_contexts = 3
    dsd.ingest(b"\n".join(f"m{i}:1|c".encode() for i in range(5)))
    assert dsd.counters.dropped_contexts == 2


def test_stats_show_counters_and_whether_it_listens(dsd: DogStatsD) -> None:
    dsd.ingest(b"a:1|c\nnope")
    stats = dsd.stats()
    assert stats["listening"] is False and stats["flush_interval"] == 10 and stats["pending_contexts"] == 1
    assert stats["counters"]["metrics"] == 1 and stats["counters"]["malformed"] == 1


def test_the_throttled_log_holds_back_then_says_how_many(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    throttled = ThrottledLog(logging.getLogger("test.throttled"), burst=2, window=60, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="test.throttled"):
        assert [throttled.warning("line %d", i) for i in range(5)] == [True, True, False, False, False]
        now[0] = 61.0
        assert throttled.warning("again")
    assert [r.getMessage() for r in caplog.records] == [
        "line 0", "line 1", "3 more similar DogStatsD warnings were not logged in the last 60 s", "again"]


def test_the_real_clock_is_the_default(sandbox: Sandbox) -> None:
    dsd = DogStatsD(sandbox.metrics, sandbox.logs, sandbox.documents)
    dsd.ingest(b"now:1|g")
    dsd.flush(force=True)
    (series,) = sandbox.metrics.store.series("now")
    assert abs(time.time() - sandbox.metrics.store.rollup([series.id], 0, 2**40, 3600, "last")[1][0]) < 3600
