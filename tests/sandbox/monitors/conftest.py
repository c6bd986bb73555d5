"""Shared fixtures of the monitors product's tests without HTTP: a fake clock, the logs and monitors backends."""

from __future__ import annotations

from typing import Any

import pytest

from autonomic_lib.sandbox.logs.backend import Logs
from autonomic_lib.sandbox.metrics.backend import Metrics
from autonomic_lib.sandbox.metrics.intake import IntakePolicy
from autonomic_lib.sandbox.metrics.store import MetricStore
from autonomic_lib.sandbox.monitors.backend import Monitors
from autonomic_lib.sandbox.storage.database import open_database
from autonomic_lib.sandbox.storage.documents import DocumentStore

T0 = 1_767_225_600  # 2026-01-01 00:00 UTC, a minute boundary


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(float(T0))


@pytest.fixture
def logs(clock: Clock) -> Logs:
    return Logs(DocumentStore(open_database(None)), clock)


@pytest.fixture
def monitors(clock: Clock, logs: Logs) -> Monitors:
    metrics = Metrics(MetricStore(), IntakePolicy(clock=clock), catalog=None)
    return Monitors(DocumentStore(open_database(None)), clock, metrics)


def body(query: str = "avg(last_5m):avg:m.x{env:demo} > 5", **fields: Any) -> dict[str, Any]:
    return {"type": "query alert", "query": query, "name": "Latency high", "tags": [],
            "options": {}, **fields}
