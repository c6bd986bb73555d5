"""End to end: Datadog's own `datadog` DogStatsD client sends to a running sandbox, the official datadog-api-client
reads the aggregated series back through GET /api/v1/query; the sandbox-only routes; the CLI's --dogstatsd-port."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest
import urllib3
from datadog import DogStatsd
from datadog_api_client import ApiClient
from datadog_api_client.v1.api.events_api import EventsApi
from datadog_api_client.v1.api.metrics_api import MetricsApi

from autonomic_lib.client import make_api_client
from autonomic_lib.sandbox.server import SandboxServer, read_state
from autonomic_lib.settings import Settings
from tests.conftest import client_for, raw, start_sandbox

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    sandbox = start_sandbox(None, dogstatsd_port=0)
    yield sandbox
    sandbox.stop()


@pytest.fixture
def statsd(server: SandboxServer) -> Iterator[DogStatsd]:
    assert server.dogstatsd is not None
    client = DogStatsd(host="127.0.0.1", port=server.dogstatsd.port, disable_telemetry=True)
    yield client
    client.close_socket()


def name(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:10]}"


def counters(server: SandboxServer) -> dict[str, int]:
    status, body = raw(server, "GET", "/sandbox/dogstatsd")
    assert status == 200
    return body["counters"]


def wait_for(server: SandboxServer, key: str, at_least: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while counters(server)[key] < at_least:
        assert time.monotonic() < deadline, f"{key} stayed at {counters(server)[key]} < {at_least}"
        time.sleep(0.02)


def early_in_a_bucket() -> None:
    """Start sending in the first part of a 10 s bucket, so one test's samples share one bucket."""
    if time.time() % 10 > 6:
        time.sleep(10.2 - time.time() % 10)


def points(client: ApiClient, query: str, start: int, end: int) -> list[float]:
    response = MetricsApi(client).query_metrics(_from=start, to=end, query=query)
    assert response.status == "ok", response
    return [p.value[1] for s in response.series for p in s.pointlist if p.value[1] is not None]


