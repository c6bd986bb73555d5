"""The real command line against a backend it cannot reach: one line on stderr naming the host, one attempt.

It was: 13 s (25 s for `traffic`) of retries, then about 100 lines of urllib3 traceback. Connection refused and
unknown host names are not retried, which is what keeps it under the 2 s the product asks; the seconds themselves
are measured by bench/unreachable.py (side by side with the CLI's start-up), never asserted here.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from autonomic_lib.sandbox.server import generate_keys

from tests.test_cli import REPO

API_KEY, APP_KEY = generate_keys()


def closed_port() -> int:
    """A port nothing listens on: bound, then closed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(*args: str, host: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DD_HOST": host, "DD_API_KEY": API_KEY, "DD_APP_KEY": APP_KEY}
    return subprocess.run([sys.executable, "-m", "autonomic_lib", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=60)


def assert_no_key(text: str) -> None:
    for key in (API_KEY, APP_KEY):
        assert key not in text and key[-8:] not in text


HOSTS = {
    "refused": (lambda: f"http://127.0.0.1:{closed_port()}", "connection refused by 127.0.0.1:"),
    "unresolvable": (lambda: "http://no-such-host.invalid", "cannot resolve the host name no-such-host.invalid"),
}


@pytest.mark.parametrize("command", [["import"], ["export"], ["traffic"]], ids=" ".join)
@pytest.mark.parametrize("case", HOSTS)
def test_an_unreachable_backend_gives_one_line_naming_the_host_quickly(command: list[str], case: str) -> None:
    make_host, says = HOSTS[case]
    host = make_host()
    result = run(*command, host=host)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and says in lines[0] and f"check DD_HOST ({host})" in lines[0]
    assert_no_key(result.stdout + result.stderr)


@pytest.mark.parametrize("case", HOSTS)
def test_the_command_tries_the_host_once_and_gives_up(case: str, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """No retries is what makes it fast (13 s of them before); the seconds are bench/unreachable.py's."""
    import urllib3.util.connection

    from autonomic_lib.cli import main

    make_host, says = HOSTS[case]
    monkeypatch.setenv("DD_HOST", make_host())
    monkeypatch.setenv("DD_API_KEY", API_KEY)
    monkeypatch.setenv("DD_APP_KEY", APP_KEY)
    attempts: list[object] = []
    connect = urllib3.util.connection.create_connection

    def counting(*args: object, **kwargs: object) -> object:
        attempts.append(args[0])
        return connect(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(urllib3.util.connection, "create_connection", counting)
    monkeypatch.setattr(urllib3.connection.connection, "create_connection", counting, raising=False)
    code = main(["import"])
    err = capsys.readouterr().err
    assert code == 2 and says in err and len(attempts) == 1, (attempts, err)


def test_verbose_adds_the_traceback_and_still_no_key() -> None:
    result = run("import", "-v", host=f"http://127.0.0.1:{closed_port()}")
    assert result.returncode == 2
    assert "Traceback (most recent call last)" in result.stderr and "BackendUnreachable" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("error: ")
    assert_no_key(result.stdout + result.stderr)
