"""Private by default: the sandbox's folder and files are owner-only whatever the umask; no key on a command line.

Under umask 022 the sandbox used to leave its folder 0755 and metrics.duckdb/.wal and sandbox.log 0644, so every
local user could read all data sent to it; keys could only be given in argv, readable in /proc/<pid>/cmdline.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterator

import pytest
from datadog_api_client.v1.api.events_api import EventsApi
from datadog_api_client.v1.model.event_create_request import EventCreateRequest

from autonomic_lib.client import make_api_client
from autonomic_lib.errors import SandboxError
from autonomic_lib.sandbox.server import STATE_FILE, read_state
from autonomic_lib.sandbox_process import LOG_FILE, start_sandbox_process, stop_sandbox_process
from autonomic_lib.settings import Settings

from tests.conftest import start_sandbox


def mode(path: Path) -> str:
    return f"{stat.S_IMODE(os.stat(path).st_mode):04o}"


def modes(folder: Path) -> dict[str, str]:
    """The folder's mode (as ".") and every file's in it, in octal."""
    return {".": mode(folder), **{p.name: mode(p) for p in folder.iterdir()}}


def owner_only(folder: Path) -> dict[str, str]:
    """What `modes(folder)` must be: the folder 0700, every file in it 0600."""
    return {".": "0700", **{p.name: "0600" for p in folder.iterdir()}}


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The common default umask, under which files are 0644 and folders 0755 unless the program says otherwise."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def post_event(settings: Settings) -> None:
    with make_api_client(settings) as client:
        EventsApi(client).create_event(body=EventCreateRequest(title="private", text="data"))


# ------------------------------------------------------------------------------------------ files
def test_the_sandbox_process_keeps_everything_owner_only_under_umask_022(tmp_path: Path, umask_022: None) -> None:
    folder = tmp_path / "new" / "sandbox"  # created by the launcher
    settings = start_sandbox_process(folder)
    try:
        post_event(settings)  # a write, so the .wal exists
        assert {"metrics.duckdb", "metrics.duckdb.wal", STATE_FILE, LOG_FILE} <= set(modes(folder))
        assert modes(folder) == owner_only(folder)
    finally:
        stop_sandbox_process(folder)
    # DuckDB deletes its .wal at each checkpoint (the stop made one) and re-creates it with the process umask.
    settings = start_sandbox_process(folder)
    try:
        post_event(settings)
        assert (folder / "metrics.duckdb.wal").exists()
        assert modes(folder) == owner_only(folder)
    finally:
        stop_sandbox_process(folder)


def test_a_sandbox_in_a_thread_creates_owner_only_files_and_leaves_the_umask_alone(tmp_path: Path,
                                                                                    umask_022: None) -> None:
    folder = tmp_path / "data"
    server = start_sandbox(folder)
    try:
        assert os.umask(0o022) == 0o022  # the host process's umask is as it was
        assert modes(folder) == {".": "0700", "metrics.duckdb": "0600", "metrics.duckdb.wal": "0600",
                                 STATE_FILE: "0600"}
    finally:
        server.stop()


def test_a_loose_folder_and_store_from_an_older_version_are_tightened(tmp_path: Path, umask_022: None) -> None:
    folder = tmp_path / "old"
    start_sandbox(folder).stop()
    os.chmod(folder, 0o755)
    os.chmod(folder / "metrics.duckdb", 0o644)
    server = start_sandbox(folder)
    try:
        assert mode(folder) == "0700" and mode(folder / "metrics.duckdb") == "0600"
    finally:
        server.stop()


def test_a_shared_folder_is_refused_not_chmodded(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # like /tmp: tightening it would break everyone else
    with pytest.raises(SandboxError, match=f"{shared}.*shared with other users \\(mode 1777\\)"):
        start_sandbox(shared)
    assert mode(shared) == "1777" and not (shared / "metrics.duckdb").exists()


# ------------------------------------------------------------------------------------------ keys
def test_the_kits_launcher_puts_no_key_on_the_command_line(tmp_path: Path) -> None:
    settings = start_sandbox_process(tmp_path / "sandbox")
    try:
        state = read_state(tmp_path / "sandbox")
        assert state is not None and settings.api_key is not None and settings.app_key is not None
        line = cmdline(state.pid)
        assert "autonomic_lib sandbox" in line
        assert state.api_key not in line and state.app_key not in line
        assert "--api-key" not in line and "--app-key" not in line
    finally:
        stop_sandbox_process(tmp_path / "sandbox")
