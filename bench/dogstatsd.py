"""DogStatsD intake benchmark: metrics/s into a sandbox process, and how many were lost, side by side with the HTTP
series intake. Not a test; these machines are shared and noisy, so every figure comes from the same run.

The traffic: two increments for one timing (a latency of 1-5000 ms, so few messages repeat: the parser's
cache of repeated messages helps the increments only), over 1000 tag sets. Prints, for the same sandbox process
(started as the notebooks start it, DogStatsD on a free port):
  (a) raw UDP packets in the client's buffered format (newline-joined messages, at most 1432 bytes: the `datadog`
      client's UDP payload), sent as fast as one Python thread can: sent, received, lost, and the metrics/s the
      sandbox parsed and aggregated (received / time until its counters stopped moving);
  (b) the same packets paced at --rate metrics/s (default 100 000), and at twice that: the loss at those rates;
  (c) Datadog's `datadog` client, buffering on (DogStatsd(disable_buffering=False)), and (d) off (its default: one
      datagram per metric): the client's own send rate bounds these;
  (e) the baseline: the same number of points through the HTTP series intake with the kit's submit_series;
then checks that what was received is what the store holds (the increments and the timers' .count, read back
with GET /api/v1/query).

Run: `make bench` or `.venv/bin/python bench/dogstatsd.py [--metrics N] [--rate R] [--quick]`.
"""

from __future__ import annotations

import argparse
import random
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import orjson

sys.path[:0] = [str(Path(__file__).resolve().parent.parent)]

from datadog import DogStatsd  # noqa: E402

from autonomic_lib.client import make_api_client, raw_request  # noqa: E402
from autonomic_lib.sandbox.server import read_state  # noqa: E402
from autonomic_lib.sandbox_process import start_sandbox_process, stop_sandbox_process  # noqa: E402
from autonomic_lib.series import Series, submit_series  # noqa: E402

PAYLOAD = 1432  # the datadog client's UDP_OPTIMAL_PAYLOAD_LENGTH
CONTEXTS = 1000  # distinct (name, tags) per run: a swarm's worth of series


@dataclass
class Run:
    label: str
    sent: int
    send_seconds: float
    received: int
    process_seconds: float
    dropped_queue: int
    dropped_socket: int

    @property
    def loss(self) -> float:
        return 1 - self.received / self.sent if self.sent else 0.0

    def row(self) -> str:
        return (f"{self.label:<50} {self.sent:>9,} {self.sent / self.send_seconds:>12,.0f} {self.received:>9,} "
                f"{self.loss:>7.2%} {self.received / self.process_seconds:>12,.0f} {self.dropped_queue:>8,} "
                f"{self.dropped_socket:>8,}")


class Sandbox:
    """The sandbox process's addresses and its /sandbox/dogstatsd counters."""

    def __init__(self, folder: Path):
        self.settings = start_sandbox_process(folder, late_data=("bench.*",))  # the HTTP baseline backfills
        state = read_state(folder)
        assert state is not None and state.dogstatsd_port, "the sandbox published no DogStatsD port"
        self.port = state.dogstatsd_port
        self.api = make_api_client(self.settings)

    def counters(self) -> dict[str, int]:
        return orjson.loads(raw_request(self.api, "GET", "/sandbox/dogstatsd", app_key=True))["counters"]

    def settle(self, before: dict[str, int], started: float, idle: float = 1.0, limit: float = 120.0
               ) -> tuple[dict[str, int], float]:
        """Counters once the metrics count has not moved for `idle` s, and when it last moved (s after start)."""
        last, moved = self.counters()["metrics"], time.perf_counter()
        while time.perf_counter() - moved < idle and time.perf_counter() - started < limit:
            time.sleep(0.05)
            now = self.counters()["metrics"]
            if now != last:
                last, moved = now, time.perf_counter()
        after = self.counters()
        return {k: after[k] - before.get(k, 0) for k in after}, moved - started


def messages(metrics: int, prefix: str) -> Iterator[tuple[str, float, str, str]]:
    """(name, value, type, ctx) of the mix: two counters (increments) for one timer (a latency in ms, varying)."""
    rng = random.Random(7)
    for i in range(metrics):
        if i % 3 == 2:
            yield f"{prefix}.latency", rng.randint(1, 5000), "ms", f"ctx:{i % CONTEXTS}"
        else:
            yield f"{prefix}.hits", 1, "c", f"ctx:{i % CONTEXTS}"


def packets(metrics: int, prefix: str) -> list[bytes]:
    """The mix as the client's buffer packs it: newline-joined messages in payloads of at most PAYLOAD bytes."""
    out, lines, size = [], [], 0
    for name, value, kind, ctx in messages(metrics, prefix):
        line = f"{name}:{value}|{kind}|#env:bench,{ctx}"
        if size + len(line) + 1 > PAYLOAD:
            out.append(("\n".join(lines) + "\n").encode())
            lines, size = [], 0
        lines.append(line)
        size += len(line) + 1
    out.append(("\n".join(lines) + "\n").encode())
    return out


def measure(box: Sandbox, label: str, sent: int, send: Callable[[], None]) -> Run:
    before = box.counters()
    started = time.perf_counter()
    send()
    sent_at = time.perf_counter() - started
    delta, busy = box.settle(before, started)
    return Run(label, sent, sent_at, delta["metrics"], max(busy, sent_at), delta["dropped_queue_full"],
               delta["socket_drops"])


