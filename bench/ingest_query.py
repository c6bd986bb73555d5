"""Ingest and query benchmark, measured side by side in one run (these machines are shared and noisy).

Prints:
  (a) points/s through MetricsApi.submit_metrics with one model object per point (the naive way);
  (b) points/s through the kit's bulk path (autonomic_lib.series: the same ApiClient transport and
      auth, no per-point model objects), and the ratio b/a;
  (c) query latency for 24 h x 100 series at 10 s resolution, `avg:... by {agent_id}` rolled up to
      60 s: over HTTP (the kit's query_frame, and the client's typed query_metrics) and in the
      evaluator alone; beside it the same rollup on SQLite (the store we did not pick);
  (d) the sandbox process's RSS once it holds 10 M more points.
The sandbox runs as its own process, as it does for the notebooks, so its figures are its own.

Run: `make bench` or `.venv/bin/python bench/ingest_query.py [--quick]`.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).resolve().parent)]

from datadog_api_client.v1.api.metrics_api import MetricsApi as MetricsApiV1  # noqa: E402
from datadog_api_client.v2.api.metrics_api import MetricsApi  # noqa: E402
from datadog_api_client.v2.model.metric_content_encoding import MetricContentEncoding  # noqa: E402
from datadog_api_client.v2.model.metric_intake_type import MetricIntakeType  # noqa: E402
from datadog_api_client.v2.model.metric_payload import MetricPayload  # noqa: E402
from datadog_api_client.v2.model.metric_point import MetricPoint  # noqa: E402
from datadog_api_client.v2.model.metric_series import MetricSeries  # noqa: E402

from autonomic_lib.analysis import query_frame  # noqa: E402
from autonomic_lib.client import make_api_client  # noqa: E402
from autonomic_lib.sandbox.metrics.evaluate import evaluate_query  # noqa: E402
from sandbox_process import rss_mb, sandbox_process  # noqa: E402  (bench/sandbox_process.py)
from autonomic_lib.sandbox.metrics.store import MetricStore, SeriesPoints  # noqa: E402
from autonomic_lib.series import Series, submit_series  # noqa: E402
from autonomic_lib.settings import Settings  # noqa: E402

DAY = 86_400


def make_series(prefix: str, n_series: int, n_points: int, end: int, step: int = 10) -> list[Series]:
    rng = np.random.default_rng(7)
    ts = np.arange(end - n_points * step, end, step, dtype=np.int64)
    return [Series(f"bench.{prefix}", ts, rng.lognormal(0.3, 0.4, n_points), tags=[f"agent_id:agent-{i:03d}", "env:bench"])
            for i in range(n_series)]


def naive_submit(api_client, series: list[Series], chunk: int = 5_000) -> None:
    api = MetricsApi(api_client)
    for s in series:
        for start in range(0, len(s.values), chunk):
            points = [MetricPoint(timestamp=int(t), value=float(v))
                      for t, v in zip(s.timestamps[start:start + chunk], s.values[start:start + chunk])]
            api.submit_metrics(body=MetricPayload(series=[MetricSeries(
                metric=s.metric, type=MetricIntakeType.GAUGE, points=points, tags=list(s.tags))]),
                content_encoding=MetricContentEncoding.GZIP)


def timed(fn, *args, **kwargs) -> float:
    t0 = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - t0


def ingest(settings: Settings, quick: bool) -> None:
    end = int(time.time()) - 60
    n_naive = 50_000 if quick else 200_000
    n_fast = 400_000 if quick else 2_000_000
    with make_api_client(settings) as client:
        naive = make_series("naive", 10, n_naive // 10, end, step=1)
        t_naive = timed(naive_submit, client, naive)
        rates = {}
        for encoding in ("gzip", "zstd1"):
            fast = make_series(f"fast_{encoding}", 100, n_fast // 100, end, step=1)
            rates[encoding] = n_fast / timed(submit_series, client, fast, encoding=encoding)
    a = n_naive / t_naive
    print(f"(a) naive submit_metrics, one model per point : {a:>12,.0f} points/s  ({n_naive:,} points)")
    for encoding, b in rates.items():
        print(f"(b) kit bulk path, {encoding:<5}                      : {b:>12,.0f} points/s  ({n_fast:,} points)"
              f"   b/a = {b / a:.1f}x")


def query(settings: Settings, quick: bool) -> None:
    end = int(time.time()) // 60 * 60
    data = make_series("query", 100, DAY // 10, end)
    text = "avg:bench.query{*} by {agent_id}.rollup(avg, 60)"
    repeats = 5 if quick else 15
    with make_api_client(settings) as client:
        submit_series(client, data, encoding="zstd1")
        fast = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            frame = query_frame(client, text, end - DAY, end)
            fast.append(time.perf_counter() - t0)
        assert frame["group"].nunique() == 100 and len(frame) == 100 * DAY // 60, len(frame)
        t0 = time.perf_counter()
        response = MetricsApiV1(client).query_metrics(_from=end - DAY, to=end, query=text)
        typed = time.perf_counter() - t0
        assert len(response.series) == 100
    store = MetricStore(None)
    store.write([SeriesPoints(s.metric, tuple(s.tags), s.timestamps, s.values, type="gauge") for s in data])
    inproc = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        evaluate_query(text, store, end - DAY, end)
        inproc.append(time.perf_counter() - t0)
    sqlite_ms = sqlite_baseline(data, end)
    duck_ms = statistics.median(inproc) * 1e3
    print(f"(c) {text} over 24 h x 100 series at 10 s (864,000 points -> 144,000 returned):")
    print(f"    HTTP round trip, kit query_frame (orjson -> pandas): median {statistics.median(fast) * 1e3:7.1f} ms")
    print(f"    HTTP round trip, client query_metrics (typed models): once   {typed * 1e3:7.1f} ms")
    print(f"    sandbox evaluator alone (DuckDB store)            : median {duck_ms:7.1f} ms")
    print(f"    the same rollup on SQLite (row store, indexed)     : median {sqlite_ms:7.1f} ms"
          f"   -> DuckDB {sqlite_ms / duck_ms:.1f}x faster")


def sqlite_baseline(data: list[Series], end: int) -> float:
    """The same points and the same time rollup on SQLite, the row store we compared against."""
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE points (series_id INTEGER, ts INTEGER, value REAL)")
    con.execute("CREATE INDEX points_sid_ts ON points(series_id, ts)")
    for i, s in enumerate(data):
        con.executemany("INSERT INTO points VALUES (?, ?, ?)", zip([i] * len(s.values), s.timestamps.tolist(), s.values.tolist()))
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        con.execute("SELECT series_id, (ts / 60) * 60 AS b, avg(value) FROM points WHERE ts >= ? AND ts < ? "
                    "GROUP BY series_id, b", (end - DAY, end)).fetchall()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs) * 1e3


def memory(settings: Settings, pid: int, quick: bool) -> None:
    """Fill the sandbox process up to 10 M points and read its RSS."""
    target = 2_000_000 if quick else 10_000_000
    end = int(time.time()) // 60 * 60
    per_series = 8640 * 3  # 3 days at 10 s
    n_series = target // per_series + 1
    t0 = time.perf_counter()
    with make_api_client(settings) as client:
        for first in range(0, n_series, 20):
            batch = make_series("mem", min(20, n_series - first), per_series, end)
            for k, s in enumerate(batch):
                s.tags = [f"agent_id:agent-{first + k:04d}", "env:bench"]
            submit_series(client, batch, encoding="zstd1")
    elapsed = time.perf_counter() - t0
    rss = rss_mb(pid)
    points = n_series * per_series
    print(f"(d) sandbox process RSS holding {points:,} more points (plus the above): {rss:,.0f} MB "
          f"(filled at {points / elapsed:,.0f} points/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller volumes, for a smoke run")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; the sandbox runs as its own process (python -m autonomic_lib sandbox)")
    with sandbox_process(late_data=("bench.*",)) as (settings, pid):
        ingest(settings, args.quick)
        query(settings, args.quick)
        memory(settings, pid, args.quick)
    print("figures are for this machine and run: compare the ratios, not the absolutes")


if __name__ == "__main__":
    main()
