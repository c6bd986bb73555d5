"""MetricStore on its own (no HTTP): series catalogue, last point wins, atomic batches, reopening, rollups."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from autonomic_lib.sandbox.metrics.store import ROLLUP_METHODS, MetricStore, Series, SeriesPoints

T0 = 1767225600  # 2026-01-01 00:00 UTC, aligned to every bucket width used below


def pts(metric: str, tags: tuple[str, ...], offsets, values, **meta) -> SeriesPoints:
    return SeriesPoints(metric, tags, T0 + np.asarray(offsets, dtype=np.int64), np.asarray(values, dtype=float), **meta)


def stored(store: MetricStore, metric: str) -> dict[tuple[str, ...], list[tuple[int, float]]]:
    """{tags: [(offset from T0, value), ...]} of every series of `metric`, read back as raw points."""
    by_id = {s.id: s.tags for s in store.series(metric)}
    sid, ts, val = store.points(list(by_id), 0, 2**33)
    out: dict[tuple[str, ...], list[tuple[int, float]]] = {tags: [] for tags in by_id.values()}
    for i, t, v in zip(sid.tolist(), ts.tolist(), val.tolist()):
        out[by_id[i]].append((t - T0, v))
    return out


def table_rows(store: MetricStore, sql: str) -> list[tuple]:
    """What the database itself holds, bypassing the store's in-memory catalogue."""
    cur = store._con.cursor()
    try:
        return cur.execute(sql).fetchall()
    finally:
        cur.close()


@pytest.fixture
def store():
    s = MetricStore(None)
    yield s
    s.close()


# ------------------------------------------------------------------------------------------ last point wins
@pytest.mark.parametrize("batch, expected", [
    pytest.param([pts("m", ("a:1",), [0, 1, 0], [1.0, 2.0, 3.0])],
                 {("a:1",): [(0, 3.0), (1, 2.0)]}, id="same entry"),
    pytest.param([pts("m", ("a:1", "b:2"), [0, 1], [1.0, 2.0]), pts("m", ("b:2", "a:1"), [1, 2], [5.0, 6.0])],
                 {("a:1", "b:2"): [(0, 1.0), (1, 5.0), (2, 6.0)]}, id="two entries, tags in another order"),
    pytest.param([pts("m", ("a:1",), [5, 5, 5, 5], [1.0, 2.0, 3.0, 4.0])],
                 {("a:1",): [(5, 4.0)]}, id="many re-sends"),
    pytest.param([pts("m", ("a:1",), [0, 0, 1], [1.0, 2.0, 3.0])],
                 {("a:1",): [(0, 2.0), (1, 3.0)]}, id="re-send before a new second"),
    pytest.param([pts("m", ("a:1",), [0], [1.0]), pts("m", ("a:2",), [0], [2.0])],
                 {("a:1",): [(0, 1.0)], ("a:2",): [(0, 2.0)]}, id="same second, other series"),
])
def test_last_point_wins_inside_one_batch(store: MetricStore, batch, expected) -> None:
    kept = store.write(batch)
    assert stored(store, "m") == expected
    assert kept == store.count_points() == sum(map(len, expected.values()))


def test_two_series_with_a_point_at_a_negative_second_in_one_batch_keep_both(store: MetricStore) -> None:
    """Before 1970 (late data lets it in): a packed (series, second) key once collided there and lost a point."""
    batch = [SeriesPoints("m", (f"a:{i}",), np.array([-5]), np.array([float(i)])) for i in (1, 2)]
    assert store.write(batch) == 2
    sid, ts, val = store.points([s.id for s in store.series("m")], -10, 0)
    assert ts.tolist() == [-5, -5] and sorted(val.tolist()) == [1.0, 2.0]


def test_last_point_wins_across_batches(store: MetricStore) -> None:
    store.write([pts("m", ("a:1",), [0, 10, 20], [1.0, 2.0, 3.0])])
    assert store.write([pts("m", ("a:1",), [20, 30], [33.0, 4.0])]) == 2
    assert stored(store, "m") == {("a:1",): [(0, 1.0), (10, 2.0), (20, 33.0), (30, 4.0)]}
    assert store.count_points() == 4


