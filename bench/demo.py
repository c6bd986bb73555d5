"""The demo's wall time, step by step, and how soon the story's outcome is visible.

Runs what `python -m autonomic_lib demo` runs (a sandbox process, then the four notebooks with
papermill, each rendered to HTML) and prints:
  - the wall time of each step and of the whole run, start to report;
  - the time from start until all three kit monitors have been in Alert and the Case is open, polled
    through the official client (MonitorsApi, CaseManagementApi) from a thread while the notebooks run.

Run: `.venv/bin/python bench/demo.py`. Figures are for this machine and moment; compare them, don't assert them.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from datadog_api_client.v1.api.monitors_api import MonitorsApi  # noqa: E402
from datadog_api_client.v2.api.case_management_api import CaseManagementApi  # noqa: E402

from autonomic_lib.client import make_api_client  # noqa: E402
from autonomic_lib.demo import NOTEBOOKS_DIR  # noqa: E402
from autonomic_lib.expectations import KIT_ASSETS  # noqa: E402
from autonomic_lib.notebook import NOTEBOOKS, run_notebook  # noqa: E402
from autonomic_lib.sandbox_process import project_root, start_sandbox_process, stop_sandbox_process  # noqa: E402
from autonomic_lib.settings import Settings  # noqa: E402

KIT_MONITORS = KIT_ASSETS["monitor"]


def watch_outcome(settings: Settings, started: float, stop: threading.Event, seen: dict[str, float]) -> None:
    """Record when every kit monitor has alerted at least once and when the first Case exists."""
    alerted: set[int] = set()
    with make_api_client(settings) as client:
        monitors, cases = MonitorsApi(client), CaseManagementApi(client)
        while not stop.is_set() and "outcome" not in seen:
            try:
                kit = [m for m in monitors.list_monitors(monitor_tags="managed-by:autonomic-kit", group_states="all")]
                for m in kit:
                    groups = (m.get("state") or {}).get("groups") or {}
                    if str(m.overall_state) == "Alert" or any(g.get("last_triggered_ts") for g in groups.values()):
                        alerted.add(m.id)
                if len(kit) == KIT_MONITORS and len(alerted) == KIT_MONITORS and "monitors" not in seen:
                    seen["monitors"] = time.perf_counter() - started
                if cases.search_cases().data and "case" not in seen:
                    seen["case"] = time.perf_counter() - started
                if "monitors" in seen and "case" in seen:
                    seen["outcome"] = max(seen["monitors"], seen["case"])
            except Exception:  # the assets may not exist yet: keep polling
                pass
            stop.wait(0.25)


def main() -> None:
    started = time.perf_counter()
    steps: list[tuple[str, float, bool]] = []
    seen: dict[str, float] = {}
    stop = threading.Event()
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        folder, out = Path(tmp) / "sandbox", Path(tmp) / "reports"
        t0 = time.perf_counter()
        settings = start_sandbox_process(folder)
        steps.append(("start the sandbox process", time.perf_counter() - t0, True))
        watcher = threading.Thread(target=watch_outcome, args=(settings, started, stop, seen), daemon=True)
        watcher.start()
        try:
            for name in NOTEBOOKS:
                parameters = {"SANDBOX_DIR": str(folder)}
                if name == "00_setup":
                    parameters.update(SCENARIO="seed-demo", SEED=7)
                run = run_notebook(NOTEBOOKS_DIR / f"{name}.ipynb", out, parameters, cwd=project_root(), progress=False)
                steps.append((f"notebook {name} (run + render)", run.seconds, run.ok))
                if not run.ok:
                    print(f"{name} failed: {run.error}")
                    break
        finally:
            stop.set()
            watcher.join(timeout=10)
            t0 = time.perf_counter()
            stop_sandbox_process(folder)
            steps.append(("stop the sandbox", time.perf_counter() - t0, True))
    total = time.perf_counter() - started
    print("The demo, step by step (seed-demo, seed 7, sandbox):")
    for name, seconds, ok in steps:
        print(f"  {name:<42} {seconds:7.1f} s{'' if ok else '  FAILED'}")
    print(f"  {'total, start to reports':<42} {total:7.1f} s   (target <= 60 s)")
    for key, label in (("monitors", f"all {KIT_MONITORS} monitors have alerted"), ("case", "the Case is open"),
                       ("outcome", f"{KIT_MONITORS} monitors + Case")):
        value = f"{seen[key]:7.1f} s" if key in seen else "   not seen"
        print(f"  {label:<42} {value}" + ("   (target <= 20 s)" if key == "outcome" else ""))


if __name__ == "__main__":
    main()
