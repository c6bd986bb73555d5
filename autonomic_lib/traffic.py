"""Traffic: a scenario run end to end. Simulate, aggregate into flushed points, send with a pacing, return the ledger.

    ledger = run_scenario("seed-demo", seed=7, api_client=client)            # backfill, ends now
    ledger.summary()                                                         # per-phase table
    reconcile(ledger, client).ok                                             # nothing lost

Agents are simulated one at a time and their points sent in chunks, so memory stays bounded for
day-long swarms; a backfill sends each chunk from a background thread while the next one is simulated (at most
one chunk in flight, and the ledger counts only what the backend acknowledged). Progress is reported per phase through a callback (the CLI draws tqdm bars).

Above both `swarm` (which only simulates) and `telemetry` (which only aggregates and sends), so
neither of them imports the other's machinery.
"""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Sequence

import numpy as np

from .series import Series
from .swarm.engine import AgentRun, Timeline, simulate
from .swarm.logbook import message_logs
from .swarm.scenario import Scenario, get_scenario
from .swarm_traces import message_traces
from .telemetry.aggregate import aggregate_calls, aggregate_counts, aggregate_outcomes
from .telemetry.ledger import Ledger, PhaseSummary
from .telemetry.pacing import Backfill, Live, Pacing, align
from .telemetry.points import FLUSH_INTERVAL, PointBuffer, tag_value
from .telemetry.prices import Price, price_for
from .telemetry.traces import MAX_SPAN_AGE, MessageTrace, build_spans, sample_rate_for, verdict_evaluation
from .telemetry.records import event_body, log_item
from .telemetry.sink import ApiSink, Sink

Progress = Callable[[str, int, int], None]  # (phase, messages done, points acknowledged), as increments
MAX_LOG_AGE = 18 * 3600 - 300  # Datadog refuses logs and events more than 18 h old; keep 5 min of margin


def expected_messages(scenario: Scenario) -> dict[str, int]:
    """About how many messages each phase will have (for progress bars)."""
    return {p.name: int(round(p.rate * p.duration * len(scenario.agents))) for p in scenario.phases}


def run_scenario(scenario: Scenario | str, seed: int = 7, *, api_client: Any = None, sink: Sink | None = None,
                 pacing: Pacing | None = None, keep_points: bool = True, progress: Progress | None = None,
                 chunk_points: int = 250_000, trace_rate: float | None = None) -> Ledger:
    """Simulate `scenario`, send its telemetry to `sink` (or the backend of `api_client`), return the ledger.

    Args:
        scenario: a Scenario, a built-in name ("seed-demo") or a .yaml/.json path.
        seed: same seed and same timeline -> identical ledger.
        pacing: Backfill() (default; ends now) or Live().
        keep_points: keep every acknowledged point in the ledger for a point-by-point reconciliation.
        chunk_points: backfill sends once this many points are buffered (bounds memory: one chunk is sent while
            the next is built, so two are alive).
        trace_rate: the share of messages traced uniformly (LLM Observability); default
            `traces.sample_rate_for(expected messages)`; 0 traces only the incidents. Incidents are always traced.
    """
    scenario = get_scenario(scenario) if isinstance(scenario, str) else scenario
    if sink is None:
        if api_client is None:
            raise ValueError("give api_client (from make_api_client) or a sink")
        sink = ApiSink(api_client)
    pacing = pacing or Backfill()
    now = pacing.clock() if isinstance(pacing, Live) else time.time()
    start = pacing.start_for(scenario.phases, now)
    timeline = Timeline(scenario, start)
    names = timeline.names
    ends = timeline.starts[1:] + [timeline.end]
    ledger = Ledger(scenario=scenario.name, seed=seed, env=scenario.env, pacing=pacing.name, start=int(start),
                    end=int(timeline.end),
                    phases={n: PhaseSummary(n, int(a), int(b)) for n, a, b in zip(names, timeline.starts, ends)},
                    keep_points=keep_points)
    rate = sample_rate_for(sum(expected_messages(scenario).values())) if trace_rate is None else trace_rate
    ledger.traces["sample_rate"] = rate
    sender = _Sender(sink, ledger, names, progress, oldest_log=now - MAX_LOG_AGE, oldest_span=now - MAX_SPAN_AGE,
                     env=scenario.env, price=price_for(scenario.model))
    try:
        buf = PointBuffer(scenario.env)
        logs: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        traces: list[MessageTrace] = []
        messages: list[tuple[np.ndarray, np.ndarray]] = []  # (done time, phase) per agent, for progress
        for index, run in enumerate(simulate(scenario, seed, start)):
            aggregate_run(buf, run, scenario, names)
            summarize(ledger, run, names, scenario.budget_usd)
            records = message_logs(run.agent_id, run.messages, names, scenario.log_sample_rate, scenario.budget_usd)
            logs += [log_item(r, scenario.env) for r in records + run.logs]
            events += [event_body(e, scenario.env) for e in run.events]
            traces += message_traces(run, index, run_key=f"{scenario.name}/{seed}/{int(start)}", seed=seed, rate=rate,
                                     budget_usd=scenario.budget_usd, phases=names)
            messages.append((run.messages.done, run.messages.phase))
            if isinstance(pacing, Backfill) and buf.points >= chunk_points:
                sender.send_in_background(buf.to_series(), logs, _per_phase(messages, names), traces)
                buf.clear()  # the sent chunk's series hold their own (concatenated) arrays
                logs, messages, traces = [], [], []
        events.sort(key=lambda e: (e["date_happened"], e["title"]))
        if isinstance(pacing, Backfill):
            sender.send_in_background(buf.to_series(), logs, _per_phase(messages, names), traces)
            sender.settle()
            for body in events:
                sender.event(body)
        else:
            _play_live(pacing, sender, buf.to_series(), logs, events, messages, names, timeline, now, traces)
    finally:
        sender.close()
    return ledger


