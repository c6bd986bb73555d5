"""Serve the sandbox on 127.0.0.1, in a background thread (tests, demo) or the foreground (CLI).

Notebooks run in their own kernels, so the sandbox publishes its address and keys in a state file
(`sandbox.json`, mode 0600) inside its data folder; every client finds it there. The folder is 0700 and every file
the sandbox writes in it 0600, whatever the umask (storage/private.py): it holds the keys and all data sent.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Iterator

import duckdb
import uvicorn

from autonomic_lib.errors import SandboxError
from autonomic_lib.sandbox.app import Sandbox, SandboxConfig, create_app
from autonomic_lib.sandbox.dogstatsd.listener import Listener
from autonomic_lib.sandbox.keys import generate_keys, mask  # noqa: F401 - re-exported
from autonomic_lib.sandbox.state import STATE_FILE, SandboxState, read_state, write_state  # noqa: F401 - re-exported
from autonomic_lib.sandbox.storage.private import OWNER_ONLY_UMASK, owner_only_umask

log = logging.getLogger("autonomic_lib.sandbox")
HOST = "127.0.0.1"


class _Server(uvicorn.Server):
    """uvicorn's server, except that SIGINT/SIGTERM stop it and return instead of re-raising the signal.

    uvicorn re-raises a caught signal after its graceful shutdown, which would kill the process
    before the store is checkpointed and the state file removed.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # only the main thread may handle signals; threaded servers are stopped by stop()
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        raise SandboxError(f"cannot listen on {HOST}:{port}: {exc.strerror}; choose another --port or omit it "
                           "for a free one") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class SandboxServer:
    """A sandbox listening on 127.0.0.1 (a free port unless one is given), and for DogStatsD on UDP when
    `config.dogstatsd_port` is set (0: a free port; `dogstatsd.port` and the state file tell which).

    Usage::

        with SandboxServer(SandboxConfig(api_key, app_key, data_dir=tmp)) as server:
            client_host = server.url          # e.g. http://127.0.0.1:40123
    """

    def __init__(self, config: SandboxConfig, *, port: int = 0):
        self.config = config
        try:
            with owner_only_umask():  # DuckDB creates its .wal with the first write, while the stores set up
                self.sandbox = Sandbox(config)
        except duckdb.IOException as exc:
            owner = read_state(config.data_dir) if config.data_dir else None
            who = f" by the sandbox at {owner.url} (pid {owner.pid})" if owner else ""
            raise SandboxError(f"data folder {config.data_dir} is in use{who}: {exc}") from None
        self._sock = _bind(port)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://{HOST}:{self.port}"
        self.dogstatsd: Listener | None = None
        if config.dogstatsd_port is not None:
            try:
                self.dogstatsd = Listener(self.sandbox.dogstatsd, host=HOST, port=config.dogstatsd_port)
            except SandboxError:
                self._sock.close()
                self.sandbox.close()
                raise
        self.sandbox.app_url = self.url  # monitor and log links in cases and notifications point back here
        uv_config = uvicorn.Config(create_app(self.sandbox), log_level="warning", access_log=False, lifespan="off",
                                   timeout_keep_alive=30)
        self._server = _Server(uv_config)
        self._thread: threading.Thread | None = None

    def _publish(self) -> None:
        if self.config.data_dir is not None:
            write_state(SandboxState(self.url, os.getpid(), self.config.api_key, self.config.app_key,
                                      str(self.config.data_dir), time.time(),
                                      self.dogstatsd.port if self.dogstatsd else None))

    def start(self, timeout: float = 30.0) -> "SandboxServer":
        """Serve in a daemon thread and return once the server accepts connections."""
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name=f"sandbox-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise SandboxError(f"the sandbox did not start on {self.url} within {timeout:.0f} s")
            time.sleep(0.01)
        self.sandbox.evaluator.start()
        if self.dogstatsd is not None:
            self.dogstatsd.start()
        self._publish()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until SIGINT/SIGTERM, then close the store cleanly.

        This process is the sandbox, so its umask stays 0o077 while it serves: DuckDB re-creates the .wal after
        every checkpoint, and it must be 0600 each time. (A sandbox served from a thread leaves the host
        process's umask alone; its 0700 folder keeps a re-created .wal from other users.)
        """
        previous = os.umask(OWNER_ONLY_UMASK)
        self._publish()
        self.sandbox.evaluator.start()
        if self.dogstatsd is not None:
            self.dogstatsd.start()
        try:
            self._server.run(sockets=[self._sock])
        finally:
            self._cleanup()
            os.umask(previous)

    def stop(self) -> None:
        """Stop serving, checkpoint the store and remove the state file."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._cleanup()

    def _cleanup(self) -> None:
        if self.dogstatsd is not None:
            self.dogstatsd.stop()  # its last flush writes the open bucket: before the store closes
        self.sandbox.evaluator.stop()
        try:
            self._sock.close()
        except OSError:
            pass
        if self.config.data_dir is not None:
            state = read_state(self.config.data_dir)
            if state is not None and state.url == self.url:
                (Path(self.config.data_dir) / STATE_FILE).unlink(missing_ok=True)
        try:
            self.sandbox.close()
        except duckdb.ConnectionException:
            pass  # already closed

    def __enter__(self) -> "SandboxServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