def test_an_older_out_of_order_resend_replaces_only_its_own_point(store: MetricStore) -> None:
    store.write([pts("m", ("a:1",), range(10), np.arange(10.0)), pts("m", ("a:2",), [3], [-1.0])])
    store.write([pts("m", ("a:1",), range(100, 110), np.arange(100.0, 110.0))])  # stored max is now 109
    before = store.count_points()

    store.write([pts("m", ("a:1",), [3], [42.0])])  # a late retry of an old request

    after = stored(store, "m")
    assert store.count_points() == before
    assert after[("a:1",)] == [(t, 42.0 if t == 3 else float(t)) for t in [*range(10), *range(100, 110)]]
    assert after[("a:2",)] == [(3, -1.0)]  # the same second of another series is untouched


def test_a_resend_mixing_old_and_new_points_replaces_the_old_and_appends_the_new(store: MetricStore) -> None:
    store.write([pts("m", ("a:1",), [0, 10, 20], [1.0, 2.0, 3.0])])
    store.write([pts("m", ("a:1",), [30, 10, 40], [4.0, 20.0, 5.0])])
    assert stored(store, "m") == {("a:1",): [(0, 1.0), (10, 20.0), (20, 3.0), (30, 4.0), (40, 5.0)]}
    assert store.count_points() == 5


def test_concurrent_writers_keep_every_point_once(store: MetricStore) -> None:
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for j in range(20):
                # every writer also re-sends the same shared points: they must not pile up
                store.write([pts("m", (f"writer:w{w}",), [j], [float(j)]), pts("m", ("shared:yes",), [j], [float(w)])])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(s.id for s in store.series("m")) == list(range(1, 8))
    assert store.count_points() == 6 * 20 + 20
    got = stored(store, "m")
    assert all(got[(f"writer:w{w}",)] == [(j, float(j)) for j in range(20)] for w in range(6))
    assert [t for t, _ in got[("shared:yes",)]] == list(range(20))


# ------------------------------------------------------------------------------------------ atomic batches
class Boom(RuntimeError):
    pass


class FailingConnection:
    """Wraps the store's DuckDB connection; the first statement starting with `fail_on` raises instead of running."""

    def __init__(self, con, fail_on: str) -> None:
        self._con, self.fail_on, self.failed = con, fail_on, False

    def execute(self, sql: str, *args):
        if not self.failed and sql.startswith(self.fail_on):
            self.failed = True
            raise Boom(f"injected failure on {self.fail_on}")
        return self._con.execute(sql, *args)

    def __getattr__(self, name: str):
        return getattr(self._con, name)


def failing_write(store: MetricStore, monkeypatch: pytest.MonkeyPatch, fail_on: str, batch) -> None:
    failing = FailingConnection(store._con, fail_on)
    with monkeypatch.context() as patch:
        patch.setattr(store, "_con", failing)
        with pytest.raises(Boom):
            store.write(batch)
    assert failing.failed, f"the write never ran a statement starting with {fail_on!r}"


@pytest.mark.parametrize("fail_on", ["INSERT INTO series", "UPDATE series", "DELETE FROM points",
                                     "INSERT INTO points", "COMMIT"])
def test_a_failed_batch_leaves_no_points_and_no_new_series(store: MetricStore, monkeypatch: pytest.MonkeyPatch,
                                                          fail_on: str) -> None:
    store.write([pts("m", ("a:1",), [0, 10], [1.0, 2.0])])
    catalogue = {"m": store.series("m"), "n": store.series("n")}
    before = stored(store, "m"), store.count_points(), table_rows(store, "SELECT * FROM series ORDER BY id")

    failing_write(store, monkeypatch, fail_on, [
        pts("m", ("a:1",), [10, 20], [99.0, 3.0], type="count", unit="byte"),  # re-send + metadata update
        pts("m", ("a:2",), [0], [5.0]),  # a new series of a known metric
        pts("n", ("b:1",), [0, 1], [6.0, 7.0], type="gauge"),  # a new metric
    ])

    assert {"m": store.series("m"), "n": store.series("n")} == catalogue
    assert store.metrics() == ["m"]
    assert store.metric_type("m") == "unspecified" and store.metric_unit("m") is None
    assert (stored(store, "m"), store.count_points(), table_rows(store, "SELECT * FROM series ORDER BY id")) == before

    # the store is still usable and hands out the ids the failed batch did not get to keep
    assert store.write([pts("n", ("b:1",), [0], [8.0]), pts("m", ("a:2",), [0], [9.0]),
                        pts("m", ("a:1",), [10], [20.0])]) == 3
    assert [(s.id, s.metric, s.tags) for s in store.series("m") + store.series("n")] == [
        (1, "m", ("a:1",)), (3, "m", ("a:2",)), (2, "n", ("b:1",))]
    assert stored(store, "m") == {("a:1",): [(0, 1.0), (10, 20.0)], ("a:2",): [(0, 9.0)]}
    assert table_rows(store, "SELECT id, metric FROM series ORDER BY id") == [(1, "m"), (2, "n"), (3, "m")]


