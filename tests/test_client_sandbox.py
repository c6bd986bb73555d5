"""The kit's own client factory against a real sandbox: key validation and query-back into pandas."""

from __future__ import annotations

import uuid

import pytest

from autonomic_lib.analysis import query_frame
from autonomic_lib.client import make_api_client, validate_keys
from autonomic_lib.errors import ConfigError
from autonomic_lib.sandbox.server import SandboxServer, generate_keys
from autonomic_lib.series import Series, submit_series
from autonomic_lib.settings import Settings


def settings_for(server: SandboxServer, api_key: str | None = None, app_key: str | None = None) -> Settings:
    return Settings(api_key=api_key or server.config.api_key, app_key=app_key or server.config.app_key, host=server.url)


def test_validate_keys_accepts_the_sandbox_keys(session_sandbox: SandboxServer) -> None:
    validate_keys(settings_for(session_sandbox))


@pytest.mark.parametrize("which", ["DD_API_KEY", "DD_APP_KEY"])
def test_a_rejected_key_is_named_with_the_host_and_never_shown(session_sandbox: SandboxServer, which: str) -> None:
    wrong_api, wrong_app = generate_keys()
    settings = (settings_for(session_sandbox, api_key=wrong_api) if which == "DD_API_KEY"
                else settings_for(session_sandbox, app_key=wrong_app))
    with pytest.raises(ConfigError) as info:
        validate_keys(settings)
    message = str(info.value)
    assert which in message and session_sandbox.url in message
    for key in (wrong_api, wrong_app, session_sandbox.config.api_key, session_sandbox.config.app_key):
        assert key not in message


def test_query_frame_returns_tidy_points(session_sandbox: SandboxServer, now: int) -> None:
    metric = f"test.frame.{uuid.uuid4().hex[:8]}"
    start = now - 120
    with make_api_client(settings_for(session_sandbox)) as client:
        submit_series(client, [Series(metric, [start, start + 60], [1.0, 2.0], tags=["verdict:pass"], type="count"),
                               Series(metric, [start + 60], [5.0], tags=["verdict:fail"], type="count")])
        frame = query_frame(client, f"sum:{metric}{{*}} by {{verdict}}.as_count().rollup(sum, 60)", start, now)
        empty = query_frame(client, f"sum:{metric}{{verdict:none}}", start, now)
    assert list(frame.columns) == ["time", "group", "value"] and str(frame["time"].dt.tz) == "UTC"
    rows = sorted((int(t.timestamp()), g, v) for t, g, v in frame.itertuples(index=False))
    assert rows == [(start, "verdict:pass", 1.0), (start + 60, "verdict:fail", 5.0), (start + 60, "verdict:pass", 2.0)]
    assert frame.attrs["interval"] == 60
    assert empty.empty and list(empty.columns) == ["time", "group", "value"]
