"""Series catalogue at scale: many distinct series of one metric, ingested and then reopened (a restart).

The baseline is the store as it was before the catalogue became linear (its source read from git at
BASELINE, default the commit before the change), loaded into this same process and run side by side on the
same batches, so the ratio is honest on a shared, noisy machine. The baseline is run on fewer series (it is
quadratic: its time per thousand series grows with the series already known); the kit's store on both sizes.

    python bench/series_catalogue.py [--series 100000] [--baseline-series 10000] [--batch 1000]
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

import numpy as np

from autonomic_lib.sandbox.metrics.store import MetricStore, SeriesPoints

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "be01cc8"  # last commit with the per-series list scan and row-by-row series INSERT
T0 = 1_700_000_000


def baseline_store_class(revision: str) -> Any:
    """MetricStore as it was at `revision`, imported from its source under another module name."""
    source = subprocess.run(["git", "show", f"{revision}:autonomic_lib/sandbox/metrics/store.py"], cwd=ROOT,
                            check=True, capture_output=True, text=True).stdout
    spec = importlib.util.spec_from_loader("baseline_store", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["baseline_store"] = module
    exec(compile(source, f"{revision}:store.py", "exec"), module.__dict__)  # noqa: S102 (our own past source)
    assert isinstance(module, types.ModuleType)
    return module.MetricStore, module.SeriesPoints


def run(store_class: Any, points_class: Any, folder: Path, series: int, batch: int) -> tuple[float, float]:
    """(seconds to ingest `series` new series of one metric, one point each; seconds to reopen the file)."""
    path = folder / "m.duckdb"
    store = store_class(path)
    started = time.perf_counter()
    for first in range(0, series, batch):
        store.write([points_class("bench.metric", (f"agent_id:a{i}", "env:bench"), np.array([T0]), np.array([1.0]))
                     for i in range(first, min(first + batch, series))])
    ingest = time.perf_counter() - started
    store.close()
    started = time.perf_counter()
    reopened = store_class(path)
    restart = time.perf_counter() - started
    assert len(reopened.series("bench.metric")) == series
    reopened.close()
    return ingest, restart


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=100_000)
    parser.add_argument("--baseline-series", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--baseline", default=BASELINE, help="git revision of the baseline store")
    args = parser.parse_args()
    old_store, old_points = baseline_store_class(args.baseline)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-catalogue-") as tmp:
        for label, store_class, points_class, n in (
                (f"baseline ({args.baseline})", old_store, old_points, args.baseline_series),
                ("kit", MetricStore, SeriesPoints, args.baseline_series),
                ("kit", MetricStore, SeriesPoints, args.series)):
            folder = Path(tmp) / f"{label.split()[0]}-{n}"
            folder.mkdir()
            ingest, restart = run(store_class, points_class, folder, n, args.batch)
            rows.append((label, n, ingest, restart))
            print(f"{label:<22} {n:>8} series  ingest {ingest:8.2f} s ({n / ingest:>9,.0f} series/s)  "
                  f"restart {restart:6.2f} s", flush=True)
    base, same = rows[0], rows[1]
    print(f"\nat {base[1]} series: the kit ingests {base[2] / same[2]:.1f}x and restarts {base[3] / same[3]:.1f}x "
          f"as fast as the baseline")
    big = rows[2]
    print(f"at {big[1]} series: ingest {big[2]:.1f} s (target <= 20 s), restart {big[3]:.1f} s (target <= 5 s)")


if __name__ == "__main__":
    main()
