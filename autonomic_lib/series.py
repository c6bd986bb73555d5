"""Bulk metric submission: columnar series encoded straight to v2 intake payloads.

The client's `MetricsApi.submit_metrics` builds one model object per point, which caps throughput at
tens of thousands of points per second. Here points stay in numpy arrays, are serialized with
orjson, split under Datadog's payload limits and compressed, and are posted through the
ApiClient's own connection pool, auth and retry policy (bench/ingest_query.py measures both).
"""

from __future__ import annotations

import gzip
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np
import orjson
from datadog_api_client import ApiClient

from .client import raw_request

MAX_COMPRESSED = 512_000  # Datadog's v2 limit on the (compressed) body
MAX_DECOMPRESSED = 5_242_880  # ... and on the decompressed body
INTAKE_TYPES = {"unspecified": 0, "count": 1, "rate": 2, "gauge": 3}
ENCODINGS = ("gzip", "deflate", "zstd1")
MAX_CONCURRENCY = 4  # the ApiClient's urllib3 pool keeps 4 connections per host
_HEADROOM = 0.92  # stay a little under the limits: JSON framing varies per chunk
ZSTD_LEVEL = 1  # on the kit's payloads level 1 compresses faster than 3 and no worse (bench/swarm.py (d))


@dataclass
class Series:
    """Points of one metric and tag set, held as arrays (timestamps in epoch seconds)."""

    metric: str
    timestamps: np.ndarray
    values: np.ndarray
    tags: Sequence[str] = ()
    type: str = "gauge"
    interval: int | None = None
    unit: str | None = None

    def __post_init__(self) -> None:
        raw_ts = np.asarray(self.timestamps)
        self.timestamps = raw_ts.astype(np.int64)
        self.values = np.asarray(self.values, dtype=np.float64)
        if self.timestamps.shape != self.values.shape or self.timestamps.ndim != 1:
            raise ValueError(f"series {self.metric}: timestamps and values must be 1-D arrays of equal length")
        if not np.array_equal(self.timestamps, raw_ts):
            raise ValueError(f"series {self.metric}: timestamps must be whole epoch seconds")
        if not np.isfinite(self.values).all():
            raise ValueError(f"series {self.metric}: values must be finite (Datadog has no NaN or infinity)")
        if isinstance(self.tags, str):
            raise ValueError(f"series {self.metric}: tags must be a list of 'key:value' strings, not one string")
        if self.type not in INTAKE_TYPES:
            raise ValueError(f"series {self.metric}: type {self.type!r} is not one of {', '.join(INTAKE_TYPES)}")


@dataclass
class SubmitReport:
    """What a bulk submission sent and had acknowledged."""

    points: int = 0
    requests: int = 0
    bytes_sent: int = 0


def _header(s: Series) -> dict[str, object]:
    head: dict[str, object] = {"metric": s.metric, "type": INTAKE_TYPES[s.type], "tags": list(s.tags)}
    if s.interval:
        head["interval"] = int(s.interval)
    if s.unit:
        head["unit"] = s.unit
    return head


