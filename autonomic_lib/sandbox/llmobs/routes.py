"""LLM Observability routes: Datadog's public intake and Export API, and the local Agent's endpoints ddtrace uses.

Public API (DD-API-KEY as on Datadog; the Export API also DD-APPLICATION-KEY), checked against
docs.datadoghq.com/llm_observability/instrumentation/api/ (Spans API, Evaluations API), the Export API page
(llm_observability/evaluations/export_api/) and datadog-api-client 2.62.0 (AgentObservabilityApi
`list_llm_obs_spans`, `search_llm_obs_spans`, whose LLMObsSpansResponse the answers deserialize to):

- `POST /api/intake/llm-obs/v1/trace/spans`: 202, empty body (documented); when some spans were refused and
  others stored, 202 with `{"errors": [...]}` naming each refused span's field (Datadog documents no answer to a
  partly bad payload). `POST /api/v2/llmobs`: the same, in ddtrace's event format (its agentless span endpoint,
  `llmobs-intake.<site>/api/v2/llmobs`, ddtrace 4.16.0 llmobs/_constants.py).
- `POST /api/intake/llm-obs/v2/eval-metric`: 202 with the documented response (an id per evaluation).
- `GET /api/v2/llm-obs/v1/spans/events` and `POST /api/v2/llm-obs/v1/spans/events/search`.

The local Agent (what `DD_TRACE_AGENT_URL=http://127.0.0.1:<port>` makes ddtrace call): no keys, as a real Agent
on localhost takes none (it adds its own before forwarding to Datadog).

- `GET /info`: advertises the EVP proxy, which is how ddtrace decides to use it (`should_use_agentless` in
  llmobs/_writer.py looks for `/evp_proxy/v2` among `endpoints`).
- `POST /evp_proxy/v{1-4}/<path>` with `X-Datadog-EVP-Subdomain`: spans at `llmobs-intake` `/api/v2/llmobs`,
  evaluations at `api` `/api/intake/llm-obs/v2/eval-metric` (ddtrace's LLMObsSpanWriter and
  LLMObsEvalMetricWriter); anything else the sandbox cannot forward is a 404 naming the path.
- `PUT /v0.4/traces` (ddtrace's APM traces, msgpack): the LLM Obs spans they carry are stored (apm.py), the rest
  dropped. With APM tracing on, ddtrace's default, ddtrace 4.16.0 sends LLM Obs spans that way rather than through
  the EVP proxy (export mode APM_AGENT, llmobs/_llmobs.py and _processor.py), so `LLMObs.enable(ml_app=...,
  agentless_enabled=False)` works here unchanged; with `DD_APM_TRACING_ENABLED=false` (or `DD_TRACE_ENABLED=false`)
  they come through the EVP proxy instead (export mode LLMOBS_AGENT_PROXY). A span that comes both ways is kept
  once. A payload that is not v0.4 msgpack is a 400, as the Agent answers (its `httpDecodingError`); LLM Obs spans
  it refuses are named under `errors` next to `rate_by_service`, the rest stored.
- `/v0.5/traces` (whose encoding cannot carry meta_struct, so LLM Obs forces v0.4: ddtrace's
  internal/writer/writer.py `_resolve_api_version`), `/v0.7/traces`, stats and instrumentation telemetry
  (`/telemetry/proxy/...`): read within a size bound and dropped, never parsed.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Awaitable, Callable
from urllib.parse import urlencode

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.http.body import IntakeLimits, decode_body, read_body
from autonomic_lib.sandbox.http.params import int_field, parse_int, shorten
from autonomic_lib.sandbox.http.routing import (
    MAX_JSON_DEPTH,
    error_response,
    internal_error,
    json_body,
    json_depth,
    json_response,
    route,
)
from autonomic_lib.sandbox.llmobs.backend import DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, Accepted, LLMObs, SpanFilter
from autonomic_lib.sandbox.logs.search import parse_time

# ddtrace 4.16.0 internal/evp_proxy/constants.py: DEFAULT_EVP_PAYLOAD_SIZE_LIMIT = 5 MiB ("actual server limit is
# 5.1 MB"); the LLM Obs event limit is 5 MB. The sandbox takes 5 MiB, compressed or not.
LLMOBS_LIMITS = IntakeLimits(max_compressed=5 << 20, max_decompressed=5 << 20)
# Sandbox choice for the Agent's trace, stats and telemetry bodies: 50 MiB, above the 20 MiB trace payload ddtrace
# flushes at most (ddtrace 4.16.0 internal/constants.py DEFAULT_MAX_PAYLOAD_SIZE); Datadog documents the Agent's
# own bound only as configuration.
MAX_DROPPED_BODY = 50 << 20
DEFAULT_WINDOW_MS = 15 * 60_000  # documented: from defaults to now minus 15 minutes
SPAN_SUBDOMAIN, EVAL_SUBDOMAIN = "llmobs-intake", "api"  # ddtrace 4.16.0 llmobs/_constants.py
EVP_HEADER = "x-datadog-evp-subdomain"
AGENT_ENDPOINTS = ["/v0.4/traces", "/v0.5/traces", "/v0.7/traces", "/v0.6/stats", "/telemetry/proxy/",
                   "/evp_proxy/v1/", "/evp_proxy/v2/", "/evp_proxy/v3/", "/evp_proxy/v4/"]
Handler = Callable[[Request, LLMObs], Awaitable[Response]]


# ------------------------------------------------------------------------------------------ intake
async def _body(request: Request) -> Any:
    """The JSON body within LLMOBS_LIMITS (gzip or deflate undone), nesting bounded as every API body's."""
    raw, encoding = await read_body(request, LLMOBS_LIMITS.max_compressed), request.headers.get("content-encoding")

    def parse() -> Any:
        try:
            body = orjson.loads(decode_body(raw, encoding, LLMOBS_LIMITS, allow_zstd=False))
        except orjson.JSONDecodeError as exc:
            raise IntakeError(400, f"Invalid JSON in request body: {exc}") from None
        if json_depth(body, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
            raise IntakeError(400, f"The request body nests more than {MAX_JSON_DEPTH} levels")
        return body

    return await run_in_threadpool(parse)


def _accepted(result: Accepted, body: dict[str, Any] | None = None) -> Response:
    answer = dict(body or {})
    if result.refused:
        answer["errors"] = result.refused
    return json_response(answer, 202) if answer else Response(status_code=202)


async def submit_spans(request: Request, llmobs: LLMObs) -> Response:
    body = await _body(request)
    return _accepted(await run_in_threadpool(llmobs.ingest_spans, body))


async def submit_evaluations(request: Request, llmobs: LLMObs) -> Response:
    body = await _body(request)
    result = await run_in_threadpool(llmobs.ingest_evaluations, body)
    metrics = [{"id": e["id"], **_evaluation_echo(e)} for e in result.stored]
    return _accepted(result, {"data": {"type": "evaluation_metric", "id": str(uuid.uuid4()),
                                       "attributes": {"metrics": metrics}}})


def _evaluation_echo(ev: dict[str, Any]) -> dict[str, Any]:
    """A stored evaluation in the documented request/response shape."""
    kind, target = next(iter(ev["join_on"].items()))
    join = ({"span": {"trace_id": target[0], "span_id": target[1]}} if kind == "span"
            else {"tag": {"key": target[0], "value": target[1]}})
    echo = {"join_on": join, "ml_app": ev["ml_app"], "timestamp_ms": ev["timestamp_ms"],
            "metric_type": ev["metric_type"], "label": ev["label"], f"{ev['metric_type']}_value": ev["value"],
            "tags": ev["tags"]}
    echo.update({k: ev[k] for k in ("assessment", "reasoning") if k in ev})
    return echo


# ------------------------------------------------------------------------------------------ the local Agent
def agent_route(path: str, methods: list[str], handler: Handler, llmobs: LLMObs) -> Route:
    """A route of the local Agent: no keys (a real Agent on localhost takes none); refusals as JSON errors."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request, llmobs)
        except IntakeError as exc:
            return error_response(exc.status, *exc.messages, style="jsonapi", media_type="application/json")
        except Exception as exc:
            return internal_error(request, exc, "jsonapi", media_type="application/json")

    return Route(path, endpoint, methods=methods)


async def agent_info(request: Request, llmobs: LLMObs) -> Response:
    """The Agent's `GET /info`, the part ddtrace reads: its endpoints (the EVP proxy among them), and that its trace
    intake takes meta_struct (`span_meta_structs`, a field of the Agent's info.go that libdatadog parses)."""
    return json_response({"version": "sandbox", "endpoints": AGENT_ENDPOINTS, "feature_flags": [],
                          "client_drop_p0s": False, "span_meta_structs": True, "config": {"default_env": "none"}})


_EVP_TARGETS: dict[tuple[str, str], Handler] = {
    (SPAN_SUBDOMAIN, "/api/v2/llmobs"): submit_spans,
    (EVAL_SUBDOMAIN, "/api/intake/llm-obs/v2/eval-metric"): submit_evaluations,
    (EVAL_SUBDOMAIN, "/api/intake/llm-obs/v1/trace/spans"): submit_spans,
}


async def evp_proxy(request: Request, llmobs: LLMObs) -> Response:
    """The Agent's EVP proxy: the subdomain header and the path name the intake the payload is for."""
    if request.path_params["version"] not in ("v1", "v2", "v3", "v4"):
        raise IntakeError(404, "The EVP proxy has versions v1 to v4")
    subdomain = request.headers.get(EVP_HEADER, "")
    if not subdomain:
        raise IntakeError(400, "X-Datadog-EVP-Subdomain header is required by the EVP proxy")
    path = "/" + request.path_params["path"]
    handler = _EVP_TARGETS.get((subdomain.lower(), path))
    if handler is None:
        known = ", ".join(f"{s} {p}" for s, p in _EVP_TARGETS)
        raise IntakeError(404, f"The sandbox's EVP proxy cannot forward {shorten(subdomain, 60)} {shorten(path, 100)}; "
                               f"it serves {known}")
    return await handler(request, llmobs)


async def apm_traces(request: Request, llmobs: LLMObs) -> Response:
    """The Agent's v0.4 trace intake: the LLM Obs spans the traces carry stored, the APM spans dropped."""
    payload = await read_body(request, MAX_DROPPED_BODY)
    result = await run_in_threadpool(llmobs.ingest_apm_traces, payload)
    answer: dict[str, Any] = {"rate_by_service": {}}  # ddtrace reads the Agent's sampling rates from it
    if result.refused:
        answer["errors"] = result.refused
    return json_response(answer)


async def dropped(request: Request, llmobs: LLMObs) -> Response:
    """v0.5 and v0.7 APM traces (which cannot carry LLM Obs spans), stats, telemetry: read within a bound and
    dropped (the sandbox has no APM)."""
    await read_body(request, MAX_DROPPED_BODY)
    if "/traces" in request.url.path:  # ddtrace reads the Agent's sampling rates from the answer
        return json_response({"rate_by_service": {}})
    return json_response({}, 202 if request.url.path.startswith("/telemetry") else 200)


# ------------------------------------------------------------------------------------------ Export API
async def list_spans(request: Request, llmobs: LLMObs) -> Response:
    """`GET /api/v2/llm-obs/v1/spans/events` with `filter[...]`, `page[limit]`, `page[cursor]`, `sort`."""
    params = request.query_params
    tags = {name[len("filter[tag]["):-1]: value for name, value in params.multi_items()
            if name.startswith("filter[tag][") and name.endswith("]")}
    limit = params.get("page[limit]")
    spec = {"from": params.get("filter[from]"), "to": params.get("filter[to]"), "query": params.get("filter[query]"),
            **{k: params.get(f"filter[{k}]") for k in ("ml_app", "trace_id", "span_id", "span_kind", "span_name")}}
    started = time.monotonic()
    page_limit = parse_int(limit, "page[limit]", low=1, high=MAX_PAGE_LIMIT) if limit is not None else None
    flt = _filter(spec, tags, 0, llmobs, "filter")
    answer = await _search(llmobs, flt, page_limit, params.get("page[cursor]"), params.get("sort"), "sort", started)
    after = answer["meta"].get("page", {}).get("after")
    if after:
        query = [(k, v) for k, v in params.multi_items() if k != "page[cursor]"] + [("page[cursor]", after)]
        answer["links"] = {"next": f"{str(request.base_url).rstrip('/')}{request.url.path}?{urlencode(query)}"}
    return json_response(answer)


async def search_spans(request: Request, llmobs: LLMObs) -> Response:
    """`POST /api/v2/llm-obs/v1/spans/events/search` with `{"data": {"type": "spans", "attributes": {filter,
    options, page, sort}}}` (LLMObsSearchSpansRequest)."""
    started = time.monotonic()
    body = await json_body(request)
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or data.get("type") != "spans":
        raise IntakeError(400, "data: required, an object with type 'spans' and attributes")
    attrs = _object(data.get("attributes", {}), "data.attributes")
    spec = _object(attrs.get("filter", {}), "data.attributes.filter")
    page = _object(attrs.get("page", {}), "data.attributes.page")
    options = _object(attrs.get("options", {}), "data.attributes.options")
    tags = _object(spec.get("tags", {}), "data.attributes.filter.tags")
    for key, value in tags.items():
        if not isinstance(value, str):
            raise IntakeError(400, f"data.attributes.filter.tags.{shorten(key)} must be a string")
    for key in ("from", "to", "query", "ml_app", "trace_id", "span_id", "span_kind", "span_name"):
        if spec.get(key) is not None and not isinstance(spec[key], str):
            raise IntakeError(400, f"data.attributes.filter.{key} must be a string, got {shorten(spec[key])}")
    offset = int_field(options.get("time_offset", 0), "data.attributes.options.time_offset", low=-10**9, high=10**9)
    limit = page.get("limit")
    page_limit = (int_field(limit, "data.attributes.page.limit", low=1, high=MAX_PAGE_LIMIT)
                  if limit is not None else None)
    cursor = page.get("cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise IntakeError(400, "data.attributes.page.cursor must be a string")
    sort = attrs.get("sort")
    if sort is not None and not isinstance(sort, str):
        raise IntakeError(400, "data.attributes.sort must be a string")
    flt = _filter(spec, tags, offset, llmobs, "data.attributes.filter")
    return json_response(await _search(llmobs, flt, page_limit, cursor, sort, "data.attributes.sort", started))


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise IntakeError(400, f"{where} must be an object, got {shorten(value)}")
    return value


def _filter(spec: dict[str, Any], tags: dict[str, str], offset_s: int, llmobs: LLMObs, where: str) -> SpanFilter:
    """The filter's time range (ISO 8601, now-15m, epoch ms; from defaults to now-15m, to now; `time_offset`
    seconds added to both) and fields."""
    now_ms = int(llmobs.clock() * 1000)
    start = parse_time(spec["from"], now_ms, f"{where}.from") if spec.get("from") else now_ms - DEFAULT_WINDOW_MS
    end = parse_time(spec["to"], now_ms, f"{where}.to") if spec.get("to") else now_ms
    return SpanFilter(start_ms=start + offset_s * 1000, end_ms=end + offset_s * 1000, tags=tags,
                      query=spec.get("query"),
                      **{k: spec.get(k) for k in ("ml_app", "trace_id", "span_id", "span_kind", "span_name")})


async def _search(llmobs: LLMObs, flt: SpanFilter, limit: int | None, cursor: str | None, sort: str | None,
                  sort_name: str, started: float) -> dict[str, Any]:
    if sort not in (None, "timestamp", "-timestamp"):
        raise IntakeError(400, f"{sort_name} must be timestamp or -timestamp, got {shorten(sort)}")
    page = await run_in_threadpool(lambda: llmobs.search(flt, limit=limit or DEFAULT_PAGE_LIMIT,
                                                         newest_first=sort != "timestamp", cursor=cursor))
    meta = {"elapsed": int((time.monotonic() - started) * 1000), "request_id": str(uuid.uuid4()), "status": "done",
            "page": {"after": page.after} if page.after else {}}  # the client requires page; after only when more
    return {"data": [{"id": s["span_id"], "type": "span", "attributes": s} for s in page.spans], "meta": meta}


def routes(llmobs: LLMObs) -> list[Route]:
    return [
        route("/api/intake/llm-obs/v1/trace/spans", "POST", submit_spans, llmobs, app_key=False, errors="jsonapi"),
        route("/api/v2/llmobs", "POST", submit_spans, llmobs, app_key=False, errors="jsonapi"),
        route("/api/intake/llm-obs/v2/eval-metric", "POST", submit_evaluations, llmobs, app_key=False,
              errors="jsonapi"),
        route("/api/v2/llm-obs/v1/spans/events", "GET", list_spans, llmobs, app_key=True, errors="jsonapi"),
        route("/api/v2/llm-obs/v1/spans/events/search", "POST", search_spans, llmobs, app_key=True, errors="jsonapi"),
        agent_route("/info", ["GET"], agent_info, llmobs),
        agent_route("/evp_proxy/{version:str}/{path:path}", ["POST"], evp_proxy, llmobs),
        agent_route("/v0.4/traces", ["PUT", "POST"], apm_traces, llmobs),
        *[agent_route(path, ["PUT", "POST"], dropped, llmobs)
          for path in ("/v0.5/traces", "/v0.7/traces", "/v0.6/stats", "/v0.1/pipeline_stats")],
        agent_route("/telemetry/proxy/{path:path}", ["POST"], dropped, llmobs),
    ]