def aggregate_run(buf: PointBuffer, run: AgentRun, scenario: Scenario, names: Sequence[str]) -> None:
    """All flushed points of one agent: message outcomes, chatbot/auditor calls, loop calls and counters."""
    m = run.messages
    aggregate_outcomes(buf, run.agent_id, names, time=m.done, phase=m.phase, version=m.version, cost=m.cost,
                       latency=m.e2e_latency, failed=m.failed, budget_usd=scenario.budget_usd)
    aggregate_calls(buf, run.agent_id, "chatbot", names, time=m.time + m.chat_latency, phase=m.phase,
                    version=m.version, input_tokens=m.chat_in, output_tokens=m.chat_out,
                    thinking_tokens=m.chat_think, latency=m.chat_latency, cost=m.chat_cost)
    aggregate_calls(buf, run.agent_id, "auditor", names, time=m.done, phase=m.phase, version=m.version,
                    input_tokens=m.audit_in, output_tokens=m.audit_out, thinking_tokens=m.audit_think,
                    latency=m.audit_latency, cost=m.audit_cost)
    index = {n: i for i, n in enumerate(names)}
    for role in ("refiner", "evaluator"):
        calls = [c for c in run.calls if c.role == role]
        if calls:
            col = lambda attr: np.array([getattr(c, attr) for c in calls])  # noqa: E731
            aggregate_calls(buf, run.agent_id, role, names, time=col("time"),
                            phase=np.array([index[c.phase] for c in calls]), version=col("version"),
                            input_tokens=col("input_tokens"), output_tokens=col("output_tokens"),
                            thinking_tokens=col("thinking_tokens"), latency=col("latency"), cost=col("cost"))
    aggregate_counts(buf, run.agent_id, names, run.counts)


def summarize(ledger: Ledger, run: AgentRun, names: Sequence[str], budget_usd: float) -> None:
    """Add one agent's messages and loop activity to the per-phase summaries."""
    m = run.messages
    cost = m.cost
    for p in np.unique(m.phase).tolist():
        s = ledger.phases[names[p]]
        sel = m.phase == p
        s.messages += int(sel.sum())
        s.failed += int(m.failed[sel].sum())
        s.passed = s.messages - s.failed
        s.breaches += int((cost[sel] > budget_usd).sum())
        s.cost.add(cost[sel])
        s.latency["user"].add(m.e2e_latency[sel])
        s.latency["chatbot"].add(m.chat_latency[sel])
        s.latency["auditor"].add(m.audit_latency[sel])
    for c in run.calls:
        ledger.phases[c.phase].latency[c.role].add([c.latency])
    field = {"autonomic.optimization.attempts": "attempts", "autonomic.optimization.rejected": "rejected",
             "autonomic.deployments.success": "deployments", "autonomic.optimization.failed": "optimizations_failed"}
    for k in run.counts:
        s = ledger.phases[k.phase]
        setattr(s, field[k.metric], getattr(s, field[k.metric]) + int(k.value))


def _per_phase(messages: list[tuple[np.ndarray, np.ndarray]], names: Sequence[str]) -> dict[str, int]:
    counts = np.zeros(len(names), dtype=np.int64)
    for _, phase in messages:
        counts += np.bincount(phase, minlength=len(names))
    return {n: int(c) for n, c in zip(names, counts)}


