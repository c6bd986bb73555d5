"""The agents' thought process as log records, and records as Datadog log items and event bodies.

Not every message is logged: a failed audit always is (the Auditor's reasoning, with the
conversation), a budget breach always is, and ordinary messages at the scenario's sample rate.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..telemetry.records import ROLE_SERVICE, EventRecord, LogRecord
from . import texts
from .messages import MessageBatch

SOURCE = "autonomic"
HOSTNAME = "autonomic-swarm"


def message_logs(agent_id: str, m: MessageBatch, phases: Sequence[str], sample_rate: float,
                 budget_usd: float) -> list[LogRecord]:
    """Log records of the messages worth logging (failed, over budget, or sampled)."""
    cost = m.cost
    sampled = m.log_draw < sample_rate
    over = cost > budget_usd
    chosen = np.flatnonzero(sampled | m.failed | over)
    out: list[LogRecord] = []
    done = m.done
    for i in chosen.tolist():
        version, phase = int(m.version[i]), phases[int(m.phase[i])]
        failed = bool(m.failed[i])
        answered = float(m.time[i] + m.chat_latency[i])
        tokens = {"input": int(m.chat_in[i]), "output": int(m.chat_out[i]), "thinking": int(m.chat_think[i])}
        if sampled[i] or over[i]:
            out.append(LogRecord(answered, "chatbot", "info", texts.answer(i, failed), agent_id, version, phase,
                                 {"user_message": texts.question(i), "latency_s": round(float(m.chat_latency[i]), 3),
                                  "tokens": tokens}))
        if over[i]:
            out.append(LogRecord(answered, "chatbot", "warn",
                                 f"Message cost ${cost[i]:.4f} exceeds the ${budget_usd:.2f} budget "
                                 f"(prompt of {int(m.chat_in[i]):,} tokens): possible prompt injection.",
                                 agent_id, version, phase, {"cost_usd": round(float(cost[i]), 6), "tokens": tokens}))
        if failed or sampled[i]:
            conversation = {"user": texts.question(i), "answer": texts.answer(i, failed)}
            out.append(LogRecord(float(done[i]), "auditor", "warn" if failed else "info", texts.audit(i, failed),
                                 agent_id, version, phase,
                                 {"verdict": "fail" if failed else "pass", "conversation": conversation}))
    return out


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
