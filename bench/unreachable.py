"""An unreachable backend: seconds until the CLI's one-line error, side by side with the same CLI's start-up
(`--help`), for a refused port and an unresolvable host. The product asks for the error within 2 s.

    python bench/unreachable.py
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEYS = {"DD_API_KEY": "0" * 32, "DD_APP_KEY": "0" * 40}


def seconds(*args: str, host: str | None = None, runs: int = 5) -> float:
    env = {**os.environ, **KEYS, **({"DD_HOST": host} if host else {})}
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "autonomic_lib", *args], cwd=ROOT, env=env, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    startup = seconds("import", "--help")
    print(f"CLI start-up (import --help): {startup:.2f} s (median of 5)")
    for label, host in (("refused", f"http://127.0.0.1:{port}"), ("unresolvable", "http://no-such-host.invalid")):
        for command in ("import", "export", "traffic"):
            took = seconds(command, host=host)
            print(f"{label:<13} {command:<8} {took:.2f} s = {took / startup:.1f}x start-up "
                  f"(the command's own work: {took - startup:.2f} s; the product asks for < 2 s in all)")


if __name__ == "__main__":
    main()
