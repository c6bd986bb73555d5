"""Aggregation into flushed points the way the Datadog Agent does it, vectorised over whole arrays.

Within each 10 s flush window and tag set: counts are summed; a histogram becomes gauges
`.avg` (sum / count), `.median`, `.95percentile` and `.max`, with the Agent's index rules
(pkg/metrics/histogram.go: median = sorted[(n-1)//2], p95 = sorted[(95n-1)//100]); the version
is a gauge of the answering version. Counts are only sent for windows that had samples, as the
Agent does. A tag set here is (agent, phase, version[, role, verdict, failure_reason]).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .points import PointBuffer, flush_bucket
from .records import ROLE_SERVICE, CountRecord

_PHASE_BITS, _VERSION_BITS = 8, 12


class Groups:
    """Rows grouped by an int64 key: sums, maxima and Agent-style percentiles per group."""

    def __init__(self, key: np.ndarray):
        self.key = key
        self.order = np.argsort(key, kind="stable")  # keeps arrival order inside a group, as the Agent sums
        ks = key[self.order]
        self.starts = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]]) if len(ks) else np.zeros(0, dtype=np.int64)
        self.n = np.diff(np.r_[self.starts, len(ks)])
        self.keys = ks[self.starts]

    def sum(self, x: np.ndarray) -> np.ndarray:
        return np.add.reduceat(np.asarray(x, dtype=np.float64)[self.order], self.starts) if len(self.starts) else np.zeros(0)

    def _sorted(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(values sorted within each group, index of each group's first value in it)."""
        groups, width = len(self.n), int(self.n.max())
        if groups * width > 4 * len(x) + 4096:  # a few huge groups: one lexsort beats a padded matrix
            return x[np.lexsort((x, self.key))], self.starts
        # Many small groups (a flush window holds a handful of messages): sort the rows of a padded matrix.
        matrix = np.full((groups, width), np.inf)
        row = np.repeat(np.arange(groups), self.n)
        matrix[row, np.arange(len(x)) - self.starts[row]] = x[self.order]
        matrix.sort(axis=1)
        return matrix.ravel(), np.arange(groups) * width

    def histogram(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """avg, median, 95percentile and max of `x` per group."""
        if not len(self.starts):
            return {k: np.zeros(0) for k in ("avg", "median", "95percentile", "max")}
        x = np.asarray(x, dtype=np.float64)
        xs, first = self._sorted(x)
        return {"avg": self.sum(x) / self.n, "median": xs[first + (self.n - 1) // 2],
                "95percentile": xs[first + (95 * self.n - 1) // 100], "max": xs[first + self.n - 1]}


def _key(time: np.ndarray, phase: np.ndarray, version: np.ndarray) -> np.ndarray:
    bucket = flush_bucket(time)
    return (bucket << (_PHASE_BITS + _VERSION_BITS)) | (phase.astype(np.int64) << _VERSION_BITS) | version.astype(np.int64)


def _split(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (keys >> (_PHASE_BITS + _VERSION_BITS),
            (keys >> _VERSION_BITS) & ((1 << _PHASE_BITS) - 1), keys & ((1 << _VERSION_BITS) - 1))


def _emit(buf: PointBuffer, metric: str, groups: Groups, values: np.ndarray, agent_id: str, emitter: str,
          phases: Sequence[str], keep: np.ndarray | None = None, **extra: str) -> None:
    """Add one point per group to the series of its (phase, version); `keep` masks the groups to send."""
    bucket, phase, version = _split(groups.keys)
    combo = (phase << _VERSION_BITS) | version
    if keep is not None:
        bucket, phase, version, combo, values = bucket[keep], phase[keep], version[keep], combo[keep], values[keep]
    for c in np.unique(combo).tolist():
        sel = combo == c
        p, v = c >> _VERSION_BITS, c & ((1 << _VERSION_BITS) - 1)
        key = buf.key(metric, service=ROLE_SERVICE[emitter], version=f"v{v}", agent_id=agent_id, phase=phases[p], **extra)
        buf.add(key, bucket[sel], values[sel])


def aggregate_outcomes(buf: PointBuffer, agent_id: str, phases: Sequence[str], *, time: np.ndarray,
                       phase: np.ndarray, version: np.ndarray, cost: np.ndarray, latency: np.ndarray,
                       failed: np.ndarray, budget_usd: float) -> None:
    """Per-message outcomes of one agent: messages, cost, end-to-end latency, verdicts, breaches, version."""
    if len(time) == 0:
        return
    g = Groups(_key(time, phase, version))
    _emit(buf, "autonomic.agent.messages", g, g.n.astype(np.float64), agent_id, "chatbot", phases)
    cost_h = g.histogram(cost)
    _emit(buf, "autonomic.agent.cost", g, cost_h["avg"], agent_id, "chatbot", phases)
    _emit(buf, "autonomic.agent.cost.max", g, cost_h["max"], agent_id, "chatbot", phases)
    _emit(buf, "autonomic.agent.cost.95percentile", g, cost_h["95percentile"], agent_id, "chatbot", phases)
    for stat, values in g.histogram(latency).items():
        _emit(buf, f"autonomic.agent.latency.{stat}", g, values, agent_id, "chatbot", phases)
    _, _, versions = _split(g.keys)
    _emit(buf, "autonomic.agent.version", g, versions.astype(np.float64), agent_id, "chatbot", phases)
    fails = g.sum(failed.astype(np.float64))
    passes = g.n - fails
    _emit(buf, "autonomic.audit.verdict", g, passes, agent_id, "auditor", phases, keep=passes > 0, verdict="pass")
    _emit(buf, "autonomic.audit.verdict", g, fails, agent_id, "auditor", phases, keep=fails > 0, verdict="fail")
    over = cost > budget_usd
    if over.any():
        # The Agent keeps a gauge's last value; the worst breach of the window is what the monitor must see.
        gb = Groups(_key(time[over], phase[over], version[over]))
        _emit(buf, "autonomic.budget.breach.amount", gb, gb.histogram(cost[over])["max"], agent_id, "chatbot", phases)


def aggregate_calls(buf: PointBuffer, agent_id: str, role: str, phases: Sequence[str], *, time: np.ndarray,
                    phase: np.ndarray, version: np.ndarray, input_tokens: np.ndarray, output_tokens: np.ndarray,
                    thinking_tokens: np.ndarray, latency: np.ndarray, cost: np.ndarray) -> None:
    """Model calls of one role for one agent: component latency, tokens and spend."""
    if len(time) == 0:
        return
    g = Groups(_key(time, phase, version))
    lat = g.histogram(latency)
    for stat in ("avg", "95percentile", "max"):
        _emit(buf, f"autonomic.component.latency.{stat}", g, lat[stat], agent_id, role, phases, role=role)
    for kind, tokens in (("input", input_tokens), ("output", output_tokens), ("thinking", thinking_tokens)):
        _emit(buf, f"autonomic.tokens.{kind}", g, g.sum(tokens), agent_id, role, phases, role=role)
    _emit(buf, "autonomic.agent.cost.total", g, g.sum(cost), agent_id, role, phases)


def aggregate_counts(buf: PointBuffer, agent_id: str, phases: Sequence[str], counts: Sequence[CountRecord]) -> None:
    """The loop's counters (attempts, rejected, failed, deployments), summed per flush window."""
    index = {name: i for i, name in enumerate(phases)}
    by_series: dict[tuple[str, str, str | None], list[CountRecord]] = {}
    for c in counts:
        by_series.setdefault((c.metric, c.role, c.failure_reason), []).append(c)
    for (metric, role, reason), records in by_series.items():
        g = Groups(_key(np.array([r.time for r in records]), np.array([index[r.phase] for r in records]),
                        np.array([r.version for r in records])))
        extra = {"failure_reason": reason} if reason else {}
        _emit(buf, metric, g, g.sum(np.array([r.value for r in records])), agent_id, role, phases, None, **extra)
