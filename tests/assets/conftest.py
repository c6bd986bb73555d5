"""Asset tests share a fresh sandbox per test and the command line pointed at it."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from autonomic_lib.sandbox.server import SandboxServer
from autonomic_lib.settings import Settings
from tests.conftest import start_sandbox

FIXTURES = Path(__file__).parent / "fixtures"
DATADOG = FIXTURES / "datadog"  # exports written in Datadog's shapes, one scenario each


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """A fresh in-memory sandbox per test: import is judged against an empty backend."""
    server = start_sandbox(None)
    yield server
    server.stop()


def settings_for(server: SandboxServer) -> Settings:
    keys = {"api_key": server.config.api_key, "app_key": server.config.app_key}
    return Settings(**keys, host=server.url)  # type: ignore[arg-type]


@pytest.fixture
def cli_on_sandbox(sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    """`python -m autonomic_lib` commands reach `sandbox` through DD_* variables, from a folder without a .env."""
    monkeypatch.setenv("DD_API_KEY", sandbox.config.api_key)
    monkeypatch.setenv("DD_APP_KEY", sandbox.config.app_key)
    monkeypatch.setenv("DD_HOST", sandbox.url)
    monkeypatch.chdir(tmp_path)
    return sandbox
