"""Groups per query are bounded: counted before any is built, a 400 naming the query, its keys, the count and bound.

The probe: one series carrying 60 values of each of three keys, queried `by {a,b,c}`, built 216 000 groups (7.5 s,
a 67 MB answer, +457 MB of memory) while every other request waited.
"""

from __future__ import annotations

import time
from urllib.parse import quote

import numpy as np
import pytest

from autonomic_lib.errors import UnsupportedQueryError
from autonomic_lib.sandbox.metrics import evaluate
from autonomic_lib.sandbox.metrics.evaluate import MAX_GROUPS, evaluate_query
from autonomic_lib.sandbox.metrics.store import MetricStore, SeriesPoints
from autonomic_lib.sandbox.server import SandboxServer
from tests.conftest import raw, unique

T0 = 1767225600


def series(metric: str, tags: tuple[str, ...]) -> SeriesPoints:
    return SeriesPoints(metric, tags, np.array([T0], dtype=np.int64), np.array([1.0]), type="gauge")


FAN_OUT = tuple(f"{key}:{key}{i}" for key in "abc" for i in range(60))  # 60 x 60 x 60 = 216 000 groups


@pytest.fixture
def store():
    s = MetricStore(None)
    yield s
    s.close()


@pytest.mark.timeout(10)
def test_a_query_fanning_out_past_the_bound_is_refused_before_building_its_groups(store: MetricStore) -> None:
    store.write([series("fan", FAN_OUT)])
    with pytest.raises(UnsupportedQueryError) as refused:
        evaluate_query("avg:fan{*} by {a,b,c}", store, T0, T0 + 3600)
    message = str(refused.value)
    assert "'avg:fan{*} by {a,b,c}'" in message and "{a,b,c}" in message
    assert "makes 216000 groups" in message and f"at most {MAX_GROUPS} groups" in message
    assert len(evaluate_query("avg:fan{*} by {a,b}", store, T0, T0 + 3600).series) == 3600  # under the bound


def test_groups_of_many_series_are_counted_once_each(store: MetricStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evaluate, "MAX_GROUPS", 20)
    store.write([series("many", (f"host:h{i % 20}", f"run:{i}")) for i in range(200)])  # 200 series, 20 hosts
    assert len(evaluate_query("avg:many{*} by {host}", store, T0, T0 + 3600).series) == 20
    store.write([series("many", ("host:h20",))])
    with pytest.raises(UnsupportedQueryError, match=r"by \{host\} makes at least 21 groups; .* at most 20 groups"):
        evaluate_query("avg:many{*} by {host}", store, T0, T0 + 3600)
    assert len(evaluate_query("avg:many{host:h1} by {host}", store, T0, T0 + 3600).series) == 1  # the scope narrows


def test_a_query_without_groups_is_not_counted(store: MetricStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evaluate, "MAX_GROUPS", 1)
    store.write([series("flat", (f"host:h{i}",)) for i in range(5)])
    assert len(evaluate_query("sum:flat{*}", store, T0, T0 + 3600).series) == 1


@pytest.mark.timeout(20)
def test_the_query_route_answers_a_400_at_once(session_sandbox: SandboxServer) -> None:
    metric, now = unique("fan").replace("-", "_"), int(time.time()) // 60 * 60 - 120
    status, _ = raw(session_sandbox, "POST", "/api/v2/series", {"series": [
        {"metric": metric, "type": 3, "points": [{"timestamp": now, "value": 1.0}], "tags": list(FAN_OUT)}]},
                    app_key=False)
    assert status == 202
    query = quote(f"avg:{metric}{{*}} by {{a,b,c}}")
    status, body = raw(session_sandbox, "GET", f"/api/v1/query?from={now - 600}&to={now + 60}&query={query}")
    assert status == 400 and "216000 groups" in body["errors"][0] and str(MAX_GROUPS) in body["errors"][0]
