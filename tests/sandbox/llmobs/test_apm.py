"""LLM Obs spans that ride APM traces (ddtrace's default with APM tracing on): the backend reads them out of v0.4
trace payloads built by ddtrace's own encoder (MsgpackEncoderV04, in a subprocess: apm_encoder.py), and out of
payloads built with msgpack by hand where ddtrace's encoder cannot go wrong the way a client might."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import msgpack
import pytest

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.llmobs import apm
from autonomic_lib.sandbox.llmobs.backend import SPAN, LLMObs
from tests.sandbox.llmobs.conftest import everything, points

ENCODER = Path(__file__).with_name("apm_encoder.py")


def encoded(*traces: list[dict[str, Any]]) -> bytes:
    """A v0.4 payload of `traces` (apm_encoder.py's span specs), encoded by ddtrace."""
    done = subprocess.run([sys.executable, str(ENCODER)], input=json.dumps(traces).encode(), capture_output=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return done.stdout


def struct(ml_app: str, trace_id: str, kind: str, name: str, parent_id: str = "undefined",
           **meta: Any) -> dict[str, Any]:
    """A meta_struct `_llmobs` as ddtrace 4.16.0 fills it (LLMObsSpanData after _prepare_llmobs_span_data)."""
    return {"name": name, "trace_id": trace_id, "parent_id": parent_id, "ml_app": ml_app,
            "tags": {"ml_app": ml_app, "env": "test", "service": "svc"},
            "meta": {"span": {"kind": kind}, "input": {"value": "hello"}, "output": {"value": "hi"}, "metadata": {},
                     **meta},
            "metrics": {"input_tokens": 12, "output_tokens": 5, "total_tokens": 17} if kind == "llm" else {},
            "_dd": {"sample_rate": "1", "sampling_decision": "1"}}


def apm_span(span_id: int, llmobs_struct: dict[str, Any] | None, *, parent_id: int | None = None, error: int = 0,
             name: str = "apm.op", start_ns: int | None = None) -> dict[str, Any]:
    return {"name": name, "trace_id": 77, "span_id": span_id, "parent_id": parent_id, "error": error,
            "start_ns": start_ns or time.time_ns() - 60 * 10**9, "duration_ns": 2 * 10**9, "llmobs": llmobs_struct}


def app() -> str:
    return f"apm-{uuid.uuid4().hex[:8]}"


def test_llm_obs_spans_on_an_apm_trace_are_stored_and_plain_apm_spans_dropped(llmobs: LLMObs) -> None:
    ml_app, trace_id = app(), uuid.uuid4().hex
    payload = encoded([
        apm_span(1, struct(ml_app, trace_id, "workflow", "handle_message")),
        apm_span(2, struct(ml_app, trace_id, "llm", "chatbot", parent_id="1", model_name="gemini-2.5-flash",
                           model_provider="google"), parent_id=1),
        apm_span(3, None, parent_id=2, name="http.request"),  # an APM span of the trace: not LLM Obs
    ])
    result = llmobs.ingest_apm_traces(payload)
    assert (len(result.stored), result.refused) == (2, [])

    spans = {s["span_kind"]: s for s in everything(llmobs, ml_app=ml_app)}
    assert set(spans) == {"workflow", "llm"}
    llm = spans["llm"]
    assert (llm["trace_id"], llm["span_id"], llm["parent_id"], llm["name"]) == (trace_id, "2", "1", "chatbot")
    assert (llm["model_name"], llm["model_provider"], llm["status"]) == ("gemini-2.5-flash", "google", "ok")
    assert llm["metrics"]["input_tokens"] == 12.0 and llm["input"] == {"value": "hello"}
    assert {"ml_app:" + ml_app, "env:test", "error:0"} <= set(llm["tags"])
    assert spans["workflow"]["parent_id"] == "undefined"
    common = ("env:test", "error:0", f"ml_app:{ml_app}", "service:svc")
    assert points(llmobs, "ml_obs.span") == {
        (*common, "span_kind:workflow"): 1.0,
        (*common[:3], "model_name:gemini-2.5-flash", "model_provider:google", "service:svc", "span_kind:llm"): 1.0}


def test_a_span_sent_both_through_the_proxy_and_on_the_trace_is_kept_once(llmobs: LLMObs) -> None:
    ml_app, trace_id = app(), uuid.uuid4().hex
    carried = struct(ml_app, trace_id, "llm", "chatbot", model_name="m", model_provider="p")
    payload = encoded([apm_span(9, carried)])
    [span] = apm.carried_spans(payload)
    event = apm.span_event(span)  # the event ddtrace's EVP-proxy writer would have sent
    llmobs.ingest_spans([{"event_type": "span", "spans": [event]}])
    llmobs.ingest_apm_traces(payload)
    assert [s["span_id"] for s in everything(llmobs, ml_app=ml_app)] == ["9"]
    assert llmobs._documents.count(SPAN) == 1
    assert sum(points(llmobs, "ml_obs.span").values()) == 1.0


def test_an_errored_span_has_the_error_status_and_tags_as_ddtrace_sends_them(llmobs: LLMObs) -> None:
    ml_app, trace_id = app(), uuid.uuid4().hex
    carried = struct(ml_app, trace_id, "tool", "lookup", error={"type": "ValueError", "message": "bad id"})
    llmobs.ingest_apm_traces(encoded([apm_span(5, carried, error=1)]))
    [tool] = llmobs.trace(trace_id)
    assert tool["status"] == "error" and {"error:1", "error_type:ValueError"} <= set(tool["tags"])
    assert tool["_error"] == {"type": "ValueError", "message": "bad id"}


def test_a_bad_llmobs_struct_is_refused_by_field_and_the_others_are_stored(llmobs: LLMObs) -> None:
    ml_app, trace_id = app(), uuid.uuid4().hex
    no_kind = struct(ml_app, trace_id, "nonsense", "x")
    no_trace = struct(ml_app, trace_id, "task", "y")
    del no_trace["trace_id"]
    result = llmobs.ingest_apm_traces(encoded([apm_span(1, struct(ml_app, trace_id, "task", "ok")),
                                               apm_span(2, no_kind), apm_span(3, no_trace)]))
    assert [d["span_id"] for d in result.stored] == ["1"]
    assert result.refused == [
        "traces[0][1].meta.kind must be one of agent, workflow, llm, tool, task, embedding, retrieval, got 'nonsense'",
        "traces[0][2].trace_id: required, a non-empty string, got None"]


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


def hand_built(llmobs_bytes: bytes, **span: Any) -> bytes:
    """A v0.4 payload of one span written with msgpack directly, its `_llmobs` given as bytes."""
    fields = {"trace_id": 1, "span_id": 2, "parent_id": 0, "name": "n", "service": "s", "resource": "r",
              "start": time.time_ns() - 10**9, "duration": 10, "error": 0, "meta": {}, "metrics": {},
              "meta_struct": {"_llmobs": llmobs_bytes}, "type": "llm", **span}
    return bytes(msgpack.packb([[fields]]))


@pytest.mark.parametrize("llmobs_bytes, named", [
    (b"\xc1", "not a msgpack map of JSON values"),  # 0xc1: never used by msgpack
    (msgpack.packb({"trace_id": "t", "meta": {"blob": b"\x00"}}), "not a msgpack map of JSON values"),
    (msgpack.packb({b"raw": 1}), "not a msgpack map of JSON values"),
    (msgpack.packb([1, 2]), "must be a map, got list"),
    (msgpack.packb({"trace_id": "t", "tags": ["a:b"]}), ".tags must be a map of strings"),
    (msgpack.packb({"meta": nested(70)}), "nests more than 64"),
])
def test_an_llmobs_struct_that_is_not_a_map_of_json_values_is_refused_naming_it(
        llmobs: LLMObs, llmobs_bytes: bytes, named: str) -> None:
    result = llmobs.ingest_apm_traces(hand_built(llmobs_bytes))
    assert result.stored == []
    [message] = result.refused
    assert message.startswith("traces[0][0].meta_struct._llmobs") and named in message, message


def test_an_apm_span_id_that_is_not_an_integer_is_refused_naming_it(llmobs: LLMObs) -> None:
    result = llmobs.ingest_apm_traces(hand_built(msgpack.packb({"trace_id": "t"}), span_id="2"))
    assert result.refused == ["traces[0][0]: span_id and error must be integers (v0.4), got '2' and 0"]


def test_a_payload_past_a_million_spans_is_a_400(llmobs: LLMObs) -> None:
    spans = apm.MAX_APM_SPANS + 1
    with pytest.raises(IntakeError) as refused:
        llmobs.ingest_apm_traces(b"\x91\xdd" + spans.to_bytes(4, "big") + b"\x80" * spans)  # one trace of empty spans
    assert list(refused.value.messages) == ["The trace payload holds more than the sandbox's 1000000 spans; split it"]


@pytest.mark.parametrize("payload, named", [
    (b"", "ends inside traces"),
    (b"\x81\xa1a\x01", "traces must be a msgpack array"),
    (b"\x91\x91\x01", "traces[0][0] must be a msgpack map"),
    (b"\x91\x91\x81\x01\x02", "a map key must be a string"),
    (b"\x91\x91\x81\xa1a", "not valid msgpack"),  # cut short inside a span
    (msgpack.packb([[{"meta_struct": {"_llmobs": {"a": 1}}}]]), "_llmobs must be msgpack bytes"),
    (msgpack.packb([[]]) + b"\x00", "1 bytes after its traces"),
])
def test_a_payload_that_is_not_v04_traces_is_a_400_naming_where(llmobs: LLMObs, payload: bytes, named: str) -> None:
    with pytest.raises(IntakeError) as refused:
        llmobs.ingest_apm_traces(payload)
    assert refused.value.status == 400 and named in refused.value.messages[0], refused.value.messages
    assert llmobs._documents.count(SPAN) == 0


def test_a_trace_without_llm_obs_spans_stores_nothing_and_is_no_error(llmobs: LLMObs) -> None:
    result = llmobs.ingest_apm_traces(encoded([apm_span(1, None), apm_span(2, None, parent_id=1)], []))
    assert result == ([], [])


def test_more_spans_than_one_request_holds_are_stored_in_chunks(llmobs: LLMObs) -> None:
    ml_app, trace_id = app(), uuid.uuid4().hex
    spans = [apm_span(i, struct(ml_app, trace_id, "task", f"t{i}")) for i in range(1, 1202)]
    payload = encoded(spans)
    assert [len(c) for c in apm.chunks(apm.carried_spans(payload))] == [1000, 201]
    result = llmobs.ingest_apm_traces(payload)
    assert (len(result.stored), result.refused) == (1201, [])
    assert len(llmobs.trace(trace_id)) == 1201
