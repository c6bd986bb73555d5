"""Shared fixtures: an environment without Datadog variables, real sandbox servers on free ports, raw requests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import orjson
import pytest
import urllib3
from datadog_api_client import ApiClient, Configuration
from datadog_api_client.exceptions import ApiException

from autonomic_lib.sandbox.config import SandboxConfig
from autonomic_lib.sandbox.server import SandboxServer, generate_keys


DATADOG_VARS = ("DD_API_KEY", "DD_APP_KEY", "DD_SITE", "DD_HOST", "DD_APPLICATION_KEY")


@pytest.fixture(autouse=True)
def no_datadog_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may see (or send to) a developer's real Datadog org."""
    for name in DATADOG_VARS:
        monkeypatch.delenv(name, raising=False)


def start_sandbox(data_dir: Path | None, **config: object) -> SandboxServer:
    """A real sandbox server in a background thread, with fresh keys."""
    api_key, app_key = generate_keys()
    return SandboxServer(SandboxConfig(api_key=api_key, app_key=app_key, data_dir=data_dir, **config)).start()  # type: ignore[arg-type]


def client_for(server: SandboxServer, *, api_key: str | None = None, app_key: str | None = None) -> ApiClient:
    """The official client pointed at `server`, type checking on (the default), no retries."""
    configuration = Configuration(host=server.url, api_key={
        "apiKeyAuth": api_key if api_key is not None else server.config.api_key,
        "appKeyAuth": app_key if app_key is not None else server.config.app_key,
    })
    return ApiClient(configuration)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def raw(server: SandboxServer, method: str, path: str, body: Any = None, *,
        app_key: bool = True) -> tuple[int, Any]:
    """A hand-built request, for bodies the client's models cannot express (unknown widget types, ...)."""
    headers = {"Content-Type": "application/json", "DD-API-KEY": server.config.api_key}
    if app_key:
        headers["DD-APPLICATION-KEY"] = server.config.app_key
    response = urllib3.request(method, server.url + path, body=None if body is None else orjson.dumps(body),
                               headers=headers, retries=False)
    return response.status, orjson.loads(response.data) if response.data else None


def errors_of(exc: pytest.ExceptionInfo[ApiException]) -> list[Any]:
    body = exc.value.body
    return (orjson.loads(body) if isinstance(body, (str, bytes)) else body)["errors"]


@pytest.fixture(scope="session")
def session_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    """One durable sandbox for the whole session; tests use distinct metric names to stay independent."""
    server = start_sandbox(tmp_path_factory.mktemp("sandbox"), late_data=("test.late.*",))
    yield server
    server.stop()


@pytest.fixture
def api_client(session_sandbox: SandboxServer) -> Iterator[ApiClient]:
    with client_for(session_sandbox) as client:
        yield client


@pytest.fixture
def now() -> int:
    """A minute-aligned 'now' a little in the past, so whole buckets are complete."""
    return int(time.time()) // 60 * 60 - 60


@dataclass
class DemoRun:
    """One `python -m autonomic_lib demo --out <out>`: how it ended, where its reports are, the sandbox it used."""

    done: subprocess.CompletedProcess[str]
    out: Path
    server: SandboxServer
    points_stored: int  # points that sandbox held once the demo was done


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    """The whole demo, run once for every test that reads a finished demo (it is the suite's longest step).

    As a user types it, in its own process with four kernels, aimed by DD_HOST and keys at a sandbox of this test
    process (a user's way to aim it at any backend). The demo starting and stopping its own sandbox process is
    tests/test_demo.py's (the failure path) and `make demo`'s.
    """
    server = start_sandbox(tmp_path_factory.mktemp("demo-sandbox"), late_data=("autonomic.*",))
    out = tmp_path_factory.mktemp("reports")
    env = {k: v for k, v in os.environ.items() if k not in DATADOG_VARS}
    env.update(DD_HOST=server.url, DD_API_KEY=server.config.api_key, DD_APP_KEY=server.config.app_key)
    try:
        done = subprocess.run([sys.executable, "-m", "autonomic_lib", "demo", "--out", str(out)], env=env,
                              cwd=tmp_path_factory.mktemp("cwd"), capture_output=True, text=True, timeout=600,
                              check=False)
        yield DemoRun(done, out, server, server.sandbox.store.count_points())
    finally:
        server.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with a `slow` test first (in collection order), then the others by test count, most first.

    `make test` hands out whole files to two workers (`--dist loadfile`); xdist's own order (by test count, which
    pyproject turns off with --no-loadscope-reorder) started the four-test demo file last, so one worker ran it
    alone at the end. Long files first and short ones last lets both workers end together. Order within a file is
    kept."""
    files: dict[str, list[pytest.Item]] = {}
    for item in items:
        files.setdefault(item.nodeid.split("::")[0], []).append(item)
    slow = {name for name, tests in files.items() if any(t.get_closest_marker("slow") for t in tests)}
    order = sorted(files, key=lambda name: (name not in slow, 0 if name in slow else -len(files[name])))
    items[:] = [item for name in order for item in files[name]]