@pytest.mark.parametrize("fail_on", ["INSERT INTO series", "INSERT INTO points"])
def test_a_failed_batch_declaring_a_new_series_twice_raises_its_own_error_and_keeps_nothing(
        store: MetricStore, monkeypatch: pytest.MonkeyPatch, fail_on: str) -> None:
    store.write([pts("m", ("a:1",), [0], [1.0])])
    # the second entry of the new series adds metadata to the first: the series is both new and updated
    failing_write(store, monkeypatch, fail_on, [pts("m", ("a:2",), [0], [2.0], type="gauge"),
                                                pts("m", ("a:2",), [1], [3.0], unit="byte"),
                                                pts("n", ("b:1",), [0], [4.0], type="count"),
                                                pts("n", ("b:1",), [1], [5.0], interval=10)])

    assert [s.tags for s in store.series("m")] == [("a:1",)] and store.series("n") == []
    assert store.metrics() == ["m"] and store.count_points() == 1
    store.write([pts("n", ("b:1",), [0], [6.0])])
    assert store.series("n") == [Series(2, "n", ("b:1",))]


# ------------------------------------------------------------------------------------------ durability
def test_reopening_the_file_restores_series_points_and_last_point_wins(tmp_path: Path) -> None:
    path = tmp_path / "m.duckdb"
    first = MetricStore(path)
    first.write([pts("m", ("host:web-01", "env:demo"), range(0, 50, 10), [1.0, 2.0, 3.0, 4.0, 5.0],
                     type="count", interval=10, unit="request"),
                 pts("m", ("env:prod",), [0], [7.0], type="gauge"),
                 pts("n", (), [5], [0.5], type="rate", interval=20)])
    first.write([pts("m", ("env:prod",), [0], [8.0], unit="second")])  # metadata update + replacement
    catalogue = {metric: first.series(metric) for metric in ("m", "n")}
    points = {metric: stored(first, metric) for metric in ("m", "n")}
    newest = dict(first._max_ts)
    first.close()

    reopened = MetricStore(path)
    try:
        assert {metric: reopened.series(metric) for metric in ("m", "n")} == catalogue
        assert catalogue["m"] == [Series(1, "m", ("env:demo", "host:web-01"), "count", 10, "request"),
                                  Series(2, "m", ("env:prod",), "gauge", None, "second")]
        assert {metric: stored(reopened, metric) for metric in ("m", "n")} == points
        assert points["m"][("env:prod",)] == [(0, 8.0)]
        assert reopened.metrics() == ["m", "n"]
        assert (reopened.metric_type("n"), reopened.metric_unit("m")) == ("rate", "second")
        assert reopened._max_ts == newest == {1: T0 + 40, 2: T0, 3: T0 + 5}

        # a retry of an old request after the restart replaces, it does not duplicate
        total = reopened.count_points()
        reopened.write([pts("m", ("env:demo", "host:web-01"), [10], [20.0])])
        assert reopened.count_points() == total
        assert stored(reopened, "m")[("env:demo", "host:web-01")] == [(0, 1.0), (10, 20.0), (20, 3.0), (30, 4.0),
                                                                       (40, 5.0)]
        # and a new series continues the id sequence
        reopened.write([pts("o", ("x:1",), [0], [1.0])])
        assert [s.id for s in reopened.series("o")] == [4]
    finally:
        reopened.close()


def test_an_in_memory_store_starts_empty() -> None:
    store = MetricStore(None)
    try:
        assert (store.metrics(), store.series("m"), store.count_points()) == ([], [], 0)
        assert store.write([]) == 0
    finally:
        store.close()


