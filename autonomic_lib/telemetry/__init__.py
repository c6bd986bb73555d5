"""Telemetry of the swarm: flush aggregation, catalogue-checked series, sinks, ledger and reconciliation."""

from __future__ import annotations

from .records import CallRecord, CountRecord, EventRecord, LogRecord
from .points import FLUSH_INTERVAL, PointBuffer
from .ledger import Ledger, PhaseSummary
from .pacing import Backfill, Live
from .sink import ApiSink, MemorySink, Sink
from .reconcile import Reconciliation, reconcile
from .recorder import Recorder

__all__ = [
    "ApiSink", "Backfill", "CallRecord", "CountRecord", "EventRecord", "FLUSH_INTERVAL", "Ledger", "Live",
    "LogRecord", "MemorySink", "PhaseSummary", "PointBuffer", "Reconciliation", "Recorder", "Sink", "reconcile",
]
