"""The swarm simulation: every agent's messages, audits and optimizations over a scenario's timeline.

Steady state is vectorised: between two state changes an agent's fail rate is constant, so a whole
stretch of audits is one numpy comparison, and the next optimization trigger (the first failed
answer that brings the Refiner's window to `min_failed_cases` failures) is found with a cumulative
sum. Only the rare events (optimizations, deployments, escalations) run one at a time, in
`loop.optimize`. `reference.py` runs the same semantics one message at a time; tests check that both
give identical results.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from ..telemetry.prices import Price, price_for
from ..telemetry.records import CallRecord, CountRecord, EventRecord, LogRecord
from . import texts
from .loop import AgentState, Outcome, optimize
from .messages import MessageBatch, draw_messages, injections, slowdown_at, slowdown_windows
from .scenario import Regression, Scenario

_STREAM_LOOP = 3


@dataclass
class AgentRun:
    """Everything one agent did over the run."""

    agent_id: str
    messages: MessageBatch
    calls: list[CallRecord] = field(default_factory=list)
    counts: list[CountRecord] = field(default_factory=list)
    logs: list[LogRecord] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)
    heals: list[tuple[int, Outcome]] = field(default_factory=list)  # (message whose failed audit started it, outcome)
    escalated: bool = False


class Timeline:
    """A scenario laid out in epoch seconds from `start`: phase lookup, slowdowns, regressions."""

    def __init__(self, scenario: Scenario, start: float):
        self.scenario, self.start = scenario, float(start)
        self.starts = [self.start + o for o in scenario.phase_starts()]
        self.end = self.start + scenario.duration
        self.windows = slowdown_windows(scenario, self.start)
        self.names = [p.name for p in scenario.phases]

    def phase_index(self, t: float) -> int:
        return max(bisect.bisect_right(self.starts, t) - 1, 0)

    def phase_of(self, t: float) -> str:
        """Name of the phase `t` falls in (the last one for times past the end)."""
        return self.names[self.phase_index(t)]

    def slowdown(self, t: float) -> float:
        return float(slowdown_at(self.windows, np.array([t]))[0])

    def regressions(self, agent_id: str) -> list[tuple[float, float, Regression]]:
        """Absolute (start, end, fault) of the regressions that hit `agent_id`."""
        out = []
        for begin, phase in zip(self.starts, self.scenario.phases):
            for f in phase.faults:
                if isinstance(f, Regression) and f.agent == agent_id:
                    end = phase.duration if f.end is None else min(f.end, phase.duration)
                    out.append((begin + f.start, begin + end, f))
        return out


def simulate(scenario: Scenario, seed: int, start: float) -> Iterator[AgentRun]:
    """Play `scenario` from epoch `start`, one agent at a time (memory stays one agent's worth)."""
    timeline = Timeline(scenario, start)
    price = price_for(scenario.model)
    injected = injections(scenario, seed, timeline.start)
    for index, spec in enumerate(scenario.agents):
        messages = draw_messages(scenario, index, seed, timeline.start, price, injected[spec.agent_id],
                                 timeline.windows)
        yield run_agent(scenario, timeline, index, messages, seed, price)


def run_agent(scenario: Scenario, timeline: Timeline, index: int, m: MessageBatch, seed: int, price: Price) -> AgentRun:
    """Fill in `m`'s versions and audit verdicts, running the loop's optimizations as they trigger."""
    spec = scenario.agents[index]
    loop = scenario.loop
    run = AgentRun(spec.agent_id, m)
    state = AgentState(spec)
    rng = np.random.default_rng([seed, _STREAM_LOOP, index])
    regressions = timeline.regressions(spec.agent_id)
    bounds = sorted({t for a, b, _ in regressions for t in (a, b)})
    times = m.time
    n = len(m)

    def regression_at(t: float) -> Regression | None:
        return next((f for a, b, f in regressions if a <= t < b), None)

    def fill(lo: int, hi: int) -> None:
        """Audit messages [lo, hi) with the current version, piecewise over regression bounds."""
        while lo < hi:
            nxt = bisect.bisect_right(bounds, float(times[lo]))
            stop = hi if nxt == len(bounds) else min(hi, int(np.searchsorted(times, bounds[nxt], "left")))
            stop = max(stop, lo + 1)
            m.version[lo:stop] = state.version
            m.failed[lo:stop] = m.audit_draw[lo:stop] < state.fail_rate(state.version, regression_at(float(times[lo])))
            lo = stop

    window_start = 0
    pos = 0
    while pos < n:
        nxt = bisect.bisect_right(bounds, float(times[pos]))
        seg_end = n if nxt == len(bounds) else max(int(np.searchsorted(times, bounds[nxt], "left")), pos + 1)
        fill(pos, seg_end)
        trigger = None if state.escalated else _first_trigger(m, window_start, pos, seg_end, loop.window,
                                                               loop.min_failed_cases, state.cooldown_until)
        if trigger is None:
            pos = seg_end
            continue
        lo = max(window_start, trigger - loop.window + 1)
        case_index = [i for i in range(lo, trigger + 1) if m.failed[i]]
        cases = [{"user": texts.question(i), "answer": texts.answer(i, True), "auditor": texts.audit(i, True)}
                 for i in case_index]
        t0 = float(m.done[trigger])
        outcome = optimize(rng, state, t0, cases, regression_at(t0), loop, price, timeline.phase_of,
                           timeline.slowdown)
        # Messages that arrive while the Refiner and Evaluator work are answered by the current version.
        done = max(int(np.searchsorted(times, outcome.done_at, "left")), trigger + 1)
        fill(trigger + 1, done)
        _apply(state, outcome, regression_at(outcome.done_at), loop.retry_cooldown, loop.max_failed_optimizations)
        _collect(run, outcome, trigger)
        window_start = pos = done
    run.escalated = state.escalated
    return run


def _first_trigger(m: MessageBatch, window_start: int, lo: int, hi: int, window: int, need: int,
                   cooldown_until: float) -> int | None:
    """Index of the first failed message in [lo, hi) whose window holds `need` failures, or None."""
    base = max(window_start, lo - window + 1)
    failed = m.failed[base:hi]
    if not failed[lo - base:].any():
        return None
    cs = np.concatenate(([0], np.cumsum(failed, dtype=np.int64)))
    j = np.arange(lo - base, hi - base)
    counts = cs[j + 1] - cs[np.maximum(j + 1 - window, 0)]
    ok = failed[j] & (counts >= need) & (m.done[base + j] >= cooldown_until)
    hits = np.flatnonzero(ok)
    return int(base + j[hits[0]]) if len(hits) else None


def _apply(state: AgentState, outcome: Outcome, regression: Regression | None, cooldown: float,
           max_failed: int) -> None:
    """Change the agent's state as the optimization's outcome says."""
    if outcome.deployed:
        state.version += 1
        state.rates[state.version] = outcome.candidate_rate
        if regression is not None and regression.fixable and state.immune_from is None:
            state.immune_from = state.version
        return
    state.failed_optimizations += 1
    state.cooldown_until = outcome.done_at + cooldown
    state.escalated = state.failed_optimizations >= max_failed


def _collect(run: AgentRun, outcome: Outcome, trigger: int) -> None:
    run.heals.append((trigger, outcome))
    run.calls.extend(outcome.calls)
    run.counts.extend(outcome.counts)
    run.logs.extend(outcome.logs)
    run.events.extend(outcome.events)