def _compress(raw: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.compress(raw, compresslevel=6, mtime=0)
    if encoding == "deflate":
        return zlib.compress(raw, 6)
    import zstandard

    return zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(raw)


def encode_payloads(series: Iterable[Series], *, encoding: str = "zstd1", points_per_payload: int = 40_000
                    ) -> Iterator[tuple[bytes, int]]:
    """Yield (compressed body, point count) pairs, each under Datadog's v2 size limits.

    A series longer than a payload is split across payloads (same metric and tags, later points).
    """
    if encoding not in ENCODINGS:  # checked now, not when the first payload is pulled
        raise ValueError(f"encoding {encoding!r} is not one of {', '.join(ENCODINGS)}")
    return _encode(series, encoding, max(int(points_per_payload), 1))


_Part = tuple[dict[str, object], np.ndarray, np.ndarray]  # (series header, timestamps, values) of one payload


def _encode(series: Iterable[Series], encoding: str, points_per_payload: int) -> Iterator[tuple[bytes, int]]:
    budget = points_per_payload
    pending: list[_Part] = []
    count = 0

    def flush() -> Iterator[tuple[bytes, int]]:
        nonlocal pending, count, budget
        queue = [(pending, count)]
        while queue:
            chunk, n = queue.pop(0)
            raw = orjson.dumps({"series": [{**head, "points": orjson.Fragment(points_json(ts, values))}
                                           for head, ts, values in chunk]})
            body = _compress(raw, encoding)
            if (len(body) <= MAX_COMPRESSED * _HEADROOM and len(raw) < MAX_DECOMPRESSED * _HEADROOM) or n <= 1:
                yield body, n
                continue
            budget = max(n // 2, 1)  # data compressed worse than expected: halve and retry both halves
            queue[:0] = _halve(chunk)
        pending, count = [], 0

    for s in series:
        head = _header(s)
        start = 0
        while start < len(s.timestamps):
            take = min(budget - count, len(s.timestamps) - start)
            pending.append((head, s.timestamps[start:start + take], s.values[start:start + take]))
            count += take
            start += take
            if count >= budget:
                yield from flush()
    if pending:
        yield from flush()


_EXACT_TIMESTAMPS = 10**15  # below this a whole float64 prints as digits and ".0" (orjson), so the text is exact


def points_json(timestamps: np.ndarray, values: np.ndarray) -> bytes:
    """The v2 `points` array, `[{"timestamp": t, "value": v}, ...]`, byte for byte what orjson writes for those
    dicts, without making a Python object per point: orjson writes the (n, 2) array as `[[t.0,v],...]` in C and
    two byte replacements turn each pair into an object (the bulk send's costliest step before: 1.9 of 8.3 s)."""
    if not len(timestamps):
        return b"[]"
    if np.abs(timestamps).max() >= _EXACT_TIMESTAMPS:
        return orjson.dumps([{"timestamp": t, "value": v} for t, v in zip(timestamps.tolist(), values.tolist())])
    pairs = orjson.dumps(np.column_stack([timestamps.astype(np.float64), values]), option=orjson.OPT_SERIALIZE_NUMPY)
    # "[[t.0,v],[t.0,v]]": ".0," only ends a timestamp (a value is followed by "]"); "],[" only separates pairs
    body = pairs[2:-2].replace(b".0,", b',"value":').replace(b"],[", b'},{"timestamp":')
    return b'[{"timestamp":' + body + b"}]"


def _halve(chunk: list[_Part]) -> list[tuple[list[_Part], int]]:
    """Split a payload's parts into two of about equal point counts (a part may be cut in two)."""
    total = sum(len(ts) for _, ts, _ in chunk)
    mid = total // 2
    first: list[_Part] = []
    second: list[_Part] = []
    seen = 0
    for head, ts, values in chunk:
        cut = min(max(mid - seen, 0), len(ts))
        if cut:
            first.append((head, ts[:cut], values[:cut]))
        if cut < len(ts):
            second.append((head, ts[cut:], values[cut:]))
        seen += len(ts)
    return [(first, mid), (second, total - mid)]


def post_payload(api_client: ApiClient, body: bytes, *, encoding: str) -> None:
    """POST one encoded v2 series payload with the client's pool, auth headers and retry policy."""
    raw_request(api_client, "POST", "/api/v2/series", body=body, headers={"Content-Encoding": encoding})


def submit_series(api_client: ApiClient, series: Iterable[Series], *, encoding: str = "zstd1",
                  concurrency: int = 2) -> SubmitReport:
    """Send every point of `series` in as few compressed requests as Datadog's limits allow.

    Encoding the next payload overlaps with posting the previous ones (`concurrency` requests in flight),
    so neither the encoder nor the backend waits on the other. The first failed request raises after
    the ones in flight finish; the report counts only acknowledged points.
    """
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"concurrency must be between 1 and {MAX_CONCURRENCY} (the ApiClient's connection pool size)")
    report = SubmitReport()
    in_flight: deque[tuple[Future[None], bytes, int]] = deque()

    def settle(oldest: tuple[Future[None], bytes, int]) -> None:
        future, body, n = oldest
        future.result()
        report.points += n
        report.requests += 1
        report.bytes_sent += len(body)

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="submit") as pool:
        try:
            for body, n in encode_payloads(series, encoding=encoding):
                in_flight.append((pool.submit(post_payload, api_client, body, encoding=encoding), body, n))
                if len(in_flight) > concurrency:
                    settle(in_flight.popleft())
            while in_flight:
                settle(in_flight.popleft())
        finally:
            for future, _, _ in in_flight:
                future.cancel()
    return report
