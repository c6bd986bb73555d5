"""Metric routes of the sandbox: intake (v1/v2 series), queries (v1, v2 timeseries, v2 scalar), metadata (v1) and
the v2 metric reads (list, a metric's tags); Metrics Without Limits tag configurations and distribution points are
refused."""

from __future__ import annotations

from typing import Any, Collection

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from autonomic_lib.errors import IntakeError, UnsupportedQueryError
from autonomic_lib.query.language import AllTags
from autonomic_lib.sandbox.http.body import decode_body, read_body
from autonomic_lib.sandbox.http.params import MAX_EPOCH_MS, MAX_EPOCH_S, int_field, int_param, parse_int
from autonomic_lib.sandbox.http.routing import Handler, error_response, json_body, json_response, route
from autonomic_lib.sandbox.metrics.backend import Metrics
from autonomic_lib.sandbox.metrics.evaluate import (
    QueryResult,
    Timeseries,
    evaluate_formulas,
    evaluate_query,
    evaluate_scalar,
)
from autonomic_lib.sandbox.metrics.intake import V1_LIMITS, V2_LIMITS, parse_series_payload
from autonomic_lib.sandbox.metrics.listing import (
    LIST_WINDOW_DEFAULT,
    LIST_WINDOW_MAX,
    MAX_PAGE_SIZE,
    TAGS_WINDOW_DEFAULT,
    UNTRACKED,
    MetricFilter,
    all_tags_body,
    tag_filter,
)
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


def formula_request(body: Any, expected_type: str, sources: Collection[str] = ()
                    ) -> tuple[int, int, dict[str, Any], list[str], dict[str, Any]]:
    """Validate the common shape of v2 timeseries/scalar requests (times in ms) and return its parts.

    A query's data source is `metrics` (with a string `query`) or one of `sources` (another product reads it)."""
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
        if not isinstance(q, dict) or not isinstance(q.get("name", where), str):
            raise IntakeError(400, f"API input validation failed: {where} needs an object with a string 'name' "
                                   "when it has one")
        # `name` is optional (the spec requires data_source and query only); an unnamed query is answered under
        # its place, which no formula can name (formulas reference queries "with their name property")
        q = {**q, "name": q.get("name", where)}
        source = q.get("data_source")
        if source != "metrics" and (not isinstance(source, str) or source not in sources):
            known = ", ".join(repr(s) for s in ("metrics", *sources))
            raise UnsupportedQueryError(f"{where}.data_source {source!r} is not supported by the sandbox (only "
                                        f"{known})")
        if source == "metrics" and not isinstance(q.get("query"), str):
            raise IntakeError(400, f"API input validation failed: {where} needs a string 'query'")
        if q["name"] in named:
            raise IntakeError(400, f"API input validation failed: query name {q['name']!r} is used twice")
        named[q["name"]] = q
    formulas = attrs.get("formulas") or []
    if not isinstance(formulas, list) or not all(isinstance(f, dict) and isinstance(f.get("formula"), str)
                                                 for f in formulas):
        raise IntakeError(400, "API input validation failed: data.attributes.formulas must be objects with 'formula'")
    return attrs["from"] // 1000, attrs["to"] // 1000, named, [f["formula"] for f in formulas], attrs


def _bare_names(named: dict[str, Any], formulas: list[str]) -> list[str]:
    """With a query of another data source, each formula must be one query's name (the sandbox computes formulas
    over metrics only); the names answered, in order."""
    for i, formula in enumerate(formulas):
        if formula.strip() not in named:
            raise UnsupportedQueryError(f"data.attributes.formulas[{i}] {formula[:60]!r}: with a non-metrics query the "
                                        "sandbox answers each query alone; give a query's name as the formula")
    return [f.strip() for f in formulas] or list(named)


