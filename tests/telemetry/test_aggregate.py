"""Flush aggregation follows the Datadog Agent; only catalogue metrics and tags can be emitted."""

from __future__ import annotations

import numpy as np
import pytest

from autonomic_lib.errors import CatalogError
from autonomic_lib.telemetry.aggregate import Groups, aggregate_outcomes
from autonomic_lib.telemetry.points import PointBuffer
from autonomic_lib.telemetry.sketch import QuantileSketch


def test_histogram_uses_the_agent_index_rules() -> None:
    # One window of 20 values 1..20: avg 10.5, median sorted[(20-1)//2] = 10, p95 sorted[(95*20-1)//100] = 19, max 20.
    values = np.arange(20, 0, -1, dtype=float)
    g = Groups(np.zeros(20, dtype=np.int64))
    h = g.histogram(values)
    assert (h["avg"][0], h["median"][0], h["95percentile"][0], h["max"][0]) == (10.5, 10.0, 19.0, 20.0)


def test_one_sample_is_every_statistic() -> None:
    h = Groups(np.zeros(1, dtype=np.int64)).histogram(np.array([3.5]))
    assert {k: v[0] for k, v in h.items()} == {"avg": 3.5, "median": 3.5, "95percentile": 3.5, "max": 3.5}


def test_outcomes_flush_per_ten_seconds_and_send_counts_only_when_sampled() -> None:
    buf = PointBuffer("test")
    time = np.array([100.0, 105.0, 109.9, 110.0, 125.0])
    aggregate_outcomes(buf, "bot-a", ["p"], time=time, phase=np.zeros(5, np.int16), version=np.ones(5, np.int32),
                       cost=np.array([0.01, 0.02, 0.03, 0.2, 0.01]), latency=np.array([1, 2, 3, 4, 5.0]),
                       failed=np.array([False, True, False, False, False]), budget_usd=0.1)
    points = {(m, t): (ts.tolist(), v.tolist()) for (m, t), ts, v in buf.merged()}
    tags = ("env:test", "service:autonomic-chatbot", "version:v1", "agent_id:bot-a", "phase:p")
    assert points[("autonomic.agent.messages", tags)] == ([100, 110, 120], [3.0, 1.0, 1.0])
    assert points[("autonomic.agent.latency.avg", tags)] == ([100, 110, 120], [2.0, 4.0, 5.0])
    fail = ("env:test", "service:autonomic-auditor", "version:v1", "agent_id:bot-a", "phase:p", "verdict:fail")
    assert points[("autonomic.audit.verdict", fail)] == ([100], [1.0])
    assert points[("autonomic.budget.breach.amount", tags)] == ([110], [0.2])
    assert points[("autonomic.agent.version", tags)][1] == [1.0, 1.0, 1.0]


def test_unknown_metric_is_rejected_naming_it() -> None:
    with pytest.raises(CatalogError, match="autonomic.agent.mood"):
        PointBuffer("test").key("autonomic.agent.mood", service="autonomic-chatbot", version="v1", agent_id="a",
                                phase="p")


@pytest.mark.parametrize("extra, needle", [({"customer_id": "c-1"}, "customer_id"), ({"role": "chatbot"}, "role"),
                                           ({"verdict": "maybe"}, "verdict")])
def test_tags_the_catalogue_does_not_allow_are_rejected(extra: dict[str, str], needle: str) -> None:
    with pytest.raises(CatalogError, match=needle):
        PointBuffer("test").key("autonomic.agent.messages", service="autonomic-chatbot", version="v1", agent_id="a",
                                phase="p", **extra)


def test_unified_service_tags_are_required() -> None:
    with pytest.raises(ValueError, match="version"):
        PointBuffer("test").key("autonomic.agent.messages", service="autonomic-chatbot", agent_id="a", phase="p")


def test_sketch_quantiles_within_half_a_percent() -> None:
    values = np.random.default_rng(1).lognormal(0, 1, 50_000)
    sketch = QuantileSketch()
    sketch.add(values[:20_000])
    other = QuantileSketch()
    other.add(values[20_000:])
    sketch.merge(other)
    for q in (0.5, 0.95, 0.99):
        exact = np.sort(values)[int(q * (len(values) - 1))]
        assert sketch.quantile(q) == pytest.approx(exact, rel=0.006)
    assert sketch.quantile(1.0) == values.max()
