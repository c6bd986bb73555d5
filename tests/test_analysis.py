"""The v1 query answer read without a Python list per point: the same numbers and fields as a plain JSON parse."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson
import pytest

from autonomic_lib.analysis import read_v1_answer
from autonomic_lib.errors import QueryError


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
