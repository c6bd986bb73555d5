"""Which backend a command talks to: Datadog when keys are set, else a running sandbox, else one started for it.

Every sandbox the kit starts has Late Data enabled for autonomic.* (as Datadog's per-metric setting
allows), so a backfilled scenario reaching hours back is accepted. A running sandbox is found through
the state file (`sandbox.json`) in its data folder, `.sandbox` by default.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .settings import Settings

KIT_LATE_DATA = ("autonomic.*",)
SANDBOX_DIR = Path(".sandbox")


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
    from .sandbox.server import read_state

    state = read_state(Path(data_dir))
    if state is None or not _alive(state.pid):
        return None
    return Settings(api_key=state.api_key, app_key=state.app_key, host=state.url)  # type: ignore[arg-type]


@contextmanager
def sandbox_settings(data_dir: Path) -> Iterator[Settings]:
    """Settings pointing at a new sandbox served from a thread of this process until the block ends."""
    from .sandbox.app import SandboxConfig
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
    settings = settings or Settings.from_env()
    if settings.api_key is not None or settings.app_key is not None:
        yield settings.require(), settings.target
        return
    look_in = Path(data_dir) if data_dir is not None else SANDBOX_DIR
    found = running_sandbox(look_in)
    if found is not None:
        yield found, f"{found.target} (found in {look_in / 'sandbox.json'})"
        return
    with tempfile.TemporaryDirectory(prefix="autonomic-sandbox-") as tmp:
        folder = Path(data_dir).resolve() if data_dir is not None else Path(tmp)
        with sandbox_settings(folder) as started:
            yield started, f"{started.target} (started for this command, data in {folder})"
