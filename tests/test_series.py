"""Bulk submission: payload encoding under Datadog's v2 limits, and submit_series against a real sandbox."""

from __future__ import annotations

import gzip
import uuid
import zlib
from collections import defaultdict

import numpy as np
import orjson
import pytest
import zstandard
from datadog_api_client import ApiClient
from datadog_api_client.exceptions import ApiException, ForbiddenException
from datadog_api_client.v1.api.metrics_api import MetricsApi

from autonomic_lib.analysis import query_frame
from autonomic_lib.client import make_api_client
from autonomic_lib.sandbox.server import SandboxServer
from autonomic_lib.series import (
    ENCODINGS, INTAKE_TYPES, MAX_COMPRESSED, MAX_DECOMPRESSED, Series, _compress, encode_payloads, points_json,
    submit_series,
)
from autonomic_lib.settings import Settings

T0 = 1767225600  # 2026-01-01 00:00 UTC
DECOMPRESS = {
    "gzip": gzip.decompress,
    "deflate": zlib.decompress,
    "zstd1": lambda body: zstandard.ZstdDecompressor().decompress(body),
}
Key = tuple[str, tuple[str, ...], int, "int | None", "str | None"]


def unique(name: str) -> str:
    return f"test.{name}.{uuid.uuid4().hex[:8]}"


def key_of(metric: str, tags, type_code: int, interval: int | None, unit: str | None) -> Key:
    return metric, tuple(tags), type_code, interval, unit


def expected_points(series: list[Series]) -> dict[Key, list[tuple[int, float]]]:
    out: dict[Key, list[tuple[int, float]]] = defaultdict(list)
    for s in series:
        out[key_of(s.metric, s.tags, INTAKE_TYPES[s.type], s.interval, s.unit)] += list(
            zip(s.timestamps.tolist(), s.values.tolist()))
    return dict(out)


def decode_all(payloads: list[tuple[bytes, int]], encoding: str) -> list[dict]:
    """Decompress and parse every payload, checking the limits and that its count is the points it holds."""
    decoded = []
    for body, count in payloads:
        assert len(body) <= MAX_COMPRESSED
        raw = DECOMPRESS[encoding](body)
        assert len(raw) < MAX_DECOMPRESSED
        payload = orjson.loads(raw)
        assert set(payload) == {"series"} and payload["series"]
        assert count == sum(len(entry["points"]) for entry in payload["series"])
        decoded.append(payload)
    return decoded


def received_points(decoded: list[dict]) -> dict[Key, list[tuple[int, float]]]:
    out: dict[Key, list[tuple[int, float]]] = defaultdict(list)
    for payload in decoded:
        for entry in payload["series"]:
            assert set(entry) <= {"metric", "type", "tags", "interval", "unit", "points"}
            key = key_of(entry["metric"], entry["tags"], entry["type"], entry.get("interval"), entry.get("unit"))
            out[key] += [(p["timestamp"], p["value"]) for p in entry["points"]]
    return dict(out)


def mixed_series(rng: np.random.Generator) -> list[Series]:
    """Every intake type, with and without interval, unit and tags, plus one series longer than a payload."""
    series = [Series("test.long", T0 + np.arange(100_000), rng.normal(size=100_000), tags=["env:demo", "role:a"],
                     type="gauge", unit="millisecond")]
    for i in range(400):
        n = int(rng.integers(1, 300))
        series.append(Series(f"test.m{i % 7}", T0 + np.sort(rng.choice(3600, n, replace=False)),
                             rng.integers(-1000, 1000, n) * rng.random(n) * 10.0 ** rng.integers(-5, 8),
                             tags=[f"agent_id:a{i}", "env:demo"][: i % 3], type=list(INTAKE_TYPES)[i % 4],
                             interval=10 if i % 2 else None, unit="byte" if i % 5 == 0 else None))
    return series


# ------------------------------------------------------------------------------------------ encode_payloads
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_payloads_decompress_to_json_under_the_limits_and_carry_every_point_exactly(encoding: str) -> None:
    series = mixed_series(np.random.default_rng(7))
    payloads = list(encode_payloads(series, encoding=encoding))
    decoded = decode_all(payloads, encoding)
    assert received_points(decoded) == expected_points(series)
    assert sum(n for _, n in payloads) == sum(len(s.timestamps) for s in series)
    holding_long = [p for p in decoded if any(e["metric"] == "test.long" for e in p["series"])]
    assert len(holding_long) >= 3  # 100 000 points do not fit one 40 000-point payload


