"""Request bodies nested too deep: a 400 naming the depth, checked before anything reads (or recurses into) them."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
import urllib3

from autonomic_lib.sandbox.http.body import MAX_JSON_BODY
from autonomic_lib.sandbox.http.routing import MAX_JSON_DEPTH, json_depth
from autonomic_lib.sandbox.server import SandboxServer


def nested(levels: int) -> Any:
    """`levels` arrays and objects, alternating, around a string."""
    value: Any = "x"
    for i in range(levels):
        value = {"a": value} if i % 2 else [value]
    return value


def nested_text(levels: int) -> str:
    """nested(levels) as JSON text, built without a recursive encoder."""
    return "".join("[" if i % 2 == 0 else '{"a":' for i in reversed(range(levels))) + '"x"' + "".join(
        "]" if i % 2 == 0 else "}" for i in range(levels))


def post(server: SandboxServer, path: str, body: bytes) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json", "DD-API-KEY": server.config.api_key,
               "DD-APPLICATION-KEY": server.config.app_key}
    response = urllib3.request("POST", server.url + path, body=body, headers=headers, retries=False, timeout=30)
    return response.status, json.loads(response.data)


@pytest.mark.parametrize("levels", [0, 1, 2, MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1])
def test_json_depth_counts_arrays_and_objects(levels: int) -> None:
    assert json_depth(nested(levels), MAX_JSON_DEPTH) == levels
    assert json.loads(nested_text(levels)) == nested(levels)
    assert json_depth({"wide": [1, "a", None, {}], "b": {"c": []}}, MAX_JSON_DEPTH) == 3


def test_json_depth_needs_no_recursion_and_stops_past_the_limit() -> None:
    deep = nested(900)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(100)  # a recursive walk of 900 levels would fail here
    try:
        assert json_depth(deep, MAX_JSON_DEPTH) == MAX_JSON_DEPTH + 1
        assert json_depth(deep, 10_000) == 900
    finally:
        sys.setrecursionlimit(limit)


@pytest.mark.timeout(10)  # a hang guard: the check is linear, a recursive one never ended
def test_json_depth_is_linear_in_a_wide_body() -> None:
    wide = {"items": [{"k": [i, str(i)]} for i in range(200_000)]}
    assert json_depth(wide, MAX_JSON_DEPTH) == 4


@pytest.mark.parametrize("path, body", [
    ("/api/v1/monitor", {"type": "query alert", "name": "deep", "message": "", "query": "avg(last_5m):avg:d{*} > 1"}),
    ("/api/v1/monitor/validate", {"type": "query alert", "name": "deep", "message": "",
                                  "query": "avg(last_5m):avg:d{*} > 1"}),
    ("/api/v1/dashboard", {"title": "deep", "layout_type": "ordered", "widgets": []}),
    ("/api/v2/workflows", {"data": {"type": "workflows", "attributes": {"name": "deep", "spec": {}}}}),
])
@pytest.mark.parametrize("levels", [300, 2000])
def test_a_body_nested_too_deep_is_a_400_naming_the_depth(session_sandbox: SandboxServer, path: str,
                                                           body: dict[str, Any], levels: int) -> None:
    """300 levels answered a 500 (orjson reads 1024 levels but writes 255: the monitor could not be stored)."""
    encoded = (json.dumps(body)[:-1] + ', "extra": ' + nested_text(levels) + "}").encode()
    status, answer = post(session_sandbox, path, encoded)
    assert status == 400, answer
    assert f"at most {MAX_JSON_DEPTH}" in json.dumps(answer) and "levels" in json.dumps(answer)


def test_a_body_within_the_depth_is_read(session_sandbox: SandboxServer) -> None:
    body = {"type": "query alert", "name": "deep enough", "message": "", "query": "avg(last_5m):avg:d{*} > 1",
            "options": {"thresholds": {"critical": 1}}, "tags": [], "extra": nested(MAX_JSON_DEPTH - 2)}
    status, answer = post(session_sandbox, "/api/v1/monitor/validate", json.dumps(body).encode())
    assert status != 500 and "levels of arrays" not in json.dumps(answer)


def _oversized_dashboard() -> bytes:
    body = json.dumps({"title": "huge", "layout_type": "ordered", "widgets": [], "description": ""})
    return (body[:-2] + '"' + "x" * (MAX_JSON_BODY + 1) + '"}').encode()


def test_a_json_body_past_the_limit_is_a_413_and_nothing_is_stored(session_sandbox: SandboxServer) -> None:
    """The body was buffered whole, whatever its size, before any check ran."""
    status, answer = post(session_sandbox, "/api/v1/dashboard", _oversized_dashboard())
    assert status == 413 and f"{MAX_JSON_BODY} byte limit" in json.dumps(answer)
    listing = urllib3.request("GET", session_sandbox.url + "/api/v1/dashboard", retries=False, timeout=30, headers={
        "DD-API-KEY": session_sandbox.config.api_key, "DD-APPLICATION-KEY": session_sandbox.config.app_key})
    assert all(d["title"] != "huge" for d in json.loads(listing.data)["dashboards"])


def test_a_chunked_body_without_a_length_is_cut_at_the_limit(session_sandbox: SandboxServer) -> None:
    """No Content-Length to refuse up front: the stream is counted as it arrives."""
    payload = _oversized_dashboard()
    chunks = (payload[i:i + (1 << 20)] for i in range(0, len(payload), 1 << 20))
    headers = {"Content-Type": "application/json", "DD-API-KEY": session_sandbox.config.api_key,
               "DD-APPLICATION-KEY": session_sandbox.config.app_key}
    with urllib3.PoolManager() as pool:
        response = pool.request("POST", session_sandbox.url + "/api/v1/dashboard", body=chunks, headers=headers,
                                chunked=True, retries=False, timeout=30)
    assert response.status == 413, response.data[:200]
