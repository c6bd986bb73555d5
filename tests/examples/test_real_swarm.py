"""examples/real_swarm.py, run as a user runs it (a subprocess, only the environment `sandbox-env` prints) against a
sandbox with its DogStatsD port: its metrics in the query API once their bucket is flushed (1 s buckets here, so the
test does not wait up to 10 s for the Agent's), its traces in the Export API."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from datadog_api_client import ApiClient

from autonomic_lib.analysis import query_frame
from autonomic_lib.backend import agent_env
from autonomic_lib.sandbox.server import SandboxServer
from autonomic_lib.settings import Settings
from autonomic_lib.traces import search_spans
from tests.conftest import client_for, start_sandbox

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "real_swarm.py"
APP = "real-swarm-example"
MESSAGES = 12

pytestmark = pytest.mark.slow  # a subprocess with ddtrace and the DogStatsD client


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    server = start_sandbox(tmp_path_factory.mktemp("real-swarm"), dogstatsd_port=0, dogstatsd_interval=1)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ran(sandbox: SandboxServer) -> tuple[int, str]:
    """The example's run: (epoch s when it started, its stdout)."""
    assert sandbox.dogstatsd is not None
    settings = Settings(host=sandbox.url, dogstatsd_port=sandbox.dogstatsd.port)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DD_", "_DD_"))}
    env.update(agent_env(settings), DD_INSTRUMENTATION_TELEMETRY_ENABLED="false",
               DD_REMOTE_CONFIGURATION_ENABLED="false", DD_TRACE_STARTUP_LOGS="false")
    started = int(time.time())
    done = subprocess.run([sys.executable, str(EXAMPLE), "--messages", str(MESSAGES)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return started, done.stdout


def _poll(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """`check()` once it returns something truthy: the sandbox flushes DogStatsD buckets once closed, so poll, bounded."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def test_its_counter_and_histogram_percentiles_are_in_the_query_api(sandbox: SandboxServer, ran: tuple[int, str]
                                                                       ) -> None:
    started, _ = ran
    with client_for(sandbox) as api:
        def total(query: str) -> float:
            frame = query_frame(api, query, started - 60, int(time.time()) + 60)
            return float(frame["value"].sum()) if not frame.empty else 0.0

        verdicts = _poll(lambda: total("sum:real_swarm.audit.verdict{*}.as_count()") >= MESSAGES)
        assert verdicts, "the verdict counter did not reach the query API within 30 s"
        assert total("sum:real_swarm.audit.verdict{*}.as_count()") == MESSAGES
        by_role = query_frame(api, "max:real_swarm.llm.latency.95percentile{*} by {role}", started - 60,
                              int(time.time()) + 60)
        assert {"role:chatbot", "role:auditor"} <= set(by_role["group"])
        assert by_role["value"].dropna().between(0.004, 5.0).all()
        count = total("sum:real_swarm.llm.latency.count{*}.as_count()")
        assert count >= 2 * MESSAGES  # a chatbot and an auditor call per message, plus the refiner's


def test_its_traces_are_found_with_the_export_api(sandbox: SandboxServer, ran: tuple[int, str]) -> None:
    started, stdout = ran
    assert f"sent {MESSAGES} traces" in stdout
    with client_for(sandbox) as api:
        assert _poll(lambda: _all_in(api, started)), "the example's traces did not all arrive within 30 s"
        roots = [s for s in search_spans(api, started - 60, int(time.time()) + 60, ml_app=APP, span_name="message")]
        assert len(roots) == MESSAGES and all(s["parent_id"] == "undefined" for s in roots)
        assert {s["evaluation"]["auditor_verdict"]["value"] for s in roots} <= {"pass", "fail"}
        assert all("auditor_verdict" in s["evaluation"] for s in roots)
        llm = list(search_spans(api, started - 60, int(time.time()) + 60, ml_app=APP, span_kind="llm"))
        assert {s["name"] for s in llm} >= {"chatbot", "auditor"}
        assert {(s["model_name"], s["model_provider"]) for s in llm} == {("gemini-2.5-flash", "google")}
        chat = next(s for s in llm if s["name"] == "chatbot")
        assert chat["metrics"]["reasoning_output_tokens"] > 0 and chat["metrics"]["total_cost"] > 0


def _all_in(api: ApiClient, started: int) -> bool:
    """Every message's root span and verdict have arrived (ddtrace flushes on exit; the intake is synchronous)."""
    roots = [s for s in search_spans(api, started - 60, int(time.time()) + 60, ml_app=APP, span_name="message")]
    return len(roots) >= MESSAGES and all("evaluation" in s for s in roots)
