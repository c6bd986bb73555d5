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
