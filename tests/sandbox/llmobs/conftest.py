"""Builders of LLM Observability payloads in Datadog's documented format (the HTTP API page's Spans and
Evaluations APIs), shared by the backend, route and fuzz tests."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from autonomic_lib.sandbox.llmobs.backend import LLMObs, SpanFilter
from autonomic_lib.sandbox.metrics.backend import Metrics
from autonomic_lib.sandbox.metrics.intake import IntakePolicy
from autonomic_lib.sandbox.metrics.store import MetricStore
from autonomic_lib.sandbox.storage.database import open_database
from autonomic_lib.sandbox.storage.documents import DocumentStore


def now_ns() -> int:
    return time.time_ns() - 60 * 10**9  # a minute ago: inside the intake's 24 h and the default 15 min search


def span(trace_id: str, span_id: str, *, kind: str = "llm", parent_id: str = "undefined", start_ns: int | None = None,
         duration: float = 2e9, status: str = "ok", tags: list[str] | None = None, **meta: Any) -> dict[str, Any]:
    """One span of the documented format; an llm span carries a model and token metrics unless `meta` says else."""
    body: dict[str, Any] = {"kind": kind, "input": {"value": "hello"}, "output": {"value": "hi"}, **meta}
    if kind == "llm":
        body.setdefault("metadata", {"model_name": "gemini-2.5-flash", "model_provider": "google"})
    return {"trace_id": trace_id, "span_id": span_id, "parent_id": parent_id, "name": f"{kind}-step",
            "start_ns": start_ns or now_ns(), "duration": duration, "status": status, "meta": body,
            "metrics": {"input_tokens": 10, "output_tokens": 4, "total_tokens": 14, "input_cost": 0.001,
                        "output_cost": 0.002} if kind == "llm" else {},
            "tags": tags or []}


def spans_payload(ml_app: str, *spans: dict[str, Any], tags: list[str] | None = None) -> dict[str, Any]:
    return {"data": {"type": "span", "attributes": {"ml_app": ml_app, "tags": tags or ["env:test", "service:swarm"],
                                                     "spans": list(spans)}}}


def trace(ml_app: str, *, start_ns: int | None = None) -> tuple[str, dict[str, Any]]:
    """A workflow root holding an llm span: (trace_id, payload)."""
    trace_id = uuid.uuid4().hex
    t = start_ns or now_ns()
    return trace_id, spans_payload(ml_app, span(trace_id, "1", kind="workflow", start_ns=t, duration=3e9),
                                   span(trace_id, "2", parent_id="1", start_ns=t + 10**8))


def evaluation(ml_app: str, *, join: dict[str, Any], label: str = "verdict", value: Any = "pass",
               metric_type: str = "categorical", timestamp_ms: int | None = None, **extra: Any) -> dict[str, Any]:
    return {"join_on": join, "ml_app": ml_app, "timestamp_ms": timestamp_ms or time.time_ns() // 10**6,
            "metric_type": metric_type, "label": label, f"{metric_type}_value": value, **extra}


def evaluations_payload(*metrics: dict[str, Any]) -> dict[str, Any]:
    return {"data": {"type": "evaluation_metric", "attributes": {"metrics": list(metrics)}}}


@pytest.fixture
def llmobs() -> LLMObs:
    """A backend over an in-memory database, for the tests without HTTP."""
    database = open_database(None)
    return LLMObs(DocumentStore(database), Metrics(MetricStore(database=database), IntakePolicy(), None))


def everything(llmobs: LLMObs, **fields: Any) -> list[dict[str, Any]]:
    """Every span of the last hour matching `fields` (SpanFilter's), newest first."""
    now_ms = time.time_ns() // 10**6
    return llmobs.search(SpanFilter(start_ms=now_ms - 3_600_000, end_ms=now_ms, **fields), limit=5000).spans


def points(llmobs: LLMObs, metric: str) -> dict[tuple[str, ...], float]:
    """Every series of `metric` with the sum of its points."""
    store = llmobs.metrics.store
    found = {}
    for series in store.series(metric):
        _, _, values = store.points([series.id], 0, 2**40)
        found[series.tags] = float(values.sum())
    return found
