"""The sandbox stays responsive under every size and backtracking reproduction, and stops on SIGTERM.

A sandbox process (as the notebooks run it) gets each reproduction from a thread while this test asks
`GET /api/v1/validate` every 100 ms: every poll must be answered (none blocked for its 5 s timeout), and SIGTERM
must end the process (a 5 s bound). These are hang guards, not speed checks: the latencies themselves are measured,
as a ratio to an idle sandbox's, by bench/responsiveness.py. Before the size bounds a 1.1 MB `service` pinned a core for good and SIGTERM no longer stopped the
server; a 216 000-group query held every request for seconds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import urllib3

from autonomic_lib.sandbox.server import SandboxState, read_state
from autonomic_lib.sandbox_process import start_sandbox_process, stop_sandbox_process

pytestmark = pytest.mark.slow
BLOCKED_S, STOP_WITHIN_S, POLL_S = 5.0, 5.0, 0.1


class Client:
    """Raw requests with the sandbox's keys; bodies given as bytes are sent as they are."""

    def __init__(self, state: SandboxState):
        self.state, self.http = state, urllib3.PoolManager(retries=False)

    def __call__(self, method: str, path: str, body: Any = None, timeout: float = 30.0) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json", "DD-API-KEY": self.state.api_key,
                   "DD-APPLICATION-KEY": self.state.app_key}
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        response = self.http.request(method, self.state.url + path, body=data, headers=headers, timeout=timeout)
        return response.status, json.loads(response.data) if response.data else None


class Sandbox:
    """A sandbox process of the test's own, with its state (address, keys, pid)."""

    def __init__(self, folder: Path):
        start_sandbox_process(folder)
        state = read_state(folder)
        assert state is not None
        self.folder, self.state, self.stopped = folder, state, False

    def stop(self, within: float) -> None:
        """SIGTERM it and wait for it to exit. Deaf to SIGTERM, it is killed and this fails."""
        self.stopped = True
        try:
            stop_sandbox_process(self.folder, timeout=within)  # SIGTERM, then waits for the child to exit
        except subprocess.TimeoutExpired:
            os.kill(self.state.pid, signal.SIGKILL)  # our own child, not reaped yet: its pid is still its own
            os.waitpid(self.state.pid, 0)
            pytest.fail(f"the sandbox did not exit within {within} s of SIGTERM; it was killed")


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    running = Sandbox(tmp_path / "sandbox")
    yield running
    if not running.stopped:  # the test failed before stopping it
        running.stop(within=30)


# ------------------------------------------------------------------------------------------ the reproductions
def huge_service_log(api: Client) -> None:
    status, _ = api("POST", "/api/v2/logs", [{"message": "m", "service": "s" * 1_100_000}])
    assert status == 202


def fan_out_query(api: Client) -> None:
    ts = int(time.time()) // 60 * 60 - 120
    tags = [f"{key}:{key}{i}" for key in "abc" for i in range(60)]
    status, _ = api("POST", "/api/v2/series", {"series": [
        {"metric": "resp.fan", "type": 3, "points": [{"timestamp": ts, "value": 1.0}], "tags": tags}]})
    assert status == 202
    status, body = api("GET", f"/api/v1/query?from={ts - 600}&to={ts + 60}&query="
                              + quote("avg:resp.fan{*} by {a,b,c}"))
    assert status == 400 and "216000 groups" in body["errors"][0]


def doubling_workflow(api: Client) -> None:
    steps = [{"name": f"S{i}", "actionId": "com.datadoghq.core.echo",
              "parameters": [{"name": "value", "value": "ab" if i == 0 else
                              f"{{{{ Steps.S{i - 1}.value }}}}{{{{ Steps.S{i - 1}.value }}}}"}],
              "outboundEdges": [{"nextStepName": f"S{i + 1}", "branchName": "main"}] if i < 22 else []}
             for i in range(23)]
    status, created = api("POST", "/api/v2/workflows", {"data": {"type": "workflows", "attributes": {
        "name": "doubling", "published": True,
        "spec": {"triggers": [{"apiTrigger": {}, "startStepNames": ["S0"]}], "steps": steps}}}})
    assert status == 201
    workflow = created["data"]["id"]
    status, run = api("POST", f"/api/v2/workflows/{workflow}/instances", {"meta": {"payload": {}}})
    assert status == 200
    status, instance = api("GET", f"/api/v2/workflows/{workflow}/instances/{run['data']['id']}")
    assert status == 200 and instance["data"]["attributes"]["instanceStatus"]["detailsKind"] == "FAILED"


