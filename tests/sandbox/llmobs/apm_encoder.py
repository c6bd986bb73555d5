"""Run by test_apm.py in a subprocess (importing ddtrace hooks the importer globally): builds APM v0.4 trace payloads
with ddtrace's own encoder (MsgpackEncoderV04), the tracer never enabled. Reads JSON from stdin, a list of traces,
each a list of spans `{name, trace_id, span_id, parent_id, start_ns, duration_ns, error, meta, llmobs}` (`llmobs`
the span's meta_struct["_llmobs"], or null for a plain APM span); writes the payload's msgpack bytes to stdout."""
import json
import sys

from ddtrace._trace.span import Span
from ddtrace.internal._encoding import MsgpackEncoderV04


def apm_span(spec: dict) -> Span:
    span = Span(spec["name"], service="svc", resource=spec["name"], span_type="llm", trace_id=spec["trace_id"],
                span_id=spec["span_id"], parent_id=spec.get("parent_id"))
    span.start_ns = spec["start_ns"]
    span.duration_ns = spec["duration_ns"]
    span.error = spec.get("error", 0)
    for key, value in spec.get("meta", {}).items():
        span.set_tag(key, value)
    if spec.get("llmobs") is not None:
        span._set_struct_tag("_llmobs", spec["llmobs"])
    return span


encoder = MsgpackEncoderV04(64 << 20, 64 << 20)
for trace in json.load(sys.stdin):
    encoder.put([apm_span(s) for s in trace])
[(payload, _count)] = encoder.encode()
sys.stdout.buffer.write(payload or b"")