class _Sender:
    """Sends phase by phase and writes the ledger after each acknowledgement."""

    def __init__(self, sink: Sink, ledger: Ledger, names: Sequence[str], progress: Progress | None,
                 oldest_log: float, oldest_span: float, env: str, price: Price):
        self.sink, self.ledger, self.names, self.progress = sink, ledger, names, progress
        self.oldest_log_ms = oldest_log * 1000
        self.oldest_span, self.env, self.price = oldest_span, env, price
        self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="traffic-send")
        self._in_flight: Future[None] | None = None

    def send_in_background(self, series: Sequence[Series], logs: Sequence[dict[str, Any]], messages: dict[str, int],
                           traces: Sequence[MessageTrace]) -> None:
        """Send a chunk (points, logs, then traces) from the sender's thread once the previous chunk is
        acknowledged; its failure is raised here, or by `settle`."""
        self.settle()
        self._in_flight = self._background.submit(self._chunk, series, logs, messages, traces)

    def _chunk(self, series: Sequence[Series], logs: Sequence[dict[str, Any]], messages: dict[str, int],
               traces: Sequence[MessageTrace]) -> None:
        self.send(series, logs, messages)
        self.traces(traces)

    def settle(self) -> None:
        """Wait for the chunk in flight, if any; raise its failure."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            in_flight.result()

    def close(self) -> None:
        """Wait for the chunk in flight and stop the thread, raising nothing: on success `settle` has already run,
        and after a failure the caller's exception is the one to see."""
        self._background.shutdown(wait=True)

    def traces(self, traces: Sequence[MessageTrace]) -> None:
        """LLM Observability spans and verdicts of `traces`; those Datadog would refuse as too old are counted."""
        # in time order: a request's spans then cover few 10 s windows, which the backend's ml_obs.* metrics count
        fresh = sorted((t for t in traces if t.chat.start >= self.oldest_span), key=lambda t: t.chat.start)
        if len(fresh) < len(traces):
            reason = "traces older than 24 h"
            self.ledger.skipped[reason] = self.ledger.skipped.get(reason, 0) + len(traces) - len(fresh)
        if not fresh:
            return
        spans = [build_spans(t, self.env, self.price) for t in fresh]
        evaluations = [verdict_evaluation(t, self.env) for t in fresh]
        self.sink.send_traces(spans, evaluations)
        self.ledger.record_traces(len(fresh), sum(len(s) for s in spans), len(evaluations))

    def send(self, series: Sequence[Series], logs: Sequence[dict[str, Any]], messages: dict[str, int]) -> None:
        by_phase: dict[str, list[Series]] = {n: [] for n in self.names}
        for s in series:
            by_phase[tag_value(tuple(s.tags), "phase") or self.names[0]].append(s)
        logs_by_phase: dict[str, list[dict[str, Any]]] = {n: [] for n in self.names}
        for item in logs:
            if item["timestamp"] < self.oldest_log_ms:  # Datadog would refuse it; say so instead of failing
                self.ledger.skipped["logs older than 18 h"] = self.ledger.skipped.get("logs older than 18 h", 0) + 1
                continue
            logs_by_phase[item["phase"]].append(item)
        for name in self.names:
            points = 0
            if by_phase[name]:
                report = self.sink.send_series(by_phase[name])
                self.ledger.record_series(by_phase[name], report.requests, report.bytes_sent)
                points = report.points
            if logs_by_phase[name]:
                self.sink.send_logs(logs_by_phase[name])
                self.ledger.record_logs(logs_by_phase[name])
            if self.progress is not None and (points or messages.get(name)):
                self.progress(name, messages.get(name, 0), points)

    def event(self, body: dict[str, Any]) -> None:
        if body["date_happened"] * 1000 < self.oldest_log_ms:
            self.ledger.skipped["events older than 18 h"] = self.ledger.skipped.get("events older than 18 h", 0) + 1
            return
        self.ledger.record_event(body, self.sink.send_event(body))


def _play_live(pacing: Live, sender: _Sender, series: list[Series], logs: list[dict[str, Any]],
               events: list[dict[str, Any]], messages: list[tuple[np.ndarray, np.ndarray]], names: Sequence[str],
               timeline: Timeline, now: float, traces: Sequence[MessageTrace]) -> None:
    """Backfill what is older than now, then send each flush window as it closes."""
    cut = align(now)
    oldest = cut - pacing.history_max_age if pacing.history_max_age is not None else -np.inf
    done = np.concatenate([d for d, _ in messages]) if messages else np.zeros(0)
    phase = np.concatenate([p for _, p in messages]) if messages else np.zeros(0, dtype=np.int16)
    log_ts = np.array([item["timestamp"] / 1000 for item in logs])
    log_order = np.argsort(log_ts, kind="stable")
    log_ts, logs = log_ts[log_order], [logs[i] for i in log_order]
    last = max([int(s.timestamps[-1]) for s in series if len(s.timestamps)] + [cut])
    lo = -np.inf
    for hi in [cut] + list(range(cut + FLUSH_INTERVAL, last + 2 * FLUSH_INTERVAL, FLUSH_INTERVAL)):
        if hi > cut:
            pacing.wait_until(hi + pacing.lag)
        part = []
        for s in series:
            a, b = np.searchsorted(s.timestamps, [max(lo, oldest), hi], "left")
            if b > a:
                part.append(dataclasses.replace(s, timestamps=s.timestamps[a:b], values=s.values[a:b]))
        a, b = np.searchsorted(log_ts, [lo, hi], "left")
        sel = (done >= lo) & (done < hi)
        counts = np.bincount(phase[sel], minlength=len(names))
        sender.send(part, logs[a:b], {n: int(c) for n, c in zip(names, counts)})
        for body in [e for e in events if lo <= e["date_happened"] < hi]:
            sender.event(body)
        sender.traces([t for t in traces if lo <= t.end < hi])
        lo = hi
