"""Graph snapshots: the client's get_graph_snapshot, a key-less PNG of the right size drawn from stored points."""

from __future__ import annotations

import io
import json
import struct

import pytest
import urllib3
from datadog_api_client import ApiClient
from datadog_api_client.exceptions import ApiException
from datadog_api_client.v1.api.snapshots_api import SnapshotsApi

from autonomic_lib.sandbox.server import SandboxServer
from tests.sandbox.metrics.test_routes import series, submit, unique


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def fetch(url: str) -> urllib3.BaseHTTPResponse:
    return urllib3.request("GET", url, retries=False)  # no keys: snapshot links are public, as on Datadog


def test_metric_query_snapshot_round_trip(api_client: ApiClient, session_sandbox: SandboxServer, now: int) -> None:
    metric = unique("test.snapshot")
    submit(api_client, series(metric, [(now - 600 + 60 * i, float(i % 4)) for i in range(10)], ["env:demo"]))
    query = f"avg:{metric}{{env:demo}}"
    snap = SnapshotsApi(api_client).get_graph_snapshot(start=now - 600, end=now, metric_query=query,
                                                        title="Latency", width=640, height=320)
    assert snap.metric_query == query and snap.snapshot_url.startswith(session_sandbox.url + "/snapshot/")
    response = fetch(snap.snapshot_url)
    assert response.status == 200 and response.headers["content-type"] == "image/png"
    assert png_size(response.data) == (640, 320)
    from matplotlib.image import imread
    pixels = imread(io.BytesIO(response.data))
    assert pixels.shape[:2] == (320, 640) and pixels.std() > 0.01  # something was drawn


def test_graph_def_and_default_size(api_client: ApiClient, now: int) -> None:
    metric = unique("test.snapshot")
    submit(api_client, series(metric, [(now - 120, 1.0), (now - 60, 2.0)]))
    graph_def = json.dumps({"viz": "timeseries", "requests": [{"q": f"avg:{metric}{{*}}"}, {"q": f"max:{metric}{{*}}"}]})
    snap = SnapshotsApi(api_client).get_graph_snapshot(start=now - 300, end=now, graph_def=graph_def)
    assert snap.graph_def == graph_def
    assert png_size(fetch(snap.snapshot_url).data) == (600, 300)


def test_empty_range_still_draws(api_client: ApiClient, now: int) -> None:
    snap = SnapshotsApi(api_client).get_graph_snapshot(start=now - 300, end=now,
                                                        metric_query=f"avg:{unique('test.nothing')}{{*}}")
    assert png_size(fetch(snap.snapshot_url).data) == (600, 300)


@pytest.mark.parametrize("kwargs,fragment", [
    ({"metric_query": "avg:m{*}", "start": 100, "end": 50}, "after"),
    ({"start": 0, "end": 60}, "metric_query"),
    ({"metric_query": "avg:m{*", "start": 0, "end": 60}, "pars"),
    ({"graph_def": "{\"requests\": []}", "start": 0, "end": 60}, "requests"),
    ({"metric_query": "avg:m{*}", "start": 0, "end": 60, "width": 5}, "width"),
])
def test_bad_requests_are_400(api_client: ApiClient, kwargs: dict, fragment: str) -> None:
    with pytest.raises(ApiException) as err:
        SnapshotsApi(api_client).get_graph_snapshot(**kwargs)
    assert err.value.status == 400 and fragment in str(err.value.body).lower()


def test_unknown_snapshot_is_404(session_sandbox: SandboxServer) -> None:
    assert fetch(session_sandbox.url + "/snapshot/nope.png").status == 404
