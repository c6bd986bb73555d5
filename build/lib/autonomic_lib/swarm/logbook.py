"""The agents' thought process as log records (their Datadog payloads are built in `telemetry.records`).

Not every message is logged: a failed audit always is (the Auditor's reasoning, with the
conversation), a budget breach always is, and ordinary messages at the scenario's sample rate.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..telemetry.records import LogRecord
from . import texts
from .messages import MessageBatch


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
            out.append(LogRecord(time=answered, role="chatbot", status="info", message=texts.answer(i, failed),
                                 agent_id=agent_id, version=version, phase=phase,
                                 attributes={"user_message": texts.question(i),
                                             "latency_s": round(float(m.chat_latency[i]), 3), "tokens": tokens}))
        if over[i]:
            out.append(LogRecord(time=answered, role="chatbot", status="warn",
                                 message=f"Message cost ${cost[i]:.4f} exceeds the ${budget_usd:.2f} budget "
                                         f"(prompt of {int(m.chat_in[i]):,} tokens): possible prompt injection.",
                                 agent_id=agent_id, version=version, phase=phase,
                                 attributes={"cost_usd": round(float(cost[i]), 6), "tokens": tokens}))
        if failed or sampled[i]:
            conversation = {"user": texts.question(i), "answer": texts.answer(i, failed)}
            out.append(LogRecord(time=float(done[i]), role="auditor", status="warn" if failed else "info",
                                 message=texts.audit(i, failed), agent_id=agent_id, version=version, phase=phase,
                                 attributes={"verdict": "fail" if failed else "pass", "conversation": conversation}))
    return out

