"""Reconciliation: does the backend hold exactly what the ledger says it acknowledged?

Metrics are read back per metric grouped by every tag key, so each group is one series. With the
ledger's points kept, every point is compared exactly (a `.rollup(sum, 10)` bucket holds a single
point, so its value is the point's value), ten metrics per v2 timeseries call, in windows of at most 1500
buckets because Datadog widens finer rollups past that. Without points, point counts (`.rollup(count)`) must
match exactly and value sums to 1e-9 relative (only the order of float additions differs), both from one v2
scalar call per metric. Logs are counted by
service, status and phase in one logs analytics aggregation; events by id; LLM Observability spans and
their verdicts through the Export API (`traces.search_spans`).

The time range and `env` select the run; run each scenario in its own env or sandbox for the
counts to mean "this run". Beside `analysis` (it reads back through its batched queries), above `telemetry`
(whose ledger it checks), so the telemetry never imports the query-back.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, Sequence

import numpy as np
import orjson
import pandas as pd
from datadog_api_client import ApiClient

from .analysis import query_frames, query_scalars
from .client import raw_request
from .query.build import metric_query
from .query.limits import MAX_POINTS
from .telemetry.ledger import Ledger
from .telemetry.points import FLUSH_INTERVAL

MAX_BUCKETS = MAX_POINTS  # Datadog's per-series limit: a finer rollup would be widened
QUERIES_PER_CALL = 10  # metrics read in one v2 call (sandbox choice: Datadog documents no bound we found)
_COLUMNS = ["kind", "name", "tags", "sent", "read", "sent_sum", "read_sum", "match"]


class Reconciliation(NamedTuple):
    """A row per metric series, log group and the events; `ok` is True when every row matches."""

    table: pd.DataFrame
    ok: bool


def reconcile(ledger: Ledger, api_client: ApiClient, *, logs: bool = True, events: bool = True,
              traces: bool = True) -> Reconciliation:
    """Compare `ledger` with what `api_client`'s backend returns (metrics, logs, events, LLM Observability traces)."""
    rows = _metrics(ledger, api_client)
    if logs:
        rows += _logs(ledger, api_client)
    if events:
        rows += _events(ledger, api_client)
    if traces and ledger.traces.get("traces"):
        rows += _traces(ledger, api_client)
    table = pd.DataFrame(rows, columns=_COLUMNS)
    return Reconciliation(table, bool(table["match"].all()) if len(table) else True)


def _by_metric(ledger: Ledger) -> dict[str, list[tuple[str, ...]]]:
    out: dict[str, list[tuple[str, ...]]] = {}
    for metric, tags in ledger.series:
        out.setdefault(metric, []).append(tags)
    return out


def _query(metric: str, env: str, keys: list[str], method: str, interval: int) -> str:
    return metric_query("sum", metric, [f"env:{env}"], by=keys, rollup=(method, interval))


def _tag_set(group: str) -> tuple[str, ...]:
    """A group label ("a:x,b:y") as the sorted tag set the ledger keys by; Datadog's "N/A" for a missing tag left
    out."""
    return tuple(sorted(t for t in group.split(",") if not t.endswith(":N/A")))


class _Plan(NamedTuple):
    """One metric's read-back: its series' tag sets, the tag keys to group by, and the run's range for it."""

    metric: str
    tag_sets: list[tuple[str, ...]]
    keys: list[str]
    start: int
    end: int


def _plans(ledger: Ledger) -> list[_Plan]:
    plans = []
    for metric, tag_sets in sorted(_by_metric(ledger).items()):
        entries = [ledger.series[(metric, tags)] for tags in tag_sets]
        plans.append(_Plan(metric, tag_sets, sorted({t.split(":", 1)[0] for tags in tag_sets for t in tags}),
                           min(e.first for e in entries if e.first is not None),
                           max(e.last for e in entries if e.last is not None) + FLUSH_INTERVAL))
    return plans


def _metrics(ledger: Ledger, api: ApiClient) -> list[dict[str, Any]]:
    plans = _plans(ledger)
    if not ledger.keep_points:
        return [row for plan in plans for row in _compare_totals(ledger, api, plan)]
    rows: list[dict[str, Any]] = []
    read = _read_points(api, ledger.env, plans)
    for plan in plans:
        for tags in plan.tag_sets:
            ts, values = ledger.points_of((plan.metric, tags))
            got_ts, got_values = read[plan.metric].get(tuple(sorted(tags)), (np.zeros(0, np.int64), np.zeros(0)))
            same = len(ts) == len(got_ts) and bool((ts == got_ts).all() and (values == got_values).all())
            rows.append({"kind": "metric", "name": plan.metric, "tags": ",".join(tags), "sent": len(ts),
                         "read": len(got_ts), "sent_sum": math.fsum(values.tolist()),
                         "read_sum": math.fsum(got_values.tolist()), "match": same})
    return rows


