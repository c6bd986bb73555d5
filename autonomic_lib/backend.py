"""Which backend the kit talks to: Datadog when keys are set, else a running sandbox, else one started for it.

`choose_backend` is the one place that rule lives; the CLI (`connect`), the notebooks (`session.open_session`)
and the demo all ask it, and only differ in how they start a sandbox when none runs (a thread for one
command, a process that outlives notebook kernels).

Every sandbox the kit starts has Late Data enabled for autonomic.* (as Datadog's per-metric setting
allows), so a backfilled scenario reaching hours back is accepted. A running sandbox is found through
the state file (`sandbox.json`) in its data folder, `.sandbox` by default.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Literal, NamedTuple
from urllib.parse import urlsplit

from .errors import ConfigError
from .settings import Settings

KIT_LATE_DATA = ("autonomic.*",)
SANDBOX_DIR = Path(".sandbox")
Backend = Literal["auto", "sandbox", "datadog"]
BACKENDS: tuple[Backend, ...] = ("auto", "sandbox", "datadog")


class Choice(NamedTuple):
    """What `choose_backend` decided; `settings` is None when no sandbox runs yet (the caller starts one)."""

    settings: Settings | None
    label: str  # for messages: the target, and where a running sandbox was found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def running_sandbox(data_dir: Path = SANDBOX_DIR) -> Settings | None:
    """Settings for the sandbox whose state file is in `data_dir`, if its process is alive."""
    from .sandbox.state import read_state

    state = read_state(Path(data_dir))
    if state is None or not _alive(state.pid):
        return None
    return Settings(api_key=state.api_key, app_key=state.app_key, host=state.url,  # type: ignore[arg-type]
                    dogstatsd_port=state.dogstatsd_port)


def agent_env(settings: Settings) -> dict[str, str]:
    """The standard variables that aim Datadog's own libraries at a running sandbox as at a local Agent: ddtrace's
    LLM Observability in agent mode (`DD_TRACE_AGENT_URL`) and DogStatsD (`DD_AGENT_HOST`, `DD_DOGSTATSD_PORT`).
    No key: an Agent's clients send none. ddtrace's own defaults stand: with APM tracing on, LLM Observability events
    ride the APM trace payload (`/v0.4/traces`), off they go through the Agent's EVP proxy; the sandbox reads both."""
    if not settings.is_sandbox or settings.host is None:
        raise ConfigError(f"{settings.target} is not a sandbox: point the libraries at your Datadog Agent instead")
    env = {"DD_TRACE_AGENT_URL": settings.host, "DD_LLMOBS_AGENTLESS_ENABLED": "false"}
    if settings.dogstatsd_port is not None:
        env.update(DD_AGENT_HOST=urlsplit(settings.host).hostname or "127.0.0.1",
                   DD_DOGSTATSD_PORT=str(settings.dogstatsd_port))
    return env


def choose_backend(backend: str = "auto", settings: Settings | None = None, data_dir: Path = SANDBOX_DIR
                   ) -> Choice:
    """The backend to use: the keys' (Datadog) when set or asked for, else the sandbox running from `data_dir`.

    Args:
        backend: "auto" (keys if set, else the sandbox), "sandbox" (never the keys) or "datadog" (keys required).
        settings: default `Settings.from_env()` (environment, then `.env`).
        data_dir: the state folder a running sandbox is looked for in.

    DD_HOST with keys is one way to aim at any backend, a sandbox included (how any client reaches one): it is
    used as given, and the state folder then only keeps the plan and the ledger.

    Raises:
        ConfigError: an unknown `backend`, or a missing key.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"BACKEND={backend!r} is not one of 'auto', 'sandbox', 'datadog'")
    settings = settings or Settings.from_env()
    has_keys = settings.api_key is not None or settings.app_key is not None
    if backend == "datadog" or (backend == "auto" and has_keys):
        return Choice(settings.require(), settings.target)
    found = running_sandbox(data_dir)
    return Choice(found, f"{found.target} (found in {data_dir / 'sandbox.json'})" if found is not None else "")


@contextmanager
def sandbox_settings(data_dir: Path) -> Iterator[Settings]:
    """Settings pointing at a new sandbox served from a thread of this process until the block ends."""
    from .sandbox.config import SandboxConfig
    from .sandbox.server import SandboxServer, generate_keys

    api_key, app_key = generate_keys()
    config = SandboxConfig(api_key=api_key, app_key=app_key, data_dir=Path(data_dir), late_data=KIT_LATE_DATA)
    with SandboxServer(config) as server:
        yield Settings(api_key=api_key, app_key=app_key, host=server.url)  # type: ignore[arg-type]


@contextmanager
def connect(data_dir: Path | None = None, settings: Settings | None = None) -> Iterator[tuple[Settings, str]]:
    """(settings, label) of the backend to use; a sandbox started here stops when the block ends.

    Args:
        data_dir: where to look for a running sandbox (default `.sandbox`), and where to keep the data
            of one started here (default: a temporary folder, gone afterwards).
        settings: explicit settings; default `Settings.from_env()` (environment, then `.env`).
    """
    chosen = choose_backend("auto", settings, Path(data_dir) if data_dir is not None else SANDBOX_DIR)
    if chosen.settings is not None:
        yield chosen.settings, chosen.label
        return
    with tempfile.TemporaryDirectory(prefix="autonomic-sandbox-") as tmp:
        folder = Path(data_dir).resolve() if data_dir is not None else Path(tmp)
        with sandbox_settings(folder) as started:
            yield started, f"{started.target} (started for this command, data in {folder})"