def _source_series(metrics: Metrics, named: dict[str, Any], formulas: list[str], start: int, end: int,
                   interval_ms: int | None) -> list[QueryResult]:
    """The series of each query answered, metrics ones by the query engine, the others by their source."""
    results = []
    for name in _bare_names(named, formulas):
        query, where = named[name], f"data.attributes.queries[{list(named).index(name)}]"
        if query["data_source"] == "metrics":
            results += evaluate_formulas({name: query["query"]}, [], metrics.store, start, end, kinds=metrics.kind,
                                         interval=None if interval_ms is None else max(interval_ms // 1000, 1))
            continue
        groups = metrics.sources[query["data_source"]](query, where, start_ms=start * 1000, end_ms=end * 1000,
                                                       interval_ms=interval_ms, total=False)
        series = [Timeseries(group_tags=tags, scope=",".join(tags) or "*", expression=name, metric=None, aggr=None,
                             times=np.array([t // 1000 for t, _ in points], dtype=np.int64),
                             values=np.array([v for _, v in points], dtype=np.float64))
                  for tags, points in groups]
        results.append(QueryResult(series, (interval_ms or 1000) // 1000, ()))
    return results


def _source_scalars(metrics: Metrics, named: dict[str, Any], formulas: list[str], start: int, end: int
                    ) -> list[tuple[str, list[tuple[tuple[str, ...], float | None]]]]:
    """The values of each query answered, metrics ones reduced by their aggregator, the others by their source."""
    results = []
    for name in _bare_names(named, formulas):
        query, where = named[name], f"data.attributes.queries[{list(named).index(name)}]"
        if query["data_source"] == "metrics":
            results += evaluate_scalar({name: (query["query"], _aggregator(name, query))}, [], metrics.store, start,
                                       end, kinds=metrics.kind)
            continue
        groups = metrics.sources[query["data_source"]](query, where, start_ms=start * 1000, end_ms=end * 1000,
                                                       interval_ms=None, total=True)
        results.append((name, [(tags, value) for tags, value in groups]))
    return results


def _aggregator(name: str, query: dict[str, Any]) -> str:
    aggregator = query.get("aggregator", "avg")
    if not isinstance(aggregator, str):
        raise IntakeError(400, f"API input validation failed: aggregator of query {name!r} must be a string")
    return aggregator


async def query_timeseries(request: Request, metrics: Metrics) -> Response:
    start, end, named, formulas, attrs = formula_request(await json_body(request), "timeseries_request",
                                                         metrics.sources)
    interval_ms = attrs.get("interval")
    if interval_ms is not None:
        int_field(interval_ms, "API input validation failed: data.attributes.interval", low=1, high=MAX_EPOCH_MS,
                  what="milliseconds")
    if any(q["data_source"] != "metrics" for q in named.values()):
        results = await run_in_threadpool(_source_series, metrics, named, formulas, start, end, interval_ms)
    else:
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
    start, end, named, formulas, _ = formula_request(await json_body(request), "scalar_request", metrics.sources)
    if any(q["data_source"] != "metrics" for q in named.values()):
        results = await run_in_threadpool(_source_scalars, metrics, named, formulas, start, end)
    else:
        queries = {name: (q["query"], _aggregator(name, q)) for name, q in named.items()}
        results = await run_in_threadpool(evaluate_scalar, queries, formulas, metrics.store, start, end,
                                          kinds=metrics.kind)
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


# ------------------------------------------------------------------------------------------ metadata and v2 reads
async def get_metadata(request: Request, metrics: Metrics) -> Response:
    """GET /api/v1/metrics/{metric_name}: MetricMetadata, or 404."""
    return json_response(await run_in_threadpool(metrics.metadata.get, request.path_params["metric_name"]))


async def update_metadata(request: Request, metrics: Metrics) -> Response:
    """PUT /api/v1/metrics/{metric_name}: the fields the body names change; the metadata after the edit."""
    body = await json_body(request)
    return json_response(await run_in_threadpool(metrics.metadata.update, request.path_params["metric_name"], body))


def _bool(request: Request, name: str) -> bool | None:
    """A boolean query parameter as the client sends it ('true'/'false'); a 400 naming it otherwise."""
    value = request.query_params.get(name)
    if value is None:
        return None
    if value not in ("true", "false"):
        raise IntakeError(400, f"The parameter '{name}' must be true or false, not {value[:40]!r}")
    return value == "true"


async def list_active_v1(request: Request, metrics: Metrics) -> Response:
    """GET /api/v1/metrics?from=[&host=][&tag_filter=]: MetricsListResponse (`from` echoed as a string)."""
    params = request.query_params
    if not params.get("from"):
        raise IntakeError(400, "The parameter 'from' is required")
    since = parse_int(params["from"], "from", what="epoch seconds")  # any int64: a future `from` lists nothing
    scope = tag_filter(params["tag_filter"], "tag_filter") if params.get("tag_filter") else None
    names = await run_in_threadpool(metrics.active_since, since, host=params.get("host") or None, scope=scope)
    return json_response({"from": str(since), "metrics": names})


async def search_metrics(request: Request, metrics: Metrics) -> Response:
    """GET /api/v1/search?q=: MetricSearchResponse (`results.metrics`)."""
    text = request.query_params.get("q")
    if text is None:
        raise IntakeError(400, "The parameter 'q' is required")
    return json_response({"results": {"metrics": await run_in_threadpool(metrics.search_names, text)}})


async def list_metrics(request: Request, metrics: Metrics) -> Response:
    """GET /api/v2/metrics: MetricsAndMetricTagConfigurationsResponse, each metric as a `metrics` resource."""
    params = request.query_params
    for name in UNTRACKED:
        if name in params:
            raise IntakeError(400, f"The parameter '{name}' is not supported by the sandbox: it does not record "
                                   "which metrics are queried, which assets use them, or their volumes")
    metric_type = params.get("filter[metric_type]")
    if metric_type not in (None, "distribution", "non_distribution"):
        raise IntakeError(400, f"The parameter 'filter[metric_type]' must be distribution or non_distribution, "
                               f"not {metric_type[:40]!r}")
    wanted = MetricFilter(
        window=int_param(request, "window[seconds]", LIST_WINDOW_DEFAULT, low=1, high=LIST_WINDOW_MAX),
        tags=tag_filter(params["filter[tags]"], "filter[tags]") if params.get("filter[tags]") else AllTags(),
        metric_type=metric_type, configured=_bool(request, "filter[configured]"),
        is_configurable=_bool(request, "filter[is_configurable]"),
        tags_configured=params.get("filter[tags_configured]"),
        include_percentiles=_bool(request, "filter[include_percentiles]"))
    page_size = int_param(request, "page[size]", low=1, high=MAX_PAGE_SIZE)
    cursor = params.get("page[cursor]")
    names, next_cursor = await run_in_threadpool(metrics.list_active, wanted, page_size=page_size, cursor=cursor)
    body: dict[str, Any] = {"data": [{"id": name, "type": "metrics"} for name in names]}
    if page_size is not None or cursor is not None:  # paging is opt-in, and so is its meta
        size = page_size or MAX_PAGE_SIZE
        body["meta"] = {"pagination": {"cursor": cursor, "limit": size, "next_cursor": next_cursor,
                                       "type": "cursor_limit"}}
        base = f"{request.base_url}api/v2/metrics"
        body["links"] = {"self": str(request.url), "first": f"{base}?page[size]={size}", "prev": None, "last": None,
                         "next": f"{base}?page[size]={size}&page[cursor]={next_cursor}" if next_cursor else None}
    return json_response(body)


async def list_all_tags(request: Request, metrics: Metrics) -> Response:
    """GET /api/v2/metrics/{metric_name}/all-tags: MetricAllTagsResponse (indexed and ingested tags), or 404."""
    metric, params = request.path_params["metric_name"], request.query_params
    window = int_param(request, "window[seconds]", TAGS_WINDOW_DEFAULT, low=TAGS_WINDOW_DEFAULT, high=MAX_EPOCH_S)
    scope = tag_filter(params["filter[tags]"], "filter[tags]") if params.get("filter[tags]") else AllTags()
    values = _bool(request, "filter[include_tag_values]")
    _bool(request, "filter[allow_partial]")  # the sandbox's answers are always complete
    tags = await run_in_threadpool(metrics.tags_of, metric, window=window, scope=scope,
                                   match=params.get("filter[match]"), values=values is not False,
                                   limit=int_param(request, "page[limit]", low=1))
    return json_response(all_tags_body(metric, tags))


async def tag_configuration(request: Request, metrics: Metrics) -> Response:
    """GET /api/v2/metrics/{metric_name}/tags: the sandbox has no tag configurations, so 404 as Datadog answers a
    metric without one (the metric itself may well exist)."""
    metric = request.path_params["metric_name"]
    return error_response(404, f"No tag configuration for metric {metric[:200]}: the sandbox has no Metrics Without "
                               "Limits configurations")


async def refuse_tag_configuration(request: Request, metrics: Metrics) -> Response:
    """POST/PATCH/DELETE /api/v2/metrics/{metric_name}/tags: refused loudly, never faked."""
    return error_response(400, "Metrics Without Limits tag configurations are not supported by the sandbox (it "
                               "indexes every tag it ingests); nothing was changed")


async def refuse_distribution_points(request: Request, metrics: Metrics) -> Response:
    """POST /api/v1/distribution_points: refused loudly (400, one of the operation's documented answers), never
    stored as something else. Datadog keeps distributions as global sketches queried for percentiles; the sandbox's
    store keeps one value a point, so it could not answer `count:` or `p95:` of one right (as DogStatsD `d`)."""
    return error_response(400, "Distribution metrics are not supported by the sandbox (it has no distribution "
                               "type, so count: and percentile queries of one could not be answered right); nothing "
                               "was stored. Send the values as a histogram over DogStatsD (type h: .avg, .count, "
                               ".max, .median, .95percentile) or a gauge to /api/v1/series or /api/v2/series")


def routes(metrics: Metrics) -> list[Route]:
    return [
        route("/api/v1/validate", "GET", validate, metrics, app_key=False),
        route("/api/v2/series", "POST", submit_series(2), metrics, app_key=False),
        route("/api/v1/series", "POST", submit_series(1), metrics, app_key=False),
        route("/api/v1/distribution_points", "POST", refuse_distribution_points, metrics, app_key=False),
        route("/api/v1/query", "GET", query_v1, metrics, app_key=True),
        route("/api/v2/query/timeseries", "POST", query_timeseries, metrics, app_key=True),
        route("/api/v2/query/scalar", "POST", query_scalar, metrics, app_key=True),
        route("/api/v1/metrics", "GET", list_active_v1, metrics, app_key=True),
        route("/api/v1/search", "GET", search_metrics, metrics, app_key=True),
        route("/api/v1/metrics/{metric_name}", "GET", get_metadata, metrics, app_key=True),
        route("/api/v1/metrics/{metric_name}", "PUT", update_metadata, metrics, app_key=True),
        route("/api/v2/metrics", "GET", list_metrics, metrics, app_key=True),
        route("/api/v2/metrics/{metric_name}/all-tags", "GET", list_all_tags, metrics, app_key=True),
        route("/api/v2/metrics/{metric_name}/tags", "GET", tag_configuration, metrics, app_key=True),
        *(route("/api/v2/metrics/{metric_name}/tags", method, refuse_tag_configuration, metrics, app_key=True)
          for method in ("POST", "PATCH", "DELETE")),
    ]
