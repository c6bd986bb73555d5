"""LLM Observability spans carried by APM traces: what ddtrace sends the local Agent's `/v0.4/traces` by default.

With APM tracing on (its default), ddtrace 4.16.0 runs LLMObs in export mode APM_AGENT (`llmobs/_llmobs.py`
`LLMObs.__init__`): a finished LLM Obs span is not sent through the EVP proxy but rides its APM span, as the
LLMObsSpanData in `meta_struct["_llmobs"]` (`_llmobs.py` `_prepare_llmobs_span_data`; `_processor.py`
`_route_span` sends the event separately only when the trace will not carry it), and Datadog makes the LLM Obs
span of it. LLM Observability forces the trace API to v0.4 because the v0.5 encoding drops meta_struct
(`internal/writer/writer.py` `_resolve_api_version`). The v0.4 payload (msgpack): an array of traces, each an array
of span maps (`trace_id`, `span_id`, `parent_id` unsigned 64-bit ints, `name`, `service`, `resource`, `type`,
`start` and `duration` in ns, `error` 0/1, `meta`, `metrics`, `meta_struct`: names to msgpack-encoded bytes).

`carried_spans` finds the spans holding `_llmobs` without building the rest of the payload (read value by value,
what is not needed skipped unbuilt), refusing a payload that is not v0.4 msgpack as the Agent does (400).
`span_event` turns one into the event ddtrace would have sent the EVP proxy (`_llmobs.py` `_llmobs_span_event` and
`_llmobs_tags`), for the model's checks like any other (model.py).
"""

from __future__ import annotations

from typing import Any, Iterator, NamedTuple

import msgpack
import orjson

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.http.params import shorten
from autonomic_lib.sandbox.http.routing import MAX_JSON_DEPTH, json_depth
from autonomic_lib.sandbox.llmobs.model import MAX_SPANS_PER_PAYLOAD, ROOT_PARENT_ID, ItemError

LLMOBS_KEY = "_llmobs"  # ddtrace 4.16.0 llmobs/_constants.py LLMOBS_STRUCT.KEY
# Sandbox bounds: one span's _llmobs as large as the 5 MiB ddtrace allows an LLM Obs request (routes.py), with at
# most 100 000 items in one of its arrays or maps (far above a real span's). Spans are decoded and stored a chunk
# at a time, never more than the 1000 spans or 5 MiB of structs an EVP request holds.
MAX_STRUCT_BYTES = 5 << 20
MAX_CONTAINER_ITEMS = 100_000
# Sandbox bound on the spans of one trace payload, read at about a million a second: ddtrace's largest payload
# (20 MiB, internal/constants.py DEFAULT_MAX_PAYLOAD_SIZE) holds some 150 000 of its smallest spans.
MAX_APM_SPANS = 1_000_000
_SCALAR_FIELDS = ("span_id", "name", "start", "duration", "error")  # the APM span fields an LLM Obs event takes
# msgpack's first byte of a map, an array, a str (fixmap 0x80-0x8f, fixarray 0x90-0x9f, fixstr 0xa0-0xbf, then
# the 16- and 32-bit forms); ext types (0xc7-0xc9, 0xd4-0xd8) are no value a span holds.
_MAPS, _ARRAYS = {*range(0x80, 0x90), 0xDE, 0xDF}, {*range(0x90, 0xA0), 0xDC, 0xDD}
_STRS, _EXTS = {*range(0xA0, 0xC0), 0xD9, 0xDA, 0xDB}, {0xC7, 0xC8, 0xC9, *range(0xD4, 0xD9)}
_NOT_SCALARS = _MAPS | _ARRAYS | _EXTS


class CarriedSpan(NamedTuple):
    """An APM span that carries an LLM Obs span: where it is, its scalar fields, its `_llmobs` (msgpack bytes)."""

    where: str
    fields: dict[str, Any]
    struct: bytes


def carried_spans(payload: bytes) -> list[CarriedSpan]:
    """The spans of a v0.4 trace payload that carry `_llmobs`; the others are read past and dropped.

    Raises:
        IntakeError: the payload is not an array of traces, each an array of span maps (400 saying where).
    """
    reader = _Reader(payload)
    try:
        found = [span for i in range(reader.array("traces")) for span in reader.trace(i)]
    except (ValueError, msgpack.UnpackException) as exc:  # msgpack's decoding errors (OutOfData among them)
        raise IntakeError(400, f"The v0.4 trace payload is not valid msgpack at byte {reader.offset}: "
                               f"{str(exc)[:200] or type(exc).__name__}") from None
    if reader.offset != len(payload):
        raise IntakeError(400, f"The v0.4 trace payload has {len(payload) - reader.offset} bytes after its traces")
    return found


def chunks(spans: list[CarriedSpan]) -> Iterator[list[CarriedSpan]]:
    """The spans in runs an EVP request could hold: at most 1000 spans and 5 MiB of structs (or one bigger span)."""
    run: list[CarriedSpan] = []
    size = 0
    for span in spans:
        if run and (len(run) == MAX_SPANS_PER_PAYLOAD or size + len(span.struct) > MAX_STRUCT_BYTES):
            yield run
            run, size = [], 0
        run.append(span)
        size += len(span.struct)
    if run:
        yield run


