"""Telemetry for a real agent swarm: record LLM calls and message outcomes; the kit aggregates and sends.

    recorder = Recorder(ApiSink(make_api_client(Settings.from_env())), env="prod")
    cost = recorder.record_call("chatbot", "support-bot", version=3, input_tokens=812,
                                output_tokens=240, thinking_tokens=390, latency=2.7)
    recorder.record_message("support-bot", version=3, latency=4.1, verdict="pass", cost=cost + audit_cost)
    recorder.flush()          # sends the closed 10 s windows; call it every few seconds, and close() at exit

The same aggregation (10 s flush, Agent histogram rules), catalogue checks, sink and ledger as the
simulation; a metric or tag the catalogue does not allow raises CatalogError when it is recorded.
Record with the current time (the default): a record timestamped into a window already flushed
would send a second point for that window, and Datadog keeps only the last one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..budget import message_budget
from .aggregate import aggregate_calls, aggregate_counts, aggregate_outcomes
from .ledger import Ledger, PhaseSummary
from .points import FLUSH_INTERVAL, PointBuffer
from .prices import Price, price_for
from .records import ROLE_SERVICE, CallRecord, CountRecord, EventRecord, LogRecord, event_body, log_item
from .sink import Sink


@dataclass(kw_only=True)
class _Message:
    agent_id: str
    version: int
    phase: str
    time: float
    latency: float
    cost: float
    failed: bool


@dataclass
class Recorder:
    """Buffers a live swarm's records and sends them, one flush window at a time, through `sink`."""

    sink: Sink
    env: str
    phase: str = "live"  # default phase tag of what is recorded
    price: Price = field(default_factory=price_for)
    budget_usd: float = field(default_factory=message_budget)
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        self.buffer = PointBuffer(self.env)
        now = int(self.clock())
        self.ledger = Ledger(scenario="recorder", seed=0, env=self.env, pacing="live", start=now, end=now, phases={},
                             keep_points=False)
        self._calls: list[CallRecord] = []
        self._messages: list[_Message] = []
        self._counts: list[CountRecord] = []
        self._logs: list[dict[str, Any]] = []
        self._events: list[dict[str, Any]] = []

    def _tags(self, metric: str, emitter: str, agent_id: str, version: int, phase: str, **extra: str) -> None:
        if emitter not in ROLE_SERVICE:
            raise ValueError(f"role {emitter!r} is not one of {', '.join(ROLE_SERVICE)}")
        self.buffer.key(metric, service=ROLE_SERVICE[emitter], version=f"v{version}", agent_id=agent_id, phase=phase,
                        **extra)  # CatalogError here, at the call site, for anything the catalogue forbids

    def record_call(self, role: str, agent_id: str, version: int, *, input_tokens: int, output_tokens: int,
                    thinking_tokens: int = 0, latency: float, phase: str | None = None, at: float | None = None) -> float:
        """One model call; returns its cost in USD from the price table."""
        phase = phase or self.phase
        self._tags("autonomic.tokens.input", role, agent_id, version, phase, role=role)
        cost = float(self.price.cost(input_tokens, output_tokens, thinking_tokens))
        self._calls.append(CallRecord(role=role, agent_id=agent_id, version=version, phase=phase,
                                      time=self.clock() if at is None else at, input_tokens=input_tokens,
                                      output_tokens=output_tokens, thinking_tokens=thinking_tokens, latency=latency,
                                      cost=cost))
        return cost

    def record_message(self, agent_id: str, version: int, *, latency: float, verdict: str, cost: float,
                       phase: str | None = None, at: float | None = None) -> None:
        """One answered user message: its end-to-end latency, the Auditor's verdict and its total cost."""
        phase = phase or self.phase
        self._tags("autonomic.audit.verdict", "auditor", agent_id, version, phase, verdict=verdict)
        self._messages.append(_Message(agent_id=agent_id, version=version, phase=phase,
                                       time=self.clock() if at is None else at, latency=latency, cost=cost,
                                       failed=verdict == "fail"))

    def record_count(self, metric: str, role: str, agent_id: str, version: int, *, value: float = 1.0,
                     failure_reason: str | None = None, phase: str | None = None, at: float | None = None) -> None:
        """A loop counter: autonomic.optimization.attempts|rejected|failed or autonomic.deployments.success."""
        phase = phase or self.phase
        extra = {"failure_reason": failure_reason} if failure_reason else {}
        self._tags(metric, role, agent_id, version, phase, **extra)
        self._counts.append(CountRecord(metric=metric, role=role, agent_id=agent_id, version=version, phase=phase,
                                        time=self.clock() if at is None else at, value=value,
                                        failure_reason=failure_reason))

    def log(self, record: LogRecord) -> None:
        """A thought-process log line (sent with the next flush)."""
        self._logs.append(log_item(record, self.env))

    def event(self, record: EventRecord) -> None:
        """A deployment event (sent with the next flush)."""
        self._events.append(event_body(record, self.env))

    def flush(self, *, everything: bool = False) -> int:
        """Aggregate and send every closed 10 s window (all of them with `everything`); returns points sent."""
        cut = float("inf") if everything else self.clock() // FLUSH_INTERVAL * FLUSH_INTERVAL
        calls, self._calls = _split(self._calls, cut)
        messages, self._messages = _split(self._messages, cut)
        counts, self._counts = _split(self._counts, cut)
        phases = sorted({r.phase for r in [*calls, *messages, *counts]})
        index = {p: i for i, p in enumerate(phases)}
        for agent in sorted({r.agent_id for r in [*calls, *messages, *counts]}):
            mine = [m for m in messages if m.agent_id == agent]
            if mine:
                col = lambda a: np.array([getattr(m, a) for m in mine])  # noqa: E731
                aggregate_outcomes(self.buffer, agent, phases, time=col("time"),
                                   phase=np.array([index[m.phase] for m in mine]), version=col("version"),
                                   cost=col("cost"), latency=col("latency"), failed=col("failed"),
                                   budget_usd=self.budget_usd)
            for role in ROLE_SERVICE:
                rc = [c for c in calls if c.agent_id == agent and c.role == role]
                if rc:
                    cc = lambda a: np.array([getattr(c, a) for c in rc])  # noqa: E731
                    aggregate_calls(self.buffer, agent, role, phases, time=cc("time"),
                                    phase=np.array([index[c.phase] for c in rc]), version=cc("version"),
                                    input_tokens=cc("input_tokens"), output_tokens=cc("output_tokens"),
                                    thinking_tokens=cc("thinking_tokens"), latency=cc("latency"), cost=cc("cost"))
            aggregate_counts(self.buffer, agent, phases, [c for c in counts if c.agent_id == agent])
        for p in phases:
            self.ledger.phases.setdefault(p, PhaseSummary(p, self.ledger.start, self.ledger.start))
        series = self.buffer.to_series()
        sent = 0
        if series:
            report = self.sink.send_series(series)
            self.ledger.record_series(series, report.requests, report.bytes_sent)
            sent = report.points
        self.buffer.clear()
        if self._logs:
            self.sink.send_logs(self._logs)
            self.ledger.record_logs(self._logs)
            self._logs = []
        for body in self._events:
            self.ledger.record_event(body, self.sink.send_event(body))
        self._events = []
        self.ledger.end = int(self.clock())
        return sent

    def close(self) -> Ledger:
        """Send everything still buffered and return the ledger."""
        self.flush(everything=True)
        return self.ledger


def _split(records: list[Any], cut: float) -> tuple[list[Any], list[Any]]:
    return [r for r in records if r.time < cut], [r for r in records if r.time >= cut]
