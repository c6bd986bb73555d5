"""The 03_analysis query-back as a whole, this tree against a baseline revision, measured side by side in one run.

Sends the seed-demo story (seed 7) to a sandbox process, then times the metric query-backs 03_analysis makes (the
per-phase table, the story's panels, the signal onsets, the headline figures, the metrics' reconciliation), once
with this tree's `autonomic_lib` and once with the baseline's (exported from git as the package `baseline_kit`),
alternating, and prints the medians, their ratio and how many requests each made. Before issue 14's batching every
figure was one v1 query; now the figures that share an interval or a grouping go in one v2 timeseries or scalar call.

Run: `.venv/bin/python bench/analysis.py [--against 3e0d8e2] [--rounds 5]`. Figures are for this machine and
moment.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from unittest import mock

TREE = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(TREE), str(TREE / "bench")]

from autonomic_lib import analysis, reconciliation  # noqa: E402
from autonomic_lib.client import make_api_client  # noqa: E402
from autonomic_lib.traffic import run_scenario  # noqa: E402
from sandbox_process import sandbox_process  # noqa: E402


def baseline(rev: str, folder: Path) -> tuple[ModuleType, ModuleType]:
    """The analysis and reconciliation modules of `rev`, imported as the package `baseline_kit`."""
    archive = subprocess.run(["git", "-C", str(TREE), "archive", rev, "autonomic_lib"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    (folder / "autonomic_lib").rename(folder / "baseline_kit")
    assets = folder / "baseline_kit" / "_assets"
    if not assets.exists():
        assets.symlink_to(TREE / "assets")
    sys.path.insert(0, str(folder))
    return importlib.import_module("baseline_kit.analysis"), importlib.import_module("baseline_kit.reconciliation")


def query_backs(kit: tuple[ModuleType, ModuleType], client, ledger) -> tuple[int, dict[str, float]]:
    """03_analysis's metric query-backs with one kit's modules: how many requests they made, seconds per step."""
    kit_analysis, kit_reconciliation = kit
    calls = 0
    real = kit_analysis.raw_request

    def counting(*args, **kwargs):
        nonlocal calls
        calls += 1
        return real(*args, **kwargs)

    env, start, end = ledger.env, ledger.start, ledger.end + 60
    seconds = {}
    with mock.patch.object(kit_analysis, "raw_request", counting):
        for name, run in (("phase_table", lambda: kit_analysis.phase_table(client, env, list(ledger.phases), start,
                                                                             end)),
                          ("story_panels", lambda: kit_analysis.story_panels(client, env, start, end)),
                          ("signal_onsets", lambda: kit_analysis.signal_onsets(client, env, start, end)),
                          ("headline", lambda: kit_analysis.headline(client, env, start, end)),
                          ("reconcile", lambda: kit_reconciliation.reconcile(ledger, client, logs=False, events=False,
                                                                             traces=False))):
            t0 = time.perf_counter()
            run()
            seconds[name] = time.perf_counter() - t0
    return calls, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", default="3e0d8e2", help="the baseline git revision (default: before batching)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-analysis-") as tmp:
        kits = {"now": (analysis, reconciliation), args.against: baseline(args.against, Path(tmp))}
        with sandbox_process(late_data=("autonomic.*",)) as (settings, _):
            with make_api_client(settings) as client:
                ledger = run_scenario("seed-demo", 7, api_client=client)
                times: dict[str, list[dict[str, float]]] = {name: [] for name in kits}
                calls: dict[str, int] = {}
                for _ in range(args.rounds):
                    for name, kit in kits.items():
                        calls[name], seconds = query_backs(kit, client, ledger)
                        times[name].append(seconds)
    print(f"03_analysis metric query-backs (seed-demo, seed 7; median of {args.rounds}, alternating):")
    print(f"    {'':16s} {'now (batched v2)':>18s} {args.against + ' (v1 each)':>18s}")
    for part in [*times["now"][0], "total"]:
        now, before = (statistics.median(sum(r.values()) if part == "total" else r[part] for r in times[name])
                       for name in ("now", args.against))
        print(f"    {part:16s} {now:16.3f} s {before:16.3f} s  -> {before / now:.2f}x")
    print(f"    requests (the reconciliation's included): now {calls['now']}, {args.against} {calls[args.against]}")


if __name__ == "__main__":
    main()
