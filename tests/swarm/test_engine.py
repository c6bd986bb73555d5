"""The simulation: determinism, the vectorised engine equals the per-message loop, faults land where they should."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from autonomic_lib.swarm import load_scenario, seed_demo
from autonomic_lib.swarm.engine import Timeline, run_agent
from autonomic_lib.swarm.messages import draw_messages, injections
from autonomic_lib.telemetry.prices import price_for
from autonomic_lib.swarm.reference import run_agent_reference
from autonomic_lib.traffic import aggregate_run, run_scenario
from autonomic_lib.traffic_reference import reference_points
from autonomic_lib.telemetry import Backfill, MemorySink
from autonomic_lib.telemetry.points import PointBuffer, tag_value

from .test_scenario import FIXTURES

END = 1_800_000_000


@pytest.fixture(scope="module")
def demo() -> tuple[MemorySink, object]:
    sink = MemorySink()
    ledger = run_scenario(seed_demo(), 7, sink=sink, pacing=Backfill(end=END))
    return sink, ledger


def _points(sink: MemorySink, metric: str) -> dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]]:
    return {tuple(s.tags): (s.timestamps, s.values) for s in sink.series if s.metric == metric}


def _by_phase(sink: MemorySink, metric: str) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for tags, (_, values) in _points(sink, metric).items():
        out[tag_value(tags, "phase") or ""] += float(values.sum())
    return dict(out)


def test_same_seed_same_ledger_and_other_seed_differs() -> None:
    a = run_scenario("seed-demo", 7, sink=MemorySink(keep=False), pacing=Backfill(end=END))
    b = run_scenario("seed-demo", 7, sink=MemorySink(keep=False), pacing=Backfill(end=END))
    c = run_scenario("seed-demo", 8, sink=MemorySink(keep=False), pacing=Backfill(end=END))
    assert a.digest() == b.digest() and a.summary().equals(b.summary())
    assert a.digest() != c.digest()


def test_timeline_anchor_only_shifts_the_run() -> None:
    a = run_scenario("seed-demo", 7, sink=MemorySink(keep=False), pacing=Backfill(end=END))
    b = run_scenario("seed-demo", 7, sink=MemorySink(keep=False), pacing=Backfill(end=END - 86_400))
    assert a.points == b.points and a.log_count == b.log_count
    assert a.summary()[["messages", "fail", "deployments"]].equals(b.summary()[["messages", "fail", "deployments"]])


@pytest.mark.parametrize("scenario, seed", [(seed_demo(), 7), (seed_demo(), 11), (load_scenario(FIXTURES / "small.yaml"), 3)])
def test_vectorised_engine_equals_the_per_message_loop(scenario, seed: int) -> None:  # type: ignore[no-untyped-def]
    start = END - int(scenario.duration)
    timeline, price = Timeline(scenario, start), price_for()
    attacks = injections(scenario, seed, start)
    for i, agent in enumerate(scenario.agents):
        fast = run_agent(scenario, timeline, i, draw_messages(scenario, i, seed, start, price, attacks[agent.agent_id],
                                                              timeline.windows), seed, price)
        slow = run_agent_reference(scenario, timeline, i, draw_messages(scenario, i, seed, start, price,
                                                                         attacks[agent.agent_id], timeline.windows),
                                   seed, price)
        assert (fast.messages.version == slow.messages.version).all()
        assert (fast.messages.failed == slow.messages.failed).all()
        assert (fast.counts, fast.calls, fast.logs, fast.escalated) == (slow.counts, slow.calls, slow.logs, slow.escalated)
        buf = PointBuffer(scenario.env)
        aggregate_run(buf, fast, scenario, timeline.names)
        vec = {key: (ts, values) for key, ts, values in buf.merged()}
        for key, (ts, values) in reference_points(slow, timeline.names, scenario.env, scenario.budget_usd).items():
            assert vec[key][0].tolist() == ts, key
            np.testing.assert_allclose(vec[key][1], values, rtol=1e-12, err_msg=str(key))


def test_budget_breaches_only_in_their_phase(demo) -> None:  # type: ignore[no-untyped-def]
    sink, ledger = demo
    breaches = _points(sink, "autonomic.budget.breach.amount")
    phases = {tag_value(t, "phase") for t in breaches}
    assert phases == {"budget_breach"}
    assert sum(len(v) for _, v in breaches.values()) == 3
    assert all((v >= 0.10).all() for _, v in breaches.values())
    assert ledger.summary()["budget_breaches"].to_dict() == {"baseline": 0, "budget_breach": 3, "latency_spike": 0,
                                                              "optimization_failure": 0, "recovery": 0}


def test_latency_spikes_only_in_their_phase_near_25_seconds(demo) -> None:  # type: ignore[no-untyped-def]
    sink, ledger = demo
    # What the anomaly monitor reads: avg:autonomic.agent.latency.avg{env:demo} rolled up per minute.
    per_minute: dict[int, list[float]] = defaultdict(list)
    for _, (ts, values) in _points(sink, "autonomic.agent.latency.avg").items():
        for t, v in zip(ts.tolist(), values.tolist()):
            per_minute[t // 60].append(v)
    slow = {m for m, values in per_minute.items() if np.mean(values) > 15}
    spike = ledger.phases["latency_spike"]
    assert slow and all(spike.start // 60 <= m < spike.end // 60 for m in slow)
    for s in (spike.start + 180 + i * 540 for i in range(3)):  # each 4-minute spike: >= 3 of the monitor's 15 minutes
        assert len({m for m in slow if s // 60 <= m < (s + 240) // 60}) >= 3
    assert 20 < ledger.summary().loc["latency_spike", "user_latency_p95"] < 45


def test_optimization_failures_only_for_the_regressed_agent_in_their_phase(demo) -> None:  # type: ignore[no-untyped-def]
    sink, _ = demo
    failed = _points(sink, "autonomic.optimization.failed")
    assert {(tag_value(t, "phase"), tag_value(t, "agent_id"), tag_value(t, "failure_reason")) for t in failed} == {
        ("optimization_failure", "agent-02", "hallucination_persists")}
    assert sum(v.sum() for _, v in failed.values()) == 2
    rejected = _by_phase(sink, "autonomic.optimization.rejected")
    assert rejected == {"optimization_failure": 4.0}


def test_baseline_hallucinating_agent_is_healed_once(demo) -> None:  # type: ignore[no-untyped-def]
    sink, ledger = demo
    deployed = _points(sink, "autonomic.deployments.success")
    assert {(tag_value(t, "phase"), tag_value(t, "agent_id"), tag_value(t, "version")) for t in deployed} == {
        ("baseline", "agent-03", "v2")}
    assert [e["title"] for e in ledger.events] == ["Deployed agent-03 v2"]
    last_version = {}
    for tags, (ts, values) in _points(sink, "autonomic.agent.version").items():
        agent = tag_value(tags, "agent_id")
        if ts[-1] >= last_version.get(agent, (0, 0))[0]:
            last_version[agent] = (int(ts[-1]), float(values[-1]))
    assert {a: v for a, (_, v) in last_version.items()} == {"agent-01": 1, "agent-02": 1, "agent-03": 2, "agent-04": 1}


def test_audit_failures_follow_the_faults(demo) -> None:  # type: ignore[no-untyped-def]
    sink, _ = demo
    fails: dict[tuple[str, str], float] = defaultdict(float)
    for tags, (_, values) in _points(sink, "autonomic.audit.verdict").items():
        if tag_value(tags, "verdict") == "fail":
            fails[(tag_value(tags, "phase") or "", tag_value(tags, "agent_id") or "")] += float(values.sum())
    assert fails[("optimization_failure", "agent-02")] > 50
    others = {k: v for k, v in fails.items() if k != ("optimization_failure", "agent-02") and k[1] != "agent-03"}
    assert max(others.values()) <= 10  # healthy agents: ~0.5 % of ~1,400 baseline messages


def test_error_logs_carry_the_conversation(demo) -> None:  # type: ignore[no-untyped-def]
    sink, _ = demo
    errors = [item for item in sink.logs if item["status"] == "error"]
    assert len(errors) == 2
    for item in errors:
        assert item["service"] == "autonomic-refiner" and item["failure_reason"] == "hallucination_persists"
        assert "agent_id:agent-02" in item["ddtags"] and "phase:optimization_failure" in item["ddtags"]
        assert item["conversation"] and {"user", "answer", "auditor"} <= set(item["conversation"][0])
    assert {item["service"] for item in sink.logs} == {"autonomic-chatbot", "autonomic-auditor", "autonomic-refiner",
                                                       "autonomic-evaluator"}
    assert all(item["ddsource"] == "autonomic" for item in sink.logs)
