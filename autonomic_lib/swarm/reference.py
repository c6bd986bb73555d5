"""The same swarm, one message at a time in plain Python: the yardstick for the vectorised engine.

`run_agent_reference` walks messages in order with a deque for the Refiner's window. Tests check that
the engine produces identical versions, verdicts and loop records (and, with
`traffic_reference.reference_points`, identical points); the benchmark times both on the same sample.
Message draws are shared (`draw_messages`), so only the loop differs.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from ..telemetry.prices import Price
from . import texts
from .engine import _STREAM_LOOP, AgentRun, Timeline, _apply, _collect
from .loop import AgentState, Outcome, optimize
from .messages import MessageBatch
from .scenario import Regression, Scenario


def run_agent_reference(scenario: Scenario, timeline: Timeline, index: int, m: MessageBatch, seed: int,
                        price: Price) -> AgentRun:
    """`engine.run_agent`, message by message."""
    spec, loop = scenario.agents[index], scenario.loop
    run, state = AgentRun(spec.agent_id, m), AgentState(spec)
    rng = np.random.default_rng([seed, _STREAM_LOOP, index])
    regressions = timeline.regressions(spec.agent_id)
    recent: deque[tuple[int, bool]] = deque(maxlen=loop.window)
    pending: Outcome | None = None
    times, draws, done = m.time.tolist(), m.audit_draw.tolist(), m.done.tolist()
    for i, t in enumerate(times):
        if pending is not None and t >= pending.done_at:
            _apply(state, pending, _regression(regressions, pending.done_at), loop.retry_cooldown,
                   loop.max_failed_optimizations)
            pending = None
            recent.clear()
        rate = state.fail_rate(state.version, _regression(regressions, t))
        failed = draws[i] < rate
        m.version[i], m.failed[i] = state.version, failed
        recent.append((i, failed))
        if (pending is None and not state.escalated and failed and done[i] >= state.cooldown_until
                and sum(f for _, f in recent) >= loop.min_failed_cases):
            cases = [{"user": texts.question(j), "answer": texts.answer(j, True), "auditor": texts.audit(j, True)}
                     for j, f in recent if f]
            pending = optimize(rng, state, done[i], cases, _regression(regressions, done[i]), loop, price,
                               timeline.phase_of, timeline.slowdown)
            _collect(run, pending, i)
    if pending is not None:
        _apply(state, pending, _regression(regressions, pending.done_at), loop.retry_cooldown,
               loop.max_failed_optimizations)
    run.escalated = state.escalated
    return run


def _regression(regressions: list[tuple[float, float, Regression]], t: float) -> Regression | None:
    return next((f for a, b, f in regressions if a <= t < b), None)