@pytest.mark.parametrize("timestamps", [
    np.arange(T0, T0 + 10 * 2000, 10), np.array([0, -60, 10**9, 10**15 - 1]), np.array([10**15, 2**62]),
    np.array([], dtype=np.int64)], ids=["epoch seconds", "edges of the fast path", "beyond it", "none"])
def test_points_json_is_byte_for_byte_the_json_of_one_dict_per_point(timestamps: np.ndarray) -> None:
    rng = np.random.default_rng(3)
    n = len(timestamps)
    special = np.array([0.0, -0.0, 1.0, 5676.0, 1e20, 1e-300, 123456789.125, 2.5e15, 1e16, 1e22, -7.5e-9])
    values = np.concatenate([special, rng.lognormal(0, 3, n), rng.normal(0, 1e-8, n)])[:n] if n else np.zeros(0)
    ts = timestamps.astype(np.int64)
    expected = orjson.dumps([{"timestamp": t, "value": v} for t, v in zip(ts.tolist(), values.tolist())])
    assert points_json(ts, values) == expected


@pytest.mark.parametrize("length, per_payload, counts", [
    (2500, 1000, [1000, 1000, 500]),
    (1000, 1000, [1000]),
    (1001, 1000, [1000, 1]),
    (7, 1, [1] * 7),
])
def test_a_series_longer_than_a_payload_continues_in_the_next_ones(length: int, per_payload: int, counts) -> None:
    values = np.linspace(-1.0, 1.0, length)
    series = Series("test.split", T0 + np.arange(length), values, tags=["env:demo"], type="count", interval=10)
    payloads = list(encode_payloads([series], encoding="gzip", points_per_payload=per_payload))
    assert [n for _, n in payloads] == counts
    entries = [entry for payload in decode_all(payloads, "gzip") for entry in payload["series"]]
    assert len(entries) == len(counts)  # one entry per payload, each with the series' full header
    assert all({k: v for k, v in e.items() if k != "points"} ==
               {"metric": "test.split", "type": 1, "tags": ["env:demo"], "interval": 10} for e in entries)
    assert [p["timestamp"] - T0 for e in entries for p in e["points"]] == list(range(length))  # in order
    assert [p["value"] for e in entries for p in e["points"]] == values.tolist()


def test_a_payload_is_filled_up_to_the_point_budget_across_series() -> None:
    series = [Series("test.short", T0 + np.arange(10), np.ones(10)),
              Series("test.long", T0 + np.arange(2500), np.arange(2500.0)),
              Series("test.tail", T0 + np.arange(600), np.zeros(600))]
    payloads = list(encode_payloads(series, encoding="zstd1", points_per_payload=1000))
    assert [n for _, n in payloads] == [1000, 1000, 1000, 110]
    decoded = decode_all(payloads, "zstd1")
    assert [[(e["metric"], len(e["points"])) for e in p["series"]] for p in decoded] == [
        [("test.short", 10), ("test.long", 990)], [("test.long", 1000)], [("test.long", 510), ("test.tail", 490)],
        [("test.tail", 110)]]
    assert received_points(decoded) == expected_points(series)


def test_small_series_share_one_payload() -> None:
    series = [Series(f"test.small{i}", [T0, T0 + 10], [1.0, 2.0], tags=[f"i:{i}"]) for i in range(50)]
    ((body, count),) = encode_payloads(series, encoding="deflate")
    assert count == 100
    assert [e["metric"] for e in orjson.loads(zlib.decompress(body))["series"]] == [s.metric for s in series]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_incompressible_values_are_halved_until_under_the_compressed_limit(encoding: str) -> None:
    rng = np.random.default_rng(11)
    n = 300_000
    # random gaps between timestamps too: zstd level 1 packs random values alone under the limit
    series = [Series("test.random", T0 + np.cumsum(rng.integers(1, 1000, n)), rng.standard_normal(n) * 1e6,
                     tags=["env:demo"]),
              Series("test.random.b", T0 + np.arange(5000), rng.random(5000) * 1e9, tags=["env:b"])]
    # the default 40 000-point payload of such values is over the limit: encoding has to split further
    first = orjson.dumps({"series": [{"metric": "test.random", "type": 3, "tags": ["env:demo"], "points": [
        {"timestamp": t, "value": v} for t, v in zip(series[0].timestamps[:40_000].tolist(),
                                                     series[0].values[:40_000].tolist())]}]})
    assert len(_compress(first, encoding)) > MAX_COMPRESSED

    payloads = list(encode_payloads(series, encoding=encoding))

    assert max(n for _, n in payloads) < 40_000
    assert received_points(decode_all(payloads, encoding)) == expected_points(series)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_halving_splits_a_payload_over_the_decompressed_limit(encoding: str) -> None:
    # constant values compress ~100x: only the 5 MB decompressed limit stops one huge payload
    series = [Series("test.flat", T0 + np.arange(200_000), np.zeros(200_000), tags=["env:demo"], unit="byte")]
    payloads = list(encode_payloads(series, encoding=encoding, points_per_payload=200_000))
    assert len(payloads) > 1
    assert received_points(decode_all(payloads, encoding)) == expected_points(series)