def raw_udp(box: Sandbox, datagrams: list[bytes], rate: float | None, per: int) -> Callable[[], None]:
    def send() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect(("127.0.0.1", box.port))
            start = time.perf_counter()
            for i, datagram in enumerate(datagrams):
                sock.send(datagram)
                if rate is not None and i % 16 == 15:  # pace in small bursts
                    ahead = (i + 1) * per / rate - (time.perf_counter() - start)
                    if ahead > 0:
                        time.sleep(ahead)
    return send


def client(box: Sandbox, metrics: int, prefix: str, buffering: bool) -> Callable[[], None]:
    def send() -> None:
        statsd = DogStatsd(host="127.0.0.1", port=box.port, disable_buffering=not buffering, disable_telemetry=True)
        for name, value, kind, ctx in messages(metrics, prefix):
            if kind == "c":
                statsd.increment(name, tags=["env:bench", ctx])
            else:
                statsd.timing(name, value, tags=["env:bench", ctx])
        statsd.flush()
        statsd.close_socket()
    return send


def http_baseline(box: Sandbox, points: int) -> tuple[float, int]:
    """(seconds, points) for `points` points through POST /api/v2/series with the kit's submit_series."""
    per_series = max(1, points // CONTEXTS)
    now = int(time.time()) // 10 * 10
    ts = np.arange(now - per_series * 10, now, 10)
    series = [Series(f"bench.http.m{c % 10}", ts, np.ones(len(ts)), tags=["env:bench", f"ctx:{c}"], type="count",
                     interval=10) for c in range(CONTEXTS)]
    start = time.perf_counter()
    report = submit_series(box.api, series)
    return time.perf_counter() - start, report.points


def stored_total(box: Sandbox, prefix: str) -> float:
    """Increments plus timer samples the store holds for `prefix`: what the sandbox received, if nothing is lost."""
    raw_request(box.api, "POST", "/sandbox/dogstatsd/flush", app_key=True)
    now = int(time.time())
    total = 0.0
    for query in (f"sum:{prefix}.hits{{env:bench}}.as_count()", f"sum:{prefix}.latency.count{{env:bench}}.as_count()"):
        body: dict[str, Any] = orjson.loads(raw_request(box.api, "GET", "/api/v1/query", app_key=True, params={
            "from": now - 3600, "to": now + 60, "query": query}))
        total += sum(p[1] for s in body["series"] for p in s["pointlist"] if p[1] is not None)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics", type=int, default=1_000_000, help="metrics per raw UDP run (default 1 000 000)")
    parser.add_argument("--rate", type=float, default=100_000, help="paced run's target, metrics/s (default 100 000)")
    parser.add_argument("--quick", action="store_true", help="a tenth of everything")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    n = args.metrics // scale
    with tempfile.TemporaryDirectory(prefix="bench-dogstatsd-") as tmp:
        box = Sandbox(Path(tmp))
        try:
            print(f"DogStatsD into a sandbox process (data in {tmp}), udp 127.0.0.1:{box.port}; {CONTEXTS} contexts; "
                  f"2 increments for 1 timing (values 1-5000 ms); {PAYLOAD}-byte packets")
            print(f"{'run':<50} {'sent':>9} {'sent/s':>12} {'received':>9} {'loss':>7} {'processed/s':>12} "
                  f"{'q-drops':>8} {'k-drops':>8}")
            runs = []
            datagrams = packets(n, "bench.fast")
            per = -(-n // len(datagrams))
            runs.append(measure(box, "(a) raw UDP, as fast as possible", n, raw_udp(box, datagrams, None, per)))
            print(runs[-1].row(), flush=True)
            prefixes = ["bench.fast"]
            for rate in (args.rate, 2 * args.rate):
                prefix = f"bench.paced{rate:.0f}"
                paced = packets(n, prefix)
                runs.append(measure(box, f"(b) raw UDP, paced at {rate:,.0f}/s", n,
                                    raw_udp(box, paced, rate, -(-n // len(paced)))))
                prefixes.append(prefix)
                print(runs[-1].row(), flush=True)
            m = 200_000 // scale
            runs.append(measure(box, "(c) datadog client, buffering on", m, client(box, m, "bench.buf", True)))
            print(runs[-1].row(), flush=True)
            m = 50_000 // scale
            runs.append(measure(box, "(d) datadog client, buffering off (default)", m,
                                client(box, m, "bench.unbuf", False)))
            print(runs[-1].row(), flush=True)
            seconds, points = http_baseline(box, n)
            print(f"{'(e) baseline: HTTP /api/v2/series, submit_series':<50} {points:>9,} {points / seconds:>12,.0f} "
                  f"{points:>9,} {0:>7.2%} {points / seconds:>12,.0f}")
            for run, prefix in zip(runs, (*prefixes, "bench.buf", "bench.unbuf")):
                total = stored_total(box, prefix)
                check = "ok" if abs(total - run.received) < 0.5 else "MISMATCH"
                print(f"stored {prefix}.hits + {prefix}.latency.count: {total:,.0f} (received {run.received:,}): "
                      f"{check}")
            best = max(r.received / r.process_seconds for r in runs)
            target = "meets" if best >= 100_000 else "misses"
            print(f"best processed rate {best:,.0f} metrics/s: {target} the 100 000/s target; HTTP baseline "
                  f"{points / seconds:,.0f} points/s")
        finally:
            box.api.close()
            stop_sandbox_process(Path(tmp), timeout=120)


if __name__ == "__main__":
    main()
