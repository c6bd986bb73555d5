"""Query-back into pandas: what the backend holds, as tidy frames the notebooks chart and reconcile.

The generated `query_metrics` builds one model object per point; a day of 10 s points for a hundred
series takes seconds to deserialize that way. `query_frame` reads the same v1 response with orjson
into a frame in milliseconds, through the same ApiClient (pool, auth, retries).
"""

from __future__ import annotations

import numpy as np
import orjson
import pandas as pd
from datadog_api_client import ApiClient

from .client import raw_request

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
    payload = orjson.loads(raw)
    frames = []
    for series in payload.get("series", []):
        points = np.asarray(series["pointlist"], dtype=np.float64).reshape(-1, 2)
        frames.append(pd.DataFrame({
            "time": pd.to_datetime(points[:, 0], unit="ms", utc=True),
            "group": ",".join(series["tag_set"]) or "*",
            "value": points[:, 1],
        }))
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        {"time": pd.to_datetime([], utc=True), "group": pd.Series([], dtype=object), "value": pd.Series([], dtype=float)})
    intervals = {s["interval"] for s in payload.get("series", [])}
    frame.attrs.update(query=query, interval=max(intervals) if intervals else None)
    return frame


def metric_series(api_client: ApiClient, query: str, start: int, end: int) -> pd.Series:
    """An ungrouped query as one Series indexed by UTC time (empty when there is no data)."""
    frame = query_frame(api_client, query, start, end)
    return frame.set_index("time")["value"].sort_index()


def counts_by(api_client: ApiClient, metric: str, tag: str, scope: str, start: int, end: int, interval: int
              ) -> pd.DataFrame:
    """Counts of `metric` per `interval` seconds, one column per value of `tag` (0 where none happened)."""
    frame = query_frame(api_client, f"sum:{metric}{{{scope}}} by {{{tag}}}.as_count().rollup(sum, {interval})",
                        start, end)
    if frame.empty:
        return pd.DataFrame()
    frame["group"] = frame["group"].str.partition(":")[2]
    return frame.pivot_table(index="time", columns="group", values="value", aggfunc="sum").fillna(0.0)


def pass_rate(api_client: ApiClient, scope: str, start: int, end: int, interval: int = 300) -> pd.Series:
    """The dashboard's Pass Rate %: pass / (pass + fail) * 100 per interval."""
    verdicts = counts_by(api_client, "autonomic.audit.verdict", "verdict", scope, start, end, interval)
    if verdicts.empty:
        return pd.Series(dtype=float)
    passed = verdicts.get("pass", 0.0)
    failed = verdicts.get("fail", 0.0)
    return (100.0 * passed / (passed + failed)).rename("pass rate %")


def optimization_rate(api_client: ApiClient, scope: str, start: int, end: int, interval: int = 300) -> pd.Series:
    """The dashboard's Optimization Rate %: success / (success + failed) * 100, cumulative over the run
    (optimizations are rare, so a per-window rate would be mostly undefined)."""
    query = f"sum:{{metric}}{{{{{scope}}}}}.as_count().rollup(sum, {interval})"
    success = metric_series(api_client, query.format(metric="autonomic.deployments.success"), start, end)
    failed = metric_series(api_client, query.format(metric="autonomic.optimization.failed"), start, end)
    both = pd.concat([success.rename("success"), failed.rename("failed")], axis=1).fillna(0.0).sort_index().cumsum()
    total = both["success"] + both["failed"]
    return (100.0 * both["success"] / total.where(total > 0)).rename("optimization rate %")
