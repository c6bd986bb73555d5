"""LLM Observability spans and evaluations as the intake takes them, checked and normalised for storage.

Two span formats arrive:

- the documented HTTP API (docs.datadoghq.com/llm_observability/instrumentation/api/, "Spans API"): one
  `{"data": {"type": "span", "attributes": {"ml_app", "spans", "tags", "session_id"}}}` a request; the span kind
  in `meta.kind`, model name and provider in `meta.metadata`;
- ddtrace's LLMObs writer (ddtrace 4.16.0 `llmobs/_writer.py` LLMObsSpanWriter._data, `_llmobs.py`
  `_llmobs_span_event`): a list of `{"event_type": "span", "spans": [event]}`; the kind in `meta.span.kind`, model
  name and provider in `meta`, `ml_app` only as an `ml_app:` tag. apm.py builds the same events from the LLM Obs
  spans ddtrace puts on APM traces (its default, APM tracing on).

Both become one stored shape, the attributes the Export API answers (datadog-api-client's LLMObsSpanAttributes),
plus a few private fields whose names start with "_" (the error's message and type, the session) that the trace
page shows and the Export API leaves out. Evaluations follow the documented Evaluations API (`/api/intake/llm-obs/
v2/eval-metric`) and ddtrace's `_eval_metric.py` (its `boolean` and `json` metric types too).

Each span and each evaluation is checked on its own: a bad one is refused with a message naming its field (an
`ItemError`), the others are stored. Every size is bounded by the constants below, each saying where its value
comes from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterator, TypeGuard

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.http.params import MAX_EPOCH_MS, shorten

# Documented: "The API accepts spans with timestamps no more than 24 hours old" (the HTTP API page). Ahead of now the
# sandbox allows what the metrics intake allows (10 min): Datadog documents no bound there.
MAX_SPAN_AGE_NS = 24 * 3600 * 10**9
MAX_SPAN_AHEAD_NS = 600 * 10**9
# Sandbox choices, each far above what ddtrace or the kit sends: ddtrace flushes at most BUFFER_LIMIT = 1000
# events a request (_writer.py); ids are decimal 64-bit or 128-bit hex in ddtrace; names and labels are short.
MAX_SPANS_PER_PAYLOAD = 1000
MAX_EVALUATIONS_PER_PAYLOAD = 1000
MAX_ID_CHARS = 128
MAX_NAME_CHARS = 1000
MAX_TAGS = 256
MAX_METRICS = 64
# Documented: tags "can be up to 200 characters long" (getting_started/tagging); ml_app "can be up to 193
# characters" (HTTP API, "Application naming guidelines"); evaluation labels "must not exceed 200 characters"
# (evaluations/external_evaluations).
MAX_TAG_CHARS = 200
MAX_ML_APP_CHARS = 193
MAX_LABEL_CHARS = 200
MAX_TEXT_CHARS = 1_000_000  # one input or output value; the whole body is bounded at 5 MiB anyway (routes.py)
SPAN_KINDS = ("agent", "workflow", "llm", "tool", "task", "embedding", "retrieval")
ROOT_PARENT_ID = "undefined"  # the documented parent_id of a root span (ddtrace's ROOT_PARENT_ID too)
EVAL_TYPES = ("categorical", "score", "boolean", "json")
_ML_APP_EXTRA = set("_-:./")


class ItemError(IntakeError):
    """One span or evaluation refused; the request goes on with the others."""

    def __init__(self, message: str):
        super().__init__(400, message)


@dataclass(frozen=True)
class SpanBatch:
    """The spans of one request, each paired with where it was in the request (for messages)."""

    spans: list[tuple[str, Any]]
    ml_app: Any = None  # the documented payload's ml_app, tags and session; None for ddtrace's events
    tags: Any = None
    session_id: Any = None


def span_batches(body: Any) -> Iterator[SpanBatch]:
    """The documented payload (one batch) or ddtrace's list of events (one batch each). 400 on any other shape."""
    if isinstance(body, dict):
        data = body.get("data")
        if not isinstance(data, dict):
            raise IntakeError(400, "data: required, an object with type 'span' and attributes")
        if data.get("type") != "span":
            raise IntakeError(400, f"data.type must be 'span', got {shorten(data.get('type'))}")
        attrs = data.get("attributes")
        if not isinstance(attrs, dict):
            raise IntakeError(400, "data.attributes: required, an object with ml_app and spans")
        spans = attrs.get("spans")
        if not isinstance(spans, list) or not spans:
            raise IntakeError(400, "data.attributes.spans: required, a non-empty list of spans")
        _check_count(len(spans), MAX_SPANS_PER_PAYLOAD, "data.attributes.spans")
        yield SpanBatch([(f"data.attributes.spans[{i}]", s) for i, s in enumerate(spans)],
                        attrs.get("ml_app"), attrs.get("tags"), attrs.get("session_id"))
    elif isinstance(body, list):
        bad = next((i for i, e in enumerate(body) if not isinstance(e, dict) or not isinstance(e.get("spans"), list)),
                   None)
        if bad is not None:
            raise IntakeError(400, f"[{bad}]: each event must be an object with a 'spans' list")
        events = [(f"[{i}].spans[{j}]", s) for i, e in enumerate(body) for j, s in enumerate(e["spans"])]
        if not events:
            raise IntakeError(400, "spans: the request holds no span")
        _check_count(len(events), MAX_SPANS_PER_PAYLOAD, "spans")
        yield SpanBatch(events)
    else:
        raise IntakeError(400, "The body must be {\"data\": {\"type\": \"span\", \"attributes\": {...}}}")


