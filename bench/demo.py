"""The demo's wall time, step by step, and how soon the story's outcome is visible.

Runs `python -m autonomic_lib demo` (a sandbox process, then the four notebooks with papermill, each
rendered to HTML) and prints:
  - each notebook's run as the demo reports it, and the whole run's wall time, start to report;
  - the time from start until all the kit's monitors have been in Alert and the Case is open, polled
    through the official client (MonitorsApi, CaseManagementApi) from a thread while the notebooks run;
  - the CPU seconds of the demo's own process, its sandbox process and its four kernels (sampled with psutil):
    on a shared machine they move far less than wall times do.

With `--against REF` (e.g. `--against main`), the same harness also runs the kit as it is at the git revision
REF (exported to a temporary folder), alternating with this tree, and prints both side by side with their ratios:
the machine is shared, so only figures measured in one run compare.

Run: `.venv/bin/python bench/demo.py [--against main] [--rounds 2]`. Figures are for this machine and moment;
compare them, don't assert them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TREE = Path(os.environ.get("AUTONOMIC_BENCH_TREE") or Path(__file__).resolve().parent.parent)
sys.path.insert(0, str(TREE))

from datadog_api_client.v1.api.monitors_api import MonitorsApi  # noqa: E402
from datadog_api_client.v2.api.case_management_api import CaseManagementApi  # noqa: E402

from autonomic_lib.client import make_api_client  # noqa: E402
from autonomic_lib import expectations  # noqa: E402
from autonomic_lib.backend import running_sandbox  # noqa: E402

# the tree's kit monitors (a baseline from before the log monitor has 3)
KIT_MONITORS: int = getattr(expectations, "KIT_ASSETS", {"monitor": 3})["monitor"]


def watch_outcome(tmp: Path, started: float, stop: threading.Event, seen: dict[str, float]) -> None:
    """Find the sandbox the demo starts under `tmp`, then record when every kit monitor has alerted at least
    once and when the first Case exists."""
    settings = None
    while settings is None and not stop.wait(0.1):
        settings = next((s for folder in tmp.glob("autonomic-demo-*/sandbox") if (s := running_sandbox(folder))),
                        None)
    if settings is None:
        return
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
            except Exception:  # the assets may not exist yet, or the sandbox has just stopped: keep polling
                pass
            stop.wait(0.25)


STEP = re.compile(r"\] (\S+) \.\.\.\n\s+(ok|FAILED) in ([0-9.]+) s")


def run_once() -> tuple[list[tuple[str, float, bool]], dict[str, float], float]:
    """`python -m autonomic_lib demo` as a user runs it: (its notebooks' times as it prints them, the outcome's
    times, the total). Its temporary folder is made inside ours (TMPDIR), where the watcher finds its sandbox."""
    started = time.perf_counter()
    seen: dict[str, float] = {}
    stop = threading.Event()
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DD_")} | {"TMPDIR": tmp}
        log = Path(tmp) / "demo.log"
        with log.open("w") as sink:
            demo = subprocess.Popen([sys.executable, "-m", "autonomic_lib", "demo", "--out",
                                     str(Path(tmp) / "reports")], cwd=TREE, env=env, stdout=sink,
                                    stderr=subprocess.DEVNULL, text=True)
        watcher = threading.Thread(target=watch_outcome, args=(Path(tmp), started, stop, seen), daemon=True)
        watcher.start()
        cpu: dict[int, tuple[str, float]] = {}
        while demo.poll() is None:
            sample_cpu(demo.pid, cpu)
            time.sleep(0.1)
        out = log.read_text()
        total = time.perf_counter() - started
        stop.set()
        watcher.join(timeout=10)
    if demo.returncode != 0:
        print(f"the demo at {TREE} failed:\n{out[-2000:]}", file=sys.stderr)
    steps = [(f"notebook {name} (run)", float(seconds), status == "ok") for name, status, seconds in STEP.findall(out)]
    for kind in ("the demo process (papermill, nbconvert)", "the sandbox process", "kernel"):
        used = [seconds for what, seconds in cpu.values() if what == kind]
        steps.append((f"CPU of {kind}" + ("s (one per notebook)" if kind == "kernel" else ""), sum(used), True))
    steps.append(("CPU of all", sum(seconds for _, seconds in cpu.values()), True))
    return steps, seen, total


def sample_cpu(pid: int, cpu: dict[int, tuple[str, float]]) -> None:
    """The CPU seconds each process of the demo's tree has used so far, by kind (psutil ships with ipykernel).

    CPU time hardly depends on what else the machine runs; wall time on a shared machine does."""
    import psutil

    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.Error:
        return
    for process in tree:
        try:
            times = process.cpu_times()
            # classified at every sample (a child seen between fork and exec still has its parent's command line),
            # except once it has exited: a zombie's command line is empty
            command = " ".join(process.cmdline())
            kind = kind_of(command) if command else cpu.get(process.pid, (kind_of(command), 0.0))[0]
            cpu[process.pid] = (kind, times.user + times.system)
        except psutil.Error:
            pass


def kind_of(command: str) -> str:
    if "ipykernel" in command:
        return "kernel"
    if "autonomic_lib sandbox" in command:
        return "the sandbox process"
    return "the demo process (papermill, nbconvert)"


def baseline(revision: str) -> Path:
    """The kit's files at git `revision`, exported to a temporary folder (kept until the process ends)."""
    folder = Path(tempfile.mkdtemp(prefix="bench-demo-baseline-"))
    archive = subprocess.run(["git", "-C", str(TREE), "archive", revision], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def run_tree(tree: Path) -> dict[str, object]:
    """This harness in a child process against the kit in `tree` (its kernels import that tree first)."""
    env = {**os.environ, "AUTONOMIC_BENCH_TREE": str(tree),
           "PYTHONPATH": os.pathsep.join([str(tree), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, __file__, "--json"], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", metavar="REF", help="also run the kit at this git revision, side by side")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each tree, alternating (medians printed)")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # one run, machine-readable
    args = parser.parse_args()
    if args.json:
        steps, seen, total = run_once()
        print(json.dumps({"steps": steps, "seen": seen, "total": total}))
        return
    trees = {"this tree": TREE} | ({f"at {args.against}": baseline(args.against)} if args.against else {})
    runs: dict[str, list[dict[str, object]]] = {name: [] for name in trees}
    for _ in range(args.rounds):
        for name, tree in trees.items():
            runs[name].append(run_tree(tree))
    report(runs)


def report(runs: dict[str, list[dict[str, object]]]) -> None:
    """Each step's median per tree, side by side, and this tree's time as a share of the baseline's."""
    names = list(runs)

    def median(name: str, pick) -> float | None:
        values = [v for r in runs[name] if (v := pick(r)) is not None]
        return statistics.median(values) if values else None

    labels = list(dict.fromkeys(label for name in names for r in runs[name] for label, _, _ in r["steps"]))
    rows: list[tuple[str, object]] = [
        (label, lambda r, label=label: next((seconds for what, seconds, _ in r["steps"] if what == label), None))
        for label in labels]
    rows.append(("total, start to reports (target <= 15 s)", lambda r: r["total"]))
    for key, label in (("monitors", "all kit monitors have alerted"), ("case", "the Case is open"),
                       ("outcome", "kit monitors + Case (target <= 8 s)")):
        rows.append((label, lambda r, key=key: r["seen"].get(key)))
    print(f"The demo, step by step (seed-demo, seed 7, sandbox; median of {len(runs[names[0]])} run(s)):")
    print(f"  {'':<44}" + "".join(f"{n:>16}" for n in names) + ("        ratio" if len(names) > 1 else ""))
    for label, pick in rows:
        values = [median(n, pick) for n in names]
        cells = "".join(f"{v:>14.1f} s" if v is not None else f"{'not seen':>16}" for v in values)
        ratio = f"   {values[0] / values[1]:8.2f}x" if len(values) > 1 and values[0] and values[1] else ""
        print(f"  {label:<44}{cells}{ratio}")
    print("ratio: this tree's time / the baseline's (below 1: faster). Figures are for this machine and moment.")


if __name__ == "__main__":
    main()
