"""LLM Observability traces of the swarm: which messages are traced (seeded, bounded) and the spans each gets."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from autonomic_lib.swarm import seed_demo, simulate, steady_swarm
from autonomic_lib.swarm_traces import message_traces
from autonomic_lib.telemetry import MemorySink
from autonomic_lib.telemetry.prices import price_for
from autonomic_lib.telemetry.traces import (BUDGET_BREACH, LATENCY_SPIKE, MAX_EVALUATIONS, OPTIMIZATION, ROOT_PARENT,
                                            SAMPLED, SPIKES_PER_AGENT, LlmCall, MessageTrace, build_spans, choose,
                                            evaluation_requests,
                                            sample_rate_for, span_requests, verdict_evaluation)
from autonomic_lib.traffic import run_scenario

PRICE = price_for("gemini-2.5-flash")
START = 1_800_000_000


def _trace(key: str = "run/agent-01/7", heal: tuple[LlmCall, ...] = ()) -> MessageTrace:
    chat = LlmCall(role="chatbot", start=START + 0.5, latency=3.25, input_tokens=900, output_tokens=250,
                   thinking_tokens=400, input="Where is my order?", output="In transit.")
    audit = LlmCall(role="auditor", start=chat.end, latency=1.5, input_tokens=1500, output_tokens=60,
                    thinking_tokens=250, input="User: ... Answer: ...", output="Grounded. PASS.")
    return MessageTrace(key=key, agent_id="agent-01", version=2, phase="baseline", verdict="pass", chat=chat,
                        audit=audit, heal=heal, heal_outcome="failed" if heal else None, reasons=(SAMPLED,))


def test_choose_samples_by_the_draw_and_keeps_every_incident_whatever_the_draw() -> None:
    n = 600
    time = START + np.arange(n, dtype=float)  # one message a second: 10 minutes
    latency = np.full(n, 5.0)
    latency[[100, 110, 115]] = [20.0, 30.0, 25.0]  # three slow messages in minute 1, one in minute 5
    latency[310] = 16.0
    cost = np.full(n, 0.002)
    cost[42] = 0.25
    draw = np.linspace(0.0, 1.0, n, endpoint=False)
    chosen = choose(draw, 0.0, cost=cost, budget_usd=0.10, latency=latency, time=time, triggers=[77])
    assert chosen == {42: (BUDGET_BREACH,), 77: (OPTIMIZATION,), 110: (LATENCY_SPIKE,), 310: (LATENCY_SPIKE,)}
    sampled = choose(draw, 0.1, cost=cost, budget_usd=0.10, latency=latency, time=time)
    assert [i for i, why in sampled.items() if SAMPLED in why] == list(range(60))  # draw < 0.1
    assert sampled[42] == (SAMPLED, BUDGET_BREACH)


def test_a_spike_keeps_one_trace_per_minute() -> None:
    time = START + np.arange(600, dtype=float)
    latency = np.full(600, 25.0)  # slow for ten minutes
    chosen = choose(np.ones(600), 0.0, cost=np.zeros(600), budget_usd=0.1, latency=latency, time=time)
    assert len(chosen) == 10


def test_a_long_spike_keeps_the_slowest_minutes_of_the_agent_only() -> None:
    """A steady day's ~100 slow minutes per agent, traced whole, made the full day 15 s slower and 140 MB bigger."""
    time = START + np.arange(3600, dtype=float)
    latency = 20.0 + np.arange(3600) / 3600  # slow for an hour, slower and slower
    chosen = choose(np.ones(3600), 0.0, cost=np.zeros(3600), budget_usd=0.1, latency=latency, time=time)
    assert len(chosen) == SPIKES_PER_AGENT < 60
    assert sorted(chosen) == [60 * minute + 59 for minute in range(60 - SPIKES_PER_AGENT, 60)]  # each minute's last


def test_the_rate_traces_about_two_thousand_messages_a_run_whatever_its_length() -> None:
    assert sample_rate_for(1_900) == 1.0
    assert sample_rate_for(8_000) == 0.25
    full_day = steady_swarm()
    messages = sum(p.rate * p.duration for p in full_day.phases) * len(full_day.agents)
    assert messages == 8_640_000
    assert sample_rate_for(int(messages)) == pytest.approx(1 / 4_320)


def test_spans_form_the_tree_with_timings_tokens_thinking_and_cost() -> None:
    spans = build_spans(_trace(), "demo", PRICE)
    root, chat, audit = spans
    assert (root["name"], root["meta"]["kind"], root["parent_id"]) == ("message", "workflow", ROOT_PARENT)
    assert [s["parent_id"] for s in (chat, audit)] == [root["span_id"]] * 2
    assert len({s["trace_id"] for s in spans}) == 1 and spans[0]["trace_id"].isdigit()
    # epoch seconds as floats: start times are exact to a microsecond, durations to the nanosecond
    assert chat["start_ns"] == pytest.approx(1_800_000_000_500_000_000, abs=1000) and chat["duration"] == 3_250_000_000
    assert audit["start_ns"] == pytest.approx(chat["start_ns"] + chat["duration"], abs=1000)
    assert root["duration"] == 4_750_000_000
    assert chat["meta"]["metadata"] == {"model_name": "gemini-2.5-flash", "model_provider": "google"}
    assert chat["metrics"]["output_tokens"] == 650 and chat["metrics"]["reasoning_output_tokens"] == 400
    assert chat["metrics"]["total_tokens"] == 1550
    assert chat["metrics"]["total_cost"] == pytest.approx(float(PRICE.cost(900, 250, 400)))
    assert chat["metrics"]["input_cost"] + chat["metrics"]["output_cost"] == pytest.approx(chat["metrics"]["total_cost"])
    assert "service:autonomic-auditor" in audit["tags"] and "agent_id:agent-01" in audit["tags"]
    assert "metrics" not in root


