"""The LLM Observability backend without HTTP: intake rules, evaluations joined to spans, search and paging, and
the ml_obs.* metrics it writes through the metrics backend."""

from __future__ import annotations

import time

import pytest

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.llmobs.backend import LLMObs, SpanFilter
from tests.sandbox.llmobs.conftest import (
    evaluation,
    evaluations_payload,
    everything,
    now_ns,
    points,
    span,
    spans_payload,
    trace,
)


def test_one_bad_span_is_refused_by_field_and_the_others_are_stored(llmobs: LLMObs) -> None:
    trace_id = "t1"
    bad = span(trace_id, "3", parent_id="1")
    del bad["start_ns"]
    result = llmobs.ingest_spans(spans_payload("app-a", span(trace_id, "1", kind="workflow"),
                                               span(trace_id, "2", parent_id="1"), bad))
    assert len(result.stored) == 2
    assert result.refused == ["data.attributes.spans[2].start_ns: required, an integer time in nanoseconds, got None"]
    stored = everything(llmobs, trace_id=trace_id)
    assert {s["span_id"] for s in stored} == {"1", "2"}
    llm = next(s for s in stored if s["span_kind"] == "llm")
    assert (llm["model_name"], llm["model_provider"], llm["ml_app"]) == ("gemini-2.5-flash", "google", "app-a")
    assert {"env:test", "service:swarm", "ml_app:app-a"} <= set(llm["tags"])
    assert llm["metrics"]["estimated_total_cost"] == pytest.approx(3e6)  # $0.003 in nanodollars


@pytest.mark.parametrize("change, named", [
    ({"meta": {"kind": "chain"}}, "spans[0].meta.kind must be one of"),
    ({"start_ns": now_ns() - 25 * 3600 * 10**9}, "more than 24 hours old"),
    ({"duration": -1}, "spans[0].duration"),
    ({"span_id": "x" * 200}, "spans[0].span_id has 200 characters"),
    ({"tags": ["k:" + "v" * 300]}, "spans[0].tags: tag"),
    ({"metrics": {"input_tokens": "ten"}}, "spans[0].metrics.'input_tokens' must be a finite number"),
    ({"status": "failed"}, "spans[0].status must be 'ok' or 'error'"),
])
def test_a_request_whose_only_span_is_bad_is_a_400_naming_the_field(llmobs: LLMObs, change: dict,
                                                                      named: str) -> None:
    with pytest.raises(IntakeError) as refused:
        llmobs.ingest_spans(spans_payload("app-a", {**span("t", "1"), **change}))
    assert refused.value.status == 400 and named in refused.value.messages[0]
    assert everything(llmobs) == []


def test_an_invalid_ml_app_is_refused_as_documented(llmobs: LLMObs) -> None:
    with pytest.raises(IntakeError, match="ml_app 'Bad__App' is not a valid application name"):
        llmobs.ingest_spans(spans_payload("Bad__App", span("t", "1")))


def test_ddtrace_events_take_kind_model_and_ml_app_from_where_ddtrace_puts_them(llmobs: LLMObs) -> None:
    event = {"trace_id": "abc", "span_id": "9", "parent_id": "undefined", "name": "chat", "start_ns": now_ns(),
             "duration": 5000, "status": "error", "tags": ["ml_app:dd-app", "env:prod", "error:1"], "metrics": {},
             "meta": {"span": {"kind": "llm"}, "model_name": "gpt-x", "model_provider": "openai",
                      "output": {"messages": [{"role": "assistant", "tool_calls": [{"name": "lookup"}]}]},
                      "error": {"type": "Timeout", "message": "slow"}}, "_dd": {"span_id": "9"}}
    llmobs.ingest_spans([{"_dd.stage": "raw", "event_type": "span", "spans": [event]}])
    [stored] = everything(llmobs, ml_app="dd-app")
    assert (stored["span_kind"], stored["model_name"], stored["status"]) == ("llm", "gpt-x", "error")
    assert stored["output"]["messages"] == [{"content": "", "role": "assistant"}]  # a tool call has no content
    assert llmobs.trace("abc")[0]["_error"] == {"type": "Timeout", "message": "slow"}  # for the trace page only
    assert "_error" not in stored


def test_evaluations_join_by_span_ids_or_by_tag_and_the_latest_of_a_label_wins(llmobs: LLMObs) -> None:
    trace_id, payload = trace("app-e")
    payload["data"]["attributes"]["spans"][0]["tags"] = ["msg_id:m-1"]
    llmobs.ingest_spans(payload)
    t = time.time_ns() // 10**6
    by_ids = {"span": {"trace_id": trace_id, "span_id": "2"}}
    llmobs.ingest_evaluations(evaluations_payload(
        evaluation("app-e", join=by_ids, value="fail", timestamp_ms=t - 10),
        evaluation("app-e", join=by_ids, value="pass", timestamp_ms=t, assessment="pass", reasoning="fine"),
        evaluation("app-e", join={"tag": {"key": "msg_id", "value": "m-1"}}, label="quality", metric_type="score",
                   value=0.8)))
    spans = {s["span_id"]: s for s in everything(llmobs, trace_id=trace_id)}
    assert spans["2"]["evaluation"] == {"verdict": {"eval_metric_type": "categorical", "value": "pass", "tags": [],
                                                    "assessment": "pass", "reasoning": "fine"}}
    assert spans["1"]["evaluation"]["quality"]["value"] == 0.8


