"""Query-back into pandas: what the backend holds, as tidy frames the notebooks chart and reconcile.

The generated `query_metrics` builds one model object per point; a day of 10 s points for a hundred
series takes seconds to deserialize that way. `query_frame` reads the same v1 response into a frame in
milliseconds, through the same ApiClient (pool, auth, retries): even orjson spends most of that time making a
Python list per `[time, value]` pair, so each pointlist is read as one flat array (`read_v1_answer`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import orjson
import pandas as pd
from datadog_api_client import ApiClient

from .budget import message_budget
from .client import raw_request
from .errors import QueryError
from .query.build import metric_query

FRAME_COLUMNS = ("time", "group", "value")


def query_frame(api_client: ApiClient, query: str, start: int, end: int) -> pd.DataFrame:
    """Run a v1 metric query and return one row per point: time (UTC), group (its tag set), value.

    Args:
        api_client: from `make_api_client`.
        query: a metric query, e.g. ``sum:autonomic.audit.verdict{*} by {verdict}.as_count()``.
        start, end: epoch seconds.

    Returns:
        A frame with columns time (datetime64[ns, UTC]), group ("verdict:pass", or "*" when
        ungrouped) and value (float); its `attrs` hold the interval and the query.
    """
    raw = raw_request(api_client, "GET", "/api/v1/query", params={"from": start, "to": end, "query": query},
                      app_key=True)
    payload, pointlists = read_v1_answer(raw)
    series = payload.get("series", [])
    if len(series) != len(pointlists):
        raise QueryError(f"the query answer has {len(series)} series but {len(pointlists)} pointlists")
    points = np.concatenate(pointlists) if pointlists else np.empty((0, 2))
    if len(points):
        groups = np.array([",".join(s["tag_set"]) or "*" for s in series], dtype=object)
        frame = pd.DataFrame({"time": pd.to_datetime(points[:, 0], unit="ms", utc=True),
                              "group": np.repeat(groups, [len(p) for p in pointlists]), "value": points[:, 1]})
    else:
        frame = _empty_frame()
    intervals = {s["interval"] for s in series}
    frame.attrs.update(query=query, interval=max(intervals) if intervals else None)
    return frame


_POINTLIST = re.compile(rb'"pointlist"\s*:\s*\[')  # a key, never inside a JSON string (its quotes are escaped)
_LIST_END = re.compile(rb"\]\s*\]")


def read_v1_answer(raw: bytes) -> tuple[dict[str, Any], list[np.ndarray]]:
    """A v1 query answer as (its JSON without the points, each series' points as an (n, 2) float array).

    A pointlist holds only numbers and nulls (no strings), so it ends at the first `]]`; its pairs are read as
    one flat list and reshaped, and a null value becomes NaN. The answer keeps an empty "pointlist": [] each.
    """
    rest: list[bytes] = []
    arrays: list[np.ndarray] = []
    pos = 0
    for found in _POINTLIST.finditer(raw):
        first = found.end() - 1  # the pointlist's "["
        inner = raw[found.end():found.end() + 64].lstrip()
        if inner.startswith(b"]"):  # an empty pointlist
            stop = raw.index(b"]", found.end()) + 1
            flat: list[Any] = []
        else:
            closing = _LIST_END.search(raw, first)
            if closing is None:
                raise QueryError("the query answer has an unterminated pointlist")
            stop = closing.end()
            flat = orjson.loads(b"[" + raw[first:stop].translate(None, b"[]") + b"]")
        try:
            if len(flat) % 2:
                raise ValueError("odd")
            arrays.append(np.array(flat, dtype=np.float64).reshape(-1, 2))
        except (TypeError, ValueError):
            raise QueryError("the query answer has a pointlist entry that is not a [time, value] pair") from None
        rest += [raw[pos:first], b"[]"]
        pos = stop
    rest.append(raw[pos:])
    return orjson.loads(b"".join(rest)), arrays


def query_frames(api_client: ApiClient, queries: Mapping[str, str], start: int, end: int, interval: int
                 ) -> dict[str, pd.DataFrame]:
    """Several metric queries in one `POST /api/v2/query/timeseries` (fewer round trips than a v1 call each): per
    name, the frame `query_frame` would give (time, group, value), points without a value left out.

    Args:
        queries: name -> metric query; each may group by its own tags.
        interval: seconds between points, the request's interval; give each query the same `.rollup(..., interval)`
            so Datadog keeps it rather than widening to a coarser one.
    """
    body = {"data": {"type": "timeseries_request", "attributes": {
        "from": start * 1000, "to": end * 1000, "interval": interval * 1000,
        "queries": [{"data_source": "metrics", "name": name, "query": query} for name, query in queries.items()]}}}
    attrs = _v2_answer(api_client, "/api/v2/query/timeseries", body)
    times = np.asarray(attrs.get("times") or [], dtype=np.float64)
    series = attrs.get("series") or []
    values = np.array(attrs.get("values") or [], dtype=np.float64).reshape(len(series), len(times))  # null: NaN
    names = list(queries)
    index = np.array([s["query_index"] for s in series], dtype=np.int64)
    groups = np.array([",".join(s.get("group_tags") or []) or "*" for s in series], dtype=object)
    frames = {}
    for i, name in enumerate(names):
        rows = np.flatnonzero(index == i)
        row, column = np.nonzero(~np.isnan(values[rows]))  # each point with a value, series by series
        frame = pd.DataFrame({"time": pd.to_datetime(times[column], unit="ms", utc=True),
                              "group": groups[rows][row], "value": values[rows][row, column]}) if len(row) \
            else _empty_frame()
        frame.attrs.update(query=queries[name], interval=interval)
        frames[name] = frame
    return frames


def query_scalars(api_client: ApiClient, queries: Mapping[str, tuple[str, str]], start: int, end: int
                  ) -> pd.DataFrame:
    """Several metric queries, each reduced over the range by its aggregator, in one `POST /api/v2/query/scalar`:
    a row per group (indexed by the group-by tags' values; one row "*" when ungrouped), a column per name (NaN where
    a group has no value).

    Args:
        queries: name -> (metric query, aggregator: avg, min, max, sum or last); all must group by the same tags.
    """
    body = {"data": {"type": "scalar_request", "attributes": {
        "from": start * 1000, "to": end * 1000,
        "queries": [{"data_source": "metrics", "name": name, "query": query, "aggregator": aggregator}
                    for name, (query, aggregator) in queries.items()]}}}
    columns = _v2_answer(api_client, "/api/v2/query/scalar", body).get("columns") or []
    labels = {c["name"]: [",".join(v) for v in c["values"]] for c in columns if c.get("type") == "group"}
    numbers = {c["name"]: [np.nan if v is None else v for v in c.get("values") or []]
               for c in columns if c.get("type") == "number"}
    rows = max((len(v) for v in numbers.values()), default=0)
    if len(labels) > 1:
        index = pd.MultiIndex.from_arrays(list(labels.values()), names=list(labels))
    elif labels:
        [(key, values)] = labels.items()
        index = pd.Index(values, name=key)
    else:
        index = pd.Index(["*"] * rows, name="group")
    return pd.DataFrame({name: numbers.get(name, [np.nan] * rows) for name in queries}, index=index, dtype=float)


def _v2_answer(api_client: ApiClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """`data.attributes` of a v2 query answer; a QueryError with Datadog's message when it has none."""
    answer = orjson.loads(raw_request(api_client, "POST", path, body=orjson.dumps(body), app_key=True))
    attrs = (answer.get("data") or {}).get("attributes")
    if not isinstance(attrs, dict):
        raise QueryError(f"{path} answered without data: {str(answer.get('errors') or answer)[:300]}")
    return attrs


def _empty_frame() -> pd.DataFrame:
    return pd.DataFrame({"time": pd.to_datetime([], utc=True), "group": pd.Series([], dtype=object),
                         "value": pd.Series([], dtype=float)})


def metric_series(api_client: ApiClient, query: str, start: int, end: int) -> pd.Series:
    """An ungrouped query as one Series indexed by UTC time (empty when there is no data)."""
    return _series(query_frame(api_client, query, start, end))


def counts_by(api_client: ApiClient, metric: str, tag: str, scope: str, start: int, end: int, interval: int
              ) -> pd.DataFrame:
    """Counts of `metric` per `interval` seconds, one column per value of `tag` (0 where none happened)."""
    return _by_value(query_frame(api_client, _count_query(metric, scope, interval, by=[tag]), start, end))


def _count_query(metric: str, scope: str, interval: int, by: Sequence[str] = ()) -> str:
    return metric_query("sum", metric, [scope], by=by, as_count=True, rollup=("sum", interval))


def _by_value(frame: pd.DataFrame) -> pd.DataFrame:
    """A `by {tag}` frame as one column per value of the tag, a row per time (0 where a value has no point)."""
    if frame.empty:
        return pd.DataFrame()
    frame = frame.assign(group=frame["group"].str.partition(":")[2])
    return frame.pivot_table(index="time", columns="group", values="value", aggfunc="sum").fillna(0.0)


def _series(frame: pd.DataFrame) -> pd.Series:
    """An ungrouped frame as a Series indexed by UTC time."""
    return frame.set_index("time")["value"].sort_index()


def pass_rate(api_client: ApiClient, scope: str, start: int, end: int, interval: int = 300) -> pd.Series:
    """The dashboard's Pass Rate %: pass / (pass + fail) * 100 per interval."""
    return _pass_rate(counts_by(api_client, "autonomic.audit.verdict", "verdict", scope, start, end, interval))


def _pass_rate(verdicts: pd.DataFrame) -> pd.Series:
    if verdicts.empty:
        return pd.Series(dtype=float)
    passed = verdicts.get("pass", 0.0)
    failed = verdicts.get("fail", 0.0)
    return (100.0 * passed / (passed + failed)).rename("pass rate %")


def optimization_rate(api_client: ApiClient, scope: str, start: int, end: int, interval: int = 300) -> pd.Series:
    """The dashboard's Optimization Rate %: success / (success + failed) * 100, cumulative over the run
    (optimizations are rare, so a per-window rate would be mostly undefined)."""
    frames = query_frames(api_client, _optimization_queries(scope, interval), start, end, interval)
    return _optimization_rate(frames)


def _optimization_queries(scope: str, interval: int) -> dict[str, str]:
    return {"success": _count_query("autonomic.deployments.success", scope, interval),
            "failed": _count_query("autonomic.optimization.failed", scope, interval)}


def _optimization_rate(frames: Mapping[str, pd.DataFrame]) -> pd.Series:
    both = pd.concat([_series(frames["success"]).rename("success"), _series(frames["failed"]).rename("failed")],
                     axis=1).fillna(0.0).sort_index().cumsum()
    total = both["success"] + both["failed"]
    return (100.0 * both["success"] / total.where(total > 0)).rename("optimization rate %")


# ---------------------------------------------------------------------------------------- headline figures
FLUSH_SECONDS = 10  # the Agent's flush: the finest window the backend holds


@dataclass(frozen=True)
class Peak:
    """A figure that is the highest window of a metric that is itself a maximum or a p95 per window.

    The max of maxima does not depend on the windows: the index card (over the run), the per-phase table and the
    verdict (over a phase) and the dashboard's line (a `.rollup(max)` at whatever interval the backend picks) all
    show the same number. One definition, `by`, computes it everywhere.
    """

    metric: str
    name: str = ""
    caption: str = ""

    def query(self, scope: str, by: Sequence[str] = ()) -> str:
        """Max across the series, max within each window: a window's peak is kept at any rollup interval."""
        return metric_query("max", self.metric, [scope], by=by, rollup=("max", FLUSH_SECONDS))

    def by(self, api_client: ApiClient, scope: str, start: int, end: int, by: Sequence[str] = ()) -> pd.Series:
        """The figure over [start, end] per group of the `by` tags (index: their values), or one value ("*")."""
        return query_scalars(api_client, {"peak": self.scalar(scope, by)}, start, end)["peak"].dropna()

    def scalar(self, scope: str, by: Sequence[str] = ()) -> tuple[str, str]:
        """The query and aggregator of `query_scalars` that compute the figure: the max over the range of `query`."""
        return self.query(scope, by), "max"

    def value(self, api_client: ApiClient, scope: str, start: int, end: int) -> float:
        """The figure over [start, end] (NaN without data)."""
        found = self.by(api_client, scope, start, end)
        return float(found.max()) if not found.empty else float("nan")


USER_LATENCY_P95 = Peak("autonomic.agent.latency.95percentile", "peak p95 user latency",
                        "peak p95: the highest 95th-percentile user latency of any 10 s window "
                        "(where the dashboard's p95 line peaks)")
MOST_EXPENSIVE_MESSAGE = Peak("autonomic.agent.cost.max", "most expensive message",
                              "the highest cost of one message in any 10 s window (where the dashboard's max "
                              "line peaks)")
CAPTIONS = {
    "pass rate %": "audits passed / all audits over the run (the dashboard's Pass Rate %)",
    "optimization rate %": "deployments / (deployments + optimization failures) over the run "
                           "(the dashboard's Optimization Rate %)",
    "user latency mean s": "the mean of the run's per-minute mean user latency",
    "user latency p95 s": USER_LATENCY_P95.caption,
    "cost max $": MOST_EXPENSIVE_MESSAGE.caption,
}


# ---------------------------------------------------------------------------------------- per phase
ROLES = ("chatbot", "auditor", "refiner", "evaluator")


def _tag_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame's group ("phase:x,role:y") split into one column per tag."""
    if frame.empty:
        return frame
    tags = frame["group"].str.split(",").apply(lambda parts: dict(p.split(":", 1) for p in parts if ":" in p))
    return pd.concat([frame, pd.DataFrame(tags.tolist(), index=frame.index)], axis=1)


def phase_table(api_client: ApiClient, env: str, phases: list[str], start: int, end: int) -> pd.DataFrame:
    """The run per phase, queried back from the backend (one row per phase), in five batched v2 queries.

    Counts are exact sums of the flushed counts. From the 10 s windows the backend holds (the Agent's flushes):
    p50 is the median of the windows' means or medians (a typical window); p95 and max are `Peak`s, the highest
    window, as the headline figures, the verdicts and the dashboard's lines show them. They approximate the
    per-message quantiles the ledger keeps exactly.
    """
    scope, span = f"env:{env}", end - start
    table = pd.DataFrame(index=pd.Index(phases, name="phase"))

    def total(metric: str, by: Sequence[str] = ("phase",)) -> tuple[str, str]:
        return _count_query(metric, scope, span, by), "sum"

    verdicts = query_scalars(api_client, {"n": total("autonomic.audit.verdict", ("phase", "verdict"))}, start, end)
    by_verdict = verdicts["n"].unstack("verdict") if "verdict" in verdicts.index.names else pd.DataFrame()
    for verdict in ("pass", "fail"):
        table[verdict] = by_verdict[verdict] if verdict in by_verdict else 0.0
    table = table.fillna(0.0)
    table.insert(0, "messages", table["pass"] + table["fail"])
    table["pass rate %"] = 100 * table["pass"] / table["messages"].where(table["messages"] > 0)
    per_phase = query_scalars(api_client, {
        "deployments": total("autonomic.deployments.success"),
        "optimization failures": total("autonomic.optimization.failed"),
        "cost p95 $": Peak("autonomic.agent.cost.95percentile").scalar(scope, ("phase",)),
        "cost max $": MOST_EXPENSIVE_MESSAGE.scalar(scope, ("phase",)),
        "user latency p95 s": USER_LATENCY_P95.scalar(scope, ("phase",))}, start, end)
    for column in ("deployments", "optimization failures"):
        table[column] = per_phase[column] if column in per_phase else 0.0
    table[["deployments", "optimization failures"]] = table[["deployments", "optimization failures"]].fillna(0.0)
    attempts = table["deployments"] + table["optimization failures"]
    table["optimization rate %"] = 100 * table["deployments"] / attempts.where(attempts > 0)

    typical = query_frames(api_client, {  # the median over each metric's 10 s windows, per group
        "cost p50 $": metric_query("avg", "autonomic.agent.cost", [scope], by=["phase"], rollup=("avg", FLUSH_SECONDS)),
        "user latency p50 s": metric_query("avg", "autonomic.agent.latency.median", [scope], by=["phase"],
                                           rollup=("avg", FLUSH_SECONDS)),
        "role": metric_query("avg", "autonomic.component.latency.avg", [scope], by=["phase", "role"],
                             rollup=("avg", FLUSH_SECONDS))}, start, end, FLUSH_SECONDS)

    def median(name: str, by: Sequence[str] = ("phase",)) -> pd.Series:
        frame = _tag_columns(typical[name])
        return frame.groupby(list(by) if len(by) > 1 else by[0])["value"].median() if not frame.empty \
            else pd.Series(dtype=float)

    table["cost p50 $"] = median("cost p50 $")
    table["cost p95 $"] = per_phase["cost p95 $"]
    table["cost max $"] = per_phase["cost max $"]
    table["user latency p50 s"] = median("user latency p50 s")
    table["user latency p95 s"] = per_phase["user latency p95 s"]
    role_p95 = query_scalars(api_client, {"p95": Peak("autonomic.component.latency.95percentile").scalar(
        scope, ("phase", "role"))}, start, end)["p95"].dropna()
    for stat, by_role in (("p50", median("role", ("phase", "role"))), ("p95", role_p95)):
        for role in ROLES:
            if not by_role.empty and role in by_role.index.get_level_values("role"):
                table[f"{role} latency {stat} s"] = by_role.xs(role, level="role")
    return table


# ---------------------------------------------------------------------------------------- monitors
MANAGED_TAG = "managed-by:autonomic-kit"


def short_name(monitor_name: str) -> str:
    """"[Autonomic AI] Budget breach: message cost over $0.10" -> "Budget breach"."""
    return monitor_name.split("] ", 1)[-1].split(":", 1)[0]


def kit_monitors(api_client: ApiClient) -> pd.DataFrame:
    """The kit's monitors as the API shows them: id, name, state, and each group's state (get_monitor, all groups)."""
    from datadog_api_client.v1.api.monitors_api import MonitorsApi

    api = MonitorsApi(api_client)
    rows = []
    for listed in api.list_monitors(monitor_tags=MANAGED_TAG):
        monitor = api.get_monitor(listed.id, group_states="all")
        groups = monitor.state.groups if "state" in monitor and "groups" in monitor.state else {}
        rows.append({"id": monitor.id, "monitor": short_name(monitor.name), "name": monitor.name,
                     "type": str(monitor.type), "state": str(monitor.overall_state),
                     "groups": {k: str(v.status) for k, v in (groups or {}).items()},
                     "last triggered": max([_ts(v.get("last_triggered_ts")) for v in (groups or {}).values()] or [None],
                                           key=lambda t: t or pd.Timestamp(0, tz="UTC"))})
    return pd.DataFrame(rows, columns=["id", "monitor", "name", "type", "state", "groups", "last triggered"])


def _ts(value: object) -> pd.Timestamp | None:
    return pd.Timestamp(int(value), unit="s", tz="UTC") if value else None  # type: ignore[call-overload]


def monitor_history(api_client: ApiClient, monitors: pd.DataFrame, start: int, end: int, *, sandbox: bool
                    ) -> pd.DataFrame:
    """Every state change of the kit's monitors in [start, end]: monitor, group, from, to, at.

    On the sandbox: its documented sandbox-only history route (every transition). On Datadog, which has
    no such route: the last trigger and the last recovery per group, from get_monitor(group_states="all").
    """
    from datadog_api_client.v1.api.monitors_api import MonitorsApi

    rows: list[dict[str, object]] = []
    for monitor in monitors.itertuples():
        if sandbox:
            raw = raw_request(api_client, "GET", f"/sandbox/monitors/{monitor.id}/history",
                              params={"from": start, "to": end + 3600}, app_key=True)
            for t in orjson.loads(raw)["transitions"]:
                rows.append({"monitor": monitor.monitor, "group": t["group"], "from": t["previous"], "to": t["current"],
                             "at": _ts(t["at"]), "value": t["value"], "threshold": t["threshold"]})
        else:
            full = MonitorsApi(api_client).get_monitor(monitor.id, group_states="all")
            for group, state in (full.state.groups or {}).items():
                for key, to in (("last_triggered_ts", "Alert"), ("last_resolved_ts", "OK")):
                    if state.get(key):
                        rows.append({"monitor": monitor.monitor, "group": group, "from": None, "to": to,
                                     "at": _ts(state[key]), "value": None, "threshold": None})
    columns = ["monitor", "group", "from", "to", "at", "value", "threshold"]
    return pd.DataFrame(rows, columns=columns).sort_values("at", kind="stable").reset_index(drop=True)


def signal_onsets(api_client: ApiClient, env: str, start: int, end: int, *, budget: float | None = None,
                  slow: float = 15.0) -> dict[str, pd.Timestamp | None]:
    """When each monitor's signal first appeared in the data: the first over-budget message (`budget` defaults
    to the budget monitor's threshold), the first minute of mean user latency above `slow` seconds, the first
    optimization failure (from the backend)."""
    scope = f"env:{env}"
    budget = message_budget() if budget is None else budget

    def first(frame: pd.DataFrame, above: float) -> pd.Timestamp | None:
        series = _series(frame).dropna()
        hits = series[series >= above]
        return hits.index[0] if not hits.empty else None

    per_10s = query_frames(api_client, {
        "breach": metric_query("max", "autonomic.budget.breach.amount", [scope], rollup=("max", 10)),
        "failed": _count_query("autonomic.optimization.failed", scope, 10)}, start, end, 10)
    latency = query_frame(api_client, _latency_per_minute(scope), start, end)
    return {"Budget breach": first(per_10s["breach"], budget), "Latency anomaly": first(latency, slow),
            "Optimization failure": first(per_10s["failed"], 1)}


def _latency_per_minute(scope: str) -> str:
    """The dashboard's User Facing Latency: the mean per minute."""
    return metric_query("avg", "autonomic.agent.latency.avg", [scope], rollup=("avg", 60))


def detection_delays(history: pd.DataFrame, onsets: dict[str, pd.Timestamp | None]) -> pd.DataFrame:
    """Per monitor: when its signal began, when it first alerted after that, and the delay in minutes."""
    rows = []
    for monitor, onset in onsets.items():
        alerts = history[(history["monitor"] == monitor) & (history["to"] == "Alert")]
        if onset is not None:
            alerts = alerts[alerts["at"] >= onset - pd.Timedelta(minutes=1)]
        recoveries = history[(history["monitor"] == monitor) & (history["to"] == "OK")]
        first = alerts["at"].min() if not alerts.empty else None
        recovered = recoveries[recoveries["at"] > first]["at"].max() if first is not None and not recoveries.empty \
            else None
        rows.append({"monitor": monitor, "signal began": onset, "first alert": first,
                     "detection delay min": (first - onset).total_seconds() / 60 if first is not None and onset is not None
                     else None, "alerts": len(alerts), "last recovery": recovered if pd.notna(recovered) else None})
    return pd.DataFrame(rows).set_index("monitor")


def anomaly_band(api_client: ApiClient, monitor_id: int, start: int, end: int) -> pd.DataFrame:
    """The expected band of an anomaly monitor (time, value, lower, upper), from the sandbox-only band route."""
    raw = orjson.loads(raw_request(api_client, "GET", f"/sandbox/monitors/{monitor_id}/band",
                                   params={"from": start, "to": end}, app_key=True))
    frame = pd.DataFrame(raw["points"], columns=raw["columns"])
    if "time" in frame:
        frame["time"] = pd.to_datetime(frame["time"], unit="s", utc=True)
        frame = frame.set_index("time")
    return frame.astype(float)


def evaluate_now(api_client: ApiClient) -> pd.DataFrame:
    """Sandbox only: evaluate every monitor up to now (POST /sandbox/evaluate) and say what was evaluated."""
    evaluated = orjson.loads(raw_request(api_client, "POST", "/sandbox/evaluate", app_key=True))["evaluated"]
    frame = pd.DataFrame(evaluated)
    for column in ("from", "to"):
        if column in frame:
            frame[column] = pd.to_datetime(frame[column], unit="s", utc=True)
    return frame


# ---------------------------------------------------------------------------------------- workflows and cases
def workflow_runs(api_client: ApiClient, workflow_id: str) -> pd.DataFrame:
    """The workflow's instances: when, why (the monitor group that started it), status."""
    from datadog_api_client.v2.api.workflow_automation_api import WorkflowAutomationApi

    listed = WorkflowAutomationApi(api_client).list_workflow_instances(workflow_id, page_size=100).to_dict()
    rows = []
    for item in listed.get("data", []):
        attrs = item.get("attributes", {})
        source = (attrs.get("source") or {}).get("monitor") or {}
        rows.append({"instance": item.get("id"), "started": pd.Timestamp(attrs.get("startTimestamp")),
                     "status": (attrs.get("instanceStatus") or {}).get("displayName"),
                     "monitor": short_name(source.get("monitorName", "")) if source else "api",
                     "group": source.get("group")})
    return pd.DataFrame(rows, columns=["instance", "started", "status", "monitor", "group"]).sort_values("started")


def kit_cases(api_client: ApiClient, query: str = "Autonomic AI") -> pd.DataFrame:
    """Cases whose text matches `query` (the kit's titles start with "[Autonomic AI]"), newest first."""
    from datadog_api_client.v2.api.case_management_api import CaseManagementApi

    found = CaseManagementApi(api_client).search_cases(filter=query, page_size=100).to_dict()
    rows = []
    for item in found.get("data", []):
        attrs = item.get("attributes", {})
        custom = attrs.get("attributes") or {}
        rows.append({"key": attrs.get("key"), "title": attrs.get("title"), "status": attrs.get("status"),
                     "priority": attrs.get("priority"), "created": pd.Timestamp(attrs.get("created_at")),
                     "agent_id": ",".join(custom.get("agent_id", [])) if isinstance(custom.get("agent_id"), list)
                     else custom.get("agent_id"),
                     "failure_reason": ",".join(custom.get("failure_reason", []))
                     if isinstance(custom.get("failure_reason"), list) else custom.get("failure_reason")})
    return pd.DataFrame(rows, columns=["key", "title", "status", "priority", "created", "agent_id", "failure_reason"])


def graph_snapshot(api_client: ApiClient, query: str, start: int, end: int, title: str = "") -> bytes:
    """A PNG of `query` over [start, end] rendered by the backend (SnapshotsApi.get_graph_snapshot).

    Datadog renders snapshots asynchronously: the URL is retried for up to a minute until the PNG is there.
    """
    import time

    import urllib3
    from datadog_api_client.v1.api.snapshots_api import SnapshotsApi

    snapshot = SnapshotsApi(api_client).get_graph_snapshot(start=start, end=end, metric_query=query, title=title)
    pool = urllib3.PoolManager()
    deadline = time.monotonic() + 60
    while True:
        response = pool.request("GET", snapshot.snapshot_url, timeout=30)
        if response.status == 200 and response.data[:4] == b"\x89PNG":
            return bytes(response.data)
        if time.monotonic() > deadline:
            raise QueryError(f"the graph snapshot was not ready after 60 s (HTTP {response.status})")
        time.sleep(2)


def recent_logs(api_client: ApiClient, query: str, start: int, end: int, limit: int = 8) -> pd.DataFrame:
    """The newest logs matching `query` (the dashboard's log stream): time, service, agent, message."""
    from datetime import UTC, datetime

    from datadog_api_client.v2.api.logs_api import LogsApi
    from datadog_api_client.v2.model.logs_sort import LogsSort

    found = LogsApi(api_client).list_logs_get(filter_query=query, filter_from=datetime.fromtimestamp(start, UTC),
                                              filter_to=datetime.fromtimestamp(end, UTC),
                                              sort=LogsSort.TIMESTAMP_DESCENDING, page_limit=limit).to_dict()
    rows = []
    for item in found.get("data", []):
        attrs = item.get("attributes", {})
        rows.append({"time": pd.Timestamp(attrs.get("timestamp")).strftime("%H:%M:%S"), "service": attrs.get("service"),
                     "agent": (attrs.get("attributes") or {}).get("agent_id"),
                     "message": " ".join(str(attrs.get("message", "")).split())})
    return pd.DataFrame(rows, columns=["time", "service", "agent", "message"])


# ---------------------------------------------------------------------------------------- the run over time
def hold_to(series: pd.Series, end: int) -> pd.Series:
    """Extend a step series with its last value up to `end`, so a chart shows where it stayed."""
    if series.empty:
        return series
    return pd.concat([series, pd.Series([series.iloc[-1]], index=[pd.Timestamp(end, unit="s", tz="UTC")])])


def story_panels(api_client: ApiClient, env: str, start: int, end: int, *, budget: float | None = None,
                 band: pd.DataFrame | None = None) -> list[Any]:
    """The run's four signals over time, queried back: pass rate, user latency (with the anomaly band when
    given), the most expensive message per minute against the budget (default: the budget monitor's
    threshold), cumulative optimization rate."""
    from .render import Panel

    scope = f"env:{env}"
    budget = message_budget() if budget is None else budget
    per_minute = query_frames(api_client, {
        "latency": _latency_per_minute(scope),
        "cost": metric_query("max", "autonomic.agent.cost.max", [scope], rollup=("max", 60))}, start, end, 60)
    per_5min = query_frames(api_client, {"verdicts": _count_query("autonomic.audit.verdict", scope, 300, ["verdict"]),
                                         **_optimization_queries(scope, 300)}, start, end, 300)
    bounds = (band["lower"], band["upper"]) if band is not None and not band.empty else None
    return [
        Panel("Pass Rate % (Auditor), per 5 min", {"pass rate %": _pass_rate(_by_value(per_5min["verdicts"]))}, "%"),
        Panel("User Facing Latency (mean per minute)", {"latency": _series(per_minute["latency"])}, "s", band=bounds,
              band_label="anomaly monitor's expected band"),
        Panel("ChatBot Agent Cost (most expensive message per minute)", {"cost": _series(per_minute["cost"])}, "USD",
              threshold=budget, threshold_label=f"budget ${budget:.2f}"),
        Panel("Optimization Rate % (cumulative)",
              {"optimization rate %": hold_to(_optimization_rate(per_5min), end)}, "%", steps=True),
    ]


def headline(api_client: ApiClient, env: str, start: int, end: int) -> dict[str, float]:
    """The run's numbers for a summary (what each means: `CAPTIONS`), in one batched scalar query: pass rate,
    optimization rate, LLM cost, the most expensive message, user latency."""
    scope, span = f"env:{env}", end - start

    def total(metric: str, *scopes: str) -> tuple[str, str]:
        return metric_query("sum", metric, [scope, *scopes], as_count=True, rollup=("sum", span)), "sum"

    found = query_scalars(api_client, {
        "passed": total("autonomic.audit.verdict", "verdict:pass"), "audits": total("autonomic.audit.verdict"),
        "success": total("autonomic.deployments.success"), "failed": total("autonomic.optimization.failed"),
        "cost": total("autonomic.agent.cost.total"), "cost max": MOST_EXPENSIVE_MESSAGE.scalar(scope),
        "latency": (_latency_per_minute(scope), "avg"),
        "latency p95": USER_LATENCY_P95.scalar(scope)}, start, end)
    row = found.iloc[0] if len(found) else pd.Series(np.nan, index=found.columns)
    sums = row[["passed", "audits", "success", "failed", "cost"]].fillna(0.0)
    audits, success, failed = float(sums["audits"]), float(sums["success"]), float(sums["failed"])
    return {"messages": audits, "pass rate %": 100 * float(sums["passed"]) / audits if audits else float("nan"),
            "optimization rate %": 100 * success / (success + failed) if success + failed else float("nan"),
            "deployments": success, "optimization failures": failed, "LLM cost $": float(sums["cost"]),
            "cost max $": float(row["cost max"]), "user latency mean s": float(row["latency"]),
            "user latency p95 s": float(row["latency p95"])}
