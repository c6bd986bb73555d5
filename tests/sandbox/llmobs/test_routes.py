"""The LLM Observability routes against the session sandbox, read back with the official datadog-api-client
(AgentObservabilityApi, type checking on); and the issue's done-when with the real ddtrace LLMObs SDK in agent mode
(`DD_TRACE_AGENT_URL` at the sandbox), read back through the Export API and GET /api/v1/query."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import msgpack
import pytest
import urllib3
from datadog_api_client import ApiClient
from datadog_api_client.v1.api.metrics_api import MetricsApi
from datadog_api_client.v2.api.agent_observability_api import AgentObservabilityApi
from datadog_api_client.v2.model.llm_obs_search_spans_request import LLMObsSearchSpansRequest
from datadog_api_client.v2.model.llm_obs_search_spans_request_attributes import LLMObsSearchSpansRequestAttributes
from datadog_api_client.v2.model.llm_obs_search_spans_request_data import LLMObsSearchSpansRequestData
from datadog_api_client.v2.model.llm_obs_search_spans_request_type import LLMObsSearchSpansRequestType
from datadog_api_client.v2.model.llm_obs_span_filter import LLMObsSpanFilter
from datadog_api_client.v2.model.llm_obs_span_page_query import LLMObsSpanPageQuery
from datadog_api_client.v2.model.llm_obs_spans_response import LLMObsSpansResponse

from autonomic_lib.sandbox.server import SandboxServer
from tests.conftest import client_for, raw, start_sandbox
from tests.sandbox.llmobs.conftest import evaluation, evaluations_payload, span, spans_payload, trace

EMITTER = Path(__file__).with_name("ddtrace_emitter.py")
pytestmark = pytest.mark.filterwarnings("ignore:Using unstable operation:UserWarning")  # the client's own note


@pytest.fixture
def llmobs_api(api_client: ApiClient) -> AgentObservabilityApi:
    for operation in ("search_llm_obs_spans", "list_llm_obs_spans"):  # the client marks them unstable
        api_client.configuration.unstable_operations[operation] = True
    return AgentObservabilityApi(api_client)


def search(api: AgentObservabilityApi, **filters: Any) -> LLMObsSpansResponse:
    limit = filters.pop("limit", 100)
    body = LLMObsSearchSpansRequest(data=LLMObsSearchSpansRequestData(
        type=LLMObsSearchSpansRequestType.SPANS, attributes=LLMObsSearchSpansRequestAttributes(
            filter=LLMObsSpanFilter(_from="now-1h", **filters), page=LLMObsSpanPageQuery(limit=limit))))
    return api.search_llm_obs_spans(body=body)


def ml_app() -> str:
    return f"routes-{uuid.uuid4().hex[:8]}"


def test_spans_and_evaluations_posted_to_the_public_intake_are_found_typed(
        session_sandbox: SandboxServer, llmobs_api: AgentObservabilityApi) -> None:
    app = ml_app()
    trace_id, payload = trace(app)
    assert raw(session_sandbox, "POST", "/api/intake/llm-obs/v1/trace/spans", payload, app_key=False) == (202, None)
    status, answer = raw(session_sandbox, "POST", "/api/intake/llm-obs/v2/eval-metric", evaluations_payload(
        evaluation(app, join={"span": {"trace_id": trace_id, "span_id": "2"}}, assessment="pass")), app_key=False)
    assert status == 202 and answer["data"]["type"] == "evaluation_metric"
    assert answer["data"]["attributes"]["metrics"][0]["categorical_value"] == "pass"

    found = search(llmobs_api, ml_app=app, span_kind="llm")
    [llm] = found.data
    assert (llm.attributes.trace_id, llm.attributes.model_name, llm.attributes.span_kind) == (
        trace_id, "gemini-2.5-flash", "llm")
    assert llm.attributes.evaluation["verdict"].value == "pass"
    assert llm.attributes.metrics["input_tokens"] == 10.0


def test_list_pages_with_the_cursor_through_every_span(session_sandbox: SandboxServer,
                                                       llmobs_api: AgentObservabilityApi) -> None:
    app = ml_app()
    trace_id = uuid.uuid4().hex
    t = time.time_ns() - 60 * 10**9
    raw(session_sandbox, "POST", "/api/intake/llm-obs/v1/trace/spans",
        spans_payload(app, *[span(trace_id, str(i), kind="task", start_ns=t + i) for i in range(5)]), app_key=False)
    seen, cursor = [], None
    while True:
        kwargs = {"page_cursor": cursor} if cursor else {}
        page = llmobs_api.list_llm_obs_spans(filter_ml_app=app, filter_from="now-1h", page_limit=2, sort="timestamp",
                                             **kwargs)
        seen += [s.id for s in page.data]
        if "after" not in page.meta.page:
            break
        cursor = page.meta.page.after
        assert page.links.next.endswith(f"page%5Bcursor%5D={cursor}")
    assert seen == ["0", "1", "2", "3", "4"]


def test_a_partly_bad_payload_stores_the_good_spans_and_names_the_bad(session_sandbox: SandboxServer,
                                                                      llmobs_api: AgentObservabilityApi) -> None:
    app = ml_app()
    bad = span("tb", "2", kind="nonsense")
    status, answer = raw(session_sandbox, "POST", "/api/intake/llm-obs/v1/trace/spans",
                         spans_payload(app, span("tb", "1"), bad), app_key=False)
    assert status == 202
    assert answer["errors"] == ["data.attributes.spans[1].meta.kind must be one of agent, workflow, llm, tool, task, "
                                "embedding, retrieval, got 'nonsense'"]
    assert [s.id for s in search(llmobs_api, ml_app=app).data] == ["1"]
    status, answer = raw(session_sandbox, "POST", "/api/intake/llm-obs/v1/trace/spans", spans_payload(app, bad),
                         app_key=False)
    assert status == 400 and "spans[0].meta.kind" in answer["errors"][0]["detail"]


def test_the_public_intake_needs_the_api_key_and_the_local_agent_does_not(session_sandbox: SandboxServer) -> None:
    payload = spans_payload(ml_app(), span("tk", "1"))
    http = urllib3.PoolManager(retries=False)
    public = http.request("POST", session_sandbox.url + "/api/intake/llm-obs/v1/trace/spans", json=payload)
    assert public.status == 403
    agent = http.request("POST", session_sandbox.url + "/evp_proxy/v2/api/intake/llm-obs/v1/trace/spans",
                         json=payload, headers={"X-Datadog-EVP-Subdomain": "api"})
    assert agent.status == 202
    unknown = http.request("POST", session_sandbox.url + "/evp_proxy/v2/api/v2/citestcycle", json=payload,
                           headers={"X-Datadog-EVP-Subdomain": "citestcycle-intake"})
    assert unknown.status == 404 and "cannot forward" in unknown.json()["errors"][0]["detail"]
    info = http.request("GET", session_sandbox.url + "/info").json()
    assert "/evp_proxy/v2/" in info["endpoints"] and info["span_meta_structs"] is True
    dropped = http.request("PUT", session_sandbox.url + "/v0.5/traces", body=b"\x92\x90\x90",
                           headers={"Content-Type": "application/msgpack"})
    assert dropped.status == 200 and dropped.json() == {"rate_by_service": {}}


def test_an_apm_trace_payload_that_is_not_v04_msgpack_is_a_400_and_one_without_llm_obs_spans_a_200(
        session_sandbox: SandboxServer) -> None:
    """As the Agent answers (its httpDecodingError: 400); the sandbox's error body is its JSON:API one."""
    http = urllib3.PoolManager(retries=False)
    headers = {"Content-Type": "application/msgpack"}
    bad = http.request("PUT", session_sandbox.url + "/v0.4/traces", body=b"\x91\x91\x01", headers=headers)
    assert bad.status == 400 and bad.json()["errors"][0]["detail"] == (
        "traces[0][0] must be a msgpack map (a span; byte 2)")
    plain = msgpack.packb([[{"trace_id": 1, "span_id": 2, "name": "http.request", "start": 1, "duration": 1}]])
    ok = http.request("PUT", session_sandbox.url + "/v0.4/traces", body=plain, headers=headers)
    assert ok.status == 200 and ok.json() == {"rate_by_service": {}}


