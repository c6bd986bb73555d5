"""The metrics product's backend: the durable store, the intake policy, and what kind each metric is."""

from __future__ import annotations

from typing import Sequence

from autonomic_lib.catalog import Catalog
from autonomic_lib.sandbox.metrics.evaluate import MetricKind, kind_from_store
from autonomic_lib.sandbox.metrics.intake import IntakePolicy
from autonomic_lib.sandbox.metrics.store import MetricStore, SeriesPoints


class Metrics:
    """Series intake and queries; every other product that reads metrics goes through `store` and `kind`.

    Usage::

        metrics = Metrics(MetricStore(), IntakePolicy(), catalog=None)
        metrics.write(batch)
        evaluate_query("avg:m{*}", metrics.store, start, end, kinds=metrics.kind)
    """

    def __init__(self, store: MetricStore, policy: IntakePolicy, catalog: Catalog | None):
        self.store, self.policy, self.catalog = store, policy, catalog

    def clock(self) -> float:
        return self.policy.clock()

    def kind(self, metric: str) -> MetricKind:
        """Type and unit of a metric: the catalogue's when it knows the metric, else what the intake declared."""
        if self.catalog is not None and metric in self.catalog.metrics:
            spec = self.catalog.metrics[metric]
            return MetricKind(spec.type if spec.type != "distribution" else "gauge", spec.unit, spec.per_unit,
                              spec.interval)
        return kind_from_store(self.store, metric)

    def write(self, batch: Sequence[SeriesPoints]) -> int:
        return self.store.write(batch)
