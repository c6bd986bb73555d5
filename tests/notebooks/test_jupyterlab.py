"""JupyterLab's server starts on the project and lists the four notebooks through its REST API."""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from autonomic_lib.notebook import NOTEBOOKS

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_jupyterlab_lists_the_notebooks(tmp_path: Path) -> None:
    port, token = _free_port(), secrets.token_urlsafe(16)
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         f"--ServerApp.token={token}", f"--ServerApp.root_dir={ROOT}", "--ServerApp.allow_root=True",
         "--ServerApp.port_retries=0", f"--ServerApp.runtime_dir={tmp_path}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin",
                                                                "JUPYTER_CONFIG_DIR": str(tmp_path / "config")})
    try:
        url = f"http://127.0.0.1:{port}/api/contents/notebooks"
        deadline, listing = time.monotonic() + 60, None
        while time.monotonic() < deadline and listing is None:
            assert server.poll() is None, server.stderr.read().decode()[-2000:] if server.stderr else ""
            try:
                request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
                with urllib.request.urlopen(request, timeout=5) as response:
                    listing = json.loads(response.read())
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.3)
        assert listing is not None, "JupyterLab did not answer within 60 s"
        names = sorted(item["name"] for item in listing["content"] if item["type"] == "notebook")
        assert names == [f"{name}.ipynb" for name in NOTEBOOKS]
        with pytest.raises(urllib.error.HTTPError) as refused:  # and without the token, nothing
            urllib.request.urlopen(url, timeout=5)
        assert refused.value.code == 403
        refused.value.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stderr is not None:
            server.stderr.close()
