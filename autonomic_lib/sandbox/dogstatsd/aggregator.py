"""DogStatsD samples aggregated into 10 s buckets, the way the Datadog Agent does, then flushed as series points.

Pure: no I/O, and "now" is given (or read from an injected clock). Every rule cites where it was checked:

- BUCKETS: the Agent's TimeSampler (DataDog/datadog-agent pkg/aggregator/time_sampler.go): a sample goes to the
  bucket starting at `ts - ts % 10` (bucketSize 10 s; DOC-AGG "DogStatsD uses a flush interval of 10 seconds",
  https://docs.datadoghq.com/developers/dogstatsd/data_aggregation/); a bucket is flushed once closed (its start
  + 10 <= the start of the current bucket), its points stamped with the bucket's start; contexts are the metric
  name and its tags.
- COUNTER: pkg/metrics/model/counter.go: the sum of `value * (1 / sample_rate)`, sent as a RATE of `sum / 10` with
  interval 10. DOC-SUB (https://docs.datadoghq.com/metrics/custom_metrics/dogstatsd_metrics_submission/): a COUNT
  "is stored as a RATE type in Datadog. Each value in the stored timeseries is a time-normalized delta of the
  metric's value over the StatsD flush period". So `sum:<counter>{*}.as_count()` gives the total back.
  Counters are also sent as 0 for every closed bucket without a sample until `dogstatsd_expiry_seconds` (300 s,
  pkg/config/setup/config.go) after their last sample (time_sampler.go `countersSampleZeroValue`); the sandbox
  counts from the end of the last sample's bucket, which gives the same zeros unless that sample fell on the
  bucket's very first second (then one zero more).
- GAUGE: the last value of the bucket (pkg/metrics/gauge.go). SET: a gauge of the number of distinct members
  (pkg/metrics/model/set.go).
- HISTOGRAM and TIMER (`ms` is a histogram, comp/dogstatsd/server/impl/enrich.go `enrichMetricType`):
  pkg/metrics/model/histogram.go with the Agent's defaults `histogram_aggregates: [max, median, avg, count]`
  and `histogram_percentiles: [0.95]` (pkg/config/setup/config.go): `.max`, `.median`, `.avg` and
  `.95percentile` are gauges, `.count` a RATE (count / 10). A sample of rate r weighs `int(1 / r)` (Go's
  truncation) in the count, median and percentiles, and adds `value / r` to the sum behind `.avg`.
- TIMESTAMPED (v1.3 `T`): with `dogstatsd_no_aggregation_pipeline` (default true) the Agent does not aggregate
  them (pkg/aggregator/no_aggregation_stream_worker.go): a gauge is sent as is, a counter as a RATE of
  `value / 10` (the sample rate is not applied there), at its own timestamp; other types are discarded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from autonomic_lib.sandbox.dogstatsd.protocol import MetricSample
from autonomic_lib.sandbox.metrics.store import SeriesPoints

INTERVAL = 10  # seconds: the Agent's bucketSize and the interval declared with rates
COUNTER_EXPIRY = 300  # seconds: dogstatsd_expiry_seconds
HISTOGRAM_AGGREGATES = ("max", "median", "avg", "count")  # histogram_aggregates
HISTOGRAM_PERCENTILES = (95,)  # histogram_percentiles 0.95, as the Agent keeps them: integer percents
MAX_CONTEXTS = 500_000  # per bucket, plus as many timestamped samples waiting: memory stays bounded

Key = tuple[str, tuple[str, ...]]  # (metric name, tags): a context
SeriesKey = tuple[str, tuple[str, ...], str, int | None, str | None]  # name, tags, type, interval, unit


class _Histogram:
    """One context's samples in one bucket: (value, weight) pairs, the weighted sum and the total weight."""

    __slots__ = ("samples", "total", "count", "timer")

    def __init__(self, timer: bool):
        self.samples: list[tuple[float, int]] = []
        self.total = 0.0
        self.count = 0
        self.timer = timer

    def add(self, values: tuple[float, ...], rate: float) -> None:
        weight = int(1 / rate)
        for value in values:
            self.samples.append((value, weight))
            self.total += value * (1 / rate)
            self.count += weight

    def flush(self, interval: int) -> list[tuple[str, float, str]]:
        """(suffix, value, type) of every default aggregate and percentile (histogram.go `flush`)."""
        ordered = sorted(self.samples)
        out: list[tuple[str, float, str]] = []
        for aggregate in HISTOGRAM_AGGREGATES:
            if aggregate == "max":
                out.append((".max", ordered[-1][0], "gauge"))
            elif aggregate == "median":
                out.append((".median", _weighted_rank(ordered, (self.count - 1) // 2), "gauge"))
            elif aggregate == "avg":
                out.append((".avg", self.total / self.count, "gauge"))
            elif aggregate == "count":
                out.append((".count", self.count / interval, "rate"))
        for percent in HISTOGRAM_PERCENTILES:
            out.append((f".{percent}percentile", _weighted_rank(ordered, (percent * self.count - 1) // 100), "gauge"))
        return out


def _weighted_rank(ordered: list[tuple[float, int]], target: int) -> float:
    """The first value whose cumulated weight exceeds `target` (histogram.go's median and percentile walk)."""
    weight = 0
    for value, w in ordered:
        weight += w
        if weight > target:
            return value
    return ordered[-1][0]


@dataclass
class _Bucket:
    """The contexts of one 10 s bucket, by kind."""

    counters: dict[Key, float] = field(default_factory=dict)
    gauges: dict[Key, float] = field(default_factory=dict)
    sets: dict[Key, set[str]] = field(default_factory=dict)
    histograms: dict[Key, _Histogram] = field(default_factory=dict)
    size: int = 0


class Aggregator:
    """Samples in, series points out: `add` each sample, `flush` every second or so (only closed buckets go out).

    Usage::

        agg = Aggregator(clock=time.time)
        agg.add(sample)                      # bucket of the clock's now
        batch = agg.flush()                  # list[SeriesPoints] of the buckets closed since the last flush
        batch = agg.flush(force=True)        # also the open bucket, kept open: a later flush sends it again whole

    A force flush sends the open bucket's state so far and keeps the bucket; when it closes it is sent again with
    every sample, and the store keeps the last point of a series and second, so nothing is counted twice.
    """

    def __init__(self, *, clock: Callable[[], float] = time.time, interval: int = INTERVAL,
                 counter_expiry: int = COUNTER_EXPIRY, max_contexts: int = MAX_CONTEXTS):
        self.clock, self.interval = clock, interval
        self.counter_expiry, self.max_contexts = counter_expiry, max_contexts
        self._buckets: dict[int, _Bucket] = {}
        # counter context -> [its first bucket, the end of its last one]: until when it is sent as 0
        self._counters_seen: dict[Key, list[float]] = {}
        self._timestamped: list[tuple[str, tuple[str, ...], str, int, float]] = []
        self._last_cutoff: int | None = None

    def bucket_start(self, ts: float) -> int:
        return int(ts) - int(ts) % self.interval

    def add(self, sample: MetricSample, now: float | None = None) -> bool:
        """Aggregate one sample (any type but a distribution); False when refused for lack of room (a new context
        beyond `max_contexts` in its bucket) or, when timestamped, for a type the Agent would discard."""
        return self.add_many((sample,), now) == 0

    def add_many(self, samples: Iterable[MetricSample], now: float | None = None) -> int:
        """Aggregate samples received at one moment (`add`'s rules); returns how many were refused."""
        now = self.clock() if now is None else now
        start = int(now) - int(now) % self.interval
        bucket = self._buckets.get(start)
        if bucket is None:
            bucket = self._buckets[start] = _Bucket()
        counters, gauges, sets, histograms = bucket.counters, bucket.gauges, bucket.sets, bucket.histograms
        refused = 0
        for sample in samples:
            mtype, key = sample.type, (sample.name, sample.tags)
            if sample.timestamp is not None:
                refused += not self._timestamp(sample)
            elif mtype == "c":
                known = counters.get(key)
                if known is None:
                    if not self._room(bucket):
                        refused += 1
                        continue
                    known = 0.0
                values = sample.values
                if len(values) == 1:
                    counters[key] = known + values[0] * (1 / sample.sample_rate)
                else:
                    inverse = 1 / sample.sample_rate
                    counters[key] = known + sum(v * inverse for v in values)
            elif mtype == "g":
                if key not in gauges and not self._room(bucket):
                    refused += 1
                    continue
                gauges[key] = sample.values[-1]
            elif mtype == "s":
                members = sets.get(key)
                if members is None:
                    if not self._room(bucket):
                        refused += 1
                        continue
                    members = sets[key] = set()
                members.add(sample.set_value)
            elif mtype == "h" or mtype == "ms":
                histogram = histograms.get(key)
                if histogram is None:
                    if not self._room(bucket):
                        refused += 1
                        continue
                    histogram = histograms[key] = _Histogram(timer=mtype == "ms")
                histogram.add(sample.values, sample.sample_rate)
            else:
                raise ValueError("distributions are not aggregated here: the sandbox has no distribution type")
        return refused

    def _timestamp(self, sample: MetricSample) -> bool:
        ts = sample.timestamp
        if ts is None or sample.type not in ("c", "g") or len(self._timestamped) >= self.max_contexts:
            return False
        kind = "rate" if sample.type == "c" else "gauge"
        scale = 1 / self.interval if sample.type == "c" else 1.0
        self._timestamped.extend((sample.name, sample.tags, kind, ts, v * scale) for v in sample.values)
        return True

    def _room(self, bucket: _Bucket) -> bool:
        if bucket.size >= self.max_contexts:
            return False
        bucket.size += 1
        return True

    def pending(self) -> int:
        """Contexts and timestamped samples not yet flushed (open buckets included)."""
        return sum(b.size for b in self._buckets.values()) + len(self._timestamped)

    def flush(self, now: float | None = None, *, force: bool = False) -> list[SeriesPoints]:
        """Series points of every bucket closed by `now` (and with `force`, of the open ones too), counters'
        zeros, and the timestamped samples received since the last flush."""
        now = self.clock() if now is None else now
        cutoff = self.bucket_start(now)
        points: dict[SeriesKey, tuple[list[int], list[float]]] = {}
        starts = {b for b in self._buckets if b + self.interval <= cutoff}
        if self._counters_seen and self._last_cutoff is not None:  # every bucket closed since: counters' zeros
            starts.update(range(max(self._last_cutoff, cutoff - self.counter_expiry), cutoff, self.interval))
        for start in sorted(starts):
            bucket = self._buckets.pop(start, None)
            if bucket is not None:
                self._emit(bucket, start, points)
            self._zeros(start, bucket, points)
        if force:
            for start, bucket in sorted(self._buckets.items()):
                self._emit(bucket, start, points)
        for name, tags, kind, ts, value in self._timestamped:
            _point(points, (name, tags, kind, self.interval if kind == "rate" else None, None), ts, value)
        self._timestamped = []
        self._last_cutoff = cutoff if self._last_cutoff is None else max(cutoff, self._last_cutoff)
        return [SeriesPoints(name, tags, np.array(ts, dtype=np.int64), np.array(values, dtype=np.float64),
                             type=kind, interval=interval, unit=unit)
                for (name, tags, kind, interval, unit), (ts, values) in points.items()]

    def _emit(self, bucket: _Bucket, start: int, points: dict[SeriesKey, tuple[list[int], list[float]]]) -> None:
        iv, seen = self.interval, self._counters_seen
        last = start + iv - 1e-6  # a counter's last sample, as far as its zeros go: within this bucket
        for key, total in bucket.counters.items():
            _point(points, (key[0], key[1], "rate", iv, None), start, total / iv)
            known = seen.get(key)
            if known is None:
                seen[key] = [start, last]
            else:
                known[0], known[1] = min(known[0], start), max(known[1], last)
        for (name, tags), value in bucket.gauges.items():
            _point(points, (name, tags, "gauge", None, None), start, value)
        for (name, tags), members in bucket.sets.items():
            _point(points, (name, tags, "gauge", None, None), start, float(len(members)))
        for (name, tags), histogram in bucket.histograms.items():
            for suffix, value, kind in histogram.flush(iv):
                # UNCONFIRMED: that the Agent sends a timer's unit (enrich.go sets "millisecond" on the samples)
                unit = "millisecond" if histogram.timer and suffix != ".count" else None
                _point(points, (name + suffix, tags, kind, iv if kind == "rate" else None, unit), start, value)

    def _zeros(self, start: int, bucket: _Bucket | None, points: dict[SeriesKey, tuple[list[int], list[float]]]
               ) -> None:
        """A 0 for each live counter without a sample in the closed bucket `start`; expired counters are dropped."""
        expired = []
        for key, (first, last) in self._counters_seen.items():
            if last + self.counter_expiry <= start:
                expired.append(key)
            elif first <= start and (bucket is None or key not in bucket.counters):
                _point(points, (key[0], key[1], "rate", self.interval, None), start, 0.0)
        for key in expired:
            del self._counters_seen[key]


def _point(points: dict[SeriesKey, tuple[list[int], list[float]]], key: SeriesKey, ts: int, value: float) -> None:
    found = points.get(key)
    if found is None:
        points[key] = ([ts], [value])
    else:
        found[0].append(ts)
        found[1].append(value)
