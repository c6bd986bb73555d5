"""Private by default: the sandbox's folder and files are owner-only whatever the umask; no key on a command line.

Under umask 022 the sandbox used to leave its folder 0755 and metrics.duckdb/.wal and sandbox.log 0644, so every
local user could read all data sent to it; keys could only be given in argv, readable in /proc/<pid>/cmdline.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
from datadog_api_client.v1.api.events_api import EventsApi
from datadog_api_client.v1.model.event_create_request import EventCreateRequest

from autonomic_lib.client import make_api_client
from autonomic_lib.errors import SandboxError
from autonomic_lib.sandbox.server import STATE_FILE, generate_keys, read_state
from autonomic_lib.sandbox_process import LOG_FILE, start_sandbox_process, stop_sandbox_process
from autonomic_lib.settings import Settings

from tests.conftest import start_sandbox
from tests.test_cli import REPO, run_cli, wait_for_state


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


def start_cli_sandbox(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "autonomic_lib", "sandbox", "--data-dir", str(data_dir), *args],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


def stop(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    out, err = proc.communicate(timeout=30)
    return out + err


def key_file(path: Path, api_key: str, app_key: str, file_mode: int = 0o600) -> Path:
    path.write_text(f"# sandbox keys\nDD_API_KEY={api_key}\nDD_APP_KEY={app_key}\n")
    os.chmod(path, file_mode)
    return path


def test_the_sandbox_takes_its_keys_from_a_key_file_and_not_argv(tmp_path: Path) -> None:
    api_key, app_key = generate_keys()
    proc = start_cli_sandbox(tmp_path / "data", "--key-file", str(key_file(tmp_path / "keys", api_key, app_key)))
    try:
        state = wait_for_state(tmp_path / "data", proc)
        assert (state.api_key, state.app_key) == (api_key, app_key)
        line = cmdline(proc.pid)
        assert api_key not in line and app_key not in line
    finally:
        output = stop(proc)
    assert api_key not in output and app_key not in output
    assert "from the key file" in output and "warning" not in output


@pytest.mark.parametrize("file_mode", [0o644, 0o640, 0o604, 0o660], ids=oct)
def test_a_key_file_others_can_read_is_refused_naming_it(tmp_path: Path, file_mode: int) -> None:
    api_key, app_key = generate_keys()
    path = key_file(tmp_path / "keys", api_key, app_key, file_mode)
    result = run_cli("sandbox", "--data-dir", str(tmp_path / "data"), "--key-file", str(path))
    assert result.returncode == 2
    assert f"key file {path}" in result.stderr and f"chmod 600 {path}" in result.stderr
    assert result.stderr.count("\n") == 1 and result.stdout == ""
    assert api_key not in result.stderr + result.stdout and app_key not in result.stderr + result.stdout
    assert read_state(tmp_path / "data") is None


def test_a_key_file_with_a_malformed_key_names_the_file_and_variable_only(tmp_path: Path) -> None:
    path = key_file(tmp_path / "keys", "not-a-hex-api-key", generate_keys()[1])
    result = run_cli("sandbox", "--data-dir", str(tmp_path / "data"), "--key-file", str(path))
    assert result.returncode == 2 and f"DD_API_KEY in key file {path} must be 32" in result.stderr
    assert "not-a-hex-api-key" not in result.stderr


def test_the_sandbox_takes_its_keys_from_the_environment(tmp_path: Path) -> None:
    api_key, app_key = generate_keys()
    proc = start_cli_sandbox(tmp_path / "data", env={"DD_API_KEY": api_key, "DD_APP_KEY": app_key})
    try:
        state = wait_for_state(tmp_path / "data", proc)
        assert (state.api_key, state.app_key) == (api_key, app_key)
        assert api_key not in cmdline(proc.pid)
    finally:
        output = stop(proc)
    assert "from DD_API_KEY" in output and "from DD_APP_KEY" in output
    assert api_key not in output and app_key not in output and "warning" not in output


def test_a_malformed_key_in_the_environment_is_named_not_echoed(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "autonomic_lib", "sandbox", "--data-dir", str(tmp_path)],
                            cwd=REPO, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "DD_APP_KEY": "SECRET-not-hex"})
    assert result.returncode == 2 and "DD_APP_KEY must be 40" in result.stderr
    assert "SECRET" not in result.stderr + result.stdout


def test_keys_in_argv_still_work_but_warn_once(tmp_path: Path) -> None:
    api_key, app_key = generate_keys()
    proc = start_cli_sandbox(tmp_path / "data", "--api-key", api_key, "--app-key", app_key)
    try:
        state = wait_for_state(tmp_path / "data", proc)
        assert (state.api_key, state.app_key) == (api_key, app_key)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "visible to every local user" in warnings[0] and "--key-file" in warnings[0]
    assert api_key not in out + err


def test_a_key_file_and_argv_keys_together_are_refused(tmp_path: Path) -> None:
    api_key, app_key = generate_keys()
    path = key_file(tmp_path / "keys", api_key, app_key)
    result = run_cli("sandbox", "--data-dir", str(tmp_path), "--key-file", str(path), "--api-key", api_key)
    assert result.returncode == 2 and "not both" in result.stderr
