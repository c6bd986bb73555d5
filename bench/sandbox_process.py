"""The benchmarks' sandbox: `python -m autonomic_lib sandbox` as its own process (as the notebooks run it)."""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from autonomic_lib.sandbox.server import read_state
from autonomic_lib.sandbox_process import start_sandbox_process, stop_sandbox_process
from autonomic_lib.settings import Settings


@contextmanager
def sandbox_process(late_data: Sequence[str], memory_limit: str | None = None) -> Iterator[tuple[Settings, int]]:
    """(settings, pid) of a sandbox process with a temporary data folder, stopped afterwards."""
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        folder = Path(tmp)
        settings = start_sandbox_process(folder, late_data=late_data, memory_limit=memory_limit)
        state = read_state(folder)
        try:
            yield settings, state.pid if state else -1
        finally:
            stop_sandbox_process(folder, timeout=120)


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")
