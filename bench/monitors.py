"""Monitor evaluation benchmark and the anomaly monitor's measured quality.

    python bench/monitors.py               # 24 h, minute by minute, the three kit monitors over 100 agents
    python bench/monitors.py --anomaly     # false alerts on clean 24 h baselines, detection delay of 25 s spikes

Timing: the three kit monitors (assets/monitors) over 24 h of 10 s points from 100 agents; the grouped monitors see
100 groups (every agent sends the budget and failure metrics at every flush, mostly below threshold: the worst case
for the evaluator). Side by side, the same evaluation done the naive way (one store query per monitor and minute,
as a per-minute evaluator would) over the first hour, extrapolated to 24 h. Target: <= 2 s for the 24 h.

Quality (--anomaly): the kit's latency monitor (assets/monitors/latency_anomaly.json: `anomalies(..., 'agile',
<bounds>, ..., seasonality='hourly') >= 0.2` over 15 min), at the bounds its query sets and at the seed's 2, on
(a) synthetic seed-like latency (per-minute mean of ~24 lognormal messages, 1-2 s with an hourly pattern), several
seeds, 4 h of history + 24 h judged; (b) the real swarm simulation (seed-demo's 4 agents at 0.1 msg/s, no faults) for
28 h; then (c) three 4-minute spikes at 25 s, 5 min apart, over (a), at the asset's bounds: detection delay in minutes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autonomic_lib.sandbox.metrics.evaluate import evaluate_expression
from autonomic_lib.sandbox.metrics.store import MetricStore, SeriesPoints
from autonomic_lib.sandbox.monitors.anomaly import spec_from_text
from autonomic_lib.sandbox.monitors.backtest import backtest
from autonomic_lib.sandbox.monitors.evaluator import plan_monitor

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "monitors"
DAY = 86400
T0 = 1_767_225_600 - 4 * 3600  # history starts 4 h before the judged day
SEED_BOUNDS = 2.0  # the seed's latency monitor; the asset's description says why the kit's differs


def kit_monitors() -> dict[str, dict]:
    return {p.stem: {"id": i + 1, **json.loads(p.read_text())["definition"]}
            for i, p in enumerate(sorted(ASSETS.glob("*.json")))}


def compared_bounds(mon: dict) -> list[float]:
    """The bounds the kit monitor's query sets (read, not copied) and the seed's: the two the quality compares."""
    return sorted({spec_from_text(mon["query"]).bounds, SEED_BOUNDS})


def latency_baseline(rng: np.random.Generator, minutes: int, per_minute: int = 24) -> np.ndarray:
    """Seed-like user latency per minute: 1-2 s with an hourly pattern, the mean of `per_minute` lognormal messages."""
    t = np.arange(minutes)
    level = 1.5 + 0.3 * np.sin(2 * np.pi * t / 60)
    noise = rng.lognormal(0.0, 0.45, (minutes, per_minute)).mean(axis=1) / np.exp(0.45 ** 2 / 2)
    return level * noise


def fill_store(agents: int, seconds: int, seed: int = 1) -> MetricStore:
    rng = np.random.default_rng(seed)
    store = MetricStore(memory_limit="1GB")
    ts = np.arange(T0, T0 + seconds, 10)
    per_min = latency_baseline(rng, seconds // 60 + 1)
    batch = [SeriesPoints("autonomic.agent.latency.avg", ("env:demo",), ts, per_min[(ts - T0) // 60],
                          type="gauge", interval=10)]
    for a in range(agents):
        tags = ("env:demo", f"agent_id:agent-{a:03d}", "failure_reason:none")
        batch.append(SeriesPoints("autonomic.budget.breach.amount", tags[:2], ts, rng.uniform(0, 0.09, len(ts)),
                                  type="gauge", interval=10))
        batch.append(SeriesPoints("autonomic.optimization.failed", tags, ts, np.zeros(len(ts)), type="count",
                                  interval=10))
        if len(batch) > 20:
            store.write(batch)
            batch = []
    store.write(batch)
    return store


def bench(agents: int) -> None:
    t = time.perf_counter()
    store = fill_store(agents, 4 * 3600 + DAY)
    print(f"store: {store.count_points():,} points for {agents} agents in {time.perf_counter() - t:.1f} s")
    total = 0.0
    for name, mon in kit_monitors().items():
        t = time.perf_counter()
        transitions = backtest(store, mon, T0 + 4 * 3600, T0 + 4 * 3600 + DAY)
        dt = time.perf_counter() - t
        total += dt
        groups = len(evaluate_expression(plan_monitor(mon, store=store).expression, store, T0, T0 + 600,
                                         interval=60).series)
        print(f"  {name:22s} 1440 evaluations x {groups:3d} groups: {dt:5.2f} s ({len(transitions)} transitions)")
    print(f"evaluator, 24 h minute by minute, three monitors: {total:.2f} s (target <= 2 s)")
    # baseline: one store query per monitor and minute over one hour, extrapolated
    t = time.perf_counter()
    for mon in kit_monitors().values():
        plan = plan_monitor(mon, store=store)
        for minute in range(60):
            end = T0 + 4 * 3600 + minute * 60
            evaluate_expression(plan.expression, store, end - plan.window, end, interval=plan.step)
    naive = (time.perf_counter() - t) * 24
    print(f"naive per-minute queries (1 h measured, x24): {naive:.1f} s -> the evaluator is "
          f"{naive / total:.0f}x faster")


def anomaly_quality(seeds: int) -> None:
    mon = kit_monitors()["latency_anomaly"]
    judged = (T0 + 4 * 3600, T0 + 4 * 3600 + DAY)
    for bounds in compared_bounds(mon):
        counts = []
        for seed in range(seeds):
            store = MetricStore()
            values = latency_baseline(np.random.default_rng(seed), 28 * 60)
            store.write([SeriesPoints("autonomic.agent.latency.avg", ("env:demo",), T0 + 60 * np.arange(28 * 60),
                                      values, type="gauge")])
            alerts = backtest(store, mon, *judged, overrides={"bounds": bounds})
            counts.append(sum(t.current == "Alert" for t in alerts))
        print(f"synthetic seed-like 24 h, bounds {bounds:g}: false alerts per day {counts} "
              f"(mean {np.mean(counts):.1f})")
    for bounds, alerts in swarm_false_alerts(mon).items():
        print(f"real swarm baseline 24 h (3 healthy seed-demo agents, 0.1 msg/s), bounds {bounds:g}: "
              f"{alerts} false alerts")
    delays: list[int | None] = []
    for seed in range(seeds):
        values = latency_baseline(np.random.default_rng(100 + seed), 28 * 60)
        spike_at = 4 * 60 + 600 + 37 * seed  # minutes after T0, somewhere in the judged day
        for k in range(3):
            values[spike_at + 9 * k: spike_at + 9 * k + 4] = 25.0
        store = MetricStore()
        store.write([SeriesPoints("autonomic.agent.latency.avg", ("env:demo",), T0 + 60 * np.arange(28 * 60),
                                  values, type="gauge")])
        alerts = [t for t in backtest(store, mon, *judged) if t.current == "Alert"]
        after = [(t.at - T0) // 60 - spike_at for t in alerts if (t.at - T0) // 60 >= spike_at]
        delays.append(after[0] if after else None)
    print(f"25 s spikes (3 x 4 min, 5 min apart): detection delay in minutes after the spike starts {delays}")


def swarm_false_alerts(mon: dict) -> dict[float, int]:
    """The real simulation's latency for 28 h (seed-demo's agents, no faults), sent to a store through telemetry."""
    from autonomic_lib.traffic import run_scenario
    from autonomic_lib.swarm.scenario import Phase, Scenario, seed_demo
    from autonomic_lib.telemetry.sink import MemorySink
    agents = seed_demo().agents[:2] + seed_demo().agents[3:]
    scenario = Scenario(name="baseline-28h", description="clean", agents=agents,
                        phases=(Phase(name="baseline", duration=28 * 3600, rate=0.1, history=True),))
    sink = MemorySink()
    ledger = run_scenario(scenario, 7, sink=sink, keep_points=False)
    store = MetricStore()
    store.write([SeriesPoints(s.metric, tuple(s.tags), s.timestamps, s.values, type=s.type, interval=s.interval)
                 for s in sink.series if s.metric == "autonomic.agent.latency.avg"])
    start = ledger.start + 4 * 3600
    return {b: sum(t.current == "Alert" for t in backtest(store, mon, start, start + DAY, overrides={"bounds": b}))
            for b in compared_bounds(mon)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--anomaly", action="store_true", help="measure false alerts and detection delay instead")
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    anomaly_quality(args.seeds) if args.anomaly else bench(args.agents)