def test_a_body_past_5_mib_is_a_413_and_stores_nothing(session_sandbox: SandboxServer) -> None:
    """ddtrace's EVP payload limit (5 MiB, internal/evp_proxy/constants.py), refused before it is buffered."""
    before = session_sandbox.sandbox.documents.count("llmobs-span")
    big = b'{"data": {"type": "span", "attributes": {"ml_app": "x", "spans": [], "pad": "' + b"x" * (5 << 20) + b'"}}}'
    for path, headers in (("/api/intake/llm-obs/v1/trace/spans", {"DD-API-KEY": session_sandbox.config.api_key}),
                          ("/evp_proxy/v2/api/v2/llmobs", {"X-Datadog-EVP-Subdomain": "llmobs-intake"})):
        answer = urllib3.request("POST", session_sandbox.url + path, body=big,
                                 headers={"Content-Type": "application/json", **headers})
        assert answer.status == 413 and "5242880 byte limit" in answer.json()["errors"][0]["detail"]
    assert session_sandbox.sandbox.documents.count("llmobs-span") == before


def test_a_malformed_search_is_a_400_naming_the_field(session_sandbox: SandboxServer) -> None:
    body = {"data": {"type": "spans", "attributes": {"filter": {"from": "yesterday-ish"}}}}
    status, answer = raw(session_sandbox, "POST", "/api/v2/llm-obs/v1/spans/events/search", body)
    assert status == 400 and answer["errors"][0]["detail"].startswith("data.attributes.filter.from 'yesterday-ish'")
    status, answer = raw(session_sandbox, "GET", "/api/v2/llm-obs/v1/spans/events?page[limit]=5001")
    assert status == 400 and "page[limit]" in answer["errors"][0]["detail"]