def deep_json(api: Client) -> None:
    body = '{"type": "query alert", "name": "deep", "message": "", "query": "avg(last_5m):avg:resp.d{*} > 1", ' \
           '"options": ' + '{"a": ' * 300 + "1" + "}" * 300 + "}"
    status, answer = api("POST", "/api/v1/monitor", body.encode())
    assert status == 400 and "levels" in answer["errors"][0]


def backtracking_log_search(api: Client) -> None:
    status, _ = api("POST", "/api/v2/logs", [{"message": "a" * 200, "service": "resp-glob"}])
    assert status == 202
    status, body = api("POST", "/api/v2/logs/events/search", {"filter": {
        "query": "service:resp-glob *a*a*a*a*a*a*a*a*b", "from": "now-15m", "to": "now"}})
    assert status == 200 and body["data"] == []


def backtracking_tag_glob(api: Client) -> None:
    ts = int(time.time()) // 60 * 60 - 120
    status, _ = api("POST", "/api/v2/series", {"series": [
        {"metric": "resp.glob", "type": 3, "points": [{"timestamp": ts, "value": 1.0}],
         "tags": [f"t:{'a' * 196}{i}"]} for i in range(20)]})
    assert status == 202
    status, body = api("GET", f"/api/v1/query?from={ts - 600}&to={ts + 60}&query="
                              + quote(f"avg:resp.glob{{t:{'*a' * 12}*b}} by {{t}}"))
    assert status == 200 and body["series"] == []


def open_template_monitor(api: Client) -> None:
    """Its message is rendered when the monitor alerts, once the evaluator has caught up on the data (seconds)."""
    ts = int(time.time()) // 60 * 60
    status, _ = api("POST", "/api/v2/series", {"series": [{"metric": "resp.tmpl", "type": 3, "points": [
        {"timestamp": ts - offset, "value": 5.0} for offset in (300, 240, 180, 120, 60)]}]})
    assert status == 202
    status, monitor = api("POST", "/api/v1/monitor", {"type": "query alert", "name": "open template",
                                                      "message": "{{" + " " * 300,
                                                      "query": "avg(last_5m):avg:resp.tmpl{*} > 1"})
    assert status == 200
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        status, sent = api("GET", f"/sandbox/notifications?monitor_id={monitor['id']}")
        if status == 200 and sent["data"]:
            assert sent["data"][0]["message"].startswith("{{"), sent["data"][0]
            return
        time.sleep(0.2)
    raise AssertionError("the monitor never notified: its message was never rendered")


REPRODUCTIONS: list[Callable[[Client], None]] = [
    huge_service_log, fan_out_query, doubling_workflow, deep_json, backtracking_log_search, backtracking_tag_glob,
    open_template_monitor,
]


# ------------------------------------------------------------------------------------------ the test
@pytest.mark.timeout(120)
def test_validate_is_answered_throughout_and_sigterm_stops_the_sandbox(sandbox: Sandbox) -> None:
    unanswered: set[str] = set()  # reproductions during which a poll got no 200 within its request timeout
    current = ["start"]
    failures: list[str] = []

    def fire() -> None:
        api = Client(sandbox.state)
        for reproduction in REPRODUCTIONS:
            current[0] = reproduction.__name__
            try:
                reproduction(api)
            except Exception as exc:  # noqa: BLE001 - a failed reproduction is reported by the main thread
                failures.append(f"{reproduction.__name__}: {type(exc).__name__}: {exc}")
        current[0] = "done"

    poll = Client(sandbox.state)
    worker = threading.Thread(target=fire, daemon=True)
    worker.start()
    while worker.is_alive():
        try:
            status, _ = poll("GET", "/api/v1/validate", timeout=BLOCKED_S)
        except urllib3.exceptions.HTTPError:
            status = 0
        if status != 200:
            unanswered.add(current[0])
        time.sleep(POLL_S)
    assert not failures, failures
    assert not unanswered, f"GET /api/v1/validate got no answer within {BLOCKED_S} s while these ran: {unanswered}"

    sandbox.stop(within=STOP_WITHIN_S)  # fails the test if SIGTERM does not end it within the bound
    assert read_state(sandbox.folder) is None
