"""Ingest and query benchmark, measured side by side in one run (these machines are shared and noisy).

Prints:
  (a) points/s through MetricsApi.submit_metrics with one model object per point (the naive way);
  (b) points/s through the kit's bulk path (autonomic_lib.series: the same ApiClient transport and
      auth, no per-point model objects), and the ratio b/a;
  (c) query latency for 24 h x 100 series at 10 s resolution, `avg:... by {agent_id}` rolled up to
      60 s: over HTTP (the kit's query_frame, and the client's typed query_metrics) and in the
      evaluator alone, with where the time goes (evaluate / encode / transfer / decode) and the decoding
      before issue 14 (a Python list per point) beside the flat one on the same bytes; beside it the same
      rollup on SQLite (the store we did not pick);
  (d) the sandbox process's RSS once it holds 10 M more points.
The sandbox runs as its own process, as it does for the notebooks, so its figures are its own.

Run: `make bench` or `.venv/bin/python bench/ingest_query.py [--quick] [--only query]`.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import time
from pathlib import Path
from unittest import mock

import numpy as np
import orjson
import pandas as pd

sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).resolve().parent)]

from datadog_api_client.v1.api.metrics_api import MetricsApi as MetricsApiV1  # noqa: E402
from datadog_api_client.v2.api.metrics_api import MetricsApi  # noqa: E402
from datadog_api_client.v2.model.metric_content_encoding import MetricContentEncoding  # noqa: E402
from datadog_api_client.v2.model.metric_intake_type import MetricIntakeType  # noqa: E402
from datadog_api_client.v2.model.metric_payload import MetricPayload  # noqa: E402
from datadog_api_client.v2.model.metric_point import MetricPoint  # noqa: E402
from datadog_api_client.v2.model.metric_series import MetricSeries  # noqa: E402

from autonomic_lib.analysis import query_frame  # noqa: E402
from autonomic_lib.client import make_api_client, raw_request  # noqa: E402
from autonomic_lib.sandbox.http.routing import json_response  # noqa: E402
from autonomic_lib.sandbox.metrics.evaluate import evaluate_query  # noqa: E402
from autonomic_lib.sandbox.metrics.routes import v1_response  # noqa: E402
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


def decode_per_point(raw: bytes, query: str) -> pd.DataFrame:
    """query_frame's decoding before issue 14: orjson builds a Python list per [time, value] pair."""
    payload = orjson.loads(raw)
    frames = []
    for series in payload.get("series", []):
        points = np.asarray(series["pointlist"], dtype=np.float64).reshape(-1, 2)
        frames.append(pd.DataFrame({"time": pd.to_datetime(points[:, 0], unit="ms", utc=True),
                                    "group": ",".join(series["tag_set"]) or "*", "value": points[:, 1]}))
    return pd.concat(frames, ignore_index=True)


def decode_flat(raw: bytes, query: str) -> pd.DataFrame:
    """query_frame's decoding now (each pointlist one flat array), given the same bytes."""
    with mock.patch("autonomic_lib.analysis.raw_request", return_value=raw):
        return query_frame(None, query, 0, 1)  # type: ignore[arg-type]


def median_ms(fn, repeats: int, *args, **kwargs) -> float:
    return statistics.median(timed(fn, *args, **kwargs) for _ in range(repeats)) * 1e3


def query(settings: Settings, quick: bool) -> None:
    end = int(time.time()) // 60 * 60
    data = make_series("query", 100, DAY // 10, end)
    text = "avg:bench.query{*} by {agent_id}.rollup(avg, 60)"
    repeats = 5 if quick else 15
    params = {"from": end - DAY, "to": end, "query": text}
    with make_api_client(settings) as client:
        submit_series(client, data, encoding="zstd1")
        fast = median_ms(query_frame, repeats, client, text, end - DAY, end)
        frame = query_frame(client, text, end - DAY, end)
        assert frame["group"].nunique() == 100 and len(frame) == 100 * DAY // 60, len(frame)
        http = median_ms(raw_request, repeats, client, "GET", "/api/v1/query", params=params, app_key=True)
        raw = raw_request(client, "GET", "/api/v1/query", params=params, app_key=True)
        typed = timed(MetricsApiV1(client).query_metrics, _from=end - DAY, to=end, query=text)
    store = MetricStore(None)
    store.write([SeriesPoints(s.metric, tuple(s.tags), s.timestamps, s.values, type="gauge") for s in data])
    duck_ms = median_ms(evaluate_query, repeats, text, store, end - DAY, end)
    result = evaluate_query(text, store, end - DAY, end)
    encode_ms = median_ms(lambda: json_response(v1_response(text, end - DAY, end, result)), repeats)
    old_ms, new_ms = (median_ms(decode, repeats, raw, text) for decode in (decode_per_point, decode_flat))
    pd.testing.assert_frame_equal(decode_per_point(raw, text), decode_flat(raw, text), check_dtype=False)
    sqlite_ms = sqlite_baseline(data, end)
    print(f"(c) {text} over 24 h x 100 series at 10 s (864,000 points -> 144,000 returned, "
          f"{len(raw) / 1e6:.1f} MB of JSON):")
    print(f"    HTTP round trip, kit query_frame               : median {fast:7.1f} ms   (target <= 100 ms)")
    print(f"      evaluate (sandbox evaluator, in process)     : median {duck_ms:7.1f} ms")
    print(f"      encode (v1 shape + orjson, in process)       : median {encode_ms:7.1f} ms")
    print(f"      transfer (GET bytes - evaluate - encode)     : median {max(http - duck_ms - encode_ms, 0):7.1f} ms"
          f"   (GET /api/v1/query, bytes only: {http:.1f} ms)")
    print(f"      decode into pandas, flat arrays (now)        : median {new_ms:7.1f} ms")
    print(f"      decode into pandas, a list per point (before): median {old_ms:7.1f} ms"
          f"   -> {old_ms / new_ms:.1f}x; query_frame before ~ {http + old_ms:.1f} ms")
    print(f"    HTTP round trip, client query_metrics (typed models): once   {typed * 1e3:7.1f} ms")
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
    parser.add_argument("--only", choices=("ingest", "query", "memory"), help="run one part")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; the sandbox runs as its own process (python -m autonomic_lib sandbox)")
    with sandbox_process(late_data=("bench.*",)) as (settings, pid):
        if args.only in (None, "ingest"):
            ingest(settings, args.quick)
        if args.only in (None, "query"):
            query(settings, args.quick)
        if args.only in (None, "memory"):
            memory(settings, pid, args.quick)
    print("figures are for this machine and run: compare the ratios, not the absolutes")


if __name__ == "__main__":
    main()
