"""The sandbox as its own process: started for the notebooks (it outlives their kernels), found, stopped.

Its state folder (`.sandbox` by default, relative to the kit's root, mode 0700) holds `sandbox.json` (address and
keys, written by the sandbox itself, mode 0600) and `sandbox.log` (its output, never a full key; 0600 too).
No key is ever on the sandbox's command line, which every local user can read: the sandbox generates its own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

from .backend import KIT_LATE_DATA, running_sandbox
from .errors import SandboxError
from .sandbox.storage.private import open_private, private_dir
from .settings import Settings

LOG_FILE = "sandbox.log"
# Sandboxes this process started: kept so they are reaped when stopped (and not warned about as leaked
# while they deliberately outlive a notebook's kernel).
_STARTED: dict[int, subprocess.Popen[bytes]] = {}


def project_root(start: Path | None = None) -> Path:
    """The kit's folder (holding notebooks/ and assets/) at or above `start` (default: the working directory).

    JupyterLab runs a notebook's kernel in notebooks/, papermill in the caller's folder: resolving
    relative paths against this root makes `.sandbox` the same folder for both.
    """
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "notebooks").is_dir() and (folder / "assets").is_dir():
            return folder
    return here


def state_dir(sandbox_dir: str | Path) -> Path:
    """`sandbox_dir` as an absolute path (relative ones against `project_root()`)."""
    path = Path(sandbox_dir).expanduser()
    return path if path.is_absolute() else project_root() / path


def start_sandbox_process(folder: Path, timeout: float = 60.0, *, late_data: Sequence[str] = KIT_LATE_DATA,
                          memory_limit: str | None = None, dogstatsd_port: int | None = 0) -> Settings:
    """Start `python -m autonomic_lib sandbox --data-dir <folder> --late-data 'autonomic.*'` on its own, and wait
    until it serves (`launch_sandbox_process`, then `wait_for_sandbox`).

    It takes DogStatsD on UDP `dogstatsd_port` (default 0: a free port; None: no DogStatsD); the port is in its
    state file: `read_state(folder).dogstatsd_port`.

    It outlives the kernel that started it (its own session); stop it with `stop_sandbox_process`.
    Its output goes to `<folder>/sandbox.log` (it never prints a key in full). It generates its keys: no DD_*
    variable reaches it (it would take DD_API_KEY/DD_APP_KEY, the user's Datadog keys, as its own), and no key is
    in its argv.
    """
    process = launch_sandbox_process(folder, late_data=late_data, memory_limit=memory_limit,
                                     dogstatsd_port=dogstatsd_port)
    return wait_for_sandbox(folder, process, timeout)


def launch_sandbox_process(folder: Path, *, late_data: Sequence[str] = KIT_LATE_DATA, memory_limit: str | None = None,
                           dogstatsd_port: int | None = 0) -> subprocess.Popen[bytes]:
    """Start the sandbox process (as `start_sandbox_process` does) and return at once: it boots (about a second of
    imports and opening its database) while the caller does something else, then `wait_for_sandbox`."""
    private_dir(folder)
    (folder / "sandbox.json").unlink(missing_ok=True)  # a stale file of a dead sandbox
    late = [arg for glob in late_data for arg in ("--late-data", glob)]
    late += ["--memory-limit", memory_limit] if memory_limit else []
    late += ["--dogstatsd-port", str(dogstatsd_port)] if dogstatsd_port is not None else []
    with os.fdopen(open_private(folder / LOG_FILE, os.O_WRONLY | os.O_APPEND), "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "autonomic_lib", "sandbox", "--data-dir", str(folder), *late],
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, env={k: v for k, v in os.environ.items()
                                                                if not k.startswith("DD_")})
    _STARTED[process.pid] = process
    return process


def wait_for_sandbox(folder: Path, process: subprocess.Popen[bytes], timeout: float = 60.0) -> Settings:
    """Wait until the sandbox `process` launched from `folder` has published its state file, and connect.

    Raises:
        SandboxError: it exited first (with its log's tail), or did not publish within `timeout` (it is stopped).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = running_sandbox(folder)
        if found is not None:
            return found
        if process.poll() is not None:
            _STARTED.pop(process.pid, None)
            tail = (folder / LOG_FILE).read_text(errors="replace")[-600:]
            raise SandboxError(f"the sandbox exited with code {process.returncode}; its log ({folder / LOG_FILE}) "
                               f"ends with:\n{tail}")
        time.sleep(0.05)
    process.terminate()
    process.wait(timeout=30)
    _STARTED.pop(process.pid, None)
    raise SandboxError(f"the sandbox did not publish {folder / 'sandbox.json'} within {timeout:.0f} s")


def stop_sandbox_process(folder: Path, timeout: float = 30.0) -> bool:
    """SIGTERM the sandbox running from `folder` (it checkpoints and removes its state file); True if one ran."""
    from .sandbox.state import read_state

    state = read_state(folder)
    if state is None or state.pid == os.getpid():
        return False
    try:
        os.kill(state.pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    child = _STARTED.pop(state.pid, None)
    if child is not None:
        child.wait(timeout=timeout)  # our child: reap it, or it lingers as a zombie
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and running_sandbox(folder) is not None:
        time.sleep(0.1)
    return True


_STATE_FILES = ("sandbox.json", "run.json", "ledger.json", "ledger.pkl", "metrics.duckdb", "sandbox.log")  # ledger.pkl: older kits


def reset_state_folder(folder: Path, timeout: float = 30.0) -> list[str]:
    """Stop the sandbox running from `folder` and delete the folder: a fresh start (no assets, no data, no plan).

    Only a sandbox state folder is deleted (one holding a file the kit writes there, or empty), so a mistyped
    path cannot wipe someone's files. Returns what was removed.

    Raises:
        ConfigError: `folder` exists but is not a sandbox state folder (named, with what it holds).
    """
    import shutil

    from .errors import ConfigError

    folder = Path(folder)
    if not folder.exists():
        return []
    entries = sorted(p.name for p in folder.iterdir())
    if entries and not any(name in _STATE_FILES for name in entries):
        raise ConfigError(f"{folder} is not a sandbox state folder (it holds {', '.join(entries[:5])}"
                          f"{', ...' if len(entries) > 5 else ''}); nothing was deleted")
    stop_sandbox_process(folder, timeout)
    shutil.rmtree(folder)
    return entries