def test_a_healing_hangs_under_the_root_as_an_agent_span_over_refiner_and_evaluator() -> None:
    base = _trace()
    refiner = LlmCall(role="refiner", start=base.audit.end, latency=20.0, input_tokens=8500, output_tokens=1200,
                      thinking_tokens=3000, input="cases", output="Proposing v3-rc1")
    evaluator = LlmCall(role="evaluator", start=refiner.end, latency=8.0, input_tokens=18000, output_tokens=800,
                        thinking_tokens=1500, input="candidate", output="rejected")
    spans = build_spans(_trace(heal=(refiner, evaluator)), "demo", PRICE)
    by_name = {s["name"]: s for s in spans}
    assert [s["name"] for s in spans] == ["message", "chatbot", "auditor", "self_heal", "refiner", "evaluator"]
    assert by_name["self_heal"]["parent_id"] == by_name["message"]["span_id"]
    assert by_name["refiner"]["parent_id"] == by_name["evaluator"]["parent_id"] == by_name["self_heal"]["span_id"]
    assert by_name["message"]["duration"] == pytest.approx((evaluator.end - base.chat.start) * 1e9, abs=1000)
    assert by_name["message"]["meta"]["metadata"]["user_latency_s"] == pytest.approx(4.75)


def test_the_verdict_is_a_categorical_evaluation_joined_to_the_root() -> None:
    t = _trace()
    evaluation = verdict_evaluation(t, "demo")
    root = build_spans(t, "demo", PRICE)[0]
    assert evaluation["join_on"] == {"span": {"span_id": root["span_id"], "trace_id": root["trace_id"]}}
    assert (evaluation["metric_type"], evaluation["label"], evaluation["categorical_value"]) == \
        ("categorical", "auditor_verdict", "pass")
    assert evaluation["timestamp_ms"] == round(t.audit.end * 1000)


def test_requests_stay_under_the_limit_and_never_split_a_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    import autonomic_lib.telemetry.traces as module

    monkeypatch.setattr(module, "MAX_REQUEST_BYTES", 6_000)
    traces = [build_spans(_trace(f"run/agent-01/{n}"), "demo", PRICE) for n in range(20)]
    requests = list(span_requests(traces))
    assert len(requests) > 1 and sum(n for _, n in requests) == 60
    for body, n in requests:
        assert len(body) <= 6_000
        sent = orjson.loads(body)["data"]["attributes"]
        assert sent["ml_app"] == "autonomic-swarm" and len(sent["spans"]) == n
        assert sent["spans"][0]["parent_id"] == ROOT_PARENT and n % 3 == 0
    monkeypatch.setattr(module, "MAX_REQUEST_BYTES", 10**9)
    monkeypatch.setattr(module, "MAX_SPANS", 10)  # three traces of three spans a request
    assert [n for _, n in span_requests(traces)] == [9] * 6 + [6]
    evaluations = [verdict_evaluation(_trace(f"k{n}"), "demo") for n in range(MAX_EVALUATIONS + 5)]
    assert [n for _, n in evaluation_requests(evaluations)] == [MAX_EVALUATIONS, 5]


def test_the_same_seed_traces_the_same_messages_with_the_swarms_own_numbers() -> None:
    scenario = seed_demo()
    runs = list(simulate(scenario, 7, START))
    names = [p.name for p in scenario.phases]

    def keys(rate: float) -> list[MessageTrace]:
        return [t for i, run in enumerate(runs) for t in message_traces(run, i, run_key="r", seed=7, rate=rate,
                                                                        budget_usd=scenario.budget_usd, phases=names)]

    first, again = keys(0.05), keys(0.05)
    assert [t.key for t in first] == [t.key for t in again]
    incidents = keys(0.0)
    assert all(SAMPLED not in t.reasons for t in incidents)
    assert sum(BUDGET_BREACH in t.reasons for t in incidents) == 3
    heals = [t for t in incidents if OPTIMIZATION in t.reasons]
    assert len(heals) == sum(len(run.heals) for run in runs) == 3
    assert {t.heal_outcome for t in heals} == {"deployed", "failed"}
    assert all(t.verdict == "fail" and t.heal for t in heals)
    run = runs[0]
    one = next(t for t in keys(1.0) if t.agent_id == run.agent_id)
    i = int(one.key.rsplit("/", 1)[1])
    spans = build_spans(one, "demo", PRICE)
    cost = sum(s["metrics"]["total_cost"] for s in spans if s["meta"]["kind"] == "llm")
    assert cost == pytest.approx(float(run.messages.cost[i]))
    assert spans[0]["meta"]["metadata"]["user_latency_s"] == pytest.approx(float(run.messages.e2e_latency[i]))


def test_run_scenario_sends_a_trace_and_a_verdict_per_traced_message_and_counts_them() -> None:
    sink = MemorySink()
    ledger = run_scenario(seed_demo(), 7, sink=sink, trace_rate=0.0)
    roots = [s for s in sink.spans if s["parent_id"] == ROOT_PARENT]
    assert ledger.traces["traces"] == len(roots) == len(sink.evaluations) == ledger.traces["evaluations"] > 3
    assert ledger.traces["spans"] == len(sink.spans)
    assert ledger.traces["sample_rate"] == 0.0
    assert all(any(t.startswith("incident:") for t in r["tags"]) for r in roots)
