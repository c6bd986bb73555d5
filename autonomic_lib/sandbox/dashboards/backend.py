"""The dashboards product's backend: dashboards (and the deleted ones, restorable) and graph snapshots."""

from __future__ import annotations

from typing import Callable

from autonomic_lib.sandbox.http.routing import Address
from autonomic_lib.sandbox.metrics.backend import Metrics
from autonomic_lib.sandbox.storage.documents import DocumentStore


class Dashboards:
    """Dashboards as documents; snapshots draw from `metrics` and link to the sandbox's own `address`."""

    def __init__(self, documents: DocumentStore, clock: Callable[[], float], metrics: Metrics, address: Address):
        self.documents, self.clock, self.metrics, self.address = documents, clock, metrics, address
