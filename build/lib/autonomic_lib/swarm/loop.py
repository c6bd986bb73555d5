"""One optimization of the self-healing loop: Refiner proposes, Evaluator validates, deploy or give up.

Rare and stateful, so it runs exactly, one call at a time, with the agent's own random stream. The
outcome follows from the state: a candidate fixes the agent with the agent's `fix_success`
probability unless an unfixable regression is active; the Evaluator then runs it over its test set
and accepts it only when the pass rate reaches the bar. Two rejections end the optimization.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from ..telemetry.prices import Price
from ..telemetry.records import CallRecord, CountRecord, EventRecord, LogRecord
from . import texts
from .models import CONVERSATION_TOKENS, MODELS
from .scenario import AgentSpec, LoopConfig, Regression

HEALTHY_FAIL_RATE = 0.005  # what a good prompt achieves; a real fix lands near it
REASONS = ("hallucination_persists", "test_set_regression")


@dataclass
class AgentState:
    """What the loop knows about one agent between messages."""

    spec: AgentSpec
    version: int = 1
    rates: dict[int, float] = field(default_factory=dict)  # true fail rate of each version
    immune_from: int | None = None  # first version that works around a fixable regression
    failed_optimizations: int = 0
    escalated: bool = False  # the Refiner gave up on it: a human must act
    cooldown_until: float = -math.inf

    def __post_init__(self) -> None:
        self.rates.setdefault(1, self.spec.fail_rate)

    def fail_rate(self, version: int, regression: Regression | None) -> float:
        """Probability that `version` fails an audit while `regression` (if any) is active."""
        rate = self.rates[version]
        if regression is None or (self.immune_from is not None and version >= self.immune_from):
            return rate
        return max(rate, regression.fail_rate)


@dataclass(kw_only=True)
class Outcome:
    """What one optimization produced; the agent's state changes at `done_at`."""

    done_at: float
    deployed: bool
    candidate_rate: float
    reason: str | None
    calls: list[CallRecord] = field(default_factory=list)
    counts: list[CountRecord] = field(default_factory=list)
    logs: list[LogRecord] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)


def _call(role: str, rng: np.random.Generator, price: Price, slowdown: float, *, extra_input: int = 0,
          scale: int = 1) -> tuple[int, int, int, float, float]:
    """One call of `role`: (input, output, thinking tokens, latency s, cost USD); `scale` multiplies per-case tokens."""
    model = MODELS[role]
    tin, tout, tthink = (int(x[0]) for x in model.tokens(rng, 1))
    tin, tout, tthink = tin * scale + extra_input, tout * scale, tthink * scale
    ttft = float(model.ttft_s.draw(rng, 1)[0])
    latency = float(model.latency(np.array([ttft]), np.array([tin]), np.array([tout]), np.array([tthink]), slowdown)[0])
    return tin, tout, tthink, latency, float(price.cost(tin, tout, tthink))


def optimize(rng: np.random.Generator, state: AgentState, t0: float, cases: Sequence[Mapping[str, object]],
             regression: Regression | None, loop: LoopConfig, price: Price, phase_of: Callable[[float], str],
             slowdown: Callable[[float], float]) -> Outcome:
    """Run one optimization of `state`'s agent, starting at `t0` from the failed `cases` (conversations)."""
    agent, version = state.spec.agent_id, state.version
    current = state.fail_rate(version, regression)
    floor = regression.fail_rate if regression is not None and not regression.fixable else 0.0
    bar = math.ceil(loop.accept_pass_rate * loop.test_cases - 1e-9)
    out = Outcome(done_at=t0, deployed=False, candidate_rate=current, reason=None)
    t = t0

    def log(role: str, status: str, message: str, **attributes: object) -> None:
        out.logs.append(LogRecord(time=t, role=role, status=status, message=message, agent_id=agent, version=version,
                                  phase=phase_of(t), attributes=attributes))

    for attempt in range(loop.max_attempts):
        tin, tout, tthink, lat, cost = _call("refiner", rng, price, slowdown(t),
                                             extra_input=len(cases) * CONVERSATION_TOKENS)
        t += lat
        out.calls.append(CallRecord(role="refiner", agent_id=agent, version=version, phase=phase_of(t), time=t,
                                    input_tokens=tin, output_tokens=tout, thinking_tokens=tthink, latency=lat,
                                    cost=cost))
        out.counts.append(CountRecord(metric="autonomic.optimization.attempts", role="refiner", agent_id=agent,
                                      version=version, phase=phase_of(t), time=t))
        log("refiner", "info", texts.refiner(attempt, len(cases), agent, version), attempt=attempt + 1)
        if rng.random() < state.spec.fix_success:
            candidate = HEALTHY_FAIL_RATE * float(rng.lognormal(0.0, 0.3))
        else:
            candidate = current * float(rng.lognormal(0.0, 0.2))
        candidate = min(max(candidate, floor), 1.0)
        tin, tout, tthink, lat, cost = _call("evaluator", rng, price, slowdown(t), scale=loop.test_cases)
        t += lat
        out.calls.append(CallRecord(role="evaluator", agent_id=agent, version=version, phase=phase_of(t), time=t,
                                    input_tokens=tin, output_tokens=tout, thinking_tokens=tthink, latency=lat,
                                    cost=cost))
        passed = int(rng.binomial(loop.test_cases, 1.0 - candidate))
        verdict = f"candidate v{version + 1} passed {passed}/{loop.test_cases} test cases (bar {bar})"
        if passed >= bar:
            out.done_at, out.deployed, out.candidate_rate = t, True, candidate
            log("evaluator", "info", f"Evaluator: {verdict}: accepted.", pass_rate=passed / loop.test_cases)
            out.counts.append(CountRecord(metric="autonomic.deployments.success", role="evaluator", agent_id=agent,
                                          version=version + 1, phase=phase_of(t), time=t))
            out.logs.append(LogRecord(time=t, role="refiner", status="info",
                                      message=f"Deployed {agent} v{version + 1} (was v{version}).", agent_id=agent,
                                      version=version + 1, phase=phase_of(t),
                                      attributes={"previous_version": f"v{version}"}))
            out.events.append(EventRecord(time=t, title=f"Deployed {agent} v{version + 1}",
                                          text=f"The Evaluator accepted v{version + 1} of {agent} ({passed}/"
                                               f"{loop.test_cases} test cases passed); it replaces v{version}.",
                                          agent_id=agent, version=version + 1, phase=phase_of(t)))
            return out
        reason = REASONS[0] if candidate >= 0.5 * current else REASONS[1]
        out.reason = reason
        log("evaluator", "warn", f"Evaluator: {verdict}: rejected ({reason}).", failure_reason=reason,
            pass_rate=passed / loop.test_cases)
        out.counts.append(CountRecord(metric="autonomic.optimization.rejected", role="evaluator", agent_id=agent,
                                      version=version, phase=phase_of(t), time=t, failure_reason=reason))
    out.done_at = t
    out.counts.append(CountRecord(metric="autonomic.optimization.failed", role="refiner", agent_id=agent,
                                  version=version, phase=phase_of(t), time=t, failure_reason=out.reason))
    log("refiner", "error", f"Optimization failed for {agent} v{version}: the Evaluator rejected "
        f"{loop.max_attempts} fixes ({out.reason}). A human must review the prompt.",
        failure_reason=out.reason, conversation=cases)
    return out