# ------------------------------------------------------------------------------------------ rollups
@pytest.fixture
def rollup_store(store: MetricStore) -> tuple[MetricStore, int, int]:
    """Two series: a at offsets 0, 5, 19 | 20, 39 | 40 and b at 19 | 21, 25 (| marks 20 s bucket edges).

    b is submitted out of time order, so "last" must mean latest timestamp, not latest row.
    """
    store.write([pts("m", ("s:a",), [0, 5, 19, 20, 39, 40], [1.0, 3.0, 2.0, 10.0, 4.0, 100.0]),
                 pts("m", ("s:b",), [25, 19, 21], [-1.0, 7.0, 0.5])])
    a, b = (s.id for s in store.series("m"))
    return store, a, b


@pytest.mark.parametrize("method, a_values, b_values", [
    ("avg", [2.0, 7.0], [7.0, -0.25]),
    ("sum", [6.0, 14.0], [7.0, -0.5]),
    ("min", [1.0, 4.0], [7.0, -1.0]),
    ("max", [3.0, 10.0], [7.0, 0.5]),
    ("count", [3.0, 2.0], [1.0, 2.0]),
    ("last", [2.0, 4.0], [7.0, -1.0]),  # last in time, not in submission order
])
def test_rollup_methods_over_unix_aligned_buckets(rollup_store, method: str, a_values, b_values) -> None:
    store, a, b = rollup_store
    sid, bucket, value = store.rollup([b, a], T0, T0 + 40, 20, method)  # the point at +40 is past the end
    assert sid.tolist() == [a, a, b, b]
    assert (bucket - T0).tolist() == [0, 20, 0, 20]
    assert value.tolist() == a_values + b_values
    assert (sid.dtype, bucket.dtype, value.dtype) == (np.int32, np.int64, np.float64)


@pytest.mark.parametrize("start, end, interval, expected", [
    pytest.param(5, 40, 20, [(0, 5.0), (20, 14.0)], id="start mid-bucket keeps the aligned bucket start"),
    pytest.param(0, 40, 20, [(0, 6.0), (20, 14.0)], id="end is exclusive"),
    pytest.param(0, 41, 20, [(0, 6.0), (20, 14.0), (40, 100.0)], id="one second before the end is inside"),
    pytest.param(20, 21, 60, [(0, 10.0)], id="start is inclusive"),
    pytest.param(6, 19, 1, [], id="nothing inside"),
    pytest.param(0, 100, 13, [(-10, 1.0), (3, 3.0), (16, 12.0), (29, 104.0)],
                 id="buckets align to UNIX time, not to start"),
])
def test_rollup_bounds_and_alignment(rollup_store, start: int, end: int, interval: int, expected) -> None:
    store, a, _ = rollup_store
    _, bucket, value = store.rollup([a], T0 + start, T0 + end, interval, "sum")
    assert list(zip((bucket - T0).tolist(), value.tolist())) == expected
    assert all(b % interval == 0 for b in bucket.tolist())  # absolute epoch seconds, not offsets


def test_points_are_raw_and_sorted_by_series_then_time(rollup_store) -> None:
    store, a, b = rollup_store
    sid, ts, val = store.points([b, a], T0, T0 + 41)
    assert list(zip(sid.tolist(), (ts - T0).tolist(), val.tolist())) == [
        (a, 0, 1.0), (a, 5, 3.0), (a, 19, 2.0), (a, 20, 10.0), (a, 39, 4.0), (a, 40, 100.0), (b, 19, 7.0), (b, 21, 0.5),
        (b, 25, -1.0)]


def test_rollup_of_no_series_or_unknown_ids_is_empty(rollup_store) -> None:
    store, _, _ = rollup_store
    for ids in ([], [999]):
        sid, bucket, value = store.rollup(ids, T0, T0 + 60, 20, "avg")
        assert (len(sid), len(bucket), len(value)) == (0, 0, 0)


@pytest.mark.parametrize("ids", [[1], []])
def test_unknown_rollup_method_is_refused_naming_the_allowed_ones(rollup_store, ids) -> None:
    store, _, _ = rollup_store
    with pytest.raises(ValueError, match="'median'") as info:
        store.rollup(ids, T0, T0 + 60, 20, "median")
    assert all(m in str(info.value) for m in ROLLUP_METHODS)


