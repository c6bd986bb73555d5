"""Durable metric store of the sandbox: a series catalogue and its points in DuckDB.

Why DuckDB: the sandbox answers rollup queries over millions of points (a day of 10 s points for
a hundred series is 864 k rows); a columnar engine groups them in milliseconds where a row store
scans for hundreds (bench/ingest_query.py measures both side by side).

Datadog keeps one value per series and timestamp, and a point re-sent for the same series and
second replaces the earlier one ("last point wins"). The store does the same at write time, so a
retried request never doubles a count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from autonomic_lib.sandbox.storage.database import Database, open_database, transaction

ROLLUP_METHODS = ("avg", "sum", "min", "max", "count", "last")
_SQL_AGGREGATE = {
    "avg": "avg(value)",
    "sum": "sum(value)",
    "min": "min(value)",
    "max": "max(value)",
    "count": "count(value)::DOUBLE",
    "last": "arg_max(value, ts)",
}


@dataclass(frozen=True)
class Series:
    """One time series: a metric name and its full, sorted tag set (host included as `host:<name>`)."""

    id: int
    metric: str
    tags: tuple[str, ...]
    type: str = "unspecified"
    interval: int | None = None
    unit: str | None = None

    def tag_values(self, key: str) -> list[str]:
        """Values of the tags whose key is `key` (the key is everything before the first colon)."""
        prefix = key + ":"
        return [t[len(prefix):] for t in self.tags if t.startswith(prefix)]


@dataclass
class SeriesPoints:
    """Points for one series in one submission, already validated by the intake."""

    metric: str
    tags: tuple[str, ...]
    timestamps: np.ndarray
    values: np.ndarray
    type: str = "unspecified"
    interval: int | None = None
    unit: str | None = None
    _key: tuple[str, tuple[str, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.tags = tuple(sorted(set(self.tags)))
        self._key = (self.metric, self.tags)


class MetricStore:
    """Series and points, durable when given a path; safe to share between server threads.

    Usage::

        store = MetricStore(Path("/tmp/sbx/metrics.duckdb"))
        store.write([SeriesPoints("m", ("env:demo",), np.array([t]), np.array([1.0]))])
        ids = [s.id for s in store.series("m")]
        sid, bucket, value = store.rollup(ids, t - 60, t + 60, 20, "avg")
    """

    def __init__(self, path: Path | None = None, *, memory_limit: str = "256MB", threads: int = 2,
                 database: Database | None = None):
        self._db = database or open_database(path, memory_limit=memory_limit, threads=threads)
        self.path = self._db.path
        self.database = self._db  # shared with the sandbox's other stores (documents)
        self._con = self._db.con
        self._con.execute(
            "CREATE TABLE IF NOT EXISTS series (id INTEGER PRIMARY KEY, metric VARCHAR NOT NULL, "
            "tags VARCHAR[] NOT NULL, type VARCHAR NOT NULL, interval INTEGER, unit VARCHAR)"
        )
        self._con.execute("CREATE TABLE IF NOT EXISTS points (series_id INTEGER NOT NULL, ts BIGINT NOT NULL, value DOUBLE NOT NULL)")
        self._write_lock = self._db.write_lock
        self._series_by_key: dict[tuple[str, tuple[str, ...]], Series] = {}
        # per metric, its series by id in creation order: replacing one is O(1), so n series cost O(n)
        self._series_by_metric: dict[str, dict[int, Series]] = {}
        rows = self._con.execute("SELECT id, metric, tags, type, interval, unit FROM series ORDER BY id").fetchnumpy()
        for sid, metric, tags, mtype, interval, unit in zip(
                rows["id"].tolist(), rows["metric"].tolist(), rows["tags"].tolist(), rows["type"].tolist(),
                _nullable(rows["interval"]), _nullable(rows["unit"])):
            self._remember(Series(sid, metric, tuple(tags), mtype, interval, unit))
        self._max_ts: dict[int, int] = dict(self._con.execute("SELECT series_id, max(ts) FROM points GROUP BY 1").fetchall())
        self._write_listeners: list[Callable[[Sequence[SeriesPoints]], None]] = []

    def on_write(self, listener: Callable[[Sequence[SeriesPoints]], None]) -> None:
        """Call `listener(batch)` after every committed write (the monitor evaluator learns of new data this way)."""
        self._write_listeners.append(listener)

    # ----------------------------------------------------------------- catalogue of series
    def _remember(self, series: Series) -> None:
        self._series_by_key[(series.metric, series.tags)] = series
        self._series_by_metric.setdefault(series.metric, {})[series.id] = series  # a known id keeps its place

    def metrics(self) -> list[str]:
        """Every metric name that has at least one series, sorted."""
        return sorted(self._series_by_metric)

    def series(self, metric: str) -> list[Series]:
        """Every series of `metric`, in creation order (empty when the metric is unknown)."""
        return list(self._series_by_metric.get(metric, {}).values())

    def active_series(self, since: int, metric: str | None = None) -> list[Series]:
        """Every series (of `metric`, or of all) with a point at or after `since` (epoch s), by metric, then as
        created."""
        by_metric = sorted(list(self._series_by_metric.items()), key=lambda item: item[0]) if metric is None \
            else [(metric, self._series_by_metric.get(metric, {}))]  # copies: writers add meanwhile
        return [s for _, by_id in by_metric for s in list(by_id.values()) if self._max_ts.get(s.id, since - 1) >= since]

    def metric_type(self, metric: str) -> str:
        """The intake type declared for the metric: gauge, count, rate or unspecified.

        Datadog keeps one type per metric; if series disagree, the alphabetically first wins so the
        answer is at least stable.
        """
        types = {s.type for s in self._series_by_metric.get(metric, {}).values() if s.type != "unspecified"}
        if not types:
            return "unspecified"
        return sorted(types)[0] if len(types) > 1 else types.pop()

    def metric_unit(self, metric: str) -> str | None:
        """The unit sent with the metric's points (of its most recently created series declaring one), if any."""
        units = [s.unit for s in self._series_by_metric.get(metric, {}).values() if s.unit]
        return units[-1] if units else None

    # ----------------------------------------------------------------- writing
    def write(self, batch: Sequence[SeriesPoints]) -> int:
        """Store all points of `batch` in one transaction (all or nothing); return how many were kept.

        Within a batch and against what is stored, the last point for a series and second wins.
        """
        if not batch:
            return 0
        with self._write_lock:
            new_series: list[Series] = []
            updated: list[Series] = []
            ids, chunks_ts, chunks_val = [], [], []
            spans: dict[int, tuple[int, int]] = {}  # per series id, its first and last second in the batch
            next_id = len(self._series_by_key) + 1
            for sp in batch:
                known = self._series_by_key.get(sp._key)
                if known is None:
                    known = Series(next_id, sp.metric, sp.tags, sp.type, sp.interval, sp.unit)
                    next_id += 1
                    new_series.append(known)
                    self._series_by_key[sp._key] = known  # so a later entry of the batch reuses it
                else:
                    fresh = Series(known.id, known.metric, known.tags,
                                   sp.type if sp.type != "unspecified" else known.type,
                                   sp.interval or known.interval, sp.unit or known.unit)
                    if fresh != known:
                        updated.append(fresh)
                        self._series_by_key[sp._key] = fresh
                        known = fresh
                if len(sp.timestamps):
                    lo, hi = int(sp.timestamps.min()), int(sp.timestamps.max())
                    seen = spans.get(known.id, (lo, hi))
                    spans[known.id] = (min(lo, seen[0]), max(hi, seen[1]))
                ids.append(np.full(len(sp.timestamps), known.id, dtype=np.int32))
                chunks_ts.append(sp.timestamps.astype(np.int64, copy=False))
                chunks_val.append(sp.values.astype(np.float64, copy=False))
            sid = np.concatenate(ids)
            ts = np.concatenate(chunks_ts)
            val = np.concatenate(chunks_val)
            sid, ts, val = _keep_last(sid, ts, val)
            overlapping = np.array([i for i, (lo, _) in spans.items() if lo <= self._max_ts.get(i, -1)], dtype=np.int32)
            try:
                self._commit(new_series, updated, sid, ts, val, overlapping)
            except BaseException:
                for s in new_series:
                    self._series_by_key.pop((s.metric, s.tags), None)
                new_ids = {s.id for s in new_series}
                for s in updated:  # restore what is really stored (a series new in this batch is not)
                    if s.id not in new_ids:
                        self._series_by_key[(s.metric, s.tags)] = self._series_by_metric[s.metric][s.id]
                raise
            for s in new_series + updated:
                self._remember(s)
            for series_id, (_, top) in spans.items():
                if top > self._max_ts.get(series_id, -1):
                    self._max_ts[series_id] = top
        for listener in self._write_listeners:
            listener(batch)
        return int(len(ts))

    def _commit(self, new_series: list[Series], updated: list[Series], sid: np.ndarray, ts: np.ndarray,
                val: np.ndarray, overlapping: np.ndarray) -> None:
        con = self._con
        frame = pd.DataFrame({"series_id": sid, "ts": ts, "value": val})
        with transaction(con):
            if new_series:  # one statement for all new series: a row-by-row INSERT costs ~1 ms each
                con.register("new_series", _series_frame(new_series))
                con.execute("INSERT INTO series SELECT id, metric, tags, type, interval, unit FROM new_series")
                con.unregister("new_series")
            if updated:
                con.register("updated_series", _series_frame(updated))
                con.execute("UPDATE series SET type = u.type, interval = u.interval, unit = u.unit "
                            "FROM updated_series u WHERE series.id = u.id")
                con.unregister("updated_series")
            con.register("incoming", frame)
            if len(overlapping):
                con.execute(
                    "DELETE FROM points USING incoming WHERE points.series_id = incoming.series_id "
                    "AND points.ts = incoming.ts AND points.series_id = ANY(?)",
                    [overlapping.tolist()],
                )
            con.execute("INSERT INTO points SELECT series_id, ts, value FROM incoming")
            con.unregister("incoming")

    # ----------------------------------------------------------------- reading
    def rollup(self, series_ids: Sequence[int], start: int, end: int, interval: int, method: str
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Time-aggregate points of the given series into buckets aligned to UNIX time.

        Args:
            series_ids: which series to read.
            start, end: epoch seconds, start inclusive, end exclusive.
            interval: bucket width in seconds (>= 1).
            method: one of ROLLUP_METHODS.

        Returns:
            Three aligned arrays (series id, bucket start in epoch seconds, value), sorted by id then bucket.
        """
        if method not in _SQL_AGGREGATE:
            raise ValueError(f"unknown rollup method {method!r}; expected one of {', '.join(ROLLUP_METHODS)}")
        if not series_ids:
            return np.empty(0, np.int32), np.empty(0, np.int64), np.empty(0, np.float64)
        step = max(int(interval), 1)
        cur = self._con.cursor()
        try:
            res = cur.execute(
                f"SELECT series_id, (ts // {step}) * {step} AS bucket, {_SQL_AGGREGATE[method]} AS value "
                "FROM points WHERE series_id = ANY(?) AND ts >= ? AND ts < ? GROUP BY ALL ORDER BY 1, 2",
                [list(map(int, series_ids)), int(start), int(end)],
            ).fetchnumpy()
        finally:
            cur.close()
        return (np.asarray(res["series_id"], dtype=np.int32), np.asarray(res["bucket"], dtype=np.int64),
                np.asarray(res["value"], dtype=np.float64))

    def points(self, series_ids: Sequence[int], start: int, end: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Raw points of the given series in [start, end), sorted by series then time."""
        return self.rollup(series_ids, start, end, 1, "last")

    def count_points(self) -> int:
        """How many points are stored (after last-point-wins replacement)."""
        cur = self._con.cursor()
        try:
            row = cur.execute("SELECT count(*) FROM points").fetchone()
            return int(row[0]) if row else 0
        finally:
            cur.close()

    def close(self) -> None:
        """Checkpoint and release the database file (shared with the other stores of the sandbox)."""
        self._db.close()

    def clear(self) -> int:
        """Forget every series and point (a new run); returns how many points there were."""
        with self._write_lock:
            with transaction(self._con) as con:
                row = con.execute("SELECT count(*) FROM points").fetchone()
                con.execute("DELETE FROM points")
                con.execute("DELETE FROM series")
            self._series_by_key.clear()
            self._series_by_metric.clear()
            self._max_ts.clear()
        return int(row[0]) if row else 0



def _keep_last(sid: np.ndarray, ts: np.ndarray, val: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drop all but the last point for each (series, second) inside one batch, in O(n log n).

    Sorted by (series, second, position in the batch), the last row of each (series, second) run is the one kept;
    any timestamp works, negative ones included (a packed int64 key once collided on those).
    """
    if len(sid) < 2:
        return sid, ts, val
    order = np.lexsort((np.arange(len(sid)), ts, sid))
    s, t = sid[order], ts[order]
    last = np.ones(len(order), dtype=bool)
    last[:-1] = (s[1:] != s[:-1]) | (t[1:] != t[:-1])
    if last.all():
        return sid, ts, val
    keep = np.sort(order[last])
    return sid[keep], ts[keep], val[keep]


def _series_frame(series: list[Series]) -> pd.DataFrame:
    return pd.DataFrame({"id": [s.id for s in series], "metric": [s.metric for s in series],
                         "tags": [list(s.tags) for s in series], "type": [s.type for s in series],
                         "interval": pd.array([s.interval for s in series], dtype="Int32"),
                         "unit": pd.array([s.unit for s in series], dtype="string")})


def _nullable(column: np.ndarray) -> list[object]:
    """A fetched column as Python values, masked entries (SQL NULL) as None."""
    if np.ma.isMaskedArray(column):
        return [None if masked else value for value, masked in zip(column.data.tolist(),
                                                                    np.ma.getmaskarray(column).tolist())]
    return list(column.tolist())
