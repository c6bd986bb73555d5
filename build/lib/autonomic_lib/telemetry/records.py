"""What a swarm reports, before aggregation: model calls, counter increments, logs and events.

The simulation and a real swarm (through `Recorder`) produce the same records, so aggregation,
sending, the ledger and reconciliation are one code path for both. Logs and events are sent as the
intake takes them: `log_item` and `event_body` build those payloads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

SOURCE = "autonomic"
HOSTNAME = "autonomic-swarm"
ROLE_SERVICE = {"chatbot": "autonomic-chatbot", "auditor": "autonomic-auditor", "refiner": "autonomic-refiner",
                "evaluator": "autonomic-evaluator"}


@dataclass(frozen=True, kw_only=True)
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


@dataclass(frozen=True, kw_only=True)
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


@dataclass(frozen=True, kw_only=True)
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


@dataclass(frozen=True, kw_only=True)
class EventRecord:
    """One event (a deployment), as `POST /api/v1/events` takes it."""

    time: float
    title: str
    text: str
    agent_id: str
    version: int
    phase: str
    alert_type: str = "success"


def log_item(record: LogRecord, env: str) -> dict[str, Any]:
    """A `POST /api/v2/logs` item: unified service tags in ddtags, the thought process in message."""
    tags = f"env:{env},version:v{record.version},agent_id:{record.agent_id},phase:{record.phase}"
    return {"ddsource": SOURCE, "ddtags": tags, "hostname": HOSTNAME, "service": ROLE_SERVICE[record.role],
            "status": record.status, "message": record.message, "timestamp": int(round(record.time * 1000)),
            "agent_id": record.agent_id, "phase": record.phase, "role": record.role, **record.attributes}


def event_body(record: EventRecord, env: str) -> dict[str, Any]:
    """A `POST /api/v1/events` body for a deployment (aggregated per agent)."""
    return {"title": record.title, "text": record.text, "date_happened": int(record.time),
            "tags": [f"env:{env}", f"agent_id:{record.agent_id}", f"version:v{record.version}",
                     f"phase:{record.phase}", "service:autonomic-refiner"],
            "alert_type": record.alert_type, "aggregation_key": f"autonomic-deploy-{record.agent_id}"}