# ------------------------------------------------------------------------------------------ catalogue
@pytest.mark.parametrize("first, later, expected", [
    pytest.param({}, {"type": "count"}, ("count", None, None), id="type declared later"),
    pytest.param({}, {"unit": "byte", "interval": 10}, ("unspecified", 10, "byte"), id="unit and interval later"),
    pytest.param({"type": "rate", "interval": 10, "unit": "request"}, {},
                 ("rate", 10, "request"), id="a later bare write keeps them"),
    pytest.param({"type": "gauge", "interval": 10, "unit": "byte"}, {"type": "count", "interval": 60, "unit": "bit"},
                 ("count", 60, "bit"), id="a later declaration replaces"),
])
def test_metadata_declared_later_is_kept(tmp_path: Path, first: dict, later: dict, expected) -> None:
    path = tmp_path / "m.duckdb"
    store = MetricStore(path)
    store.write([pts("m", ("a:1",), [0], [1.0], **first)])
    store.write([pts("m", ("a:1",), [1], [2.0], **later)])
    (only,) = store.series("m")
    assert ((only.type, only.interval, only.unit), only.id) == (expected, 1)
    assert (store.metric_type("m"), store.metric_unit("m")) == (expected[0], expected[2])
    store.close()
    reopened = MetricStore(path)
    try:
        assert reopened.series("m") == [only]
    finally:
        reopened.close()


@pytest.mark.parametrize("series_meta, metric_type, metric_unit", [
    pytest.param([{}, {}], "unspecified", None, id="nothing declared"),
    pytest.param([{}, {"type": "count"}], "count", None, id="one series declares the type"),
    pytest.param([{"type": "gauge", "unit": "byte"}, {"type": "gauge"}], "gauge", "byte", id="unit of one series"),
])
def test_metric_type_and_unit_come_from_its_series(store: MetricStore, series_meta, metric_type, metric_unit) -> None:
    store.write([pts("m", (f"s:{i}",), [0], [1.0], **meta) for i, meta in enumerate(series_meta)])
    assert (store.metric_type("m"), store.metric_unit("m")) == (metric_type, metric_unit)


def test_an_unknown_metric_has_no_series_type_or_unit(store: MetricStore) -> None:
    assert (store.series("nope"), store.metric_type("nope"), store.metric_unit("nope")) == ([], "unspecified", None)


def test_tags_are_sorted_and_deduplicated_so_order_does_not_make_a_new_series(store: MetricStore) -> None:
    store.write([pts("m", ("z:1", "a:1", "m:1", "a:1"), [0], [1.0])])
    store.write([pts("m", ("m:1", "z:1", "a:1"), [1], [2.0]),
                 pts("m", ("a:1", "a:1", "z:1", "m:1", "z:1"), [2], [3.0])])
    assert store.series("m") == [Series(1, "m", ("a:1", "m:1", "z:1"))]
    assert store.count_points() == 3
    assert table_rows(store, "SELECT tags FROM series") == [(["a:1", "m:1", "z:1"],)]


def test_many_series_of_one_metric_keep_creation_order_through_updates_and_a_restart(tmp_path: Path) -> None:
    """The catalogue replaces a series in place by id (it once scanned the metric's list: quadratic in series)."""
    path = tmp_path / "m.duckdb"
    first = MetricStore(path)
    first.write([pts("m", (f"n:{i}",), [0], [float(i)]) for i in range(2000)])
    first.write([pts("m", ("n:7",), [10], [1.0], unit="second", interval=10)])  # metadata update of one series
    before = first.series("m")
    first.close()
    reopened = MetricStore(path)
    try:
        assert reopened.series("m") == before
        assert [s.tags for s in before[:3]] == [("n:0",), ("n:1",), ("n:2",)] and len(before) == 2000
        assert before[7].unit == "second" and before[7].interval == 10 and before[8].unit is None
    finally:
        reopened.close()


def test_series_keep_creation_order_and_metrics_are_sorted(store: MetricStore) -> None:
    store.write([pts("zeta", ("b:1",), [0], [1.0]), pts("alpha", (), [0], [1.0]), pts("zeta", ("a:1",), [0], [1.0])])
    assert store.metrics() == ["alpha", "zeta"]
    assert [(s.id, s.tags) for s in store.series("zeta")] == [(1, ("b:1",)), (3, ("a:1",))]
    assert store.series("zeta")[0].tag_values("b") == ["1"]
