"""The Agent's 10 s aggregation: every type, sample rates, bucket alignment, counters' zeros, timestamped samples."""

from __future__ import annotations

import pytest

from autonomic_lib.sandbox.dogstatsd.aggregator import Aggregator
from autonomic_lib.sandbox.dogstatsd.protocol import MetricSample, Parser
from autonomic_lib.sandbox.metrics.store import SeriesPoints

T0 = 1_767_225_600  # a multiple of 10: the start of a bucket


def sample(line: str) -> MetricSample:
    packet = Parser().parse(line.encode())
    assert len(packet.samples) == 1, packet.malformed
    return packet.samples[0]


def feed(agg: Aggregator, at: float, *lines: str) -> None:
    for line in lines:
        assert agg.add(sample(line), now=at)


def points(batch: list[SeriesPoints]) -> dict[tuple[str, tuple[str, ...]], tuple[str, int | None, list]]:
    """{(name, tags): (type, interval, [(ts, value), ...])} of a flush."""
    out = {}
    for sp in batch:
        assert (sp.metric, sp.tags) not in out
        out[(sp.metric, sp.tags)] = (sp.type, sp.interval, list(zip(sp.timestamps.tolist(), sp.values.tolist())))
    return out


def test_a_counter_is_a_rate_over_10_s_stamped_at_its_buckets_start() -> None:
    agg = Aggregator()
    feed(agg, T0 + 1.5, "hits:1|c|#a", "hits:2|c|#a", "hits:4|c|#b")
    feed(agg, T0 + 9.99, "hits:3|c|#a")
    out = points(agg.flush(now=T0 + 10))
    assert out[("hits", ("a",))] == ("rate", 10, [(T0, 0.6)])  # (1 + 2 + 3) / 10 per second
    assert out[("hits", ("b",))] == ("rate", 10, [(T0, 0.4)])


def test_sample_rates_scale_counters() -> None:
    agg = Aggregator()
    feed(agg, T0, "hits:1|c|@0.5", "hits:1|c|@0.25", "hits:2:3|c|@0.5")  # v1.1 values share the rate
    assert points(agg.flush(now=T0 + 10))[("hits", ())] == ("rate", 10, [(T0, (2 + 4 + 4 + 6) / 10)])


def test_buckets_are_aligned_and_only_closed_ones_are_flushed() -> None:
    agg = Aggregator()
    feed(agg, T0 + 0.0, "g:1|g")
    feed(agg, T0 + 9.999, "g:2|g")
    feed(agg, T0 + 10.0, "g:3|g")
    feed(agg, T0 + 25.5, "g:4|g")
    assert agg.flush(now=T0 + 9.999) == []
    assert points(agg.flush(now=T0 + 10)) == {("g", ()): ("gauge", None, [(T0, 2.0)])}  # last value of the bucket
    assert agg.flush(now=T0 + 19.9) == []
    assert points(agg.flush(now=T0 + 30.2)) == {("g", ()): ("gauge", None, [(T0 + 10, 3.0), (T0 + 20, 4.0)])}
    assert agg.pending() == 0


def test_a_set_counts_distinct_members_per_bucket() -> None:
    agg = Aggregator()
    feed(agg, T0 + 1, "users:alice|s", "users:bob|s", "users:alice|s", "users:a:b|s")
    feed(agg, T0 + 11, "users:alice|s")
    out = points(agg.flush(now=T0 + 20))
    assert out[("users", ())] == ("gauge", None, [(T0, 3.0), (T0 + 10, 1.0)])


def test_a_histogram_sends_the_agents_default_aggregates_and_95th_percentile() -> None:
    agg = Aggregator()
    feed(agg, T0 + 3, *(f"lat:{v}|h|#svc:web" for v in range(100, 0, -1)))
    out = points(agg.flush(now=T0 + 10))
    tags = ("svc:web",)
    assert out[("lat.max", tags)] == ("gauge", None, [(T0, 100.0)])
    assert out[("lat.median", tags)] == ("gauge", None, [(T0, 50.0)])  # weight rank (100 - 1) // 2 = 49
    assert out[("lat.avg", tags)] == ("gauge", None, [(T0, 50.5)])
    assert out[("lat.count", tags)] == ("rate", 10, [(T0, 10.0)])  # 100 samples in 10 s
    assert out[("lat.95percentile", tags)] == ("gauge", None, [(T0, 95.0)])  # rank (95 * 100 - 1) // 100 = 94
    assert set(out) == {(n, tags) for n in ("lat.max", "lat.median", "lat.avg", "lat.count", "lat.95percentile")}


def test_histogram_samples_are_weighted_by_their_sample_rate() -> None:
    """Weight int(1 / rate): 2 at 0.5, and 3 at 0.3 (Go truncates 3.33); the sum behind .avg uses value / rate."""
    agg = Aggregator()
    feed(agg, T0, "lat:10|h|@0.5", "lat:20|h", "lat:30|h|@0.3")
    out = points(agg.flush(now=T0 + 10))
    count = 2 + 1 + 3
    assert out[("lat.count", ())][2] == [(T0, count / 10)]
    assert out[("lat.avg", ())][2] == [(T0, pytest.approx((10 / 0.5 + 20 + 30 / 0.3) / count))]
    assert out[("lat.median", ())][2] == [(T0, 20.0)]  # ranks 0-1: 10, 2: 20, 3-5: 30; (6 - 1) // 2 = 2
    assert out[("lat.95percentile", ())][2] == [(T0, 30.0)]  # (95 * 6 - 1) // 100 = 5


