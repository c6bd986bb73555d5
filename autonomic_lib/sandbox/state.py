"""The sandbox's state file (`sandbox.json` in its data folder, mode 0600): how every client finds a running sandbox.

Its own module, apart from server.py, so that a notebook kernel or the demo reads it without importing the whole
sandbox (its app, DuckDB, the query grammar, uvicorn: ~0.45 s of CPU in every process that only wants an address).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from autonomic_lib.sandbox.storage.private import open_private

STATE_FILE = "sandbox.json"


@dataclass(frozen=True)
class SandboxState:
    """What a client needs to reach a running sandbox. Its repr never shows the keys."""

    url: str
    pid: int
    api_key: str
    app_key: str
    data_dir: str
    started_at: float
    dogstatsd_port: int | None = None  # UDP on the url's host; None when the sandbox takes no DogStatsD

    def __repr__(self) -> str:
        return (f"SandboxState(url={self.url!r}, pid={self.pid}, data_dir={self.data_dir!r}, "
                f"dogstatsd_port={self.dogstatsd_port}, keys=****)")


def read_state(data_dir: Path) -> SandboxState | None:
    """The state file of the sandbox owning `data_dir`, or None when there is none or it is unreadable."""
    path = Path(data_dir) / STATE_FILE
    try:
        return SandboxState(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def write_state(state: SandboxState) -> None:
    """Publish `state` atomically (a reader sees the old file or the whole new one), owner-only from the start."""
    path = Path(state.data_dir) / STATE_FILE
    tmp = path.with_suffix(".tmp")
    fd = open_private(tmp, os.O_WRONLY | os.O_TRUNC)  # keys inside
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(state), handle)
    os.replace(tmp, path)
