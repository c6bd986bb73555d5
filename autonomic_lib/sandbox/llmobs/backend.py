"""The LLM Observability product's backend: spans and evaluations kept as documents, searched like the Export API,
and Datadog's standard `ml_obs.*` metrics written to the metrics product as spans arrive (derived.py).

A span is stored under its (trace_id, span_id) at its start time, so a span sent again replaces itself. An
evaluation is stored at its `timestamp_ms` and joined to its span when spans are read (by ids, or by a tag of a
span of the same ml_app), so it may arrive before or after its span; the latest one of a label wins, as Datadog
shows one value per label. Evaluations are looked for from 1 h before the page's first span to 25 h after its
last one ends (an evaluation of a backfilled day, sent now, still finds its span); a sandbox bound, documented
nowhere by Datadog.
"""

from __future__ import annotations

import base64
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

import orjson

from autonomic_lib.errors import IntakeError
from autonomic_lib.query.glob import Glob
from autonomic_lib.sandbox.llmobs import apm, derived
from autonomic_lib.sandbox.llmobs.model import (
    ItemError,
    SpanBatch,
    evaluation_items,
    normalise_evaluation,
    normalise_span,
    span_batches,
)
from autonomic_lib.sandbox.metrics.backend import Metrics
from autonomic_lib.sandbox.storage.documents import DocumentStore

SPAN, EVALUATION = "llmobs-span", "llmobs-evaluation"  # this product's document kinds
MAX_PAGE_LIMIT = 5000  # documented: "Maximum configurable limit: 5000"
DEFAULT_PAGE_LIMIT = 10  # documented default
_EVAL_BEFORE_MS, _EVAL_AFTER_MS = 3_600_000, 25 * 3_600_000
_QUERY_FIELDS = {"trace_id": "trace_id", "span_id": "span_id", "parent_id": "parent_id", "ml_app": "ml_app",
                 "name": "name", "span_name": "name", "span_kind": "span_kind", "meta.span.kind": "span_kind",
                 "status": "status", "model_name": "model_name", "model_provider": "model_provider",
                 "session_id": "_session_id", "@meta.span.kind": "span_kind"}


class Accepted(NamedTuple):
    """What one intake request stored, and the refusals of the items it did not (each naming its field)."""

    stored: list[dict[str, Any]]
    refused: list[str]


@dataclass(frozen=True)
class SpanFilter:
    """What a span search asks for: a time range (epoch ms, inclusive) and exact fields, or a query instead."""

    start_ms: int
    end_ms: int
    ml_app: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    span_kind: str | None = None
    span_name: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    query: str | None = None


class SpanPage(NamedTuple):
    spans: list[dict[str, Any]]  # the Export API's attributes, evaluations attached
    after: str | None  # the cursor of the next page, None on the last