def test_halving_keeps_several_series_apart() -> None:
    rng = np.random.default_rng(3)
    series = [Series(f"test.h{i}", T0 + np.arange(3000), rng.random(3000), tags=[f"i:{i}"], type="rate", interval=5)
              for i in range(30)]
    payloads = list(encode_payloads(series, encoding="zstd1", points_per_payload=90_000))
    assert len(payloads) > 1 and max(n for _, n in payloads) < 90_000
    assert received_points(decode_all(payloads, "zstd1")) == expected_points(series)


def test_series_without_points_send_nothing() -> None:
    assert list(encode_payloads([Series("test.empty", [], [])], encoding="gzip")) == []


def test_unknown_encoding_is_refused_naming_the_supported_ones() -> None:
    with pytest.raises(ValueError, match=r"'br' is not one of gzip, deflate, zstd1"):
        encode_payloads([Series("test.x", [T0], [1.0])], encoding="br")


@pytest.mark.parametrize("kwargs, message", [
    ({"timestamps": [T0, T0 + 1], "values": [1.0]}, "timestamps and values must be 1-D arrays of equal length"),
    ({"timestamps": [T0], "values": [1.0, 2.0]}, "timestamps and values must be 1-D arrays of equal length"),
    ({"timestamps": [[T0], [T0]], "values": [[1.0], [2.0]]}, "1-D"),
    ({"timestamps": [T0], "values": [1.0], "type": "distribution"}, "type 'distribution' is not one of"),
    ({"timestamps": [T0 + 0.5], "values": [1.0]}, "whole epoch seconds"),
    ({"timestamps": [T0], "values": [float("nan")]}, "values must be finite"),
    ({"timestamps": [T0], "values": [1.0], "tags": "env:demo"}, "not one string"),
])
def test_malformed_series_are_refused_naming_the_problem(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=r"test\.bad: .*" + message.replace("(", r"\(").replace(")", r"\)")):
        Series("test.bad", **kwargs)


# ------------------------------------------------------------------------------------------ submit_series

@pytest.fixture
def bulk_client(session_sandbox: SandboxServer) -> ApiClient:
    settings = Settings(api_key=session_sandbox.config.api_key, app_key=session_sandbox.config.app_key,
                        host=session_sandbox.url)
    with make_api_client(settings) as client:
        yield client


def by_bucket(series: list[Series], start: int, step: int, method: str) -> dict[str, dict[int, float]]:
    """What a `.rollup(method, step)` grouped by the `series` tag must answer, from the input arrays."""
    out: dict[str, dict[int, float]] = {}
    for s in series:
        buckets = (s.timestamps - start) // step
        reduce = np.bincount(buckets, weights=s.values) if method == "sum" else np.bincount(buckets).astype(float)
        out[s.tags[0]] = {start + step * int(i): float(reduce[i]) for i in np.flatnonzero(np.bincount(buckets))}
    return out


def frame_by_bucket(client: ApiClient, query: str, start: int, end: int) -> dict[str, dict[int, float]]:
    frame = query_frame(client, query, start, end)
    out: dict[str, dict[int, float]] = defaultdict(dict)
    for t, group, value in zip(frame["time"].dt.as_unit("s").astype("int64"), frame["group"], frame["value"]):
        out[group][int(t)] = float(value)
    return dict(out)


