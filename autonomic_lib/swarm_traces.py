"""The simulated swarm's messages as LLM Observability traces: which messages are traced, and what each shows.

Above both `swarm` (the messages, the healings) and `telemetry.traces` (the span and evaluation payloads), as
`traffic.py` is. A run traces a uniform sample of its messages (`traces.sample_rate_for`: about 1 in 4 messages of
seed-demo, 1 in 4,320 of the 24 h full day) and, whatever the draw, every message over budget, the slowest
message of each agent-minute of a latency spike and every message whose failed audit started a self-healing
(its trace holds the Refiner's and Evaluator's spans). The draw has its own random stream: same seed, same traces.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from .swarm import texts
from .swarm.engine import AgentRun
from .swarm.loop import Outcome
from .telemetry.records import CallRecord
from .telemetry.traces import LlmCall, MessageTrace, choose

_STREAM_TRACES = 4  # after the engine's streams (injections 1, messages 2, loop 3)


def trace_draws(seed: int, agent_index: int, n: int) -> np.ndarray:
    """The uniform draws that sample an agent's messages (their own stream: tracing changes no other draw)."""
    return np.random.default_rng([seed, _STREAM_TRACES, agent_index]).random(n)


def message_traces(run: AgentRun, agent_index: int, *, run_key: str, seed: int, rate: float, budget_usd: float,
                   phases: Sequence[str]) -> Iterator[MessageTrace]:
    """The traces of one agent's run, in message order."""
    m = run.messages
    heals = {trigger: outcome for trigger, outcome in run.heals}
    chosen = choose(trace_draws(seed, agent_index, len(m)), rate, cost=m.cost, budget_usd=budget_usd,
                    latency=m.e2e_latency, time=m.time, triggers=list(heals))
    for i, reasons in chosen.items():
        failed = bool(m.failed[i])
        verdict = "fail" if failed else "pass"
        question, answer, judgement = texts.question(i), texts.answer(i, failed), texts.audit(i, failed)
        start, chat_latency = float(m.time[i]), float(m.chat_latency[i])
        chat = LlmCall(role="chatbot", start=start, latency=chat_latency, input_tokens=int(m.chat_in[i]),
                       output_tokens=int(m.chat_out[i]), thinking_tokens=int(m.chat_think[i]), input=question,
                       output=answer)
        audit = LlmCall(role="auditor", start=start + chat_latency, latency=float(m.audit_latency[i]),
                        input_tokens=int(m.audit_in[i]), output_tokens=int(m.audit_out[i]),
                        thinking_tokens=int(m.audit_think[i]), input=f"User: {question}\nAnswer: {answer}",
                        output=judgement, metadata={"verdict": verdict})
        outcome = heals.get(i)
        yield MessageTrace(key=f"{run_key}/{run.agent_id}/{i}", agent_id=run.agent_id, version=int(m.version[i]),
                           phase=phases[int(m.phase[i])], verdict=verdict, chat=chat, audit=audit,
                           heal=heal_calls(outcome) if outcome is not None else (),
                           heal_outcome=None if outcome is None else "deployed" if outcome.deployed else "failed",
                           reasons=reasons)


def heal_calls(outcome: Outcome) -> list[LlmCall]:
    """The Refiner's and Evaluator's calls of one self-healing, each with what its log said."""
    said = {"refiner": [log.message for log in outcome.logs if log.role == "refiner" and "attempt" in log.attributes],
            "evaluator": [log.message for log in outcome.logs if log.role == "evaluator"]}
    seen = {"refiner": 0, "evaluator": 0}
    calls = []
    for call in outcome.calls:
        n = seen[call.role]
        seen[call.role] += 1
        output = said[call.role][n] if n < len(said[call.role]) else ""
        calls.append(_llm_call(call, output, attempt=n + 1))
    return calls


def _llm_call(call: CallRecord, output: str, attempt: int) -> LlmCall:
    what = ("failed conversations and the current prompt" if call.role == "refiner"
            else f"candidate v{call.version + 1} over its test set")
    return LlmCall(role=call.role, start=call.time - call.latency, latency=call.latency,
                   input_tokens=call.input_tokens, output_tokens=call.output_tokens,
                   thinking_tokens=call.thinking_tokens, input=f"Attempt {attempt}: {what}", output=output,
                   metadata={"attempt": attempt})
