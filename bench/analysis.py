"""The 03_analysis query-back as a whole, before and after issue 14, measured side by side in one run.

Sends the seed-demo story (seed 7) to a sandbox process, then times the metric query-backs 03_analysis makes
(the per-phase table, the story's panels, the signal onsets, the headline figures, the reconciliation): each
round runs them once as they are and once with `query_frame` reading the answer's pointlists as before issue 14
(orjson's nested lists, a Python list per point, then numpy), alternating, and prints the medians, their ratio and the number of queries.

Run: `.venv/bin/python bench/analysis.py [--rounds 3]`. Figures are for this machine and moment.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from unittest import mock

sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).resolve().parent)]

import orjson  # noqa: E402

from autonomic_lib import analysis  # noqa: E402
from autonomic_lib.client import make_api_client  # noqa: E402
from autonomic_lib.reconciliation import reconcile  # noqa: E402
from autonomic_lib.traffic import run_scenario  # noqa: E402
from sandbox_process import sandbox_process  # noqa: E402


def query_backs(client, ledger) -> int:
    """The metric query-backs of 03_analysis; returns how many v1 queries they made."""
    calls = 0
    real = analysis.raw_request

    def counting(*args, **kwargs):
        nonlocal calls
        calls += 1
        return real(*args, **kwargs)

    env, start, end = ledger.env, ledger.start, ledger.end + 60
    with mock.patch.object(analysis, "raw_request", counting):
        analysis.phase_table(client, env, list(ledger.phases), start, end)
        analysis.story_panels(client, env, start, end)
        analysis.signal_onsets(client, env, start, end)
        analysis.headline(client, env, start, end)
        assert reconcile(ledger, client, logs=False, events=False).ok
    return calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with sandbox_process(late_data=("autonomic.*",)) as (settings, _):
        with make_api_client(settings) as client:
            ledger = run_scenario("seed-demo", 7, api_client=client)
            now, before = [], []
            calls = 0
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                calls = query_backs(client, ledger)
                now.append(time.perf_counter() - t0)
                with mock.patch.object(analysis, "read_v1_answer", old_read_v1_answer):
                    t0 = time.perf_counter()
                    query_backs(client, ledger)
                    before.append(time.perf_counter() - t0)
    fast, slow = statistics.median(now), statistics.median(before)
    print(f"03_analysis metric query-backs (seed-demo, seed 7; {calls} v1 queries; median of {args.rounds}):")
    print(f"    now (each pointlist one flat array)       : {fast:6.2f} s")
    print(f"    before (a Python list per point)          : {slow:6.2f} s   -> {slow / fast:.2f}x")


def old_read_v1_answer(raw: bytes):
    """read_v1_answer's result, reached the way query_frame decoded before issue 14: orjson's nested lists."""
    import numpy as np

    payload = orjson.loads(raw)
    arrays = [np.asarray(s.pop("pointlist"), dtype=np.float64).reshape(-1, 2) for s in payload.get("series", [])]
    return payload, arrays


if __name__ == "__main__":
    main()