def _read_points(api: ApiClient, env: str, plans: list[_Plan]
                 ) -> dict[str, dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]]]:
    """Every point of every series of each plan's metric in its range, as (timestamps, values) per tag set: up to
    QUERIES_PER_CALL metrics per v2 timeseries call, over windows of at most MAX_BUCKETS points."""
    parts: dict[str, dict[tuple[str, ...], list[tuple[np.ndarray, np.ndarray]]]] = {plan.metric: {} for plan in plans}
    step = MAX_BUCKETS * FLUSH_INTERVAL
    for i in range(0, len(plans), QUERIES_PER_CALL):
        batch = plans[i:i + QUERIES_PER_CALL]
        queries = {f"q{j}": _query(plan.metric, env, plan.keys, "sum", FLUSH_INTERVAL) for j, plan in enumerate(batch)}
        start, end = min(p.start for p in batch), max(p.end for p in batch)
        a = start - start % FLUSH_INTERVAL
        while a < end:
            b = min(a + step, end)
            frames = query_frames(api, queries, a, b, FLUSH_INTERVAL)
            for j, plan in enumerate(batch):
                frame = frames[f"q{j}"]
                ts = _epoch_seconds(frame["time"]).to_numpy(np.int64)
                low = max(a, plan.start - plan.start % FLUSH_INTERVAL)  # this metric's own range, as read alone
                keep = (ts >= low) & (ts < min(b, plan.end))
                codes, labels = pd.factorize(frame["group"].to_numpy()[keep])
                ts, values = ts[keep], frame["value"].to_numpy(np.float64)[keep]
                for code, label in enumerate(labels):
                    mine = codes == code
                    parts[plan.metric].setdefault(_tag_set(str(label)), []).append((ts[mine], values[mine]))
            a = b
    out: dict[str, dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]]] = {}
    for metric, by_tags in parts.items():
        out[metric] = {}
        for tags, chunks in by_tags.items():
            ts = np.concatenate([t for t, _ in chunks])
            values = np.concatenate([v for _, v in chunks])
            order = np.argsort(ts, kind="stable")
            out[metric][tags] = (ts[order], values[order])
    return out


