"""The automation product's backend: workflows and their instances, notifications, Case Management."""

from __future__ import annotations

from typing import Callable

from autonomic_lib.sandbox.http.routing import Address
from autonomic_lib.sandbox.storage.documents import DocumentStore


class Automation:
    """Workflows, instances, notifications and cases as documents; links point at the sandbox's `address`."""

    def __init__(self, documents: DocumentStore, clock: Callable[[], float], address: Address):
        self.documents, self.clock, self.address = documents, clock, address
