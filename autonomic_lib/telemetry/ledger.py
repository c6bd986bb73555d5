"""The ledger: every point, log and event the backend acknowledged, and what each phase did.

Entries are written only after the backend accepted them, so reconciliation compares what Datadog
(or the sandbox) returns against what it really acknowledged. Per series the ledger keeps the
point count, value sum and time range, and optionally the points themselves for a point-by-point
check. Phase summaries come from the simulation's per-message values (quantiles via a sketch).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import orjson
import pandas as pd

from ..series import Series
from .points import SeriesKey, tag_value
from .sketch import QuantileSketch

SUMMARY_ROLES = ("user", "chatbot", "auditor", "refiner", "evaluator")  # "user": end-to-end latency


@dataclass
class SeriesEntry:
    """What was acknowledged for one series."""

    points: int = 0
    total: float = 0.0
    first: int | None = None
    last: int | None = None
    ts: list[np.ndarray] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)


@dataclass
class PhaseSummary:
    """What happened in one phase of the run."""

    name: str
    start: int
    end: int
    messages: int = 0
    passed: int = 0
    failed: int = 0
    attempts: int = 0
    rejected: int = 0
    deployments: int = 0
    optimizations_failed: int = 0
    breaches: int = 0
    points: int = 0
    logs: int = 0
    events: int = 0
    cost: QuantileSketch = field(default_factory=QuantileSketch)
    latency: dict[str, QuantileSketch] = field(default_factory=lambda: {r: QuantileSketch() for r in SUMMARY_ROLES})

    def row(self) -> dict[str, Any]:
        """One flat row for a table: counts, cost p50/max, latency p50/p95 per role."""
        out: dict[str, Any] = {"phase": self.name, "messages": self.messages, "pass": self.passed, "fail": self.failed,
                               "optimization_attempts": self.attempts, "rejected": self.rejected,
                               "optimization_successes": self.deployments,
                               "optimization_failures": self.optimizations_failed, "deployments": self.deployments,
                               "budget_breaches": self.breaches, "cost_p50": self.cost.quantile(0.5),
                               "cost_max": self.cost.quantile(1.0)}
        for role, sketch in self.latency.items():
            out[f"{role}_latency_p50"] = sketch.quantile(0.5)
            out[f"{role}_latency_p95"] = sketch.quantile(0.95)
        out.update(points=self.points, logs=self.logs, events=self.events)
        return out


@dataclass(kw_only=True)
class Ledger:
    """Everything a run sent and had acknowledged, plus its timeline and per-phase summary."""

    scenario: str
    seed: int
    env: str
    pacing: str
    start: int
    end: int
    phases: dict[str, PhaseSummary]
    keep_points: bool = True
    series: dict[SeriesKey, SeriesEntry] = field(default_factory=dict)
    logs: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (phase, service, status) -> count
    events: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    bytes_sent: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # not sent because Datadog would refuse them (reason -> n)
    # LLM Observability: traces, spans and evaluations acknowledged, and the uniform sample rate of the run
    traces: dict[str, float] = field(default_factory=lambda: {"traces": 0, "spans": 0, "evaluations": 0})

    # --- recording (only after the backend acknowledged) ---
    def record_series(self, series: Sequence[Series], requests: int = 0, bytes_sent: int = 0) -> None:
        for s in series:
            key = (s.metric, tuple(s.tags))
            entry = self.series.get(key)
            if entry is None:
                entry = self.series[key] = SeriesEntry()
            n = len(s.values)
            if n == 0:
                continue
            entry.points += n
            entry.total += math.fsum(s.values.tolist())
            first, last = int(s.timestamps[0]), int(s.timestamps[-1])
            entry.first = first if entry.first is None else min(entry.first, first)
            entry.last = last if entry.last is None else max(entry.last, last)
            if self.keep_points:
                entry.ts.append(s.timestamps)
                entry.values.append(s.values)
            phase = tag_value(key[1], "phase")
            if phase in self.phases:
                self.phases[phase].points += n
        self.requests += requests
        self.bytes_sent += bytes_sent

    def record_logs(self, items: Sequence[Mapping[str, Any]]) -> None:
        for item in items:
            phase = str(item.get("phase", ""))
            key = (phase, str(item["service"]), str(item.get("status", "info")))
            self.logs[key] = self.logs.get(key, 0) + 1
            if phase in self.phases:
                self.phases[phase].logs += 1

    def record_event(self, body: Mapping[str, Any], event_id: str) -> None:
        self.events.append({"id": event_id, **{k: v for k, v in body.items() if k != "text"}})
        phase = next((t.split(":", 1)[1] for t in body.get("tags", []) if t.startswith("phase:")), "")
        if phase in self.phases:
            self.phases[phase].events += 1

    def record_traces(self, traces: int, spans: int, evaluations: int) -> None:
        for key, n in (("traces", traces), ("spans", spans), ("evaluations", evaluations)):
            self.traces[key] = self.traces.get(key, 0) + n

    # --- reading ---
    @property
    def points(self) -> int:
        return sum(e.points for e in self.series.values())

    @property
    def log_count(self) -> int:
        return sum(self.logs.values())

    def summary(self) -> pd.DataFrame:
        """One row per phase (messages, verdicts, optimizations, cost and latency quantiles, points/logs/events sent)."""
        return pd.DataFrame([p.row() for p in self.phases.values()]).set_index("phase")

    def cardinality(self) -> pd.DataFrame:
        """Custom-metric cardinality: distinct series (metric + tag values) per metric the run created."""
        rows: dict[str, dict[str, Any]] = {}
        for metric, tags in self.series:
            row = rows.setdefault(metric, {"metric": metric, "series": 0, "tag_keys": set()})
            row["series"] += 1
            row["tag_keys"].update(t.split(":", 1)[0] for t in tags)
        frame = pd.DataFrame([{**r, "tag_keys": ",".join(sorted(r["tag_keys"]))} for r in rows.values()])
        if frame.empty:
            return pd.DataFrame(columns=["series", "tag_keys"])
        return frame.sort_values("metric").set_index("metric")

    def digest(self) -> str:
        """A hash of everything acknowledged (series totals, log counts, event bodies) but not backend ids."""
        h = hashlib.sha256()
        for key in sorted(self.series):
            e = self.series[key]
            h.update(repr((key, e.points, e.total, e.first, e.last)).encode())
        h.update(repr(sorted(self.logs.items())).encode())
        h.update(repr([{k: v for k, v in e.items() if k != "id"} for e in self.events]).encode())
        return h.hexdigest()

    def points_of(self, key: SeriesKey) -> tuple[np.ndarray, np.ndarray]:
        """The acknowledged (timestamps, values) of one series, sorted by time (needs keep_points)."""
        e = self.series[key]
        if not self.keep_points:
            raise ValueError("this ledger kept totals only (keep_points=False)")
        ts, values = np.concatenate(e.ts), np.concatenate(e.values)
        order = np.argsort(ts, kind="stable")
        return ts[order], values[order]

    # --- on disk: JSON, never pickle (a state folder is data, not code) ---
    def to_json(self) -> bytes:
        """The whole ledger as JSON (points included when kept); `from_json` reads it back exactly."""
        series = []
        for (metric, tags), e in self.series.items():
            entry: dict[str, Any] = {"metric": metric, "tags": list(tags), "points": e.points, "total": e.total,
                                     "first": e.first, "last": e.last}
            if self.keep_points:
                ts, values = (np.concatenate(e.ts), np.concatenate(e.values)) if e.ts else ([], [])
                entry.update(ts=ts, values=values)
            series.append(entry)
        body = {"format": LEDGER_FORMAT, "scenario": self.scenario, "seed": self.seed, "env": self.env,
                "pacing": self.pacing, "start": self.start, "end": self.end, "keep_points": self.keep_points,
                "phases": [_phase_json(p) for p in self.phases.values()], "series": series,
                "logs": [[*key, n] for key, n in self.logs.items()], "events": self.events,
                "requests": self.requests, "bytes_sent": self.bytes_sent, "skipped": self.skipped,
                "traces": self.traces}
        return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)

    @classmethod
    def from_json(cls, raw: bytes) -> Ledger:
        """A ledger written by `to_json`; ValueError naming what is wrong otherwise."""
        try:
            data = orjson.loads(raw)
            if data.get("format") != LEDGER_FORMAT:
                raise ValueError(f"format {data.get('format')!r} is not {LEDGER_FORMAT!r}")
            ledger = cls(scenario=data["scenario"], seed=data["seed"], env=data["env"], pacing=data["pacing"],
                         start=data["start"], end=data["end"], keep_points=data["keep_points"],
                         phases={p["name"]: _phase_of(p) for p in data["phases"]}, events=data["events"],
                         requests=data["requests"], bytes_sent=data["bytes_sent"], skipped=data["skipped"])
            ledger.traces.update(data.get("traces", {}))
            ledger.logs = {(phase, service, status): n for phase, service, status, n in data["logs"]}
            for s in data["series"]:
                entry = SeriesEntry(points=s["points"], total=s["total"], first=s["first"], last=s["last"])
                if ledger.keep_points:
                    entry.ts = [np.asarray(s["ts"], dtype=np.int64)]
                    entry.values = [np.asarray(s["values"], dtype=np.float64)]
                ledger.series[(s["metric"], tuple(s["tags"]))] = entry
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a ledger of this kit: {exc}") from None
        return ledger


LEDGER_FORMAT = "autonomic-kit ledger 1"
_PHASE_COUNTS = ("messages", "passed", "failed", "attempts", "rejected", "deployments", "optimizations_failed",
                 "breaches", "points", "logs", "events")


def _phase_json(p: PhaseSummary) -> dict[str, Any]:
    return {"name": p.name, "start": p.start, "end": p.end, **{k: getattr(p, k) for k in _PHASE_COUNTS},
            "cost": p.cost.to_json(), "latency": {role: s.to_json() for role, s in p.latency.items()}}


def _phase_of(data: dict[str, Any]) -> PhaseSummary:
    return PhaseSummary(name=data["name"], start=data["start"], end=data["end"],
                        **{k: data[k] for k in _PHASE_COUNTS}, cost=QuantileSketch.from_json(data["cost"]),
                        latency={role: QuantileSketch.from_json(s) for role, s in data["latency"].items()})