def _epoch_seconds(times: pd.Series) -> pd.Series:
    """UTC datetimes as epoch seconds, whatever resolution pandas chose for them."""
    return ((times - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).astype("int64")


def _compare_totals(ledger: Ledger, api: ApiClient, plan: _Plan) -> list[dict[str, Any]]:
    """Point counts and value sums of each series of a metric, in one scalar call (count and sum rollups)."""
    interval = max(3600, math.ceil((plan.end - plan.start) / (MAX_BUCKETS - 10) / 3600) * 3600)
    a = plan.start - plan.start % interval
    b = plan.end + interval - plan.end % interval if plan.end % interval else plan.end
    found = query_scalars(api, {"count": (_query(plan.metric, ledger.env, plan.keys, "count", interval), "sum"),
                                "sum": (_query(plan.metric, ledger.env, plan.keys, "sum", interval), "sum")}, a, b)
    keys = list(found.index.names) if plan.keys else []  # ungrouped: the one row is labelled "*"
    read = {_tag_key(keys, group): (row["count"], row["sum"])
            for group, row in zip(found.index, found.to_dict("records"))}
    rows = []
    for tags in plan.tag_sets:
        e = ledger.series[(plan.metric, tags)]
        count, total = read.get(tuple(sorted(tags)), (0.0, 0.0))
        n = 0 if math.isnan(count) else int(count)
        total = 0.0 if math.isnan(total) else float(total)
        same = n == e.points and math.isclose(total, e.total, rel_tol=1e-9, abs_tol=1e-12)
        rows.append({"kind": "metric", "name": plan.metric, "tags": ",".join(tags), "sent": e.points, "read": n,
                     "sent_sum": e.total, "read_sum": total, "match": same})
    return rows


def _tag_key(keys: Sequence[str | None], group: Any) -> tuple[str, ...]:
    """A scalar answer's row label (a value per group-by key) as the ledger's tag set."""
    values = group if isinstance(group, tuple) else (group,)
    return _tag_set(",".join(f"{k}:{v}" for k, v in zip(keys, values) if k is not None))


def count_logs(api: ApiClient, query: str, start: int, end: int) -> dict[tuple[str, str, str], int]:
    """Logs matching `query` in [start, end] counted by (phase tag, service, status), in one analytics aggregation
    (paging through every log took seconds for a day's run). The group limits' product stays at Datadog's 10 000
    buckets; a log without one of the three falls in its "" group, as the ledger would count it."""
    body = {"filter": {"query": query, "from": str(start * 1000), "to": str(end * 1000)},
            "compute": [{"aggregation": "count", "type": "total"}],
            "group_by": [{"facet": facet, "limit": limit, "missing": ""} for facet, limit in _LOG_GROUPS]}
    answer = orjson.loads(raw_request(api, "POST", "/api/v2/logs/analytics/aggregate", body=orjson.dumps(body),
                                      app_key=True))
    counts: dict[tuple[str, str, str], int] = {}
    for bucket in (answer.get("data") or {}).get("buckets") or []:
        by = bucket.get("by") or {}
        key = (str(by.get("phase", "")), str(by.get("service", "")), str(by.get("status", "")))
        counts[key] = counts.get(key, 0) + int((bucket.get("computes") or {}).get("c0") or 0)
    return counts


_LOG_GROUPS = (("phase", 100), ("service", 10), ("status", 10))  # the kit's phases, agents' services, log levels


def _logs(ledger: Ledger, api: ApiClient) -> list[dict[str, Any]]:
    if not ledger.logs:
        return []
    read = count_logs(api, f"service:autonomic-* env:{ledger.env}", ledger.start - 60, ledger.end + 600)
    return [{"kind": "logs", "name": service, "tags": f"phase:{phase},status:{status}", "sent": ledger.logs.get(key, 0),
             "read": read.get(key, 0), "sent_sum": math.nan, "read_sum": math.nan,
             "match": ledger.logs.get(key, 0) == read.get(key, 0)}
            for key in sorted(set(ledger.logs) | set(read)) for phase, service, status in [key]]


def list_events(api: ApiClient, env: str, start: int, end: int) -> list[dict[str, Any]]:
    """Events tagged env:`env` between start and end (epoch seconds), all pages."""
    out: list[dict[str, Any]] = []
    page = 0
    while True:
        raw = raw_request(api, "GET", "/api/v1/events", params={"start": start, "end": end, "tags": f"env:{env}",
                                                                 "unaggregated": "true", "page": page}, app_key=True)
        events = orjson.loads(raw).get("events", [])
        out.extend(events)
        if len(events) < 1000:
            return out
        page += 1


def _events(ledger: Ledger, api: ApiClient) -> list[dict[str, Any]]:
    if not ledger.events:
        return []
    got = {str(e.get("id_str") or e.get("id")) for e in list_events(api, ledger.env, ledger.start - 60, ledger.end + 600)}
    sent = {str(e["id"]) for e in ledger.events}
    return [{"kind": "events", "name": "deployments", "tags": f"env:{ledger.env}", "sent": len(sent),
             "read": len(got & sent), "sent_sum": math.nan, "read_sum": math.nan, "match": sent <= got}]


def _traces(ledger: Ledger, api: ApiClient) -> list[dict[str, Any]]:
    """Spans and verdict evaluations of the run's env: as many as acknowledged (a trace's spans start within the run,
    a healing's up to an hour after its message)."""
    from .telemetry.traces import VERDICT_LABEL
    from .traces import search_spans

    read = {"spans": 0, "evaluations": 0}
    for span in search_spans(api, ledger.start - 60, ledger.end + 3600, tags={"env": ledger.env},
                             page_limit=1000):  # counted, not kept: a page of 5000 spans held 30 MB
        read["spans"] += 1
        read["evaluations"] += VERDICT_LABEL in (span.get("evaluation") or {})
    sent = {"spans": int(ledger.traces["spans"]), "evaluations": int(ledger.traces["evaluations"])}
    return [{"kind": "llm-obs", "name": name, "tags": f"env:{ledger.env}", "sent": sent[name], "read": read[name],
             "sent_sum": None, "read_sum": None, "match": sent[name] == read[name]} for name in read]
