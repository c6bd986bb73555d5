"""The recorder for real swarms, log batching, and live pacing with a fake clock."""

from __future__ import annotations

import time

import pytest

from autonomic_lib.errors import CatalogError
from autonomic_lib.swarm import load_scenario
from autonomic_lib.telemetry import Backfill, Live, MemorySink, Recorder
from autonomic_lib.traffic import run_scenario
from autonomic_lib.telemetry.sink import log_batches

from ..swarm.test_scenario import FIXTURES


class FakeClock:
    def __init__(self, now: float):
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_recorder_aggregates_real_calls_and_sends_closed_windows() -> None:
    clock = FakeClock(1_000.0)
    sink = MemorySink()
    rec = Recorder(sink, env="prod", clock=clock)
    cost = rec.record_call("chatbot", "support-bot", 3, input_tokens=1000, output_tokens=200, thinking_tokens=300,
                           latency=2.5)
    assert cost == pytest.approx(0.00155)
    rec.record_message("support-bot", 3, latency=4.0, verdict="fail", cost=cost)
    rec.record_count("autonomic.optimization.failed", "refiner", "support-bot", 3, failure_reason="hallucination_persists")
    assert rec.flush() == 0  # the 10 s window is still open
    clock.now = 1_010.0
    assert rec.flush() > 0
    metrics = {s.metric: s for s in sink.series}
    assert metrics["autonomic.tokens.thinking"].values.tolist() == [300.0]
    assert "role:chatbot" in metrics["autonomic.tokens.thinking"].tags
    assert "failure_reason:hallucination_persists" in metrics["autonomic.optimization.failed"].tags
    assert rec.close().points == sum(len(s.values) for s in sink.series)


def test_recorder_rejects_what_the_catalogue_forbids_at_the_call() -> None:
    rec = Recorder(MemorySink(), env="prod")
    with pytest.raises(CatalogError, match="failure_reason"):
        rec.record_count("autonomic.optimization.attempts", "refiner", "a", 1, failure_reason="x")
    with pytest.raises(CatalogError, match="autonomic.optimization.succeeded"):
        rec.record_count("autonomic.optimization.succeeded", "refiner", "a", 1)


def test_log_batches_stay_under_1000_items_and_5_mb() -> None:
    items = [{"message": "x" * 10_000, "service": "autonomic-chatbot"} for _ in range(1200)]
    batches = list(log_batches(items))
    assert sum(n for _, n in batches) == 1200
    assert all(n <= 1000 and len(body) <= 5_000_000 for body, n in batches)
    assert len(batches) >= 3  # 12 MB of logs need at least three requests


def test_live_pacing_backfills_history_then_sends_each_window_after_it_closes() -> None:
    scenario = load_scenario(FIXTURES / "small.yaml")  # 10 min history, 20 min incident
    clock = FakeClock(2_000_000_000.0)
    sent_at: list[tuple[float, int, int]] = []

    class Watching(MemorySink):
        def send_series(self, series):  # type: ignore[no-untyped-def]
            if series:
                sent_at.append((clock.now, min(int(s.timestamps[0]) for s in series),
                                max(int(s.timestamps[-1]) for s in series)))
            return super().send_series(series)

    ledger = run_scenario(scenario, 3, sink=Watching(), pacing=Live(clock=clock, sleep=clock.sleep))
    now = 2_000_000_000
    assert ledger.start == now - 600 and ledger.end == now + 1200
    first_time, _, first_last = sent_at[0]
    assert first_time == now and first_last < now  # history goes at once
    for when, oldest, newest in sent_at[1:]:
        assert newest < when  # never ahead of the clock
        assert when - (newest + 10) < 15  # and each window soon after it closes
    assert clock.now >= now + 1200
    assert ledger.points == sum(p.points for p in ledger.phases.values())


def test_a_backfill_sent_in_background_chunks_sends_what_one_chunk_sends() -> None:
    scenario = load_scenario(FIXTURES / "small.yaml")

    class Counting(MemorySink):
        sends = 0

        def send_series(self, series):  # type: ignore[no-untyped-def]
            self.sends += 1
            return super().send_series(series)

    whole, chunked = Counting(), Counting()
    end = Backfill(end=time.time())  # both runs on one timeline (each "now" could fall in another 10 s window)
    one = run_scenario(scenario, 3, sink=whole, pacing=end)
    many = run_scenario(scenario, 3, sink=chunked, chunk_points=500, pacing=end)
    points = lambda sink: sorted((s.metric, tuple(s.tags), t, v) for s in sink.series  # noqa: E731
                                 for t, v in zip(s.timestamps.tolist(), s.values.tolist()))
    assert chunked.sends > whole.sends  # really sent in several chunks (a send per phase of each)
    assert points(chunked) == points(whole)
    assert many.points == one.points == len(points(whole))
    assert sorted(map(str, chunked.logs)) == sorted(map(str, whole.logs))


def test_a_refused_chunk_stops_the_backfill_and_raises() -> None:
    scenario = load_scenario(FIXTURES / "small.yaml")

    class Refusing(MemorySink):
        calls = 0

        def send_series(self, series):  # type: ignore[no-untyped-def]
            Refusing.calls += 1
            if Refusing.calls == 2:
                raise ConnectionError("the backend went away")
            return super().send_series(series)

    sink = Refusing()
    with pytest.raises(ConnectionError, match="went away"):
        run_scenario(scenario, 3, sink=sink, chunk_points=500)
    assert Refusing.calls <= 3  # at most the chunk being built when the refusal came back was sent after it
