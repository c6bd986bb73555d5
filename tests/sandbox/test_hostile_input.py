"""Hostile and odd input against the real server: bounded time, a 4xx naming the problem, nothing partial stored.

Each test reproduces a defect found by probing the sandbox as an attacker would; the timeouts are bounds on a
request that once held the server for seconds to minutes, not benchmarks.
"""

from __future__ import annotations

import time

import pytest

from autonomic_lib.sandbox.server import SandboxServer
from tests.conftest import raw, unique


def _now_ms() -> int:
    return int(time.time() * 1000)


@pytest.mark.timeout(20)
def test_a_log_search_wildcard_that_backtracks_answers_at_once(session_sandbox: SandboxServer) -> None:
    """`*a*a*a*a*b` over a 200-character message froze every request for 23 s (a `.*` regex backtracking)."""
    service = unique("glob")
    status, _ = raw(session_sandbox, "POST", "/api/v2/logs", [{"message": "a" * 200, "service": service}],
                    app_key=False)
    assert status == 202
    for query in (f"service:{service} *a*a*a*a*a*a*a*a*b", f"service:{service} @missing:*a*a*a*a*a*a*a*b",
                  f"service:{service} message:*a*a*a*a*a*a*a*a*b"):
        status, body = raw(session_sandbox, "POST", "/api/v2/logs/events/search",
                           {"filter": {"query": query, "from": "now-15m", "to": "now"}})
        assert status == 200 and body["data"] == [], (query, body)
    status, body = raw(session_sandbox, "POST", "/api/v2/logs/events/search",
                       {"filter": {"query": f"service:{service} *a*a*a*a*a*a*a", "from": "now-15m", "to": "now"}})
    assert status == 200 and len(body["data"]) == 1


@pytest.mark.timeout(20)
def test_a_tag_glob_that_backtracks_answers_at_once(session_sandbox: SandboxServer) -> None:
    """`{t:*a*a*a*a*b}` over 198-character tag values took 12.7 s."""
    metric, now = unique("hostile.glob").replace("-", "_"), int(time.time()) // 60 * 60 - 120
    series = [{"metric": metric, "type": 3, "points": [{"timestamp": now, "value": 1.0}],
               "tags": [f"t:{'a' * 196}{i}"]} for i in range(20)]
    status, _ = raw(session_sandbox, "POST", "/api/v2/series", {"series": series}, app_key=False)
    assert status == 202
    query = f"avg:{metric}{{t:{'*a' * 12}*b}} by {{t}}"
    status, body = raw(session_sandbox, "GET", f"/api/v1/query?from={now - 600}&to={now + 60}&query={query}")
    assert status == 200 and body["series"] == []


def test_a_monitor_with_an_infinite_threshold_is_refused_naming_it(session_sandbox: SandboxServer) -> None:
    """`> 1e999` was stored (as null) and then stopped every monitor's notifications for good."""
    body = {"type": "query alert", "name": unique("inf"), "message": "",
            "query": "avg(last_5m):avg:hostile.inf{env:demo} > 1e999"}
    status, answer = raw(session_sandbox, "POST", "/api/v1/monitor", body)
    assert status == 400 and "threshold" in answer["errors"][0] and "finite" in answer["errors"][0]
