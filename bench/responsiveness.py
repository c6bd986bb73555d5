"""Responsiveness under hostile input: GET /api/v1/validate latency while each reproduction of the reliability
issue runs against a sandbox process, as a ratio to the same poll against the idle sandbox (side by side, one run),
and SIGTERM-to-exit time. The test (tests/sandbox/test_responsiveness.py) only guards against hangs.

    python bench/responsiveness.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.sandbox.test_responsiveness import REPRODUCTIONS, Client, Sandbox  # noqa: E402


def poll_once(api: Client) -> float:
    started = time.perf_counter()
    api("GET", "/api/v1/validate", timeout=30.0)
    return time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-responsive-") as tmp:
        sandbox = Sandbox(Path(tmp) / "sandbox")
        poll = Client(sandbox.state)
        idle = statistics.median(poll_once(poll) for _ in range(50))
        print(f"idle validate: median {idle * 1000:.1f} ms")
        for reproduction in REPRODUCTIONS:
            worker = threading.Thread(target=reproduction, args=(Client(sandbox.state),))
            started = time.perf_counter()
            worker.start()
            latencies = []
            while worker.is_alive():
                latencies.append(poll_once(poll))
                time.sleep(0.01)
            worker.join()
            took = time.perf_counter() - started
            worst = max(latencies, default=0.0)
            print(f"{reproduction.__name__:<34} ran {took * 1000:7.0f} ms; validate worst {worst * 1000:6.1f} ms "
                  f"= {worst / idle:5.1f}x idle ({len(latencies)} polls)")
        stop = sandbox.stop(within=30)
        print(f"SIGTERM to exit: {stop * 1000:.0f} ms")


if __name__ == "__main__":
    main()