def test_a_timer_is_a_histogram_in_milliseconds() -> None:
    agg = Aggregator()
    feed(agg, T0, "req.time:5:15|ms")
    batch = {sp.metric: sp for sp in agg.flush(now=T0 + 10)}
    assert batch["req.time.avg"].values.tolist() == [10.0] and batch["req.time.avg"].unit == "millisecond"
    assert batch["req.time.count"].type == "rate" and batch["req.time.count"].unit is None


def test_contexts_are_name_and_tags_whatever_the_tag_order() -> None:
    agg = Aggregator()
    feed(agg, T0, "hits:1|c|#b,a", "hits:1|c|#a,b", "hits:1|c|#A,b,a")
    assert points(agg.flush(now=T0 + 10)) == {("hits", ("a", "b")): ("rate", 10, [(T0, 0.3)])}


def test_counters_send_zeros_until_they_expire() -> None:
    """time_sampler.go: a counter without samples is sent as 0 for every closed bucket until expiry after its last
    sample; a gauge is not."""
    agg = Aggregator(counter_expiry=30)
    feed(agg, T0 + 5, "hits:3|c", "level:1|g")
    assert points(agg.flush(now=T0 + 10)) == {("hits", ()): ("rate", 10, [(T0, 0.3)]),
                                              ("level", ()): ("gauge", None, [(T0, 1.0)])}
    assert points(agg.flush(now=T0 + 21)) == {("hits", ()): ("rate", 10, [(T0 + 10, 0.0)])}
    assert points(agg.flush(now=T0 + 45)) == {("hits", ()): ("rate", 10, [(T0 + 20, 0.0), (T0 + 30, 0.0)])}
    assert agg.flush(now=T0 + 60) == []  # last sample at +5, expiry 30: no zero from the bucket at +40 on
    feed(agg, T0 + 61, "hits:1|c")
    assert points(agg.flush(now=T0 + 70)) == {("hits", ()): ("rate", 10, [(T0 + 60, 0.1)])}


def test_a_counters_zero_never_precedes_its_first_sample() -> None:
    agg = Aggregator()
    agg.flush(now=T0)
    feed(agg, T0 + 25, "hits:1|c")
    assert points(agg.flush(now=T0 + 30)) == {("hits", ()): ("rate", 10, [(T0 + 20, 0.1)])}


def test_zeros_after_a_long_pause_are_bounded_by_the_expiry() -> None:
    agg = Aggregator(counter_expiry=300)
    feed(agg, T0, "hits:1|c")
    agg.flush(now=T0 + 10)
    out = points(agg.flush(now=T0 + 100_000))  # the process slept: no 10 000 zeros, and the counter expired
    assert out == {}


def test_timestamped_gauges_and_counts_pass_through_unaggregated() -> None:
    """no_aggregation_stream_worker.go: a gauge as is, a count as a rate of value / 10, at their own timestamps."""
    agg = Aggregator()
    feed(agg, T0 + 1, "q:3|g|T1767225000", "q:4|g|T1767225001", "done:20|c|@0.5|T1767225000")
    out = points(agg.flush(now=T0 + 2))  # not held back until a bucket closes
    assert out[("q", ())] == ("gauge", None, [(1767225000, 3.0), (1767225001, 4.0)])
    assert out[("done", ())] == ("rate", 10, [(1767225000, 2.0)])  # the sample rate is not applied there
    assert agg.flush(now=T0 + 3) == []


@pytest.mark.parametrize("line", ["lat:1|h|T1767225000", "t:1|ms|T1767225000", "u:x|s|T1767225000"])
def test_timestamped_histograms_timers_and_sets_are_refused(line: str) -> None:
    assert not Aggregator().add(sample(line), now=T0)


def test_distributions_are_not_aggregated() -> None:
    with pytest.raises(ValueError, match="no distribution type"):
        Aggregator().add(sample("size:1|d"), now=T0)


def test_a_force_flush_sends_the_open_bucket_and_keeps_it_open() -> None:
    """What the sandbox sends when it stops, or when asked to; the bucket is sent again, whole, when it closes, and
    the store keeps the last point of a series and second: nothing counted twice."""
    agg = Aggregator()
    feed(agg, T0 + 1, "hits:1|c", "lat:5|h")
    forced = points(agg.flush(now=T0 + 2, force=True))
    assert forced[("hits", ())] == ("rate", 10, [(T0, 0.1)]) and forced[("lat.max", ())][2] == [(T0, 5.0)]
    feed(agg, T0 + 3, "hits:1|c", "lat:9|h")
    closed = points(agg.flush(now=T0 + 10))
    assert closed[("hits", ())] == ("rate", 10, [(T0, 0.2)]) and closed[("lat.max", ())][2] == [(T0, 9.0)]


def test_new_contexts_beyond_the_bound_are_refused_known_ones_still_aggregate() -> None:
    agg = Aggregator(max_contexts=2)
    assert agg.add(sample("a:1|c"), now=T0) and agg.add(sample("b:1|g"), now=T0)
    assert not agg.add(sample("c:1|h"), now=T0)
    assert agg.add(sample("a:1|c"), now=T0)
    assert agg.add(sample("c:1|h"), now=T0 + 10)  # a new bucket has room again
    assert set(points(agg.flush(now=T0 + 10))) == {("a", ()), ("b", ())}


def test_the_clock_is_used_when_no_time_is_given() -> None:
    now = [T0 + 4.0]
    agg = Aggregator(clock=lambda: now[0])
    assert agg.add(sample("hits:1|c"))
    assert agg.flush() == []
    now[0] = T0 + 10.5
    assert points(agg.flush()) == {("hits", ()): ("rate", 10, [(T0, 0.1)])}
