"""The monitors product's backend: monitor definitions, and the evaluation service that judges them."""

from __future__ import annotations

from typing import Callable

from autonomic_lib.sandbox.metrics.backend import Metrics
from autonomic_lib.sandbox.monitors.service import MonitorEvaluator
from autonomic_lib.sandbox.storage.documents import DocumentStore


class Monitors:
    """Monitors as documents, evaluated over `metrics` by `evaluator` (started and stopped by the server)."""

    def __init__(self, documents: DocumentStore, clock: Callable[[], float], metrics: Metrics,
                 evaluator: MonitorEvaluator):
        self.documents, self.clock, self.metrics, self.evaluator = documents, clock, metrics, evaluator
