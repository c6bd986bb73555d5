"""Metric routes of the sandbox: intake (v1/v2 series) and queries (v1, v2 timeseries, v2 scalar)."""

from __future__ import annotations

from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from autonomic_lib.errors import IntakeError, UnsupportedQueryError
from autonomic_lib.sandbox.http.body import decode_body, read_body
from autonomic_lib.sandbox.http.params import MAX_EPOCH_MS, MAX_EPOCH_S, int_field, parse_int
from autonomic_lib.sandbox.http.routing import Handler, error_response, json_body, json_response, route
from autonomic_lib.sandbox.metrics.backend import Metrics
from autonomic_lib.sandbox.metrics.evaluate import QueryResult, evaluate_formulas, evaluate_query, evaluate_scalar
from autonomic_lib.sandbox.metrics.intake import V1_LIMITS, V2_LIMITS, parse_series_payload
from autonomic_lib.units import unit as lookup_unit


async def validate(request: Request, metrics: Metrics) -> Response:
    return json_response({"valid": True})


def submit_series(version: int) -> Handler[Metrics]:
    limits = V2_LIMITS if version == 2 else V1_LIMITS

    async def handler(request: Request, metrics: Metrics) -> Response:
        body = await read_body(request, limits.max_compressed)

        def ingest() -> int:
            raw = decode_body(body, request.headers.get("content-encoding"), limits, allow_zstd=version == 2)
            batch = parse_series_payload(raw, version=version, policy=metrics.policy)
            return metrics.write(batch)

        await run_in_threadpool(ingest)
        return json_response({"errors": []} if version == 2 else {"status": "ok"}, 202)

    return handler


async def query_v1(request: Request, metrics: Metrics) -> Response:
    params = request.query_params
    for name in ("from", "to", "query"):
        if not params.get(name):
            return error_response(400, f"Missing required parameter '{name}'")
    start, end = (parse_int(params[name], name, high=MAX_EPOCH_S, what="integer epoch seconds")
                  for name in ("from", "to"))
    if end <= start:
        return error_response(400, "Parameter 'to' must be later than 'from'")
    text = params["query"]
    result = await run_in_threadpool(evaluate_query, text, metrics.store, start, end, kinds=metrics.kind)
    return json_response(v1_response(text, start, end, result))


def v1_response(text: str, start: int, end: int, result: QueryResult) -> dict[str, Any]:
    """Shape a query result as GET /api/v1/query answers (times in ms, only buckets with data)."""
    series: list[dict[str, Any]] = []
    for ts in result.series:
        keep = ~np.isnan(ts.values)
        times, values = ts.times[keep], ts.values[keep]
        # orjson writes numpy arrays natively; tolist() would cost more than the whole query
        pointlist = np.ascontiguousarray(np.column_stack([times.astype(np.float64) * 1000.0, values]))
        first = int(times[0]) if len(times) else start
        last = int(times[-1]) if len(times) else start
        series.append({
            "metric": ts.metric or ts.expression, "display_name": ts.metric or ts.expression,
            "expression": ts.expression, "scope": ts.scope, "tag_set": list(ts.group_tags), "aggr": ts.aggr,
            "pointlist": pointlist, "start": first * 1000, "end": (last + result.interval - 1) * 1000,
            "interval": result.interval, "length": len(pointlist), "query_index": 0, "attributes": {},
            "unit": unit_pair(ts.unit),
        })
    return {"status": "ok", "res_type": "time_series", "resp_version": 1, "query": text,
            "from_date": start * 1000, "to_date": end * 1000, "group_by": list(result.group_by), "message": "",
            "series": series, "times": [], "values": []}


def unit_pair(kind_unit: tuple[str | None, str | None]) -> list[dict[str, Any] | None]:
    """The 2-element unit array of query responses."""
    return [u.as_json() if (u := lookup_unit(name)) else None for name in kind_unit]


