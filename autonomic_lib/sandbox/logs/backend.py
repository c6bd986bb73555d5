"""The logs product's backend: stored logs and the events stream (posted events and monitor events)."""

from __future__ import annotations

from typing import Callable

from autonomic_lib.sandbox.storage.documents import DocumentStore


class Logs:
    """Logs and events, kept as documents; `clock` is the sandbox's "now" in epoch seconds."""

    def __init__(self, documents: DocumentStore, clock: Callable[[], float]):
        self.documents, self.clock = documents, clock
