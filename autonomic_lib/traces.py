"""The read side of LLM Observability: spans through the Export API, each incident's worst trace, the verdicts' pass rate.

`POST /api/v2/llm-obs/v1/spans/events/search` (Datadog's Export API; the client's `search_llm_obs_spans`, which
builds one model object per span, is bypassed for bulk reads as `analysis.query_frame` bypasses `query_metrics`):
filter by time (`from`/`to`, epoch ms), `ml_app`, `span_kind`, `span_name`, `trace_id` and `tags`; pages of up to
5,000 spans follow `meta.page.after`. Each span comes with its evaluations (`evaluation.<label>`), so the Auditor's
verdicts are read from the root spans of the uniformly sampled traces (`sampled:true`): their pass rate estimates
the metric pass rate, exactly when the whole run was traced, within sampling error otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

import orjson
import pandas as pd
from datadog_api_client import ApiClient

from .client import raw_request
from .links import page_url
from .settings import Settings
from .telemetry.traces import BUDGET_BREACH, LATENCY_SPIKE, ML_APP, OPTIMIZATION, ROOT_PARENT, VERDICT_LABEL

SEARCH_PATH = "/api/v2/llm-obs/v1/spans/events/search"
PAGE_LIMIT = 5000  # the Export API's largest page
MAX_SPANS = 200_000  # a bound on one read-back (pages x limit); a run's traces stay far below it
NANODOLLARS = 1e9
# The monitor each incident trace answers (analysis.short_name of the kit's monitors), what tags find its traces,
# how far before the alert they are looked for, and which trace is the worst.
INCIDENTS: Mapping[str, tuple[str, int]] = {"Budget breach": (BUDGET_BREACH, 15 * 60),
                                            "Latency anomaly": (LATENCY_SPIKE, 30 * 60),
                                            "Optimization failure": (OPTIMIZATION, 15 * 60)}
TREE_COLUMNS = ("span", "kind", "start s", "duration s", "model", "input tokens", "output tokens",
                "thinking tokens", "cost $", "verdict")


def search_spans(api_client: ApiClient, start: int, end: int, *, span_kind: str | None = None,
                 span_name: str | None = None, trace_id: str | None = None, tags: Mapping[str, str] | None = None,
                 ml_app: str = ML_APP, page_limit: int = PAGE_LIMIT) -> Iterator[dict[str, Any]]:
    """Every span matching the filter that started in [start, end] (epoch s), oldest first, with its evaluations;
    `page_limit` spans per request (a smaller page holds less in memory at once)."""
    filt: dict[str, Any] = {"from": str(start * 1000), "to": str(end * 1000), "ml_app": ml_app}
    filt.update({k: v for k, v in (("span_kind", span_kind), ("span_name", span_name), ("trace_id", trace_id))
                 if v is not None})
    if tags:
        filt["tags"] = dict(tags)
    cursor: str | None = None
    for _ in range(-(-MAX_SPANS // page_limit)):
        page: dict[str, Any] = {"limit": page_limit, **({"cursor": cursor} if cursor else {})}
        body = {"data": {"type": "spans", "attributes": {"filter": filt, "page": page, "sort": "timestamp"}}}
        answer = orjson.loads(raw_request(api_client, "POST", SEARCH_PATH, body=orjson.dumps(body), app_key=True,
                                          headers={"Content-Type": "application/vnd.api+json"}))
        for item in answer.get("data") or []:
            yield item["attributes"]
        cursor = ((answer.get("meta") or {}).get("page") or {}).get("after")
        if not cursor:
            return


def verdict_of(span: Mapping[str, Any]) -> str | None:
    """The Auditor's verdict evaluation on a span ("pass" / "fail"), or None."""
    evaluation = (span.get("evaluation") or {}).get(VERDICT_LABEL)
    return None if evaluation is None else str(evaluation.get("value"))


def span_cost(span: Mapping[str, Any]) -> float:
    """USD of a span: the cost sent with it (dollars), else Datadog's estimate (nanodollars)."""
    metrics = span.get("metrics") or {}
    if "total_cost" in metrics:
        return float(metrics["total_cost"])
    return float(metrics.get("estimated_total_cost", 0.0)) / NANODOLLARS