def test_the_datadog_client_to_api_query(server: SandboxServer, statsd: DogStatsd,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A counter, a gauge, a histogram sent at sample rate 0.5, a set and an event, read back like on Datadog."""
    monkeypatch.setattr("datadog.dogstatsd.base.random", lambda: 0.0)  # the client sends every sampled call
    hits, level, latency, users = name("e2e.hits"), name("e2e.level"), name("e2e.latency"), name("e2e.users")
    before = counters(server)
    early_in_a_bucket()
    start = int(time.time()) - 60
    for _ in range(37):
        statsd.increment(hits, tags=["env:e2e"])
    statsd.decrement(hits, 2, tags=["env:e2e"])
    statsd.gauge(level, 3.5, tags=["env:e2e"])
    for value in range(1, 201):
        statsd.histogram(latency, value, tags=["env:e2e"], sample_rate=0.5)
    for member in ("alice", "bob", "alice", "carol"):
        statsd.set(users, member)
    statsd.event(f"Deployed {hits}", "v2 is out", alert_type="success", tags=["env:e2e", "host:web-1"])
    wait_for(server, "metrics", before["metrics"] + 38 + 1 + 200 + 4)
    wait_for(server, "events", before["events"] + 1)
    assert raw(server, "POST", "/sandbox/dogstatsd/flush")[0] == 200  # the open bucket, rather than wait for it
    end = int(time.time()) + 60

    with client_for(server) as client:
        assert sum(points(client, f"sum:{hits}{{env:e2e}}.as_count()", start, end)) == 35  # 37 - 2: the total
        assert points(client, f"avg:{level}{{*}}", start, end) == [3.5]
        assert points(client, f"max:{latency}.max{{*}}", start, end) == [200.0]
        assert points(client, f"avg:{latency}.95percentile{{*}}", start, end) == [190.0]  # weight 2 each: rank 379
        assert points(client, f"avg:{latency}.median{{*}}", start, end) == [100.0]
        assert sum(points(client, f"sum:{latency}.count{{*}}.as_count()", start, end)) == 400  # 200 sent at 1/2
        assert points(client, f"avg:{users}{{*}}", start, end) == [3.0]
        events = EventsApi(client).list_events(start=start, end=end, tags="env:e2e").events
    (event,) = [e for e in events if e.title == f"Deployed {hits}"]
    assert event.text == "v2 is out" and event.host == "web-1" and str(event.alert_type) == "success"


def test_refusals_are_counted_and_the_listener_goes_on(server: SandboxServer, statsd: DogStatsd) -> None:
    before = counters(server)
    statsd.distribution(name("e2e.size"), 12)
    sock = statsd.get_socket()
    sock.send(b"no type here\nm:1|zz")
    statsd.gauge(name("e2e.after"), 1)
    wait_for(server, "metrics", before["metrics"] + 2)
    after = counters(server)
    assert after["malformed"] - before["malformed"] == 2
    assert after["unsupported"] - before["unsupported"] == 1


def test_service_checks_are_listed(server: SandboxServer, statsd: DogStatsd) -> None:
    check = name("e2e.can_connect")
    before = counters(server)["service_checks"]
    statsd.service_check(check, DogStatsd.CRITICAL, tags=["db:main"], message="refused")
    wait_for(server, "service_checks", before + 1)
    now = int(time.time())
    status, body = raw(server, "GET", f"/sandbox/dogstatsd/service_checks?from={now - 60}&to={now + 60}&check={check}")
    assert status == 200
    assert [(c["check"], c["status"], c["tags"], c["message"]) for c in body["service_checks"]] == [
        (check, 2, ["db:main"], "refused")]
    assert raw(server, "GET", "/sandbox/dogstatsd/service_checks")[0] == 400


def test_the_routes_need_keys_like_the_others(server: SandboxServer) -> None:
    status, body = raw(server, "GET", "/sandbox/dogstatsd", app_key=False)
    assert (status, body) == (403, {"errors": ["Application key required"]})
    status, body = raw(server, "GET", "/sandbox/dogstatsd")
    assert body["listening"] is True and body["port"] == server.dogstatsd.port and body["max_datagram_bytes"] == 8192
    assert body["flush_interval"] == 10  # the Agent's bucket, unless the sandbox is told otherwise


def test_a_sandbox_without_dogstatsd_says_so(session_sandbox: SandboxServer) -> None:
    status, body = raw(session_sandbox, "GET", "/sandbox/dogstatsd")
    assert status == 200 and body["listening"] is False and "port" not in body
    assert session_sandbox.dogstatsd is None


@pytest.mark.slow
def test_cli_sandbox_takes_dogstatsd_and_flushes_closed_buckets_itself(tmp_path: Path) -> None:
    """`python -m autonomic_lib sandbox --port P --dogstatsd-port U --dogstatsd-interval 1`: what the client sends
    is queryable within 20 s, with no flush asked for (its buckets flushed once closed: 1 s buckets here, so the test
    does not wait up to 10 s for the Agent's); SIGTERM stops it cleanly."""
    proc = subprocess.Popen([sys.executable, "-m", "autonomic_lib", "sandbox", "--data-dir", str(tmp_path),
                             "--port", "0", "--dogstatsd-port", "0", "--dogstatsd-interval", "1"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        state = None
        for _ in range(600):
            state = read_state(tmp_path)
            if state is not None or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert state is not None and state.dogstatsd_port, proc.stderr.read() if proc.stderr else ""
        metric = name("cli.hits")
        client = DogStatsd(host="127.0.0.1", port=state.dogstatsd_port, disable_telemetry=True)
        sent = time.time()
        for _ in range(5):
            client.increment(metric, tags=["via:cli"])
        client.close_socket()
        settings = Settings(api_key=state.api_key, app_key=state.app_key, host=state.url)  # type: ignore[arg-type]
        total: float = 0
        with make_api_client(settings) as api:
            while time.time() - sent < 20 and total != 5:
                total = sum(points(api, f"sum:{metric}{{via:cli}}.as_count()", int(sent) - 60, int(sent) + 60))
                time.sleep(0.25)
        assert total == 5, f"not queryable within 20 s of sending ({time.time() - sent:.1f} s)"
        stats = urllib3.request("GET", state.url + "/sandbox/dogstatsd", retries=False, headers={
            "DD-API-KEY": state.api_key, "DD-APPLICATION-KEY": state.app_key})
        assert stats.status == 200 and stats.json()["flush_interval"] == 1  # the option reached the aggregator
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"DogStatsD on udp://127.0.0.1:{state.dogstatsd_port}" in out
    assert read_state(tmp_path) is None