@pytest.mark.api
@pytest.mark.parametrize("encoding, concurrency, late", [
    ("zstd1", 2, False),
    ("gzip", 4, False),
    ("deflate", 1, True),
])
def test_submitted_points_all_come_back_and_the_report_counts_them(
        bulk_client: ApiClient, now: int, encoding: str, concurrency: int, late: bool) -> None:
    metric = f"test.late.bulk.{uuid.uuid4().hex[:8]}" if late else unique("bulk")
    start = now - (7200 if late else 3000)  # the sandbox refuses points over an hour old unless late data is on
    rng = np.random.default_rng(5)
    series = [Series(metric, start + np.sort(rng.choice(3000, 3000 - i, replace=False)),
                     rng.integers(-4000, 4000, 3000 - i) / 4,  # quarters: sums are exact in any order
                     tags=[f"series:s{i:03d}", "env:bulk"], type="gauge") for i in range(100)]
    sent = sum(len(s.timestamps) for s in series)
    assert sent > 250_000

    report = submit_series(bulk_client, series, encoding=encoding, concurrency=concurrency)

    payloads = list(encode_payloads(series, encoding=encoding))
    assert (report.points, report.requests, report.bytes_sent) == (
        sent, len(payloads), sum(len(body) for body, _ in payloads))
    end = start + 3000
    for method in ("sum", "count"):
        got = frame_by_bucket(bulk_client, f"sum:{metric}{{*}} by {{series}}.rollup({method}, 60)", start, end)
        assert got == by_bucket(series, start, 60, method), method
    # and raw points, value for value, through the official client
    one = series[42]
    window = (start, start + 1200)
    response = MetricsApi(bulk_client).query_metrics(_from=window[0], to=window[1],
                                                    query=f"max:{metric}{{series:s042}}.rollup(max, 1)")
    (only,) = response.series
    inside = (one.timestamps >= window[0]) & (one.timestamps < window[1])
    assert [(int(p.value[0]) // 1000, p.value[1]) for p in only.pointlist] == list(
        zip(one.timestamps[inside].tolist(), one.values[inside].tolist()))


@pytest.mark.api
def test_a_wrong_api_key_raises_forbidden_and_stores_nothing(session_sandbox: SandboxServer, now: int) -> None:
    metric = unique("bulk.wrongkey")
    settings = Settings(api_key="1" * 32, app_key=session_sandbox.config.app_key, host=session_sandbox.url)
    with make_api_client(settings) as client:
        with pytest.raises(ForbiddenException) as info:
            submit_series(client, [Series(metric, now - np.arange(1, 101), np.ones(100))])
    assert info.value.status == 403
    assert session_sandbox.sandbox.store.series(metric) == []


@pytest.mark.api
def test_a_refused_payload_raises_400_and_stores_none_of_its_points(
        session_sandbox: SandboxServer, bulk_client: ApiClient, now: int) -> None:
    good, old = unique("bulk.good"), unique("bulk.old")  # not test.late.*: no late data for these
    series = [Series(good, now - np.arange(1, 1001), np.ones(1000)), Series(old, [now - 7200], [1.0])]
    with pytest.raises(ApiException) as info:
        submit_series(bulk_client, series)
    assert info.value.status == 400
    assert "more than 1 hour in the past" in info.value.body["errors"][0]
    store = session_sandbox.sandbox.store
    assert store.series(good) == [] and store.series(old) == []


@pytest.mark.api
def test_payloads_acknowledged_before_a_refused_one_stay_and_the_call_still_raises(
        session_sandbox: SandboxServer, bulk_client: ApiClient, now: int) -> None:
    good, old = unique("bulk.before"), unique("bulk.after")
    series = [Series(good, now - 3000 + np.arange(2500), np.arange(2500.0) + i / 64, tags=[f"i:{i}"])
              for i in range(40)] + [Series(old, [now - 7200], [1.0])]
    # which points sit in which payload: the refused one is the last, the ones before it go through
    payloads = [orjson.loads(DECOMPRESS["zstd1"](body)) for body, _ in encode_payloads(series)]
    assert len(payloads) >= 3 and payloads[-1]["series"][-1]["metric"] == old
    before_refused = sorted((tuple(e["tags"]), p["timestamp"], p["value"]) for payload in payloads[:-1]
                            for e in payload["series"] for p in e["points"])

    with pytest.raises(ApiException) as info:
        submit_series(bulk_client, series, concurrency=2)

    assert info.value.status == 400
    store = session_sandbox.sandbox.store
    assert store.series(old) == []
    tags_of = {s.id: s.tags for s in store.series(good)}
    sid, ts, val = store.points(list(tags_of), now - 3600, now + 60)
    assert sorted(zip(map(tags_of.get, sid.tolist()), ts.tolist(), val.tolist())) == before_refused