@pytest.mark.parametrize("apm_tracing", ["default", "off"])
def test_real_ddtrace_llmobs_in_agent_mode_is_found_through_the_export_api_and_the_metrics(
        session_sandbox: SandboxServer, llmobs_api: AgentObservabilityApi, api_client: ApiClient,
        apm_tracing: str) -> None:
    """The issue's done-when: a script using only ddtrace's LLMObs, agentless off, DD_TRACE_AGENT_URL at the sandbox.

    ddtrace patches globally, so it runs in a subprocess. Both ways ddtrace 4.16.0 sends the spans: with its default
    settings (APM tracing on) on the APM trace, in the v0.4 payload's meta_struct; with DD_APM_TRACING_ENABLED=false
    through the Agent's EVP proxy. Telemetry, remote configuration and startup logs are off so it is fast and quiet.
    """
    app = ml_app()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DD_", "_DD_"))}
    env.update(DD_TRACE_AGENT_URL=session_sandbox.url, DD_INSTRUMENTATION_TELEMETRY_ENABLED="false",
               DD_REMOTE_CONFIGURATION_ENABLED="false", DD_TRACE_STARTUP_LOGS="false", DD_SERVICE="ddtrace-test",
               DD_ENV="test")
    if apm_tracing == "off":
        env["DD_APM_TRACING_ENABLED"] = "false"
    done = subprocess.run([sys.executable, str(EMITTER), app], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    trace_id, llm_span_id, export_mode = done.stdout.split()
    assert export_mode == {"default": "apm_agent", "off": "llmobs_agent_proxy"}[apm_tracing]

    spans = {s.attributes.span_kind: s.attributes for s in search(llmobs_api, ml_app=app, trace_id=trace_id).data}
    assert set(spans) == {"workflow", "llm"}
    llm = spans["llm"]
    assert (llm.span_id, llm.parent_id, llm.model_name, llm.model_provider) == (
        llm_span_id, spans["workflow"].span_id, "gemini-2.5-flash", "google")
    assert llm.metrics["output_tokens"] == 5.0 and llm.input.messages[0].content == "hello"
    assert llm.evaluation["auditor_verdict"].value == "pass"
    assert llm.evaluation["auditor_verdict"].assessment == "pass"

    now = int(time.time())
    metrics = MetricsApi(api_client)
    count = metrics.query_metrics(_from=now - 600, to=now + 60,
                                  query=f"sum:ml_obs.span{{ml_app:{app}}} by {{span_kind}}")
    assert {s.scope: sum(p.value[1] for p in s.pointlist if p.value[1] is not None) for s in count.series} == {
        f"ml_app:{app},span_kind:llm": 1.0, f"ml_app:{app},span_kind:workflow": 1.0}
    query = f"avg:ml_obs.span.llm.input.tokens{{ml_app:{app},model_name:gemini-2.5-flash}}"
    tokens = metrics.query_metrics(_from=now - 600, to=now + 60, query=query)
    assert [p.value[1] for s in tokens.series for p in s.pointlist if p.value[1] is not None] == [12.0]


def test_spans_and_evaluations_survive_a_restart_and_a_new_run_clears_them(tmp_path: Path) -> None:
    """Durable like logs (the sandbox's DuckDB file), and forgotten by POST /sandbox/reset with the run's
    telemetry, ml_obs.* points included."""
    app = ml_app()
    trace_id, payload = trace(app)
    server = start_sandbox(tmp_path / "sbx")
    try:
        raw(server, "POST", "/api/intake/llm-obs/v1/trace/spans", payload, app_key=False)
        raw(server, "POST", "/api/intake/llm-obs/v2/eval-metric", evaluations_payload(
            evaluation(app, join={"span": {"trace_id": trace_id, "span_id": "2"}})), app_key=False)
    finally:
        server.stop()
    server = start_sandbox(tmp_path / "sbx")
    try:
        with client_for(server) as client:
            for operation in ("search_llm_obs_spans", "list_llm_obs_spans"):
                client.configuration.unstable_operations[operation] = True
            api = AgentObservabilityApi(client)
            found = {s.id: s.attributes for s in search(api, ml_app=app).data}
            assert set(found) == {"1", "2"} and found["2"].evaluation["verdict"].value == "pass"
            status, answer = raw(server, "POST", "/sandbox/reset")
            assert status == 200
            assert (answer["cleared"]["llm_spans"], answer["cleared"]["llm_evaluations"]) == (2, 1)
            assert search(api, ml_app=app).data == []
            assert server.sandbox.store.series("ml_obs.span") == []
    finally:
        server.stop()
