"""Backtest: replay any monitor over stored history, with what-if thresholds or bounds, without side effects.

The analysis uses it to show how an alert would have behaved with other settings. It runs the same engine as the
live evaluator (evaluator.py), from fresh group states, so a backtest of a monitor's own settings over the span
the evaluator saw gives the evaluator's transitions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from autonomic_lib.sandbox.metrics.evaluate import MetricKind
from autonomic_lib.sandbox.monitors.evaluator import GroupState, Transition, plan_monitor, run_monitor


def backtest(store: Any, monitor_definition: dict[str, Any], start: int, end: int, *,
             overrides: dict[str, Any] | None = None,
             kinds: Callable[[str], MetricKind] | None = None) -> list[Transition]:
    """Transitions the monitor would have made at every evaluation minute in [start, end).

    Args:
        store: a MetricStore (read only).
        monitor_definition: a monitor as the API shows it, or an asset's `definition` (query, options; id optional).
        start, end: epoch seconds; evaluation times are the minute boundaries in [start, end).
        overrides: what-if settings, e.g. `{"thresholds": {"critical": 0.5}}`, `{"bounds": 3}`,
            `{"options": {"evaluation_delay": 300}}`, `{"query": "..."}`.
        kinds: metric name -> MetricKind (Sandbox.kind), for the catalogue's types; defaults to the store's.

    Returns:
        The transitions in time order (nothing is written anywhere).

    Raises:
        MonitorEvalError: the monitor cannot be evaluated (bad query, unknown override).
    """
    plan = plan_monitor(monitor_definition, kinds=kinds, store=store, overrides=overrides)
    first = -(-int(start) // 60) * 60
    last = (int(end) - 1) // 60 * 60
    if last < first:
        return []
    states: dict[str, GroupState] = {}
    return run_monitor(plan, store, first, last, states, kinds)
