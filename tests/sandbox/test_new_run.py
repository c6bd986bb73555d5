"""A new run (`POST /sandbox/reset`, sandbox-only): a run's telemetry and consequences go, the assets stay."""

from __future__ import annotations

import time
from pathlib import Path

from autonomic_lib.sandbox.server import SandboxServer
from tests.conftest import raw, start_sandbox


def _seed_a_run(server: SandboxServer) -> int:
    now = int(time.time()) // 60 * 60 - 300
    status, monitor = raw(server, "POST", "/api/v1/monitor", {
        "type": "query alert", "name": "high", "message": "", "query": "max(last_5m):max:run.x{env:demo} > 5"})
    assert status == 200
    series = [{"metric": "run.x", "type": 3, "tags": ["env:demo"],
               "points": [{"timestamp": now + 60 * i, "value": 9.0} for i in range(4)]}]
    assert raw(server, "POST", "/api/v2/series", {"series": series}, app_key=False)[0] == 202
    assert raw(server, "POST", "/api/v2/logs", [{"message": "hello", "service": "run"}], app_key=False)[0] == 202
    assert raw(server, "POST", "/sandbox/evaluate")[0] == 200
    return int(monitor["id"])


def test_a_new_run_clears_telemetry_and_evaluations_and_keeps_the_monitors(tmp_path: Path) -> None:
    server = start_sandbox(tmp_path / "sbx")
    try:
        monitor_id = _seed_a_run(server)
        assert raw(server, "GET", f"/api/v1/monitor/{monitor_id}")[1]["overall_state"] == "Alert"
        status, answer = raw(server, "POST", "/sandbox/reset")
        assert status == 200 and answer["cleared"]["points"] == 4 and answer["cleared"]["logs"] == 1
        assert answer["cleared"]["transitions"] >= 1
        assert server.sandbox.store.count_points() == 0 and server.sandbox.store.series("run.x") == []
        status, monitor = raw(server, "GET", f"/api/v1/monitor/{monitor_id}")
        assert status == 200 and monitor["overall_state"] == "No Data"
        assert raw(server, "GET", f"/sandbox/monitors/{monitor_id}/history")[1]["transitions"] == []
        _seed_a_run(server)  # the same run again evaluates from scratch: one alert, not a pile-up
        history = raw(server, "GET", f"/sandbox/monitors/{monitor_id}/history")[1]["transitions"]
        assert [t["current"] for t in history] == ["Alert"]
    finally:
        server.stop()


def test_a_new_run_needs_the_application_key(session_sandbox: SandboxServer) -> None:
    assert raw(session_sandbox, "POST", "/sandbox/reset", app_key=False)[0] == 403