def formula_request(body: Any, expected_type: str) -> tuple[int, int, dict[str, Any], list[str], dict[str, Any]]:
    """Validate the common shape of v2 timeseries/scalar requests (times in ms) and return its parts."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or data.get("type") != expected_type:
        raise IntakeError(400, f'API input validation failed: Invalid type. Expected "{expected_type}".')
    attrs = data.get("attributes")
    if not isinstance(attrs, dict):
        raise IntakeError(400, "API input validation failed: data.attributes is required")
    for name in ("from", "to"):
        int_field(attrs.get(name), f"API input validation failed: data.attributes.{name}", high=MAX_EPOCH_MS,
                  what="epoch milliseconds")
    if attrs["to"] <= attrs["from"]:
        raise IntakeError(400, "API input validation failed: data.attributes.to must be later than from")
    queries = attrs.get("queries")
    if not isinstance(queries, list) or not queries:
        raise IntakeError(400, "API input validation failed: data.attributes.queries must be a non-empty array")
    named: dict[str, Any] = {}
    for i, q in enumerate(queries):
        where = f"data.attributes.queries[{i}]"
        if not isinstance(q, dict) or not isinstance(q.get("query"), str) or not isinstance(q.get("name"), str):
            raise IntakeError(400, f"API input validation failed: {where} needs string 'name' and 'query'")
        if q.get("data_source") != "metrics":
            raise UnsupportedQueryError(f"{where}.data_source {q.get('data_source')!r} is not supported by the sandbox "
                                        "(only 'metrics')")
        if q["name"] in named:
            raise IntakeError(400, f"API input validation failed: query name {q['name']!r} is used twice")
        named[q["name"]] = q
    formulas = attrs.get("formulas") or []
    if not isinstance(formulas, list) or not all(isinstance(f, dict) and isinstance(f.get("formula"), str)
                                                 for f in formulas):
        raise IntakeError(400, "API input validation failed: data.attributes.formulas must be objects with 'formula'")
    return attrs["from"] // 1000, attrs["to"] // 1000, named, [f["formula"] for f in formulas], attrs


async def query_timeseries(request: Request, metrics: Metrics) -> Response:
    start, end, named, formulas, attrs = formula_request(await json_body(request), "timeseries_request")
    interval_ms = attrs.get("interval")
    if interval_ms is not None:
        int_field(interval_ms, "API input validation failed: data.attributes.interval", low=1, high=MAX_EPOCH_MS,
                  what="milliseconds")
    queries = {name: q["query"] for name, q in named.items()}
    results = await run_in_threadpool(
        evaluate_formulas, queries, formulas, metrics.store, start, end,
        interval=None if interval_ms is None else max(interval_ms // 1000, 1), kinds=metrics.kind)
    with_data = [ts.times[~np.isnan(ts.values)] for r in results for ts in r.series]
    all_times = np.unique(np.concatenate(with_data)) if with_data else np.empty(0, np.int64)
    series, values = [], []
    for query_index, result in enumerate(results):
        for ts in result.series:
            row = np.full(len(all_times), np.nan)  # orjson writes NaN as null, Datadog's "no value"
            keep = ~np.isnan(ts.values)
            row[np.searchsorted(all_times, ts.times[keep])] = ts.values[keep]
            series.append({"group_tags": list(ts.group_tags), "query_index": query_index, "unit": unit_pair(ts.unit)})
            values.append(row)
    body = {"data": {"id": "0", "type": "timeseries_response", "attributes": {
        "series": series, "times": all_times * 1000, "values": values}}}
    return json_response(body, media_type="application/vnd.api+json")


async def query_scalar(request: Request, metrics: Metrics) -> Response:
    start, end, named, formulas, _ = formula_request(await json_body(request), "scalar_request")
    queries = {}
    for name, q in named.items():
        aggregator = q.get("aggregator", "avg")
        if not isinstance(aggregator, str):
            raise IntakeError(400, f"API input validation failed: aggregator of query {name!r} must be a string")
        queries[name] = (q["query"], aggregator)
    results = await run_in_threadpool(evaluate_scalar, queries, formulas, metrics.store, start, end, kinds=metrics.kind)
    rows = sorted({tags for _, pairs in results for tags, _ in pairs})
    keys = [t.partition(":")[0] for t in rows[0]] if rows and rows[0] else []
    columns: list[dict[str, Any]] = [
        {"name": key, "type": "group", "values": [[row[i].partition(":")[2]] if i < len(row) else [] for row in rows]}
        for i, key in enumerate(keys)]
    for name, pairs in results:
        by_tags = dict(pairs)
        columns.append({"name": name, "type": "number", "values": [by_tags.get(row) for row in rows],
                        "meta": {"unit": None}})
    body = {"data": {"id": "0", "type": "scalar_response", "attributes": {"columns": columns}}}
    return json_response(body, media_type="application/vnd.api+json")


def routes(metrics: Metrics) -> list[Route]:
    return [
        route("/api/v1/validate", "GET", validate, metrics, app_key=False),
        route("/api/v2/series", "POST", submit_series(2), metrics, app_key=False),
        route("/api/v1/series", "POST", submit_series(1), metrics, app_key=False),
        route("/api/v1/query", "GET", query_v1, metrics, app_key=True),
        route("/api/v2/query/timeseries", "POST", query_timeseries, metrics, app_key=True),
        route("/api/v2/query/scalar", "POST", query_scalar, metrics, app_key=True),
    ]
