"""Datadog's standard LLM Observability metrics, derived from the stored spans into the metrics product.

Names, types and tags are those of docs.datadoghq.com/llm_observability/monitoring/metrics/ (the DataDog/
documentation repository's `content/en/llm_observability/monitoring/metrics.md`, "Span metrics", "LLM token
metrics", "LLM cost metrics", "Trace metrics"): `ml_obs.span`, `ml_obs.span.error` and `ml_obs.trace`,
`ml_obs.trace.error` are counts; `ml_obs.span.duration`, `ml_obs.trace.duration` (seconds), the token metrics
`ml_obs.span.llm.{input,output,total}.tokens`, `ml_obs.span.llm.output.reasoning.tokens`,
`ml_obs.span.embedding.input.tokens` and the cost metrics `ml_obs.span.llm.{input,output,total}.cost`
(nanodollars, "The unit for LLM Observability estimated cost metrics is nanodollars", monitoring/cost.md) are
distributions. Tags: `env`, `error`, `ml_app`, `model_name`, `model_provider`, `service`, `span_kind` (span and
trace metrics), `version`, and `source` on costs; "Other tags set on spans are not available as tags".

Where the sandbox differs, on purpose:

- It has no distribution type (nor DogStatsD's). A distribution is stored as a gauge, one point per series and
  10 s bucket holding the mean of the bucket's values (`avg:` reads as on Datadog; `sum:` of a distribution is the
  sum of those means, not of every value: multiply by `ml_obs.span` for totals). Counts hold each bucket's count.
- Costs come only from what a span reports (`input_cost`, `output_cost`, `total_cost` metrics, dollars, as the SDK
  documents), tagged `source:user`; the sandbox has no price list to estimate others (Datadog's `source:auto`).
- Datadog derives the metrics as spans arrive; the sandbox recomputes every 10 s bucket a request touched from all
  the spans stored in it, so a span sent twice (same ids) counts once and the store's "last point wins" is right.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable

import numpy as np

from autonomic_lib.sandbox.metrics.intake import normalise_tag
from autonomic_lib.sandbox.metrics.store import SeriesPoints

BUCKET_SECONDS = 10
_DIMENSIONS = ("env", "service", "version")  # taken from the span's tags; ml_app, kind, model, error from the span
_TOKENS = {"input_tokens": "input.tokens", "output_tokens": "output.tokens", "total_tokens": "total.tokens",
           "reasoning_output_tokens": "output.reasoning.tokens"}
_COSTS = {"input_cost": "input.cost", "output_cost": "output.cost", "total_cost": "total.cost"}
NANODOLLARS = 1e9


def bucket_of(start_ns: int) -> int:
    """The start (epoch s) of the 10 s bucket a span starting at `start_ns` counts in."""
    second = start_ns // 10**9
    return second - second % BUCKET_SECONDS


def span_costs(metrics: dict[str, float]) -> dict[str, float]:
    """A span's reported costs (dollars) by key; the total is input + output when not reported."""
    costs = {k: metrics[k] for k in _COSTS if k in metrics}
    if "total_cost" not in costs and ("input_cost" in costs or "output_cost" in costs):
        costs["total_cost"] = costs.get("input_cost", 0.0) + costs.get("output_cost", 0.0)
    return costs


def metric_points(spans: Iterable[dict[str, Any]]) -> list[SeriesPoints]:
    """Every standard metric of `spans` (the whole content of the buckets they fall in): a point per series and
    bucket, each series' points together."""
    counts: dict[tuple[str, tuple[str, ...], int], int] = defaultdict(int)
    values: dict[tuple[str, tuple[str, ...], int], list[float]] = defaultdict(list)
    for span in spans:
        bucket = bucket_of(span["start_ns"])
        tags = _tags(span)
        error = span["status"] == "error"
        with_kind = (*tags, f"span_kind:{span['span_kind']}")  # kinds are lowercase words already
        counts[("ml_obs.span", with_kind, bucket)] += 1
        counts[("ml_obs.span.error", with_kind, bucket)] += error
        values[("ml_obs.span.duration", with_kind, bucket)].append(span["duration"] / 1e9)
        if span["parent_id"] == "undefined":
            trace_tags = tuple(t for t in with_kind if not t.startswith(("model_name:", "model_provider:")))
            counts[("ml_obs.trace", trace_tags, bucket)] += 1
            counts[("ml_obs.trace.error", trace_tags, bucket)] += error
            values[("ml_obs.trace.duration", trace_tags, bucket)].append(span["duration"] / 1e9)
        metrics = span.get("metrics", {})
        if span["span_kind"] == "llm":
            for key, suffix in _TOKENS.items():
                if key in metrics:
                    values[(f"ml_obs.span.llm.{suffix}", tags, bucket)].append(metrics[key])
            for key, dollars in span_costs(metrics).items():
                values[(f"ml_obs.span.llm.{_COSTS[key]}", (*tags, "source:user"), bucket)].append(dollars * NANODOLLARS)
        elif span["span_kind"] == "embedding":
            if "input_tokens" in metrics:
                values[("ml_obs.span.embedding.input.tokens", tags, bucket)].append(metrics["input_tokens"])
            if "input_cost" in metrics:
                values[("ml_obs.span.embedding.input.cost", (*tags, "source:user"), bucket)].append(
                    metrics["input_cost"] * NANODOLLARS)
    by_series: dict[tuple[str, tuple[str, ...], str], list[tuple[int, float]]] = defaultdict(list)
    for (name, tags, bucket), n in counts.items():
        by_series[(name, tags, "count")].append((bucket, float(n)))
    for (name, tags, bucket), v in values.items():
        by_series[(name, tags, "gauge")].append((bucket, float(np.mean(v))))
    return [_series(name, tags, kind, sorted(points)) for (name, tags, kind), points in by_series.items()]


def _tags(span: dict[str, Any]) -> tuple[str, ...]:
    own = {t.split(":", 1)[0]: t for t in span["tags"] if ":" in t and not t.endswith(":")}  # ddtrace sends "env:"
    tags = [own[k] for k in _DIMENSIONS if k in own]
    tags += [f"ml_app:{span['ml_app']}", f"error:{int(span['status'] == 'error')}"]
    tags += [f"{k}:{span[k]}" for k in ("model_name", "model_provider") if span.get(k)]
    return tuple(normalise_tag(t) for t in tags)


def _series(name: str, tags: tuple[str, ...], kind: str, points: list[tuple[int, float]]) -> SeriesPoints:
    """One series' points, a point per bucket: one entry of the store's write however many buckets a request
    touched (a write per bucket and series was most of a traced full day's intake)."""
    return SeriesPoints(name, tags, np.array([b for b, _ in points], dtype=np.int64),
                        np.array([v for _, v in points], dtype=np.float64), type=kind,
                        interval=BUCKET_SECONDS if kind == "count" else None)