@dataclass(frozen=True)
class PassRates:
    """The Auditor's pass rate two ways: the evaluations of the sampled traces, and the metric over every message."""

    evaluations: int
    evaluation_pass_rate: float  # %
    metric_pass_rate: float  # %
    tolerance: float  # percentage points: 0 when every message was traced, else 3 standard errors of the sample

    @property
    def agree(self) -> bool:
        return abs(self.evaluation_pass_rate - self.metric_pass_rate) <= self.tolerance + 1e-9

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({"pass rate %": [self.evaluation_pass_rate, self.metric_pass_rate],
                             "messages": [self.evaluations, None]},
                            index=pd.Index(["LLM Obs evaluations (sampled traces)", "metric autonomic.audit.verdict"]))


def metric_pass_rate(api_client: ApiClient, env: str, start: int, end: int) -> float:
    """The dashboard's pass rate over [start, end]: pass / (pass + fail) of `autonomic.audit.verdict`, in %."""
    from .analysis import counts_by

    counts = counts_by(api_client, "autonomic.audit.verdict", "verdict", f"env:{env}", start, end, max(end - start, 1))
    passed = float(counts["pass"].sum()) if "pass" in counts else 0.0
    failed = float(counts["fail"].sum()) if "fail" in counts else 0.0
    return 100.0 * passed / (passed + failed) if passed + failed else float("nan")


def pass_rates(api_client: ApiClient, env: str, start: int, end: int, *, sample_rate: float,
               metric_rate: float | None = None) -> PassRates:
    """The verdicts' pass rate over the uniformly sampled traces of `env`, next to the metric's (queried when not
    given), in %; `sample_rate` is the run's (the ledger's `traces["sample_rate"]`)."""
    metric = metric_pass_rate(api_client, env, start, end) if metric_rate is None else metric_rate
    verdicts = [verdict_of(span) for span in search_spans(api_client, start, end, span_kind="workflow",
                                                           tags={"env": env, "sampled": "true"})
                if span.get("parent_id") == ROOT_PARENT]
    judged = [v for v in verdicts if v is not None]
    n = len(judged)
    rate = 100.0 * sum(v == "pass" for v in judged) / n if n else float("nan")
    p = metric / 100.0
    tolerance = 0.0 if sample_rate >= 1.0 else 300.0 * math.sqrt(max(p * (1 - p), 1e-12) / max(n, 1))
    return PassRates(n, rate, metric, tolerance)


def _group_tags(group: object) -> dict[str, str]:
    """"agent_id:agent-02,failure_reason:x" -> {"agent_id": "agent-02", ...}; "*" or None -> {}."""
    pairs = [part.split(":", 1) for part in str(group or "").split(",") if ":" in part]
    return {k: v for k, v in pairs}


def _worst(incident: str, roots: list[dict[str, Any]], costs: Mapping[str, float]) -> dict[str, Any] | None:
    if not roots:
        return None
    if incident == "Budget breach":
        return max(roots, key=lambda r: costs.get(r["trace_id"], 0.0))
    if incident == "Latency anomaly":
        return max(roots, key=lambda r: float((r.get("metadata") or {}).get("user_latency_s", 0.0)))
    failed = [r for r in roots if verdict_of(r) == "fail"]
    return max(failed or roots, key=lambda r: r["start_ns"])  # the healing that led to the alert: the latest


def trace_link(settings: Settings, trace_id: str) -> str | None:
    """The sandbox's trace page (with its token, links.py); None on Datadog, whose trace view the kit does not link."""
    if not settings.is_sandbox or settings.api_key is None:
        return None
    return page_url(settings.app_url, "llm_trace", trace_id, api_key=settings.api_key.reveal())