def _check_count(n: int, limit: int, where: str) -> None:
    if n > limit:
        raise IntakeError(400, f"{where}: {n} items exceed the sandbox's {limit} a request; split the batch")


def normalise_span(span: Any, where: str, batch: SpanBatch, now_ns: int) -> dict[str, Any]:
    """One span as stored (the Export API's attributes plus private `_` fields); ItemError naming the field."""
    if not isinstance(span, dict):
        raise ItemError(f"{where} must be an object")
    meta = span.get("meta")
    if not isinstance(meta, dict):
        raise ItemError(f"{where}.meta: required, an object with the span kind")
    tags = _tags(span.get("tags"), f"{where}.tags") + _tags(batch.tags, "data.attributes.tags")
    ml_app = batch.ml_app if batch.ml_app is not None else span.get("ml_app", _tag_value(tags, "ml_app"))
    ml_app = _ml_app(ml_app, "data.attributes.ml_app" if batch.ml_app is not None else f"{where}.tags (ml_app:)")
    kind = meta.get("kind", (meta.get("span") or {}).get("kind") if isinstance(meta.get("span"), dict) else None)
    if kind not in SPAN_KINDS:
        raise ItemError(f"{where}.meta.kind must be one of {', '.join(SPAN_KINDS)}, got {shorten(kind)}")
    start_ns = span.get("start_ns")
    if type(start_ns) is not int or not 0 <= start_ns <= MAX_EPOCH_MS * 10**6:
        raise ItemError(f"{where}.start_ns: required, an integer time in nanoseconds, got {shorten(start_ns)}")
    if start_ns < now_ns - MAX_SPAN_AGE_NS or start_ns > now_ns + MAX_SPAN_AHEAD_NS:
        raise ItemError(f"{where}.start_ns {start_ns} is more than 24 hours old or 10 minutes ahead; Datadog takes "
                        "spans no more than 24 hours old")
    duration = span.get("duration")
    if not _number(duration) or not 0 <= duration < 10**18:
        raise ItemError(f"{where}.duration: required, a non-negative number of nanoseconds, got {shorten(duration)}")
    status = span.get("status", "ok")
    if status not in ("ok", "error"):
        raise ItemError(f"{where}.status must be 'ok' or 'error', got {shorten(status)}")
    metadata = meta.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ItemError(f"{where}.meta.metadata must be an object")
    doc: dict[str, Any] = {
        "span_id": _text(span.get("span_id"), f"{where}.span_id", MAX_ID_CHARS),
        "trace_id": _text(span.get("trace_id"), f"{where}.trace_id", MAX_ID_CHARS),
        "parent_id": _text(span.get("parent_id", ROOT_PARENT_ID), f"{where}.parent_id", MAX_ID_CHARS),
        "name": _text(span.get("name"), f"{where}.name", MAX_NAME_CHARS),
        "status": status, "start_ns": start_ns, "duration": float(duration), "ml_app": ml_app, "span_kind": kind,
        "tags": _with_ml_app(tags, ml_app),
    }
    for field in ("model_name", "model_provider"):
        value = meta.get(field, metadata.get(field))
        if value is not None:
            doc[field] = _text(value, f"{where}.meta.{field}", MAX_NAME_CHARS)
    for field in ("input", "output"):
        if meta.get(field) is not None:
            doc[field] = _io(meta[field], f"{where}.meta.{field}")
    if metadata:
        doc["metadata"] = metadata
    doc["metrics"] = _metrics(span.get("metrics", {}), f"{where}.metrics")
    error = meta.get("error")
    if isinstance(error, dict):
        doc["_error"] = {k: str(error[k])[:MAX_TEXT_CHARS] for k in ("type", "message") if error.get(k) is not None}
    session = span.get("session_id", batch.session_id)
    if session is not None:
        doc["_session_id"] = _text(session, f"{where}.session_id", MAX_NAME_CHARS)
    return doc