def span_event(span: CarriedSpan) -> dict[str, Any]:
    """The LLM Obs span event of an APM span, as ddtrace builds it for the EVP proxy (`_llmobs_span_event`): ids,
    name, times and status from the APM span, the rest from `_llmobs`; its tags a `key:value` list with
    `error:<0|1>` and `error_type:` added (`_llmobs_tags`). ItemError naming the field when `_llmobs` is unusable.
    """
    where = f"{span.where}.meta_struct.{LLMOBS_KEY}"
    if len(span.struct) > MAX_STRUCT_BYTES:
        raise ItemError(f"{where} has {len(span.struct)} bytes; the sandbox takes at most {MAX_STRUCT_BYTES}")
    try:
        data = msgpack.unpackb(span.struct, raw=False, strict_map_key=True, max_str_len=MAX_STRUCT_BYTES,
                               max_bin_len=0, max_ext_len=0, max_array_len=MAX_CONTAINER_ITEMS,
                               max_map_len=MAX_CONTAINER_ITEMS)
        orjson.dumps(data)  # what is stored must be JSON: no bytes, no ext, keys strings
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise ItemError(f"{where} is not a msgpack map of JSON values: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise ItemError(f"{where} must be a map, got {type(data).__name__}")
    if json_depth(data, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise ItemError(f"{where} nests more than {MAX_JSON_DEPTH} levels")
    span_id, error = span.fields.get("span_id"), span.fields.get("error", 0)
    if type(span_id) is not int or type(error) is not int:
        raise ItemError(f"{span.where}: span_id and error must be integers (v0.4), got {shorten(span_id)} and "
                        f"{shorten(error)}")
    tags = data.get("tags") or {}
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise ItemError(f"{where}.tags must be a map of strings")
    meta = data.get("meta")
    error_field = meta.get("error") if isinstance(meta, dict) else None  # ddtrace copies the span's error.type here
    error_type = error_field.get("type") if isinstance(error_field, dict) else None
    tags = {**tags, "error": str(error)} | ({"error_type": str(error_type)} if error_type else {})
    event: dict[str, Any] = {
        "trace_id": data.get("trace_id"), "span_id": str(span_id),
        "parent_id": data.get("parent_id") or ROOT_PARENT_ID, "name": data.get("name") or span.fields.get("name"),
        "start_ns": span.fields.get("start"), "duration": span.fields.get("duration"),
        "status": "error" if error else "ok", "meta": meta, "metrics": data.get("metrics") or {},
        "tags": sorted(f"{k}:{v}" for k, v in tags.items()),
    }
    if data.get("session_id"):
        event["session_id"] = data["session_id"]
    return event


class _Reader:
    """A v0.4 payload read one value at a time; `offset` is where the next value starts."""

    def __init__(self, payload: bytes):
        self._payload = payload
        self._unpacker = msgpack.Unpacker(None, raw=False, strict_map_key=True, max_buffer_size=max(len(payload), 1),
                                          max_str_len=len(payload), max_bin_len=len(payload), max_ext_len=0,
                                          max_array_len=len(payload), max_map_len=len(payload))
        self._unpacker.feed(payload)
        self._spans = 0

    @property
    def offset(self) -> int:
        return int(self._unpacker.tell())

    def _marker(self, where: str) -> int:
        if self.offset >= len(self._payload):
            raise IntakeError(400, f"The v0.4 trace payload ends inside {where}")
        return self._payload[self.offset]

    def array(self, where: str) -> int:
        if self._marker(where) not in _ARRAYS:
            raise IntakeError(400, f"{where} must be a msgpack array (byte {self.offset})")
        return int(self._unpacker.read_array_header())

    def trace(self, i: int) -> Iterator[CarriedSpan]:
        for j in range(self.array(f"traces[{i}]")):
            span = self.span(f"traces[{i}][{j}]")
            if span is not None:
                yield span

    def span(self, where: str) -> CarriedSpan | None:
        if self._marker(where) not in _MAPS:
            raise IntakeError(400, f"{where} must be a msgpack map (a span; byte {self.offset})")
        self._spans += 1
        if self._spans > MAX_APM_SPANS:
            raise IntakeError(400, f"The trace payload holds more than the sandbox's {MAX_APM_SPANS} spans; split it")
        fields: dict[str, Any] = {}
        struct = None
        for _ in range(self._unpacker.read_map_header()):
            key = self.key(where)
            if key == "meta_struct" and self._marker(where) in _MAPS:
                struct = self.meta_struct(where)
            elif key in _SCALAR_FIELDS and self._marker(where) not in _NOT_SCALARS:
                fields[key] = self._unpacker.unpack()
            else:
                self._unpacker.skip()  # meta, metrics, links...: read past, never built
        return CarriedSpan(where, fields, struct) if struct is not None else None

    def meta_struct(self, where: str) -> bytes | None:
        struct = None
        for _ in range(self._unpacker.read_map_header()):
            if self.key(f"{where}.meta_struct") == LLMOBS_KEY:
                value = self._unpacker.unpack() if self._marker(where) not in _NOT_SCALARS else None
                if not isinstance(value, bytes):
                    raise IntakeError(400, f"{where}.meta_struct.{LLMOBS_KEY} must be msgpack bytes")
                struct = value
            else:
                self._unpacker.skip()
        return struct

    def key(self, where: str) -> str:
        if self._marker(where) not in _STRS:
            raise IntakeError(400, f"{where}: a map key must be a string (byte {self.offset})")
        return str(self._unpacker.unpack())
