"""The LLM trace page (`/llm-obs/traces/<trace_id>`, links.page_url(..., "llm_trace", ...)): the span tree with
timings, tokens, cost and evaluations; opened only by its token; stored text shown as text."""

from __future__ import annotations

import urllib3

from autonomic_lib.links import page_token, page_url
from autonomic_lib.sandbox.pages.backend import Pages
from autonomic_lib.sandbox.server import SandboxServer
from tests.conftest import raw
from tests.sandbox.llmobs.conftest import evaluation, evaluations_payload, now_ns, span, spans_payload, trace


def test_the_trace_page_shows_the_span_tree_with_tokens_cost_and_the_verdict(session_sandbox: SandboxServer) -> None:
    trace_id, payload = trace("page-app")
    payload["data"]["attributes"]["spans"][1]["meta"]["input"] = {"value": "<b>bold</b>"}
    raw(session_sandbox, "POST", "/api/intake/llm-obs/v1/trace/spans", payload, app_key=False)
    raw(session_sandbox, "POST", "/api/intake/llm-obs/v2/eval-metric", evaluations_payload(
        evaluation("page-app", join={"span": {"trace_id": trace_id, "span_id": "2"}}, label="auditor",
                   value="fail", assessment="fail")), app_key=False)
    url = page_url(session_sandbox.url, "llm_trace", trace_id, api_key=session_sandbox.config.api_key)
    page = urllib3.request("GET", url)
    text = page.data.decode()
    assert page.status == 200
    assert "2 spans · 3,000 ms · 14 tokens" in text and "$0.003000" in text
    assert 'padding-left: 1.5em">llm-step' in text  # the llm span one level under the workflow
    assert "google/gemini-2.5-flash" in text and "auditor: fail" in text
    assert "&lt;b&gt;bold&lt;/b&gt;" in text and "<b>bold</b>" not in text


def test_the_trace_page_needs_its_token_and_an_unknown_trace_is_a_404(session_sandbox: SandboxServer) -> None:
    trace_id, payload = trace("page-app")
    raw(session_sandbox, "POST", "/api/intake/llm-obs/v1/trace/spans", payload, app_key=False)
    base = f"{session_sandbox.url}/llm-obs/traces/{trace_id}"
    other = page_token(session_sandbox.config.api_key, "/llm-obs/traces/another")
    for attempt in (base, f"{base}?token={other}"):
        assert urllib3.request("GET", attempt).status == 404
    unknown = page_url(session_sandbox.url, "llm_trace", "no-such-trace", api_key=session_sandbox.config.api_key)
    assert urllib3.request("GET", unknown).status == 404


def test_a_span_tree_with_a_missing_parent_or_a_cycle_is_still_drawn_once_per_span(
        session_sandbox: SandboxServer) -> None:
    t = now_ns()
    spans = [span("cyc", "a", parent_id="b", start_ns=t), span("cyc", "b", parent_id="a", start_ns=t + 1),
             span("cyc", "c", parent_id="gone", start_ns=t + 2), span("cyc", "d", parent_id="d", start_ns=t + 3)]
    raw(session_sandbox, "POST", "/api/intake/llm-obs/v1/trace/spans", spans_payload("page-app", *spans),
        app_key=False)
    pages: Pages = session_sandbox.sandbox.pages
    view = pages.llm_trace("cyc")
    assert view is not None
    # c (parent gone) and d (its own parent) are roots; the a-b cycle has no root, so a starts one
    assert [(r["offset_ms"], r["depth"]) for r in view["rows"]] == [(2e-6, 0), (3e-6, 0), (0.0, 0), (1e-6, 1)]