def _number(value: Any) -> TypeGuard[int | float]:
    """A finite JSON number (not a bool, which Python counts as an int)."""
    return type(value) in (int, float) and math.isfinite(value)


def _text(value: Any, where: str, limit: int) -> str:
    if not isinstance(value, str) or not value:
        raise ItemError(f"{where}: required, a non-empty string, got {shorten(value)}")
    if len(value) > limit:
        raise ItemError(f"{where} has {len(value)} characters; the sandbox takes at most {limit}")
    return value


def _tags(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise ItemError(f"{where} must be a list of strings like 'key:value'")
    if len(value) > MAX_TAGS:
        raise ItemError(f"{where} has {len(value)} tags; the sandbox takes at most {MAX_TAGS}")
    long = next((t for t in value if len(t) > MAX_TAG_CHARS), None)
    if long is not None:
        raise ItemError(f"{where}: tag {shorten(long)} is longer than Datadog's {MAX_TAG_CHARS} characters")
    return list(value)


def _tag_value(tags: list[str], key: str) -> str | None:
    prefix = key + ":"
    return next((t[len(prefix):] for t in tags if t.startswith(prefix)), None)


def _with_ml_app(tags: list[str], ml_app: str) -> list[str]:
    """The span's tags (its own, then the payload's), each once, with `ml_app:<app>` as Datadog adds it."""
    kept = [t for t in tags if not t.startswith("ml_app:")] + [f"ml_app:{ml_app}"]
    return list(dict.fromkeys(kept))


def _ml_app(value: Any, where: str) -> str:
    """Documented naming: lowercase; alphanumerics, `_ - : . /`; at most 193 characters; no contiguous or trailing
    underscores. The sandbox refuses other names rather than guess how Datadog rewrites them."""
    if not isinstance(value, str) or not value:
        raise ItemError(f"{where}: ml_app is required, a non-empty string")
    if (len(value) > MAX_ML_APP_CHARS or value != value.lower() or value.endswith("_") or "__" in value
            or not all(c.isalnum() or c in _ML_APP_EXTRA for c in value)):
        raise ItemError(f"{where}: ml_app {shorten(value)} is not a valid application name (lowercase alphanumerics "
                        f"and _ - : . /, at most {MAX_ML_APP_CHARS} characters, no double or trailing underscore)")
    return value


def _io(value: Any, where: str) -> dict[str, Any]:
    """Input or output as the Export API shows it: `value` and `messages` (content, role); `value` inferred from
    the messages when absent (the last user message, else every content joined), as documented."""
    if not isinstance(value, dict):
        raise ItemError(f"{where} must be an object (value, messages, documents)")
    out: dict[str, Any] = {}
    messages = value.get("messages")
    if messages is not None:
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            raise ItemError(f"{where}.messages must be a list of objects with content and role")
        out["messages"] = [{"content": _plain(m.get("content") or "", f"{where}.messages[{i}].content"),
                            "role": _plain(m.get("role") or "", f"{where}.messages[{i}].role")}
                           for i, m in enumerate(messages)]  # a tool call's message may have no content
    if value.get("value") is not None:
        out["value"] = _plain(value["value"], f"{where}.value")
    elif out.get("messages"):
        users = [m["content"] for m in out["messages"] if m["role"] == "user"]
        out["value"] = users[-1] if users else "\n".join(m["content"] for m in out["messages"])
    documents = value.get("documents")
    if "value" not in out and isinstance(documents, list):
        out["value"] = "\n".join(str(d.get("text", "")) for d in documents if isinstance(d, dict))[:MAX_TEXT_CHARS]
    return out


def _plain(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ItemError(f"{where} must be a string, got {shorten(value)}")
    if len(value) > MAX_TEXT_CHARS:
        raise ItemError(f"{where} has {len(value)} characters; the sandbox takes at most {MAX_TEXT_CHARS}")
    return value


def _metrics(value: Any, where: str) -> dict[str, float]:
    """Numbers by name (tokens, costs, time to first token), as floats: the Export API types them so."""
    if not isinstance(value, dict):
        raise ItemError(f"{where} must be an object of numbers")
    if len(value) > MAX_METRICS:
        raise ItemError(f"{where} has {len(value)} entries; the sandbox takes at most {MAX_METRICS}")
    out = {}
    for name, number in value.items():
        if not _number(number) or abs(number) > 1e15:
            raise ItemError(f"{where}.{shorten(name)} must be a finite number, got {shorten(number)}")
        out[name] = float(number)
    return out


# ------------------------------------------------------------------------------------------ evaluations
def evaluation_items(body: Any) -> list[tuple[str, Any]]:
    """The evaluations of `{"data": {"type": "evaluation_metric", "attributes": {"metrics": [...]}}}`."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or data.get("type") != "evaluation_metric":
        raise IntakeError(400, "data: required, an object with type 'evaluation_metric' and attributes.metrics")
    attrs = data.get("attributes")
    metrics = attrs.get("metrics") if isinstance(attrs, dict) else None
    if not isinstance(metrics, list) or not metrics:
        raise IntakeError(400, "data.attributes.metrics: required, a non-empty list of evaluations")
    _check_count(len(metrics), MAX_EVALUATIONS_PER_PAYLOAD, "data.attributes.metrics")
    shared = _tags(attrs.get("tags"), "data.attributes.tags") if isinstance(attrs, dict) else []
    return [(f"data.attributes.metrics[{i}]", {**m, "tags": _merge(m.get("tags"), shared)} if isinstance(m, dict)
             else m) for i, m in enumerate(metrics)]


def _merge(own: Any, shared: list[str]) -> Any:
    return own + shared if isinstance(own, list) else (own if own is not None else shared)


def normalise_evaluation(item: Any, where: str) -> dict[str, Any]:
    """One evaluation as stored: its join (span ids or a tag), label, type and value; ItemError naming the field."""
    if not isinstance(item, dict):
        raise ItemError(f"{where} must be an object")
    join = item.get("join_on")
    if not isinstance(join, dict) or (("span" in join) == ("tag" in join)):
        raise ItemError(f"{where}.join_on: required, with exactly one of span (span_id, trace_id) or tag (key, value)")
    if "span" in join:
        target = join["span"] if isinstance(join["span"], dict) else {}
        joined = {"span": [_text(target.get("trace_id"), f"{where}.join_on.span.trace_id", MAX_ID_CHARS),
                           _text(target.get("span_id"), f"{where}.join_on.span.span_id", MAX_ID_CHARS)]}
    else:
        target = join["tag"] if isinstance(join["tag"], dict) else {}
        joined = {"tag": [_text(target.get("key"), f"{where}.join_on.tag.key", MAX_TAG_CHARS),
                          _text(target.get("value"), f"{where}.join_on.tag.value", MAX_TAG_CHARS)]}
    label = _text(item.get("label"), f"{where}.label", MAX_LABEL_CHARS)
    if not label[0].isalpha() or not label.isascii():
        raise ItemError(f"{where}.label {shorten(label)} must start with a letter and be ASCII")
    label = "".join(c if c.isalnum() or c == "_" else "_" for c in label)  # as documented: others become "_"
    metric_type = item.get("metric_type")
    if metric_type not in EVAL_TYPES:
        raise ItemError(f"{where}.metric_type must be one of {', '.join(EVAL_TYPES)}, got {shorten(metric_type)}")
    value = item.get(f"{metric_type}_value")
    wanted = {"categorical": (str,), "score": (int, float), "boolean": (bool,), "json": (dict,)}[metric_type]
    if type(value) not in wanted or (metric_type == "score" and not _number(value)):
        raise ItemError(f"{where}.{metric_type}_value: required for a {metric_type} evaluation, got {shorten(value)}")
    if metric_type == "categorical":
        value = _text(value, f"{where}.categorical_value", MAX_NAME_CHARS)
    timestamp = item.get("timestamp_ms")
    if type(timestamp) is not int or not 0 <= timestamp <= MAX_EPOCH_MS:
        raise ItemError(f"{where}.timestamp_ms: required, epoch milliseconds, got {shorten(timestamp)}")
    doc: dict[str, Any] = {"join_on": joined, "label": label, "metric_type": metric_type, "value": value,
                           "ml_app": _ml_app(item.get("ml_app"), f"{where}.ml_app"), "timestamp_ms": timestamp,
                           "tags": _tags(item.get("tags"), f"{where}.tags")}
    assessment = item.get("assessment")
    if assessment is not None:
        if assessment not in ("pass", "fail"):
            raise ItemError(f"{where}.assessment must be 'pass' or 'fail', got {shorten(assessment)}")
        doc["assessment"] = assessment
    if item.get("reasoning") is not None:
        doc["reasoning"] = _plain(item["reasoning"], f"{where}.reasoning")
    return doc
