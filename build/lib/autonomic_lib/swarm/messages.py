"""User messages of one agent: arrivals, tokens, latencies and cost, drawn a whole phase at a time.

Everything that does not depend on the loop's state is drawn here, vectorised; the loop later only
compares each message's audit draw with the fail rate of the version that answered it. Each
(agent, phase) has its own random stream, so the result does not depend on processing order.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from ..telemetry.prices import Price
from .models import MODELS
from .scenario import PromptInjection, ProviderSlowdown, Scenario

_STREAM_MESSAGES, _STREAM_INJECTIONS = 2, 1


@dataclass
class MessageBatch:
    """All messages of one agent over a run, ordered by arrival (epoch seconds).

    `version` and `failed` are filled by the loop; the rest is drawn up front.
    """

    time: np.ndarray
    phase: np.ndarray
    chat_in: np.ndarray
    chat_out: np.ndarray
    chat_think: np.ndarray
    audit_in: np.ndarray
    audit_out: np.ndarray
    audit_think: np.ndarray
    chat_latency: np.ndarray
    audit_latency: np.ndarray
    chat_cost: np.ndarray
    audit_cost: np.ndarray
    audit_draw: np.ndarray  # uniform; the answer fails its audit when below the answering version's fail rate
    log_draw: np.ndarray  # uniform; the thought process is logged when below the scenario's sample rate
    injected: np.ndarray
    version: np.ndarray
    failed: np.ndarray

    def __len__(self) -> int:
        return len(self.time)

    @property
    def cost(self) -> np.ndarray:
        """USD per message: the chatbot's call and its audit."""
        return self.chat_cost + self.audit_cost

    @property
    def e2e_latency(self) -> np.ndarray:
        """What the user waits: the answer, then its audit."""
        return self.chat_latency + self.audit_latency

    @property
    def done(self) -> np.ndarray:
        """When each message completed (arrival + end-to-end latency); metrics are flushed at this time."""
        return self.time + self.chat_latency + self.audit_latency

    def take(self, index: np.ndarray) -> "MessageBatch":
        """The messages at `index` (a slice, mask or index array)."""
        return MessageBatch(**{f.name: getattr(self, f.name)[index] for f in fields(self)})


def slowdown_windows(scenario: Scenario, start: float) -> list[tuple[float, float, float]]:
    """Absolute (start, end, factor) of every provider slowdown of the scenario."""
    out: list[tuple[float, float, float]] = []
    for offset, phase in zip(scenario.phase_starts(), scenario.phases):
        for fault in phase.faults:
            if isinstance(fault, ProviderSlowdown):
                out.extend((start + offset + a, start + offset + b, fault.factor) for a, b in fault.windows())
    return out


def slowdown_at(windows: list[tuple[float, float, float]], times: np.ndarray) -> np.ndarray:
    """The provider slowdown factor at each time (1 outside every window)."""
    factor = np.ones(len(times))
    for a, b, f in windows:
        factor[(times >= a) & (times < b)] *= f
    return factor


def injections(scenario: Scenario, seed: int, start: float) -> dict[str, list[tuple[float, int, int]]]:
    """Prompt-injection messages per agent: (arrival time, prompt tokens, phase index)."""
    ids = [a.agent_id for a in scenario.agents]
    out: dict[str, list[tuple[float, int, int]]] = {i: [] for i in ids}
    for p, (offset, phase) in enumerate(zip(scenario.phase_starts(), scenario.phases)):
        rng = np.random.default_rng([seed, _STREAM_INJECTIONS, p])
        for fault in phase.faults:
            if not isinstance(fault, PromptInjection):
                continue
            end = phase.duration if fault.end is None else min(fault.end, phase.duration)
            times = start + offset + np.sort(rng.uniform(fault.start, end, fault.count))
            targets = rng.choice(list(fault.agents or ids), fault.count)
            tokens = np.rint(rng.lognormal(np.log(fault.input_tokens), 0.15, fault.count)).astype(np.int64)
            for t, a, k in zip(times.tolist(), targets.tolist(), tokens.tolist()):
                out[a].append((t, k, p))
    return out


def draw_messages(scenario: Scenario, agent_index: int, seed: int, start: float, price: Price,
                  injected: list[tuple[float, int, int]], windows: list[tuple[float, float, float]]) -> MessageBatch:
    """Every message agent `agent_index` receives over the scenario, with its tokens, latency and cost."""
    parts = []
    for p, (offset, phase) in enumerate(zip(scenario.phase_starts(), scenario.phases)):
        rng = np.random.default_rng([seed, _STREAM_MESSAGES, p, agent_index])
        n = int(rng.poisson(phase.rate * phase.duration))
        times = start + offset + np.sort(rng.uniform(0.0, phase.duration, n))
        chat_in, chat_out, chat_think = MODELS["chatbot"].tokens(rng, n)
        mine = [(t, k) for t, k, q in injected if q == p]
        if mine:  # attacker messages: a huge prompt, the rest of the call as usual
            extra_out, extra_think = MODELS["chatbot"].tokens(rng, len(mine))[1:]
            times = np.concatenate([times, [t for t, _ in mine]])
            chat_in = np.concatenate([chat_in, [k for _, k in mine]])
            chat_out, chat_think = np.concatenate([chat_out, extra_out]), np.concatenate([chat_think, extra_think])
        m = len(times)
        audit_own, audit_out, audit_think = MODELS["auditor"].tokens(rng, m)
        parts.append(dict(
            time=times, phase=np.full(m, p, dtype=np.int16), chat_in=chat_in, chat_out=chat_out,
            chat_think=chat_think, audit_in=audit_own + chat_in + chat_out, audit_out=audit_out,
            audit_think=audit_think, chat_ttft=MODELS["chatbot"].ttft_s.draw(rng, m),
            audit_ttft=MODELS["auditor"].ttft_s.draw(rng, m), audit_draw=rng.random(m), log_draw=rng.random(m),
            injected=np.arange(m) >= n))
    cols = {k: np.concatenate([part[k] for part in parts]) for k in parts[0]}
    order = np.argsort(cols["time"], kind="stable")
    cols = {k: v[order] for k, v in cols.items()}
    slow = slowdown_at(windows, cols["time"])
    chat_latency = MODELS["chatbot"].latency(cols.pop("chat_ttft"), cols["chat_in"], cols["chat_out"],
                                             cols["chat_think"], slow)
    # The audit starts when the answer is ready; a slow window covers both calls in practice.
    audit_latency = MODELS["auditor"].latency(cols.pop("audit_ttft"), cols["audit_in"], cols["audit_out"],
                                              cols["audit_think"], slow)
    n = len(cols["time"])
    return MessageBatch(
        chat_latency=chat_latency, audit_latency=audit_latency,
        chat_cost=np.asarray(price.cost(cols["chat_in"], cols["chat_out"], cols["chat_think"])),
        audit_cost=np.asarray(price.cost(cols["audit_in"], cols["audit_out"], cols["audit_think"])),
        version=np.zeros(n, dtype=np.int32), failed=np.zeros(n, dtype=bool), **cols)
