"""The read side of LLM Observability against a real sandbox: the swarm's traces sent with the kit's sink, found again
through the Export API (paged), the verdicts' pass rate next to the metric's, each incident's worst trace as a tree."""

from __future__ import annotations

import time

import pandas as pd
import pytest
import urllib3
from datadog_api_client import ApiClient

from autonomic_lib import traces as read
from autonomic_lib.settings import Secret, Settings
from autonomic_lib.telemetry.prices import price_for
from autonomic_lib.telemetry.sink import ApiSink
from autonomic_lib.telemetry.traces import (BUDGET_BREACH, LATENCY_SPIKE, SAMPLED, LlmCall, MessageTrace, build_spans,
                                            verdict_evaluation)
from tests.conftest import unique

PRICE = price_for()


def _trace(env: str, n: int, start: float, *, verdict: str = "pass", reasons: tuple[str, ...] = (SAMPLED,),
           prompt: int = 900, slow: float = 1.0) -> MessageTrace:
    chat = LlmCall(role="chatbot", start=start, latency=3.0 * slow, input_tokens=prompt, output_tokens=250,
                   thinking_tokens=400, input=f"question {n}", output=f"answer {n}")
    audit = LlmCall(role="auditor", start=chat.end, latency=1.2 * slow, input_tokens=prompt + 600, output_tokens=60,
                    thinking_tokens=250, input="judge", output=verdict.upper())
    return MessageTrace(key=f"{env}/agent-0{n % 2 + 1}/{n}", agent_id=f"agent-0{n % 2 + 1}", version=1,
                        phase="baseline", verdict=verdict, chat=chat, audit=audit, reasons=reasons)


@pytest.fixture(scope="module")
def sent(session_sandbox) -> tuple[str, int, list[MessageTrace]]:  # type: ignore[no-untyped-def]
    """A run's worth of traces: 30 sampled (27 pass), a budget breach on agent-02, a latency spike on agent-01."""
    from tests.conftest import client_for

    env, now = unique("tr").replace("-", "_"), int(time.time())
    t0 = now - 3600
    traces = [_trace(env, n, t0 + 60 * n, verdict="fail" if n % 10 == 3 else "pass") for n in range(30)]
    traces += [_trace(env, 31, t0 + 1500, reasons=(BUDGET_BREACH,), prompt=400_000, verdict="fail"),
               _trace(env, 32, t0 + 1800, reasons=(LATENCY_SPIKE,), slow=5.0)]
    with client_for(session_sandbox) as api:
        ApiSink(api).send_traces([build_spans(t, env, PRICE) for t in traces], [verdict_evaluation(t, env) for t in traces])
    return env, t0, traces


def test_search_pages_through_every_matching_span(api_client: ApiClient, sent, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    env, t0, traces = sent
    monkeypatch.setattr(read, "PAGE_LIMIT", 7)
    roots = list(read.search_spans(api_client, t0 - 60, t0 + 3600, span_kind="workflow", tags={"env": env}))
    assert len(roots) == len(traces) == 32
    assert [r["start_ns"] for r in roots] == sorted(r["start_ns"] for r in roots)
    llm = list(read.search_spans(api_client, t0 - 60, t0 + 3600, span_name="chatbot", tags={"env": env}))
    assert {s["model_name"] for s in llm} == {"gemini-2.5-flash"} and len(llm) == 32


def test_the_verdicts_pass_rate_is_the_sampled_traces_and_agrees_with_the_metric(api_client: ApiClient, sent) -> None:  # type: ignore[no-untyped-def]
    env, t0, _ = sent
    rates = read.pass_rates(api_client, env, t0 - 60, t0 + 3600, metric_rate=90.0, sample_rate=1.0)
    assert rates.evaluations == 30  # the incident traces are not part of the uniform sample
    assert rates.evaluation_pass_rate == pytest.approx(90.0) and rates.tolerance == 0.0 and rates.agree
    off = read.pass_rates(api_client, env, t0 - 60, t0 + 3600, metric_rate=95.0, sample_rate=1.0)
    assert not off.agree
    sampled = read.pass_rates(api_client, env, t0 - 60, t0 + 3600, metric_rate=95.0, sample_rate=0.01)
    assert sampled.tolerance == pytest.approx(300 * (0.95 * 0.05 / 30) ** 0.5) and sampled.agree


def test_each_alert_gets_its_worst_trace_as_a_span_tree(api_client: ApiClient, sent, session_sandbox) -> None:  # type: ignore[no-untyped-def]
    env, t0, traces = sent
    history = pd.DataFrame([
        {"monitor": "Budget breach", "group": "agent_id:agent-02", "to": "Alert",
         "at": pd.Timestamp(t0 + 1560, unit="s", tz="UTC")},
        {"monitor": "Latency anomaly", "group": "*", "to": "Alert", "at": pd.Timestamp(t0 + 1900, unit="s", tz="UTC")},
        {"monitor": "Budget breach", "group": "agent_id:agent-02", "to": "OK",
         "at": pd.Timestamp(t0 + 2000, unit="s", tz="UTC")}])
    settings = Settings(host=session_sandbox.url, api_key=Secret(session_sandbox.config.api_key))
    found = read.incident_traces(api_client, env, history, settings)
    assert list(found["monitor"]) == ["Budget breach", "Latency anomaly"]
    breach, spike = found.to_dict("records")
    assert breach["trace_id"] == build_spans(traces[30], env, PRICE)[0]["trace_id"]
    assert breach["cost $"] == pytest.approx(float(PRICE.cost(400_000, 250, 400) + PRICE.cost(400_600, 60, 250)))
    assert breach["verdict"] == "fail"
    tree = breach["spans"]
    assert list(tree["span"]) == ["message", "  chatbot", "  auditor"]
    assert list(tree["thinking tokens"])[1:] == [400, 250] and list(tree["output tokens"])[1:] == [250, 60]
    assert spike["trace_id"] == build_spans(traces[31], env, PRICE)[0]["trace_id"]
    page = urllib3.request("GET", breach["link"])  # the sandbox's trace page opens with the link's token
    assert page.status == 200 and breach["trace_id"] in page.data.decode()
    assert spike["user latency s"] == pytest.approx(21.0)
    assert tree["duration s"].iloc[0] == pytest.approx(4.2)