def test_a_bad_evaluation_is_refused_by_field_and_the_others_stored(llmobs: LLMObs) -> None:
    good = evaluation("app-e", join={"span": {"trace_id": "t", "span_id": "1"}})
    result = llmobs.ingest_evaluations(evaluations_payload(
        good, {**good, "metric_type": "score"}, {**good, "join_on": {}}))
    assert len(result.stored) == 1
    assert result.refused == [
        "data.attributes.metrics[1].score_value: required for a score evaluation, got None",
        "data.attributes.metrics[2].join_on: required, with exactly one of span (span_id, trace_id) or tag "
        "(key, value)"]


def test_search_filters_and_query_terms(llmobs: LLMObs) -> None:
    llmobs.ingest_spans(spans_payload("app-s", span("t1", "1", kind="workflow"), span("t1", "2", parent_id="1"),
                                      span("t2", "3", kind="tool", tags=["team:blue"])))
    ids = lambda **f: sorted(s["span_id"] for s in everything(llmobs, **f))  # noqa: E731
    assert ids(span_kind="llm") == ["2"]
    assert ids(tags={"team": "blue"}) == ["3"]
    assert ids(trace_id="t1", span_kind="workflow") == ["1"]
    assert ids(query="ml_app:app-s meta.span.kind:llm") == ["2"]
    assert ids(query="team:bl* AND trace_id:t2") == ["3"]
    assert ids(query="name:*-step", span_kind="tool") == ["1", "2", "3"]  # a query overrides the fields
    with pytest.raises(IntakeError, match="is not supported"):
        everything(llmobs, query="a:b OR c:d")


def test_paging_with_the_cursor_visits_each_span_once_in_time_order(llmobs: LLMObs) -> None:
    t = now_ns() - 10**9  # all seven start before the filter's end, which is read after the intake
    # 0.4 ms apart: pages end inside a millisecond and across them (the read starts at the cursor's millisecond)
    llmobs.ingest_spans(spans_payload("app-p", *[span("tp", str(i), start_ns=t + i * 400_000) for i in range(7)]))
    now_ms = time.time_ns() // 10**6
    flt = SpanFilter(start_ms=now_ms - 3_600_000, end_ms=now_ms, ml_app="app-p")
    for newest_first in (True, False):
        seen, cursor = [], None
        while True:
            page = llmobs.search(flt, limit=3, newest_first=newest_first, cursor=cursor)
            seen += [s["span_id"] for s in page.spans]
            if page.after is None:
                break
            cursor = page.after
        assert seen == [str(i) for i in (range(6, -1, -1) if newest_first else range(7))]
    with pytest.raises(IntakeError, match="page.cursor"):
        llmobs.search(flt, cursor="not-a-cursor")


def test_the_documented_ml_obs_metrics_are_derived_and_a_resent_span_counts_once(llmobs: LLMObs) -> None:
    trace_id, payload = trace("app-m")
    llmobs.ingest_spans(payload)
    llmobs.ingest_spans(payload)  # the same ids again: replaced, not added
    spans = points(llmobs, "ml_obs.span")
    base = ("env:test", "error:0", "ml_app:app-m", "service:swarm")
    assert spans == {tuple(sorted((*base, "span_kind:workflow"))): 1.0,
                     tuple(sorted((*base, "model_name:gemini-2.5-flash", "model_provider:google",
                                   "span_kind:llm"))): 1.0}
    llm_tags = tuple(sorted((*base, "model_name:gemini-2.5-flash", "model_provider:google")))
    assert points(llmobs, "ml_obs.span.llm.input.tokens") == {llm_tags: 10.0}
    assert points(llmobs, "ml_obs.span.llm.total.cost") == {tuple(sorted((*llm_tags, "source:user"))): 3e6}
    assert list(points(llmobs, "ml_obs.trace").values()) == [1.0]
    assert sorted(points(llmobs, "ml_obs.span.duration").values()) == [2.0, 3.0]  # seconds


def test_a_bucket_counts_every_span_it_holds_whichever_request_and_process_brought_it(llmobs: LLMObs) -> None:
    """A bucket new to the backend is counted from the request's spans, one it held is read back: both count each
    span once, also a span sent twice in one request, and also after a restart (a new backend on the same store)."""
    t = now_ns() // 10**10 * 10**10  # the start of a 10 s bucket
    first = span("tb", "1", kind="task", start_ns=t)
    llmobs.ingest_spans(spans_payload("app-b", first, first, span("tb", "2", kind="task", start_ns=t + 10**9)))
    assert points(llmobs, "ml_obs.span") == {("env:test", "error:0", "ml_app:app-b", "service:swarm",
                                              "span_kind:task"): 2.0}
    llmobs.ingest_spans(spans_payload("app-b", span("tc", "3", kind="task", start_ns=t + 2 * 10**9)))
    assert sum(points(llmobs, "ml_obs.span").values()) == 3.0
    restarted = LLMObs(llmobs._documents, llmobs.metrics)
    restarted.ingest_spans(spans_payload("app-b", span("td", "4", kind="task", start_ns=t + 3 * 10**9)))
    assert sum(points(restarted, "ml_obs.span").values()) == 4.0  # the bucket was known from the store


def test_clear_forgets_spans_and_evaluations(llmobs: LLMObs) -> None:
    trace_id, payload = trace("app-c")
    llmobs.ingest_spans(payload)
    llmobs.ingest_evaluations(evaluations_payload(evaluation("app-c", join={"span": {"trace_id": trace_id,
                                                                                      "span_id": "2"}})))
    assert llmobs.clear() == {"llm_spans": 2, "llm_evaluations": 1}
    assert everything(llmobs) == []
