"""Swarm benchmark: 100 agents x 24 h x 1 msg/s (8.64 M messages) simulated, aggregated, sent, queried back.

Prints, measured side by side in one run (these machines are shared and noisy):
  (a) the vectorised engine + flush aggregation alone, in messages/s, and the same work done by a
      plain per-message Python loop (`swarm/reference.py`) on a sample of the same run: the ratio;
  (b) the whole run against a sandbox in its own process: simulate + aggregate + send (metrics and
      logs; every point acknowledged) + reconcile (ledger vs query-back of every series), wall time;
  (c) peak memory of this process and the sandbox's RSS;
  (d) the send's encoding alone on the same series (two agents' day): points written by `points_json` and zstd
      level 1 beside the path before issue 14 (a Python dict per point, zstd level 3).
Tests never assert these figures; they go in the issue note.

With `--against REF` the day (b, c) also runs with the kit at git revision REF (exported to a temporary folder;
each run in its own child process and sandbox), alternating with this tree for `--rounds`, and prints the medians
side by side with their ratio, wall and CPU seconds: only figures measured in one run compare on a shared machine.

Run: `.venv/bin/python bench/swarm.py [--agents 100 --hours 24 --rate 1] [--only day --against 3e0d8e2 --rounds 2]`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import orjson

TREE = Path(os.environ.get("AUTONOMIC_BENCH_TREE") or Path(__file__).resolve().parent.parent)
sys.path[:0] = [str(TREE), str(Path(__file__).resolve().parent)]

from autonomic_lib.client import make_api_client  # noqa: E402
from autonomic_lib.swarm import steady_swarm  # noqa: E402
from autonomic_lib.swarm.engine import Timeline, run_agent, simulate  # noqa: E402
from autonomic_lib.swarm.messages import draw_messages, injections  # noqa: E402
from autonomic_lib.telemetry.prices import price_for  # noqa: E402
from autonomic_lib.swarm.reference import run_agent_reference  # noqa: E402
from autonomic_lib.traffic import aggregate_run, run_scenario  # noqa: E402
from autonomic_lib.traffic_reference import reference_points  # noqa: E402
from autonomic_lib.reconciliation import reconcile  # noqa: E402
from sandbox_process import rss_mb, sandbox_process  # noqa: E402  (bench/sandbox_process.py)
from autonomic_lib.telemetry.points import PointBuffer  # noqa: E402
from autonomic_lib import series as series_module  # noqa: E402


def engine_only(agents: int, hours: float, rate: float) -> tuple[int, float]:
    """Messages and seconds for simulate + aggregate of the whole scenario, nothing sent."""
    scenario = steady_swarm(agents, hours, rate)
    buf = PointBuffer(scenario.env)
    t0 = time.perf_counter()
    n = 0
    for run in simulate(scenario, 7, 1_800_000_000 - int(scenario.duration)):
        aggregate_run(buf, run, scenario, ["steady"])
        n += len(run.messages)
        buf.clear()
    return n, time.perf_counter() - t0


def sample_ratio(rate: float, sample_hours: float = 2.0, sample_agents: int = 2) -> tuple[int, float, float]:
    """Same sample through the engine and the per-message loop: (messages, engine s, loop s)."""
    scenario = steady_swarm(sample_agents, sample_hours, rate)
    start = 1_800_000_000 - int(scenario.duration)
    timeline, price = Timeline(scenario, start), price_for()
    attacks = injections(scenario, 7, start)
    batches = [lambda i=i, a=a: draw_messages(scenario, i, 7, start, price, attacks[a.agent_id], timeline.windows)
               for i, a in enumerate(scenario.agents)]
    fast = slow = 0.0
    n = 0
    for i, draw in enumerate(batches):
        m = draw()
        n += len(m)
        t0 = time.perf_counter()
        run = run_agent(scenario, timeline, i, m, 7, price)
        aggregate_run(PointBuffer(scenario.env), run, scenario, timeline.names)
        fast += time.perf_counter() - t0
        m = draw()
        t0 = time.perf_counter()
        run = run_agent_reference(scenario, timeline, i, m, 7, price)
        reference_points(run, timeline.names, scenario.env, scenario.budget_usd)
        slow += time.perf_counter() - t0
    return n, fast, slow


def dict_per_point(timestamps, values) -> bytes:
    """The points as encoded before issue 14: one Python dict per point."""
    return orjson.dumps([{"timestamp": t, "value": v} for t, v in zip(timestamps.tolist(), values.tolist())])


def encoding(rate: float, repeats: int = 5) -> None:
    """Encode the same series into compressed payloads both ways, alternating; medians and ratio."""
    scenario = steady_swarm(2, 24, rate)
    buf = PointBuffer(scenario.env)
    for run in simulate(scenario, 7, 1_800_000_000 - int(scenario.duration)):
        aggregate_run(buf, run, scenario, ["steady"])
    data = buf.to_series()
    points = sum(len(s.values) for s in data)

    def encode() -> tuple[float, int]:
        t0 = time.perf_counter()
        size = sum(len(body) for body, _ in series_module.encode_payloads(data))
        return time.perf_counter() - t0, size

    now, before = [], []
    for _ in range(repeats):
        now.append(encode())
        with mock.patch.object(series_module, "points_json", dict_per_point), \
                mock.patch.object(series_module, "ZSTD_LEVEL", 3):
            before.append(encode())
    fast, slow = statistics.median(t for t, _ in now), statistics.median(t for t, _ in before)
    print(f"(d) encoding {points:,} points (2 agents x 24 h) into zstd payloads:")
    print(f"    points_json + zstd level {series_module.ZSTD_LEVEL}          : {points / fast:>12,.0f} points/s "
          f"({now[0][1] / 1e6:.1f} MB sent)")
    print(f"    a dict per point + zstd level 3 (before) : {points / slow:>12,.0f} points/s "
          f"({before[0][1] / 1e6:.1f} MB sent)  -> {slow / fast:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--rate", type=float, default=1.0, help="messages per second per agent")
    parser.add_argument("--only", choices=("engine", "day", "encoding"), help="run one part")
    parser.add_argument("--against", metavar="REF", help="the day (b, c) also at this git revision, side by side")
    parser.add_argument("--rounds", type=int, default=1, help="with --against: days of each tree, alternating")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # one day, machine-readable
    args = parser.parse_args()
    if args.json:
        print(json.dumps(day(args.agents, args.hours, args.rate, quiet=True)))
        return
    if args.against:
        side_by_side(args)
        return
    print(f"machine: {os.cpu_count()} cores; scenario: {args.agents} agents x {args.hours:g} h x {args.rate:g} msg/s")

    if args.only in (None, "engine"):
        n, seconds = engine_only(args.agents, args.hours, args.rate)
        sn, fast, slow = sample_ratio(args.rate)
        print(f"(a) engine + aggregation          : {n / seconds:>12,.0f} messages/s  ({n:,} messages in "
              f"{seconds:.1f} s)")
        print(f"    per-message Python loop       : {sn / slow:>12,.0f} messages/s  (sample of {sn:,} messages; "
              f"engine on the same sample {sn / fast:,.0f}/s)  -> engine {slow / fast:.0f}x faster")
    if args.only in (None, "day"):
        day(args.agents, args.hours, args.rate)
    if args.only in (None, "encoding"):
        encoding(args.rate)


def day(agents: int, hours: float, rate: float, quiet: bool = False) -> dict[str, float]:
    """(b) and (c): the whole run against a sandbox process, then reconciled; the figures, printed unless quiet."""
    import psutil

    scenario = steady_swarm(agents, hours, rate)
    with sandbox_process(late_data=("autonomic.*",), memory_limit="512MB") as (settings, pid):
        with make_api_client(settings) as client:
            t0 = time.perf_counter()
            ledger = run_scenario(scenario, 7, api_client=client, keep_points=False)
            t_send = time.perf_counter() - t0
            result = reconcile(ledger, client)
            t_all = time.perf_counter() - t0
        rss = rss_mb(pid) * 2**20
        sandbox_cpu = sum(psutil.Process(pid).cpu_times()[:2])
    own = resource.getrusage(resource.RUSAGE_SELF)
    peak = own.ru_maxrss / 1024
    figures = {"send": t_send, "reconcile": t_all - t_send, "total": t_all, "peak_mb": peak,
               "sandbox_mb": rss / 2**20, "cpu_self": own.ru_utime + own.ru_stime, "cpu_sandbox": sandbox_cpu,
               "ok": float(result.ok)}
    if quiet:
        return figures
    total = int(ledger.summary()["messages"].sum())
    print(f"(b) simulate + aggregate + send   : {t_send:6.1f} s  ({total:,} messages -> {ledger.points:,} points in "
          f"{ledger.requests} requests, {ledger.log_count:,} logs, all acknowledged; {total / t_send:,.0f} messages/s)")
    print(f"    + reconcile (query back)      : {t_all - t_send:6.1f} s  ({len(result.table)} series and log groups; "
          f"{'everything agrees' if result.ok else 'MISMATCH'})")
    print(f"    total                         : {t_all:6.1f} s  (target: 30 s)")
    if ledger.skipped:
        print(f"    not sent (Datadog would refuse them): {ledger.skipped}")
    print(f"(c) peak RSS of this process {peak:,.0f} MB; sandbox process RSS {rss / 2**20:,.0f} MB (target: < 1 GB)")
    print(f"    CPU: this process {figures['cpu_self']:.1f} s, the sandbox {sandbox_cpu:.1f} s")
    return figures


def side_by_side(args: argparse.Namespace) -> None:
    """The day with this tree and with the kit at `args.against`, each in a child process, alternating."""
    with tempfile.TemporaryDirectory(prefix="bench-swarm-baseline-") as tmp:
        archive = subprocess.run(["git", "-C", str(TREE), "archive", args.against], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        trees = {"this tree": TREE, f"at {args.against}": Path(tmp)}
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
        for _ in range(args.rounds):
            for name, tree in trees.items():
                env = {**os.environ, "AUTONOMIC_BENCH_TREE": str(tree),
                       "PYTHONPATH": os.pathsep.join([str(tree), os.environ.get("PYTHONPATH", "")])}
                done = subprocess.run([sys.executable, __file__, "--json", "--agents", str(args.agents), "--hours",
                                       str(args.hours), "--rate", str(args.rate)], env=env, capture_output=True,
                                      text=True, check=True)
                runs[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    names = list(runs)
    print(f"The full day side by side (median of {args.rounds}, alternating; ratio = this tree / baseline):")
    print(f"  {'':<34}" + "".join(f"{n:>16}" for n in names) + "       ratio")
    for key, label in (("send", "simulate + aggregate + send s"), ("reconcile", "reconcile s"),
                       ("total", "total s (target 30)"), ("cpu_self", "CPU of this process s"),
                       ("cpu_sandbox", "CPU of the sandbox s"), ("peak_mb", "peak RSS of this process MB"),
                       ("sandbox_mb", "sandbox RSS MB"), ("ok", "everything agrees (1 = yes)")):
        values = [statistics.median(r[key] for r in runs[n]) for n in names]
        print(f"  {label:<34}" + "".join(f"{v:>16.1f}" for v in values) + f"   {values[0] / values[1]:8.2f}x")


if __name__ == "__main__":
    main()
