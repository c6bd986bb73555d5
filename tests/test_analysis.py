"""The v1 query answer read without a Python list per point: the same numbers and fields as a plain JSON parse; the
batched v2 queries answer what one v1 query each answers."""

from __future__ import annotations

import json
import uuid
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from datadog_api_client import ApiClient
from datadog_api_client.exceptions import ApiException

from autonomic_lib.analysis import query_frame, query_frames, query_scalars, read_v1_answer
from autonomic_lib.errors import QueryError
from autonomic_lib.series import Series, submit_series


def answer(*pointlists: list[list[Any]], query: str = "avg:shop.checkout.latency{env:demo} by {service}"
           ) -> dict[str, Any]:
    """A v1 answer in the shape Datadog records (DATADOG.md 2.1), one series per pointlist."""
    return {"status": "ok", "res_type": "time_series", "resp_version": 1, "query": query,
            "from_date": 1767222000000, "to_date": 1767225600000, "group_by": ["service"], "message": "",
            "series": [{"metric": "shop.checkout.latency", "tag_set": [f"service:s{i}"], "aggr": "avg",
                        "interval": 20, "length": len(points), "pointlist": points, "attributes": {},
                        "unit": [{"family": "time", "name": "second", "scale_factor": 1.0}, None]}
                       for i, points in enumerate(pointlists)],
            "times": [], "values": []}


CASES = {
    "recorded shape": answer([[1767222000000.0, 0.41], [1767222020000.0, 0.44]]),
    "null value and empty pointlist": answer([[1767222000000.0, None], [1767222020000.0, 2.5e-7]], [],
                                             [[1767222000000.0, -3.0]]),
    "the key's text inside the query string": answer([[1.0, 2.0]], query='sum:a{b:"pointlist": [[9, 9]]}'),
    "no series": answer(),
}


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("indent", [None, 2], ids=["compact", "indented"])
def test_the_answer_reads_as_a_plain_parse_with_each_pointlist_as_an_array(name: str, indent: int | None) -> None:
    body = CASES[name]
    raw = json.dumps(body, indent=indent).encode()
    rest, arrays = read_v1_answer(raw)
    expected = orjson.loads(raw)
    assert len(arrays) == len(expected["series"])
    for series, array in zip(expected["series"], arrays):
        want = np.array(series.pop("pointlist"), dtype=np.float64).reshape(-1, 2)
        assert array.shape == want.shape and np.array_equal(array, want, equal_nan=True)
    for series in rest["series"]:
        assert series.pop("pointlist") == []
    assert rest == expected


@pytest.mark.parametrize("raw", [b'{"series": [{"pointlist": [[1.0, 2.0], [3.0]]}]}',
                                 b'{"series": [{"pointlist": [["x", 2.0]]}]}',
                                 b'{"series": [{"pointlist": [[1.0, 2.0'])
def test_a_malformed_pointlist_is_a_query_error(raw: bytes) -> None:
    with pytest.raises(QueryError, match="pointlist"):
        read_v1_answer(raw)


def test_batched_v2_queries_answer_what_one_v1_query_each_answers(api_client: ApiClient, now: int) -> None:
    """`query_frames` (one timeseries call) and `query_scalars` (one scalar call) read the same points and totals as
    `query_frame` per query, against the sandbox through the official client's connection."""
    metric = f"test.batched.{uuid.uuid4().hex[:8]}"
    rng = np.random.default_rng(3)
    start = now - 1800
    series = [Series(metric, np.arange(start, now, 10), rng.uniform(0, 5, 180).round(3), tags=[f"env:{env}", f"phase:{p}"])
              for env in ("a", "b") for p in ("warmup", "incident")]
    series.append(Series(metric, np.arange(start, now, 10)[::7], np.full(26, 2.0), tags=["env:a", "phase:late"]))
    submit_series(api_client, series)
    queries = {"avg": f"avg:{metric}{{env:a}} by {{phase}}.rollup(avg, 60)",
               "max": f"max:{metric}{{*}} by {{env,phase}}.rollup(max, 60)",
               "sum": f"sum:{metric}{{env:b}}.rollup(sum, 60)"}
    frames = query_frames(api_client, queries, start, now, 60)
    for name, query in queries.items():
        one = query_frame(api_client, query, start, now).dropna(subset=["value"])
        key = ["group", "time"]
        pd.testing.assert_frame_equal(frames[name].sort_values(key).reset_index(drop=True),
                                      one.sort_values(key).reset_index(drop=True), check_dtype=False)
        assert len(frames[name]) > 0
    scalars = query_scalars(api_client, {"total": (f"sum:{metric}{{env:a}} by {{phase}}.rollup(sum, 60)", "sum"),
                                         "peak": (f"max:{metric}{{env:a}} by {{phase}}.rollup(max, 10)", "max")},
                            start, now)
    v1 = query_frame(api_client, f"sum:{metric}{{env:a}} by {{phase}}.rollup(sum, 60)", start, now)
    totals = v1.groupby(v1["group"].str.partition(":")[2])["value"].sum()
    assert scalars.index.name == "phase" and sorted(scalars.index) == ["incident", "late", "warmup"]
    assert np.allclose(scalars["total"].sort_index(), totals.sort_index(), rtol=1e-12)
    for phase in ("warmup", "incident"):
        values = next(s.values for s in series if s.tags == ["env:a", f"phase:{phase}"])
        assert scalars.loc[phase, "peak"] == values.max()


def test_a_batched_query_the_backend_refuses_raises_its_400_naming_the_query(api_client: ApiClient, now: int) -> None:
    with pytest.raises(ApiException) as refused:
        query_frames(api_client, {"fine": "avg:test.x{env:a}", "bad": "avg:test.x{env:a} by {phase"}, now - 600, now,
                     60)
    assert refused.value.status == 400 and "query 'bad'" in str(refused.value.body)
