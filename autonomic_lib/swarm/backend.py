"""Which backend `traffic` talks to: Datadog when keys are set, else a running sandbox, else a new one.

The sandbox the kit starts always has Late Data for autonomic.*, so a backfilled 4 h baseline is
accepted; a running one is found through the state file (`sandbox.json`) in its data folder.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..settings import Settings

KIT_LATE_DATA = ("autonomic.*",)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def traffic_backend(data_dir: Path | None = None, settings: Settings | None = None) -> Iterator[tuple[Settings, str]]:
    """(settings, label) of the backend to send to; a sandbox started here stops when the block ends.

    Args:
        data_dir: the sandbox folder to look for a running sandbox in (default `.sandbox`), and to keep
            the data in when a sandbox has to be started (default: a temporary folder).
        settings: explicit settings; default `Settings.from_env()`.
    """
    settings = settings or Settings.from_env()
    if settings.api_key is not None or settings.app_key is not None:
        yield settings.require(), settings.target
        return
    from ..sandbox.server import read_state

    look_in = Path(data_dir) if data_dir is not None else Path(".sandbox")
    state = read_state(look_in)
    if state is not None and _alive(state.pid):
        yield (Settings(api_key=state.api_key, app_key=state.app_key, host=state.url),  # type: ignore[arg-type]
               f"sandbox {state.url} (found in {look_in / 'sandbox.json'})")
        return
    from ..sandbox.app import SandboxConfig
    from ..sandbox.server import SandboxServer, generate_keys

    api_key, app_key = generate_keys()
    with tempfile.TemporaryDirectory(prefix="autonomic-traffic-") as tmp:
        folder = Path(data_dir).resolve() if data_dir is not None else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        with SandboxServer(SandboxConfig(api_key=api_key, app_key=app_key, data_dir=folder,
                                         late_data=KIT_LATE_DATA)) as server:
            label = f"sandbox {server.url} (started for this command, data in {folder})"
            yield Settings(api_key=api_key, app_key=app_key, host=server.url), label  # type: ignore[arg-type]
