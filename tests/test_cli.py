"""`python -m autonomic_lib`: the sandbox as its own process, and the demo command end to end."""

from __future__ import annotations

import os
import re
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
from datadog_api_client.exceptions import ServiceException
from datadog_api_client.v1.api.authentication_api import AuthenticationApi

from autonomic_lib.cli import main
from autonomic_lib.client import make_api_client
from autonomic_lib.errors import ConfigError
from autonomic_lib.sandbox.server import STATE_FILE, SandboxState, generate_keys, read_state
from autonomic_lib.settings import Settings

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "autonomic_lib", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def wait_for_state(data_dir: Path, proc: subprocess.Popen[str]) -> SandboxState:
    for _ in range(300):
        state = read_state(data_dir)
        if state is not None:
            return state
        if proc.poll() is not None:
            raise AssertionError(f"sandbox exited early: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.05)
    raise AssertionError("sandbox wrote no state file")


@pytest.fixture
def sandbox_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    proc = subprocess.Popen([sys.executable, "-m", "autonomic_lib", "sandbox", "--data-dir", str(tmp_path)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    yield proc, tmp_path
    if proc.poll() is None:
        proc.terminate()
    proc.communicate(timeout=30)  # also closes the pipes


def test_sandbox_process_generates_keys_and_never_prints_them(sandbox_process) -> None:
    proc, data_dir = sandbox_process
    state = wait_for_state(data_dir, proc)
    assert re.fullmatch(r"[0-9a-f]{32}", state.api_key) and re.fullmatch(r"[0-9a-f]{40}", state.app_key)
    assert stat.S_IMODE(os.stat(data_dir / STATE_FILE).st_mode) == 0o600
    assert state.url.startswith("http://127.0.0.1:")
    settings = Settings(api_key=state.api_key, app_key=state.app_key, host=state.url)
    with make_api_client(settings) as client:
        assert AuthenticationApi(client).validate().valid is True
    proc.terminate()
    out, err = proc.communicate(timeout=30)
    assert state.api_key not in out + err and state.app_key not in out + err
    assert f"****{state.api_key[-4:]}" in out and state.url in out
    assert proc.returncode == 0
    assert not (data_dir / STATE_FILE).exists(), "a stopped sandbox must not leave a state file behind"
    assert (data_dir / "metrics.duckdb").exists()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_sandbox_uses_the_given_port_and_keys(tmp_path: Path) -> None:
    api_key, app_key = generate_keys()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "autonomic_lib", "sandbox", "--port", str(port), "--data-dir",
                             str(tmp_path), "--api-key", api_key, "--app-key", app_key],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        state = wait_for_state(tmp_path, proc)
        assert state.url == f"http://127.0.0.1:{port}"
        with make_api_client(Settings(api_key=api_key, app_key=app_key, host=state.url)) as client:
            assert AuthenticationApi(client).validate().valid is True
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


@pytest.mark.parametrize("args, fragment", [
    (["--api-key", "not-a-key"], "--api-key must be 32"),
    (["--app-key", "abc123"], "--app-key must be 40"),
])
def test_sandbox_refuses_malformed_keys_without_echoing_them(tmp_path: Path, args: list[str], fragment: str) -> None:
    result = run_cli("sandbox", "--data-dir", str(tmp_path), *args)
    assert result.returncode == 2 and fragment in result.stderr
    assert args[1] not in result.stderr


def test_second_sandbox_on_the_same_data_dir_is_refused(sandbox_process) -> None:
    proc, data_dir = sandbox_process
    state = wait_for_state(data_dir, proc)
    result = run_cli("sandbox", "--data-dir", str(data_dir))
    assert result.returncode == 2
    assert "in use" in result.stderr and state.url in result.stderr
    assert state.api_key not in result.stderr + result.stdout


def test_port_already_taken_gives_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run_cli("sandbox", "--port", str(port), "--data-dir", str(tmp_path))
    assert result.returncode == 2 and f"127.0.0.1:{port}" in result.stderr


# ------------------------------------------------------------------------------------------ errors
def failing_lint(exc: BaseException, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `lint` raise `exc`: a stand-in for any command meeting an error nobody handled."""
    def lint_assets(*args: object, **kwargs: object) -> None:
        raise exc

    monkeypatch.setattr("autonomic_lib.assets.lint_assets", lint_assets)


def test_an_unexpected_error_is_one_line_exit_1_without_keys(monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    api_key, app_key = generate_keys()
    monkeypatch.setenv("DD_API_KEY", "not-hex-but-secret")
    failing_lint(RuntimeError(f"boom with {api_key}\nand {app_key} and not-hex-but-secret\non three lines"),
                 monkeypatch)
    assert main(["lint"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: RuntimeError: boom with **** and **** and ****")
    assert "-v" in err and "Traceback" not in err
    assert api_key not in err and app_key not in err and "not-hex-but-secret" not in err


@pytest.mark.parametrize("argv", [["-v", "lint"], ["lint", "-v"], ["lint", "--verbose"]])
def test_verbose_shows_the_traceback_too_still_without_keys(argv: list[str], monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    api_key, _ = generate_keys()
    failing_lint(RuntimeError(f"boom {api_key}"), monkeypatch)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "in lint_assets" in err
    assert err.splitlines()[-1] == "error: RuntimeError: boom ****"
    assert api_key not in err


def test_the_kits_errors_keep_exit_2_and_their_message(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    failing_lint(ConfigError("DD_SITE='x' is not a Datadog site"), monkeypatch)
    assert main(["lint"]) == 2
    assert capsys.readouterr().err == "error: DD_SITE='x' is not a Datadog site\n"


def test_an_api_error_nobody_handled_is_one_line_without_headers(monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    failing_lint(ServiceException(status=503, reason="Service Unavailable"), monkeypatch)
    assert main(["lint"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: the backend answered HTTP 503 Service Unavailable")


def test_reset_stops_the_sandbox_of_a_state_folder_and_deletes_the_folder(
        sandbox_process: tuple[subprocess.Popen[str], Path]) -> None:
    proc, folder = sandbox_process
    wait_for_state(folder, proc)
    result = run_cli("reset", "--data-dir", str(folder))
    assert result.returncode == 0 and "removed" in result.stdout and "sandbox.json" in result.stdout
    assert proc.wait(timeout=10) is not None and not folder.exists()


def test_reset_refuses_a_folder_the_kit_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "thesis.tex").write_text("precious")
    result = run_cli("reset", "--data-dir", str(tmp_path))
    assert result.returncode == 2 and "is not a sandbox state folder" in result.stderr and "thesis.tex" in result.stderr
    assert (tmp_path / "thesis.tex").read_text() == "precious"


def test_sandbox_env_prints_the_agent_variables_of_the_running_sandbox_and_no_key(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "autonomic_lib", "sandbox", "--data-dir", str(tmp_path),
                             "--dogstatsd-port", "0"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        state = wait_for_state(tmp_path, proc)
        done = run_cli("sandbox-env", "--data-dir", str(tmp_path))
        assert done.returncode == 0, done.stderr
        lines = dict(line.removeprefix("export ").split("=", 1) for line in done.stdout.splitlines())
        assert lines == {"DD_TRACE_AGENT_URL": state.url, "DD_LLMOBS_AGENTLESS_ENABLED": "false",
                         "DD_AGENT_HOST": "127.0.0.1",
                         "DD_DOGSTATSD_PORT": str(state.dogstatsd_port)}
        assert state.api_key not in done.stdout + done.stderr and state.app_key not in done.stdout + done.stderr
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    stopped = run_cli("sandbox-env", "--data-dir", str(tmp_path))
    assert stopped.returncode == 2 and "no sandbox runs from" in stopped.stderr


@pytest.mark.parametrize("value", ["0", "-1", "1.5", "²", "3601"])
def test_a_dogstatsd_interval_outside_whole_seconds_1_to_3600_is_refused_naming_the_option(
        value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["sandbox", "--dogstatsd-interval", value])
    assert exit_info.value.code == 2
    assert "--dogstatsd-interval: must be whole seconds from 1 to 3600" in capsys.readouterr().err
