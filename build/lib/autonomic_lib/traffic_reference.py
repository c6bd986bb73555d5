"""The same aggregation, one message at a time in plain Python: the yardstick for `traffic.aggregate_run`.

`reference_points` aggregates each message of an agent's run into per-window lists the obvious way.
Tests check that the vectorised aggregation produces identical points; the benchmark times both on
the same sample (with `swarm.reference.run_agent_reference` for the loop).
"""

from __future__ import annotations

from typing import Sequence

from .swarm.engine import AgentRun
from .telemetry.aggregate import aggregate_counts
from .telemetry.points import FLUSH_INTERVAL, PointBuffer
from .telemetry.records import ROLE_SERVICE

Points = dict[tuple[str, tuple[str, ...]], tuple[list[int], list[float]]]


def reference_points(run: AgentRun, names: Sequence[str], env: str, budget_usd: float) -> Points:
    """Flushed points of one agent's messages, aggregated per message into per-window lists."""
    m = run.messages
    windows: dict[tuple[str, tuple[str, ...], int], list[float]] = {}
    counts: dict[tuple[str, tuple[str, ...], int], float] = {}

    def tags(emitter: str, version: int, phase: str, **extra: str) -> tuple[str, ...]:
        base = [f"env:{env}", f"service:{ROLE_SERVICE[emitter]}", f"version:v{version}", f"agent_id:{run.agent_id}",
                f"phase:{phase}"]
        return tuple(base + [f"{k}:{v}" for k, v in extra.items()])

    cols = zip(m.time.tolist(), m.phase.tolist(), m.version.tolist(), m.failed.tolist(), m.chat_latency.tolist(),
               m.audit_latency.tolist(), m.chat_cost.tolist(), m.audit_cost.tolist(), m.chat_in.tolist(),
               m.chat_out.tolist(), m.chat_think.tolist(), m.audit_in.tolist(), m.audit_out.tolist(),
               m.audit_think.tolist())
    for (t, p, v, failed, chat_lat, audit_lat, chat_cost, audit_cost, ci, co, ct, ai, ao, at) in cols:
        phase, done = names[p], t + chat_lat + audit_lat
        b_done = int(done // FLUSH_INTERVAL * FLUSH_INTERVAL)
        b_chat = int((t + chat_lat) // FLUSH_INTERVAL * FLUSH_INTERVAL)
        chat = tags("chatbot", v, phase)
        cost = chat_cost + audit_cost
        windows.setdefault(("autonomic.agent.cost", chat, b_done), []).append(cost)
        windows.setdefault(("autonomic.agent.latency", chat, b_done), []).append(chat_lat + audit_lat)
        counts[("autonomic.agent.messages", chat, b_done)] = counts.get(("autonomic.agent.messages", chat, b_done), 0) + 1
        counts[("autonomic.agent.version", chat, b_done)] = float(v)
        verdict = ("autonomic.audit.verdict", tags("auditor", v, phase, verdict="fail" if failed else "pass"), b_done)
        counts[verdict] = counts.get(verdict, 0) + 1
        if cost > budget_usd:
            key = ("autonomic.budget.breach.amount", chat, b_done)
            counts[key] = max(counts.get(key, 0.0), cost)
        for role, b, lat, c, tokens in (("chatbot", b_chat, chat_lat, chat_cost, (ci, co, ct)),
                                        ("auditor", b_done, audit_lat, audit_cost, (ai, ao, at))):
            rt = tags(role, v, phase, role=role)
            windows.setdefault(("autonomic.component.latency", rt, b), []).append(lat)
            for kind, n in zip(("input", "output", "thinking"), tokens):
                key = (f"autonomic.tokens.{kind}", rt, b)
                counts[key] = counts.get(key, 0) + n
            key = ("autonomic.agent.cost.total", tags(role, v, phase), b)
            counts[key] = counts.get(key, 0.0) + c
    out: Points = {}

    def put(metric: str, tag_set: tuple[str, ...], bucket: int, value: float) -> None:
        ts, values = out.setdefault((metric, tag_set), ([], []))
        ts.append(bucket)
        values.append(value)

    for (metric, tag_set, bucket), value in sorted(counts.items()):
        put(metric, tag_set, bucket, float(value))
    for (metric, tag_set, bucket), values in sorted(windows.items()):
        values.sort()
        n = len(values)
        stats = {"avg": sum(values) / n, "median": values[(n - 1) // 2], "95percentile": values[(95 * n - 1) // 100],
                 "max": values[-1]}
        if metric == "autonomic.agent.cost":
            stats = {"": stats["avg"], ".max": stats["max"], ".95percentile": stats["95percentile"]}
        elif metric == "autonomic.component.latency":
            stats = {f".{k}": stats[k] for k in ("avg", "95percentile", "max")}
        else:
            stats = {f".{k}": v for k, v in stats.items()}
        for suffix, value in stats.items():
            put(metric + suffix, tag_set, bucket, value)
    return out


def loop_points(run: AgentRun, names: Sequence[str], env: str) -> PointBuffer:
    """Points of the loop's counters (rare; aggregated the vectorised way in both paths)."""
    buf = PointBuffer(env)
    aggregate_counts(buf, run.agent_id, names, run.counts)
    return buf
