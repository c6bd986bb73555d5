"""Telemetry of the swarm: flush aggregation, catalogue-checked series, sinks, pacings and the ledger."""

from __future__ import annotations

from .records import CallRecord, CountRecord, EventRecord, LogRecord
from .points import FLUSH_INTERVAL, PointBuffer
from .ledger import Ledger, PhaseSummary
from .pacing import Backfill, Live
from .sink import ApiSink, MemorySink, Sink
from .recorder import Recorder

__all__ = [
    "ApiSink", "Backfill", "CallRecord", "CountRecord", "EventRecord", "FLUSH_INTERVAL", "Ledger", "Live",
    "LogRecord", "MemorySink", "PhaseSummary", "PointBuffer", "Recorder", "Sink",
]
