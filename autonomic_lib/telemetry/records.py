"""What a swarm reports, before aggregation: model calls, counter increments, logs and events.

The simulation and a real swarm (through `Recorder`) produce the same records, so aggregation,
sending, the ledger and reconciliation are one code path for both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

ROLE_SERVICE = {"chatbot": "autonomic-chatbot", "auditor": "autonomic-auditor", "refiner": "autonomic-refiner",
                "evaluator": "autonomic-evaluator"}


@dataclass(frozen=True)
class CallRecord:
    """One model call by a role outside the message path (Refiner, Evaluator), or any call of a real swarm."""

    role: str
    agent_id: str
    version: int
    phase: str
    time: float  # epoch seconds when the call completed
    input_tokens: int
    output_tokens: int
    thinking_tokens: int
    latency: float  # seconds
    cost: float  # USD


@dataclass(frozen=True)
class CountRecord:
    """One increment of a count metric of the loop (attempts, rejected, failed, deployments)."""

    metric: str
    role: str  # the component that counted it; becomes the service tag
    agent_id: str
    version: int
    phase: str
    time: float
    value: float = 1.0
    failure_reason: str | None = None


@dataclass(frozen=True)
class LogRecord:
    """One log line of the agents' thought process, as `POST /api/v2/logs` takes it."""

    time: float
    role: str
    status: str  # info | warn | error
    message: str
    agent_id: str
    version: int
    phase: str
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EventRecord:
    """One event (a deployment), as `POST /api/v1/events` takes it."""

    time: float
    title: str
    text: str
    agent_id: str
    version: int
    phase: str
    alert_type: str = "success"