class LLMObs:
    """Spans, evaluations, their search, and the metrics derived from them.

    Usage::

        llmobs = LLMObs(DocumentStore(db), metrics)
        llmobs.ingest_spans(body)                 # the documented payload or ddtrace's events
        llmobs.ingest_apm_traces(payload)         # the LLM Obs spans an APM v0.4 trace payload carries
        llmobs.ingest_evaluations(body)
        llmobs.search(SpanFilter(start_ms=t0, end_ms=t1, ml_app="swarm"), limit=50)
        llmobs.trace("6903738200000000af2d3775dfc70530")
    """

    def __init__(self, documents: DocumentStore, metrics: Metrics, clock: Callable[[], float] | None = None):
        self._documents, self.metrics = documents, metrics
        self.clock = clock or metrics.clock
        self._lock = threading.Lock()  # a request's spans and the recount of their buckets, one request at a time
        self._filled: set[int] | None = None  # buckets (epoch s) holding stored spans; read from the store once

    # ------------------------------------------------------------------------------------------ intake
    def ingest_spans(self, body: Any) -> Accepted:
        """Store every valid span of a request and recount the metrics of the buckets they fall in.

        Raises:
            IntakeError: the request's shape is wrong, or no span of it is valid (400 naming the first refusal).
        """
        result = Accepted([], [])
        for batch in span_batches(body):
            self._store_batch(batch, result)
        if not result.stored:
            raise IntakeError(400, *result.refused)  # span_batches refuses a request without any span
        return result

    def ingest_apm_traces(self, payload: bytes) -> Accepted:
        """Store the LLM Obs spans an APM v0.4 trace payload carries (apm.py) as `ingest_spans` stores ddtrace's
        events: the same checks and metrics, and the same key, so a span that arrives both ways is kept once. A
        payload carrying none is no error (most APM traces carry none).

        Raises:
            IntakeError: the payload is not a v0.4 trace payload (400, as the Agent answers).
        """
        result = Accepted([], [])
        for chunk in apm.chunks(apm.carried_spans(payload)):
            events = []
            for span in chunk:
                try:
                    events.append((span.where, apm.span_event(span)))
                except ItemError as exc:
                    result.refused.append(exc.messages[0])
            if events:
                self._store_batch(SpanBatch(events), result)
        return result

    def _store_batch(self, batch: SpanBatch, result: Accepted) -> None:
        """Store a batch's valid spans and recount their buckets; refusals added to `result`."""
        now_ns = int(self.clock() * 1e9)
        stored = []
        for where, span in batch.spans:
            try:
                stored.append(self._span_doc(span, where, batch, now_ns))
            except ItemError as exc:
                result.refused.append(exc.messages[0])
        if stored:
            with self._lock:
                self._documents.put_many(SPAN, [(d["_key"], d["start_ns"] // 10**6, d) for d in stored])
                self._recount(stored)
            result.stored.extend(stored)

    @staticmethod
    def _span_doc(span: Any, where: str, batch: SpanBatch, now_ns: int) -> dict[str, Any]:
        doc = normalise_span(span, where, batch, now_ns)
        doc["_key"] = span_key(doc["trace_id"], doc["span_id"])
        costs = derived.span_costs(doc["metrics"])
        for key, dollars in costs.items():  # shown in nanodollars, as the Export API's estimated_*_cost are
            doc["metrics"][f"estimated_{key}"] = round(dollars * derived.NANODOLLARS, 3)
        return doc

    def _recount(self, stored: list[dict[str, Any]]) -> None:
        """Write the metrics of every bucket the just-stored spans fall in, from all the spans each bucket holds.

        Only buckets that held spans before are read back; a new bucket holds just this request's spans (spans are
        mostly sent in time order, so reading every touched bucket back was most of the intake's work)."""
        if self._filled is None:
            self._filled = {b // 1000 for b in self._documents.buckets(SPAN, derived.BUCKET_SECONDS * 1000)}
        touched = {derived.bucket_of(d["start_ns"]) for d in stored}
        earlier = touched & self._filled
        spans = self._documents.list_in_buckets(SPAN, (b * 1000 for b in earlier), derived.BUCKET_SECONDS * 1000)
        new = {d["_key"]: d for d in stored if derived.bucket_of(d["start_ns"]) not in earlier}  # a key's last wins
        self.metrics.write(derived.metric_points(spans + list(new.values())))
        self._filled |= touched

    def ingest_evaluations(self, body: Any) -> Accepted:
        """Store every valid evaluation of a request, each under a new id. IntakeError when none is valid."""
        stored, refused = [], []
        for where, item in evaluation_items(body):
            try:
                stored.append({"id": str(uuid.uuid4()), **normalise_evaluation(item, where)})
            except ItemError as exc:
                refused.append(exc.messages[0])
        if not stored:
            raise IntakeError(400, *refused)
        self._documents.put_many(EVALUATION, [(d["id"], d["timestamp_ms"], d) for d in stored])
        return Accepted(stored, refused)

    # ------------------------------------------------------------------------------------------ read side
    def search(self, flt: SpanFilter, *, limit: int = DEFAULT_PAGE_LIMIT, newest_first: bool = True,
               cursor: str | None = None) -> SpanPage:
        """Spans matching `flt` that started in its range, `limit` of them in time order, evaluations attached.

        Raises:
            IntakeError: a malformed cursor or query (400 naming it).
        """
        match = _matcher(flt)
        after = _decode_cursor(cursor) if cursor else None
        since, until = flt.start_ms, flt.end_ms + 1
        if after is not None:  # only what lies past the cursor is read: paging through n spans reads each once
            since, until = (since, min(until, after[0] // 10**6 + 1)) if newest_first else \
                (max(since, after[0] // 10**6), until)
        docs = self._documents.list(SPAN, since=since, until=until)
        docs.sort(key=_order, reverse=newest_first)
        found: list[dict[str, Any]] = []
        for doc in docs:
            if after is not None and (_order(doc) >= after if newest_first else _order(doc) <= after):
                continue
            if match(doc):
                found.append(doc)
                if len(found) > limit:
                    break
        page = found[:limit]
        more = len(found) > limit
        return SpanPage(self._with_evaluations(page), _encode_cursor(_order(page[-1])) if more else None)

    def trace(self, trace_id: str) -> list[dict[str, Any]]:
        """Every stored span of a trace (oldest first), evaluations attached, private fields kept (the page's).

        Reads every stored span to find them (documents have no index but time): fine for the sampled traces of a
        run, which is what the sandbox holds."""
        docs = [d for d in self._documents.list(SPAN) if d["trace_id"] == trace_id]
        return self._with_evaluations(sorted(docs, key=_order), public=False)

    def _with_evaluations(self, spans: list[dict[str, Any]], *, public: bool = True) -> list[dict[str, Any]]:
        if not spans:
            return []
        since = min(s["start_ns"] for s in spans) // 10**6 - _EVAL_BEFORE_MS
        until = max(s["start_ns"] + int(s["duration"]) for s in spans) // 10**6 + _EVAL_AFTER_MS
        by_span: dict[str, list[dict[str, Any]]] = {}
        by_tag: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for ev in self._documents.list(EVALUATION, since=since, until=until):
            if "span" in ev["join_on"]:
                by_span.setdefault(span_key(*ev["join_on"]["span"]), []).append(ev)
            else:
                key, value = ev["join_on"]["tag"]
                by_tag.setdefault((ev["ml_app"], f"{key}:{value}"), []).append(ev)
        out = []
        for span in spans:
            found = list(by_span.get(span["_key"], []))
            for tag in span["tags"]:
                found += by_tag.get((span["ml_app"], tag), [])
            shown = {k: v for k, v in span.items() if not (public and k.startswith("_"))}
            if found:
                shown["evaluation"] = {ev["label"]: _shown_evaluation(ev) for ev in
                                       sorted(found, key=lambda e: e["timestamp_ms"])}  # the latest of a label wins
            out.append(shown)
        return out

    def clear(self) -> dict[str, int]:
        """Forget every span and evaluation (a new run; their metrics go with the metric store's points)."""
        with self._lock:
            self._filled = None
            return {"llm_spans": self._documents.delete_kind(SPAN),
                    "llm_evaluations": self._documents.delete_kind(EVALUATION)}


def span_key(trace_id: str, span_id: str) -> str:
    """A span's document id: its trace and span ids, unambiguous whatever characters they hold."""
    return orjson.dumps([trace_id, span_id]).decode()


def _order(doc: dict[str, Any]) -> tuple[int, str]:
    return doc["start_ns"], doc["_key"]


def _shown_evaluation(ev: dict[str, Any]) -> dict[str, Any]:
    """An evaluation as the Export API attaches it (LLMObsSpanEvaluationMetric)."""
    shown = {"eval_metric_type": ev["metric_type"], "value": ev["value"], "tags": ev["tags"]}
    shown.update({k: ev[k] for k in ("assessment", "reasoning") if k in ev})
    return shown


def _encode_cursor(order: tuple[int, str]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(order))).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        start_ns, key = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if type(start_ns) is not int or not isinstance(key, str):
            raise ValueError(cursor)
        return start_ns, key
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise IntakeError(400, "page[cursor] is not a cursor this API returned") from None


# ------------------------------------------------------------------------------------------ filters
Matcher = Callable[[dict[str, Any]], bool]


def _matcher(flt: SpanFilter) -> Matcher:
    """The test a span must pass: the query's terms when there is a query (documented: "When provided, structured
    field filters are ignored"), else the exact fields and tags."""
    if flt.query is not None and flt.query.strip():
        return _query_matcher(flt.query)
    wanted = {k: v for k, v in (("ml_app", flt.ml_app), ("trace_id", flt.trace_id), ("span_id", flt.span_id),
                                ("span_kind", flt.span_kind), ("name", flt.span_name)) if v is not None}
    tags = {f"{k}:{v}" for k, v in flt.tags.items()}
    return lambda doc: all(doc.get(k) == v for k, v in wanted.items()) and tags <= set(doc["tags"])


MAX_QUERY_TERMS = 32


def _query_matcher(query: str) -> Matcher:
    """`field:value` terms, all of which must hold (`AND` between them is allowed); a value may hold `*` wildcards.
    Fields: the span's own (trace_id, span_id, ml_app, name, span_kind or meta.span.kind, status, model_name,
    model_provider, session_id), any other key is a tag (`env:prod`, `@env:prod`). OR, NOT, parentheses and
    free text are refused (400): the sandbox's subset of Datadog's search syntax."""
    terms = [t for t in query.split() if t != "AND"]
    if len(terms) > MAX_QUERY_TERMS:
        raise IntakeError(400, f"filter query has {len(terms)} terms; the sandbox takes at most {MAX_QUERY_TERMS}")
    tests: list[Matcher] = []
    for term in terms:
        key, sep, value = term.partition(":")
        if not sep or not key or not value or term in ("OR", "NOT") or term[0] in "-!(" or ")" in term:
            raise IntakeError(400, f"filter query term {term[:60]!r} is not supported: the sandbox takes field:value "
                                   "terms joined by spaces or AND")
        tests.append(_term(key, Glob.compile(value)))
    return lambda doc: all(test(doc) for test in tests)


def _term(key: str, glob: Glob) -> Matcher:
    """One `key:value` term: a span field when `key` names one, else a tag."""
    attr = _QUERY_FIELDS.get(key)
    prefix = key.lstrip("@") + ":"

    def field_matches(doc: dict[str, Any]) -> bool:
        return isinstance(doc.get(attr or ""), str) and glob.fullmatch(doc[attr or ""])

    def tag_matches(doc: dict[str, Any]) -> bool:
        return any(t.startswith(prefix) and glob.fullmatch(t[len(prefix):]) for t in doc["tags"])

    return field_matches if attr is not None else tag_matches
