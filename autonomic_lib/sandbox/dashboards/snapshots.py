"""Graph snapshots: what GET /api/v1/graph/snapshot promises (a PNG of a query over a range), drawn by matplotlib.

Datadog answers GraphSnapshot {metric_query, snapshot_url, graph_def} and renders the PNG asynchronously
(v1 spec: "there is some delay before it is available"); the sandbox stores the request under an unguessable
token and draws the PNG when the URL is first fetched, from `evaluate_query` over [start, end), at exactly
`width` x `height` pixels (defaults 600 x 300, a sandbox choice; Datadog's defaults are unconfirmed). Like
Datadog's public snapshot links, the PNG needs no keys. `graph_def` takes the documented JSON form
`{"requests": [{"q": "<query>"}], ...}`; each request's `q` is drawn. The backend (`Dashboards.create_snapshot`,
`snapshot_png`) stores the checked request and calls `draw`; this module holds no state.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import orjson

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.http.params import EPOCH_SECONDS, MAX_EPOCH_S, parse_int
from autonomic_lib.sandbox.metrics.backend import Metrics

DEFAULT_SIZE = (600, 300)
SIZE_RANGE = (100, 4000)
DPI = 100
MAX_LEGEND = 10


def check_request(*, start: str | None, end: str | None, metric_query: str | None, graph_def: str | None,
                  title: str | None, width: str | None, height: str | None) -> dict[str, Any]:
    """Validate a snapshot request's query parameters, as given; returns what to store (queries, range, size).

    Raises:
        IntakeError: 400 naming the first parameter at fault (start, end, the query, width, height).
        QueryError: a malformed query, refused now rather than when the PNG is fetched.
    """
    params = {"start": start, "end": end, "width": width, "height": height}
    bounds = []
    for name in ("start", "end"):
        raw = params[name]
        if not raw:
            raise IntakeError(400, f"The parameter '{name}' is required")
        bounds.append(parse_int(raw, name, high=MAX_EPOCH_S, what=EPOCH_SECONDS))
    begin, finish = bounds
    if finish <= begin:
        raise IntakeError(400, "The parameter 'end' must be after 'start'")
    if not metric_query and not graph_def:
        raise IntakeError(400, "One of the parameters 'metric_query' or 'graph_def' is required")
    queries = [metric_query] if metric_query else _graph_def_queries(graph_def or "")
    size = []
    for name, default in zip(("width", "height"), DEFAULT_SIZE):
        raw = params[name]
        size.append(default if raw is None else parse_int(raw, name, low=SIZE_RANGE[0], high=SIZE_RANGE[1],
                                                            what="a number of pixels"))
    from autonomic_lib.query.language import parse_query  # refuse a malformed query now, not when the PNG is fetched
    for query in queries:
        parse_query(query)
    return {"queries": queries, "start": begin, "end": finish, "title": title or "", "width": size[0],
            "height": size[1], "metric_query": metric_query, "graph_def": graph_def}


def _graph_def_queries(graph_def: str) -> list[str]:
    try:
        definition = orjson.loads(graph_def)
    except orjson.JSONDecodeError as exc:
        raise IntakeError(400, f"The parameter 'graph_def' must be JSON: {exc}") from None
    requests = definition.get("requests") if isinstance(definition, dict) else None
    queries = [r["q"] for r in requests or [] if isinstance(r, dict) and isinstance(r.get("q"), str)]
    if not queries:
        raise IntakeError(400, "graph_def needs 'requests': [{\"q\": \"<metric query>\"}, ...]")
    return queries


def response(doc: dict[str, Any], base_url: str) -> dict[str, Any]:
    """The GraphSnapshot body."""
    return {"metric_query": doc["metric_query"] or "", "graph_def": doc["graph_def"] or "",
            "snapshot_url": f"{base_url.rstrip('/')}/snapshot/{doc['token']}.png"}


def draw(doc: dict[str, Any], metrics: Metrics) -> bytes:
    """The snapshot drawn now from `metrics`: one line per series (gaps where there is no data), UTC time axis."""
    from matplotlib.dates import DateFormatter
    from matplotlib.figure import Figure

    from autonomic_lib.sandbox.metrics.evaluate import evaluate_query

    width, height = doc["width"], doc["height"]
    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    axes = figure.add_subplot()
    drawn = 0
    for query in doc["queries"]:
        result = evaluate_query(query, metrics.store, doc["start"], doc["end"], kinds=metrics.kind)
        for series in result.series:
            times = [datetime.fromtimestamp(int(t), UTC) for t in series.times]
            # matplotlib converts datetimes through its units registry (a date axis); its stubs only say float
            axes.plot(times, series.values, linewidth=1.2, label=series.scope)  # type: ignore[arg-type]
            drawn += 1
    axes.set_xlim(datetime.fromtimestamp(doc["start"], UTC),  # type: ignore[arg-type]
                  datetime.fromtimestamp(doc["end"], UTC))  # type: ignore[arg-type]
    axes.xaxis.set_major_formatter(DateFormatter("%H:%M", tz=UTC))
    axes.tick_params(labelsize=7)
    axes.grid(True, linewidth=0.3, alpha=0.6)
    axes.set_title(doc["title"] or ", ".join(doc["queries"]), fontsize=8)
    if drawn == 0:
        axes.text(0.5, 0.5, "No data", transform=axes.transAxes, ha="center", va="center", color="grey")
    elif drawn <= MAX_LEGEND:
        axes.legend(fontsize=6, loc="upper left")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()