def incident_traces(api_client: ApiClient, env: str, history: pd.DataFrame, settings: Settings | None = None
                    ) -> pd.DataFrame:
    """For each alert of the kit's monitors in `history` (analysis.monitor_history): the worst trace behind it.

    Columns: monitor, group, alert at, trace_id, why (its incident tag), cost $, user latency s, verdict, link (the
    sandbox's trace page, when `settings` is a sandbox's) and `spans` (the trace's span tree, `span_tree`). An alert
    with no trace in its window has trace_id None.
    """
    rows = []
    for alert in history[history["to"] == "Alert"].itertuples():
        incident_tag, before = INCIDENTS.get(str(alert.monitor), (None, 0))
        if incident_tag is None:
            continue
        at = int(pd.Timestamp(alert.at).timestamp())
        tags = {"env": env, "incident": incident_tag}
        agent = _group_tags(alert.group).get("agent_id")
        if agent:
            tags["agent_id"] = agent
        roots = [s for s in search_spans(api_client, at - before, at + 60, span_kind="workflow", tags=tags)
                 if s.get("parent_id") == ROOT_PARENT]
        costs: dict[str, float] = {}
        if alert.monitor == "Budget breach":
            for span in search_spans(api_client, at - before, at + 60, span_kind="llm", tags=tags):
                costs[span["trace_id"]] = costs.get(span["trace_id"], 0.0) + span_cost(span)
        worst = _worst(str(alert.monitor), roots, costs)
        row: dict[str, Any] = {"monitor": alert.monitor, "group": alert.group, "alert at": alert.at,
                               "trace_id": None, "why": incident_tag, "cost $": None, "user latency s": None,
                               "verdict": None, "link": None, "spans": pd.DataFrame(columns=TREE_COLUMNS)}
        if worst is not None:
            spans = list(search_spans(api_client, at - before - 600, at + 3600, trace_id=worst["trace_id"]))
            tree = span_tree(spans)
            row.update({"trace_id": worst["trace_id"], "cost $": float(tree["cost $"].sum()),
                        "user latency s": float((worst.get("metadata") or {}).get("user_latency_s", math.nan)),
                        "verdict": verdict_of(worst), "spans": tree,
                        "link": trace_link(settings, worst["trace_id"]) if settings is not None else None})
        rows.append(row)
    return pd.DataFrame(rows, columns=["monitor", "group", "alert at", "trace_id", "why", "cost $", "user latency s",
                                       "verdict", "link", "spans"])


def span_tree(spans: list[dict[str, Any]]) -> pd.DataFrame:
    """One trace's spans in tree order (parents before children, siblings by start), indented by depth: start
    offset and duration in seconds, model, tokens (output without thinking; thinking apart), cost, verdict."""
    by_parent: dict[str, list[dict[str, Any]]] = {}
    ids = {s["span_id"] for s in spans}
    for span in spans:
        parent = span.get("parent_id") if span.get("parent_id") in ids else ROOT_PARENT
        by_parent.setdefault(str(parent), []).append(span)
    t0 = min((s["start_ns"] for s in spans), default=0)
    rows: list[dict[str, Any]] = []

    def walk(parent: str, depth: int) -> None:
        for span in sorted(by_parent.get(parent, []), key=lambda s: (s["start_ns"], s["span_id"])):
            metrics = span.get("metrics") or {}
            thinking = metrics.get("reasoning_output_tokens")
            output = metrics.get("output_tokens")
            verdict = verdict_of(span) or (span.get("metadata") or {}).get("verdict")
            rows.append({"span": "  " * depth + str(span.get("name")), "kind": span.get("span_kind"),
                         "start s": (span["start_ns"] - t0) / 1e9, "duration s": float(span["duration"]) / 1e9,
                         "model": span.get("model_name"), "input tokens": metrics.get("input_tokens"),
                         "output tokens": None if output is None else output - (thinking or 0.0),
                         "thinking tokens": thinking,
                         "cost $": span_cost(span) if span.get("span_kind") == "llm" else None, "verdict": verdict})
            if len(rows) < len(spans):
                walk(str(span["span_id"]), depth + 1)

    walk(ROOT_PARENT, 0)
    return pd.DataFrame(rows, columns=TREE_COLUMNS)
