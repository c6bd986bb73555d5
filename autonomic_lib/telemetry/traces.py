"""LLM Observability traces: span trees and evaluations in the shape Datadog's LLM Observability HTTP API takes.

A swarm message is one trace: a `workflow` root span (the user's request) over an `llm` span for the chatbot's
answer and an `llm` span for the Auditor's judgement; when that message started a self-healing, an `agent` span
holds the Refiner's and Evaluator's `llm` spans. The Auditor's verdict is also an evaluation (categorical
pass/fail) joined to the root span, so a trace list shows it per trace.

Wire format (checked against Datadog's docs, `llm_observability/instrumentation/api.md`, and ddtrace 4.16.0):
- spans: `POST /api/intake/llm-obs/v1/trace/spans` on `api.<site>`, DD-API-KEY, body
  `{"data": {"type": "span", "attributes": {"ml_app", "tags", "spans": [...]}}}`; each span has name, span_id,
  trace_id, parent_id ("undefined" for a root), start_ns, duration (ns), status, meta {kind, input, output,
  metadata}, metrics, tags. Spans may be at most 24 h old. ddtrace's agentless writer posts the same events to
  `llmobs-intake.<site>/api/v2/llmobs` in its own envelope; the documented API is on the API host the kit's
  client already uses, so one code path serves the sandbox and every site.
- model: `meta.metadata.model_name` / `model_provider` as the HTTP API documents; "google" for Gemini models, as
  ddtrace's Gemini integrations name the provider.
- tokens: ddtrace's Gemini convention: `output_tokens` counts the answer plus the thinking tokens,
  `reasoning_output_tokens` the thinking alone, `total_tokens` input + output.
- cost: `input_cost`, `output_cost`, `total_cost` in US dollars (Datadog's cost docs: manual costs are given in
  dollars and stored as nanodollars); thinking is billed at the output price, as `prices.Price` does.
- evaluations: `POST /api/intake/llm-obs/v2/eval-metric`, body `{"data": {"type": "evaluation_metric",
  "attributes": {"metrics": [...]}}}`, each joined on `{"span": {"span_id", "trace_id"}}` with ml_app,
  timestamp_ms, metric_type "categorical", label, categorical_value (plus ddtrace's assessment and reasoning).
- size: a request stays under 5 MB (ddtrace's EVP payload limit is 5 MiB, "actual server limit is 5.1 MB").
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np
import orjson

from .prices import PER_MILLION, Price
from .records import ROLE_SERVICE

ML_APP = "autonomic-swarm"
SPANS_PATH = "/api/intake/llm-obs/v1/trace/spans"
EVALUATIONS_PATH = "/api/intake/llm-obs/v2/eval-metric"
VERDICT_LABEL = "auditor_verdict"
ROOT_PARENT = "undefined"
MAX_REQUEST_BYTES = 4_500_000  # under the intake's 5 MB with room for the envelope
MAX_SPANS = 1000  # per request: ddtrace's writer flushes at most 1000 events (BUFFER_LIMIT), the sandbox takes 1000
MAX_EVALUATIONS = 1000  # per request
MAX_SPAN_AGE = 24 * 3600 - 300  # Datadog refuses spans more than 24 h old; keep 5 min of margin
PROVIDERS = {"gemini": "google"}  # model-name prefix -> model_provider, as ddtrace's Gemini integrations say

# Why a trace is kept. "sampled" traces are a uniform sample (the pass rate is estimated from them alone); the
# others are kept whatever the draw, so every incident of a run has its traces.
SAMPLED, BUDGET_BREACH, LATENCY_SPIKE, OPTIMIZATION = "sampled", "budget_breach", "latency_spike", "optimization"
REASONS = (SAMPLED, BUDGET_BREACH, LATENCY_SPIKE, OPTIMIZATION)
# A run traces about this many messages uniformly (plus its incidents): the default rate is
# min(1, TRACE_BUDGET / messages). seed-demo (~8,300 messages) is traced at about 1 in 4, the 24 h full day
# (100 agents at 1 msg/s, 8.64 M messages) at 1 in 4,320 (0.023 %): ~2,000 traces, ~6,000 spans and ~5 MB a run
# whatever its length, which keeps the full day within its time and memory budget (the sandbox takes about 2,000
# spans a second) and, at Datadog's per-span billing, a run's traces cheap.
TRACE_BUDGET = 2_000
SPIKE_SECONDS = 15.0  # a message slower than this (end to end) is part of a latency spike
SPIKES_PER_MINUTE = 1  # ... and the slowest such message of each agent and minute is kept
SPIKES_PER_AGENT = 20  # ... at most this many per agent and run, the slowest: a steady 24 h day has ~100 slow
# minutes per agent, which traced whole (~10,000 traces) cost the full day 15 s and 140 MB


def sample_rate_for(messages: int, budget: int = TRACE_BUDGET) -> float:
    """The uniform rate that traces about `budget` of `messages` (1.0 when there are fewer)."""
    return 1.0 if messages <= budget else budget / messages


def choose(draw: np.ndarray, rate: float, *, cost: np.ndarray, budget_usd: float, latency: np.ndarray,
           time: np.ndarray, triggers: Sequence[int] = (), spike_s: float = SPIKE_SECONDS) -> dict[int, tuple[str, ...]]:
    """Which messages of one agent become traces, and why (message index -> reasons, in `REASONS` order).

    Args:
        draw: one uniform draw per message, from the run's seed (deterministic).
        rate: the uniform sample rate; `draw < rate` is sampled.
        cost, budget_usd: every message over the budget is kept.
        latency, time: end-to-end seconds and arrival (epoch s); the slowest message above `spike_s` of each minute
            is kept (bounded: one per agent-minute, however long a spike lasts, and the slowest SPIKES_PER_AGENT
            minutes of the run).
        triggers: messages whose failed audit started a self-healing; each is kept with its healing spans.
    """
    why = {SAMPLED: np.flatnonzero(draw < rate), BUDGET_BREACH: np.flatnonzero(cost > budget_usd)}
    slow = np.flatnonzero(latency > spike_s)
    if len(slow):
        minute = (time[slow] // 60).astype(np.int64)
        order = np.lexsort((-latency[slow], minute))  # by minute, slowest first
        first = np.ones(len(order), dtype=bool)
        first[1:] = minute[order][1:] != minute[order][:-1]
        slow = slow[order][first]
        slow = np.sort(slow[np.argsort(-latency[slow], kind="stable")[:SPIKES_PER_AGENT]])
    why[LATENCY_SPIKE] = slow
    why[OPTIMIZATION] = np.asarray(sorted(set(triggers)), dtype=np.int64)
    out: dict[int, tuple[str, ...]] = {}
    for reason in REASONS:
        for i in why[reason].tolist():
            out[i] = out.get(i, ()) + (reason,)
    return dict(sorted(out.items()))


@dataclass(frozen=True, kw_only=True)
class LlmCall:
    """One model call as a span: which role, when, tokens, what it read and said, and any metadata to show."""

    role: str
    start: float  # epoch seconds
    latency: float  # seconds
    input_tokens: int
    output_tokens: int  # the answer alone; thinking is separate
    thinking_tokens: int
    input: str
    output: str
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def end(self) -> float:
        return self.start + self.latency


@dataclass(frozen=True, kw_only=True)
class MessageTrace:
    """One message of one agent and what its trace shows."""

    key: str  # unique within the run (ids derive from it): "<run>/<agent>/<message index>"
    agent_id: str
    version: int
    phase: str
    verdict: str  # "pass" | "fail"
    chat: LlmCall
    audit: LlmCall
    heal: Sequence[LlmCall] = ()  # Refiner and Evaluator calls of the self-healing this message started
    heal_outcome: str | None = None  # "deployed" | "rejected" | "failed" (the Refiner gave up)
    reasons: tuple[str, ...] = (SAMPLED,)

    @property
    def end(self) -> float:
        return max([self.audit.end, *(c.end for c in self.heal)])


def trace_id(key: str) -> str:
    """A 64-bit trace id in decimal (as the docs' evaluation example writes one), stable for the same key. Not the
    32 hex digits of a 128-bit id: those are shaped like a Datadog API key, which every report scrubs."""
    return str(int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") or 1)


def span_id(key: str, part: str) -> str:
    """A 64-bit span id in decimal (as ddtrace writes span ids), stable for the same key and part."""
    raw = int.from_bytes(hashlib.blake2b(f"{key}#{part}".encode(), digest_size=8).digest(), "big")
    return str(raw & (2**63 - 1) or 1)


def provider_of(model: str) -> str:
    return next((p for prefix, p in PROVIDERS.items() if model.lower().startswith(prefix)), "unknown")


def call_costs(call: LlmCall, price: Price) -> dict[str, float]:
    """USD of a call by part; thinking is billed as output (what `Price.cost` charges in total)."""
    input_cost = call.input_tokens * price.input_per_m / PER_MILLION
    output_cost = (call.output_tokens + call.thinking_tokens) * price.output_per_m / PER_MILLION
    return {"input_cost": input_cost, "output_cost": output_cost, "total_cost": input_cost + output_cost}


def _ns(t: float) -> int:
    return int(round(t * 1e9))


def trace_tags(t: MessageTrace, env: str) -> list[str]:
    """Tags every span of the trace carries: unified service tags, agent, phase, and why the trace was kept."""
    return [f"env:{env}", f"version:v{t.version}", f"agent_id:{t.agent_id}", f"phase:{t.phase}",
            f"verdict:{t.verdict}", f"sampled:{'true' if SAMPLED in t.reasons else 'false'}",
            *(f"incident:{r}" for r in t.reasons if r != SAMPLED)]


def build_spans(t: MessageTrace, env: str, price: Price) -> list[dict[str, Any]]:
    """The trace's spans, root first: workflow -> chatbot llm, auditor llm (-> self_heal agent -> refiner/evaluator)."""
    tid, tags = trace_id(t.key), trace_tags(t, env)
    root = span_id(t.key, "message")

    def span(name: str, kind: str, parent: str, start: float, end: float, ident: str, *, role: str,
             input: Mapping[str, Any], output: Mapping[str, Any], metadata: Mapping[str, Any],
             metrics: Mapping[str, float] | None = None) -> dict[str, Any]:
        meta: dict[str, Any] = {"kind": kind, "input": dict(input), "output": dict(output), "metadata": dict(metadata)}
        out: dict[str, Any] = {"name": name, "span_id": ident, "trace_id": tid, "parent_id": parent,
                               "start_ns": _ns(start), "duration": _ns(end - start), "status": "ok",
                               "meta": meta, "tags": [*tags, f"service:{ROLE_SERVICE[role]}"]}
        if metrics is not None:
            out["metrics"] = dict(metrics)
        return out

    def llm(call: LlmCall, parent: str, ident: str) -> dict[str, Any]:
        output_tokens = call.output_tokens + call.thinking_tokens
        metrics = {"input_tokens": float(call.input_tokens), "output_tokens": float(output_tokens),
                   "reasoning_output_tokens": float(call.thinking_tokens),
                   "total_tokens": float(call.input_tokens + output_tokens), **call_costs(call, price)}
        return span(call.role, "llm", parent, call.start, call.end, ident, role=call.role,
                    input={"messages": [{"role": "user", "content": call.input}]},
                    output={"messages": [{"role": "assistant", "content": call.output}]},
                    metadata={"model_name": price.model, "model_provider": provider_of(price.model),
                              **call.metadata},
                    metrics=metrics)

    user_latency = t.audit.end - t.chat.start
    spans = [span("message", "workflow", ROOT_PARENT, t.chat.start, t.end, root, role="chatbot",
                  input={"value": t.chat.input}, output={"value": t.chat.output},
                  metadata={"user_latency_s": round(user_latency, 6), "verdict": t.verdict}),
             llm(t.chat, root, span_id(t.key, "chatbot")),
             llm(t.audit, root, span_id(t.key, "auditor"))]
    if t.heal:
        heal = span_id(t.key, "self_heal")
        spans.append(span("self_heal", "agent", root, t.heal[0].start, t.heal[-1].end, heal, role="refiner",
                          input={"value": f"{t.agent_id} v{t.version} failed its audits"},
                          output={"value": t.heal_outcome or ""}, metadata={"outcome": t.heal_outcome or ""}))
        spans += [llm(call, heal, span_id(t.key, f"heal{n}")) for n, call in enumerate(t.heal)]
    return spans


def verdict_evaluation(t: MessageTrace, env: str) -> dict[str, Any]:
    """The Auditor's verdict as a categorical evaluation joined to the trace's root span."""
    return {"join_on": {"span": {"span_id": span_id(t.key, "message"), "trace_id": trace_id(t.key)}},
            "ml_app": ML_APP, "timestamp_ms": int(round(t.audit.end * 1000)), "metric_type": "categorical",
            "label": VERDICT_LABEL, "categorical_value": t.verdict, "assessment": t.verdict,
            "reasoning": t.audit.output, "tags": trace_tags(t, env)}


def span_requests(traces: Iterable[Sequence[Mapping[str, Any]]], tags: Sequence[str] = ()
                  ) -> Iterator[tuple[bytes, int]]:
    """(body, span count) of spans intake requests, each under `MAX_REQUEST_BYTES` and `MAX_SPANS`; `traces` holds
    each trace's spans, and a trace is never split across requests."""
    head = orjson.dumps({"data": {"type": "span", "attributes": {"ml_app": ML_APP, "tags": list(tags), "spans": []}}})
    prefix, suffix = head[:-4], head[-4:]  # ...,"spans":[ | ]}}}
    batch: list[bytes] = []
    size = len(head)
    for trace in traces:
        raws = [orjson.dumps(span) for span in trace]
        grown = sum(len(raw) + 1 for raw in raws)
        if batch and (size + grown > MAX_REQUEST_BYTES or len(batch) + len(raws) > MAX_SPANS):
            yield prefix + b",".join(batch) + suffix, len(batch)
            batch, size = [], len(head)
        batch += raws
        size += grown
    if batch:
        yield prefix + b",".join(batch) + suffix, len(batch)


def evaluation_requests(metrics: Sequence[Mapping[str, Any]]) -> Iterator[tuple[bytes, int]]:
    """(body, evaluation count) of eval-metric intake requests of at most `MAX_EVALUATIONS` each."""
    for lo in range(0, len(metrics), MAX_EVALUATIONS):
        part = list(metrics[lo:lo + MAX_EVALUATIONS])
        yield orjson.dumps({"data": {"type": "evaluation_metric", "attributes": {"metrics": part}}}), len(part)
