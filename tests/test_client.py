"""The API-client factory: routing, keys from Settings only, retries, and key errors that name the variable."""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
import traceback
import types
from collections import Counter
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest
import urllib3.util.retry
from urllib3.exceptions import MaxRetryError, NameResolutionError, ProtocolError
from datadog_api_client.exceptions import ApiException, ServiceException
from datadog_api_client.v1.api.authentication_api import AuthenticationApi
from datadog_api_client.v1.api.metrics_api import MetricsApi
from datadog_api_client.v2.api.logs_api import LogsApi
from datadog_api_client.v2.model.http_log import HTTPLog
from datadog_api_client.v2.model.http_log_item import HTTPLogItem

from autonomic_lib.client import (
    auth_errors,
    describe_api_error,
    make_api_client,
    raw_request,
    unreachable,
    validate_keys,
)
from autonomic_lib.errors import BackendUnreachable, ConfigError
from autonomic_lib.settings import SITES, Secret, Settings

Reply = tuple[int, dict[str, str], Any]
OK_QUERY: Reply = (200, {}, {"status": "ok", "res_type": "time_series", "series": []})


class AuthDouble(ThreadingHTTPServer):
    """A test double for Datadog's auth and API: each path answers from a script of replies.

    It stands in for Datadog (or the project's sandbox, built elsewhere) so these tests see real HTTP
    status codes and headers. The last reply of a script repeats; unknown paths get 404.
    """

    daemon_threads = True

    def __init__(self, script: dict[str, list[Reply]]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = {path: list(replies) for path, replies in script.items()}
        self.hits: Counter[str] = Counter()
        self.headers_seen: list[dict[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: AuthDouble

    def _answer(self) -> None:
        path = self.path.split("?")[0]
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.hits[path] += 1
        self.server.headers_seen.append(dict(self.headers))
        replies = self.server.script.get(path) or [(404, {}, {"errors": ["Not found"]})]
        status, headers, body = replies.pop(0) if len(replies) > 1 else replies[0]
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass


@contextmanager
def auth_double(script: dict[str, list[Reply]]) -> Iterator[AuthDouble]:
    server = AuthDouble(script)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in [v for v in os.environ if v.startswith("DD_")]:
        monkeypatch.delenv(var)


@pytest.fixture
def keys() -> tuple[str, str]:
    return secrets.token_hex(16), secrets.token_hex(20)  # Datadog-shaped: 32-hex API key, 40-hex app key


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record urllib3's retry waits instead of sleeping through them."""
    waits: list[float] = []
    monkeypatch.setattr(urllib3.util.retry, "time", types.SimpleNamespace(sleep=waits.append, time=time.time))
    return waits


class _Captured(Exception):
    pass


def captured_request(api, monkeypatch: pytest.MonkeyPatch, call) -> tuple[str, dict[str, str]]:
    """The URL and headers `call` would send, without any network."""
    seen: list[tuple[str, dict[str, str]]] = []

    def request(method: str, url: str, **kwargs: Any) -> None:
        seen.append((url, dict(kwargs.get("headers") or {})))
        raise _Captured

    monkeypatch.setattr(api.rest_client, "request", request)
    with pytest.raises(_Captured):
        call()
    return seen[0]


def one_log() -> HTTPLog:
    return HTTPLog([HTTPLogItem(message="x")])


def assert_hidden(text: str, *keys: str) -> None:
    for key in keys:
        assert not any(key[i:i + 5] in text for i in range(len(key) - 4)), text


# --- the factory ----------------------------------------------------------------------------------

def test_configuration_for_a_sandbox(keys: tuple[str, str]) -> None:
    settings = Settings(host="http://127.0.0.1:8126", api_key=Secret(keys[0]), app_key=Secret(keys[1]))
    with make_api_client(settings, retries=5) as api:
        config = api.configuration
        assert config.host == "http://127.0.0.1:8126"
        assert config.api_key == {"apiKeyAuth": keys[0], "appKeyAuth": keys[1]}
        assert (config.enable_retry, config.max_retries, config.retry_backoff_factor) == (True, 5, 2)
        assert config.retry_policy.total == 5 and config.retry_policy.backoff_factor == 2
        assert config.retry_policy.connect == 0 and config.retry_policy.read is None  # reads: up to `total`
        assert config.check_return_type and config.compress


@pytest.mark.parametrize("site", SITES)
def test_real_site_routing_keeps_logs_intake_on_its_own_host(site: str, keys: tuple[str, str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(site=site, api_key=Secret(keys[0]))
    with make_api_client(settings) as api:
        assert api.configuration.host == f"https://api.{site}" == settings.api_url
        url, _ = captured_request(api, monkeypatch, AuthenticationApi(api).validate)
        assert url == f"https://api.{site}/api/v1/validate"
        url, _ = captured_request(api, monkeypatch, lambda: LogsApi(api).submit_log(one_log()))
        assert url == f"https://http-intake.logs.{site}/api/v2/logs"


def test_sandbox_host_receives_logs_intake_too(keys: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    with make_api_client(Settings(host="http://127.0.0.1:8126", api_key=Secret(keys[0]))) as api:
        url, headers = captured_request(
            api, monkeypatch, lambda: LogsApi(api).submit_log(one_log()))
    assert url == "http://127.0.0.1:8126/api/v2/logs"
    assert headers["DD-API-KEY"] == keys[0]


def test_environment_never_overrides_settings(keys: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    # Configuration.__init__ reads these; Settings must stay the only source.
    monkeypatch.setenv("DD_API_KEY", keys[0])
    monkeypatch.setenv("DD_APP_KEY", keys[1])
    monkeypatch.setenv("DD_SITE", "datadoghq.eu")
    with make_api_client(Settings(site="us5.datadoghq.com")) as api:
        assert api.configuration.api_key == {}
        assert api.configuration.host == "https://api.us5.datadoghq.com"
        url, headers = captured_request(
            api, monkeypatch, lambda: MetricsApi(api).query_metrics(_from=0, to=60, query="avg:x{*}"))
    assert url.startswith("https://api.us5.datadoghq.com/api/v1/query")
    assert "DD-API-KEY" not in headers and "DD-APPLICATION-KEY" not in headers


def test_negative_retries_refused() -> None:
    with pytest.raises(ValueError):
        make_api_client(Settings(), retries=-1)


# --- retries --------------------------------------------------------------------------------------

def test_retries_on_429_then_succeeds(keys: tuple[str, str], no_sleep: list[float]) -> None:
    throttled: Reply = (429, {"X-Ratelimit-Reset": "0"}, {"errors": ["Rate limit exceeded"]})
    script = {"/api/v1/validate": [throttled, throttled, (200, {}, {"valid": True})]}
    with auth_double(script) as double, make_api_client(Settings(host=double.url, api_key=keys[0])) as api:
        assert AuthenticationApi(api).validate().valid
    assert double.hits["/api/v1/validate"] == 3


def test_retries_on_503_then_succeeds(keys: tuple[str, str], no_sleep: list[float]) -> None:
    script = {"/api/v1/validate": [(503, {}, {"errors": ["Service Unavailable"]}), (200, {}, {"valid": True})]}
    with auth_double(script) as double, make_api_client(Settings(host=double.url, api_key=keys[0])) as api:
        assert AuthenticationApi(api).validate().valid
    assert double.hits["/api/v1/validate"] == 2


def test_exhausted_retries_raise_the_clients_exception(keys: tuple[str, str], no_sleep: list[float]) -> None:
    script = {"/api/v1/validate": [(503, {}, {"errors": ["Service Unavailable"]})]}
    with auth_double(script) as double:
        settings = Settings(host=double.url, api_key=keys[0])
        with make_api_client(settings, retries=2) as api, pytest.raises(ServiceException) as info:
            AuthenticationApi(api).validate()
    assert double.hits["/api/v1/validate"] == 3  # first try + 2 retries, then the last 503 is surfaced
    assert describe_api_error(info.value, settings) == (
        f"The sandbox answered HTTP 503 at {double.url}: Service Unavailable")


# --- key errors -----------------------------------------------------------------------------------

def test_validate_keys_accepts_valid_keys(keys: tuple[str, str]) -> None:
    script = {"/api/v1/validate": [(200, {}, {"valid": True})], "/api/v1/query": [OK_QUERY]}
    with auth_double(script) as double:
        validate_keys(Settings(host=double.url, api_key=keys[0], app_key=keys[1]))
    assert double.hits == {"/api/v1/validate": 1, "/api/v1/query": 1}
    assert double.headers_seen[1]["DD-APPLICATION-KEY"] == keys[1]


def test_validate_keys_without_app_key_skips_the_query(keys: tuple[str, str]) -> None:
    with auth_double({"/api/v1/validate": [(200, {}, {"valid": True})]}) as double:
        validate_keys(Settings(host=double.url, api_key=keys[0]))
    assert double.hits == {"/api/v1/validate": 1}
    assert "DD-APPLICATION-KEY" not in double.headers_seen[0]


def test_rejected_api_key_names_dd_api_key_and_host(keys: tuple[str, str]) -> None:
    # A hostile double echoes the key in a header and in the body: neither may reach the message.
    script = {"/api/v1/validate": [(403, {"X-Echo": keys[0]}, {"errors": [f"Forbidden {keys[0]}"]})]}
    with auth_double(script) as double:
        settings = Settings(host=double.url, api_key=keys[0], app_key=keys[1])
        with pytest.raises(ConfigError) as info:
            validate_keys(settings)
    message = str(info.value)
    assert message.startswith(f"The sandbox rejected the API key (DD_API_KEY) at {double.url} (HTTP 403: Forbidden ")
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert_hidden("".join(traceback.format_exception(info.value)), *keys)
    assert double.hits == {"/api/v1/validate": 1}  # 403 is not retried, and the app key is not tried


def test_rejected_app_key_names_dd_app_key(keys: tuple[str, str]) -> None:
    script = {"/api/v1/validate": [(200, {}, {"valid": True})],
              "/api/v1/query": [(403, {}, {"errors": ["Forbidden"]})]}
    with auth_double(script) as double:
        expected = rf"rejected the application key \(DD_APP_KEY\) at {double.url}"
        with pytest.raises(ConfigError, match=expected) as info:
            validate_keys(Settings(host=double.url, api_key=keys[0], app_key=keys[1]))
    assert_hidden(str(info.value), *keys)


def test_valid_false_is_a_rejection(keys: tuple[str, str]) -> None:
    with auth_double({"/api/v1/validate": [(200, {}, {"valid": False})]}) as double:
        with pytest.raises(ConfigError, match=r"DD_API_KEY"):
            validate_keys(Settings(host=double.url, api_key=keys[0]))


def test_validate_keys_requires_an_api_key() -> None:
    with pytest.raises(ConfigError, match="DD_API_KEY is not set .* for Datadog datadoghq.eu"):
        validate_keys(Settings(site="datadoghq.eu"))


def _forbidden(*errors: Any) -> ApiException:
    exc = ApiException(status=403, reason="Forbidden")
    exc.body = {"errors": list(errors)}
    return exc


# --- an unreachable backend ----------------------------------------------------------------------
def closed_port() -> int:
    """A port nothing listens on: bound, then closed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def unreachable_error(settings: Settings, call: Any) -> BackendUnreachable:
    """What `call(api)` raises (it must be BackendUnreachable): one line, no chained urllib3 error. How fast is
    bench/unreachable.py's (a ratio to the CLI's start-up); the callers check nothing slept (no back-off)."""
    with make_api_client(settings) as api, pytest.raises(BackendUnreachable) as info:
        call(api)
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no urllib3 chain repeating the URL
    assert "\n" not in str(info.value)
    return info.value


def test_a_refused_connection_is_not_retried_and_names_the_host(keys: tuple[str, str], no_sleep: list[float]) -> None:
    """It was: 3 retries, 12 s of back-off, then urllib3's MaxRetryError."""
    port = closed_port()
    settings = Settings(host=f"http://127.0.0.1:{port}", api_key=keys[0], app_key=keys[1])
    error = unreachable_error(settings, lambda api: AuthenticationApi(api).validate())
    assert no_sleep == []  # no back-off: not retried
    assert error.host == f"127.0.0.1:{port}"
    assert str(error) == (f"The sandbox is unreachable: connection refused by 127.0.0.1:{port} (is the sandbox "
                          f"running?): check DD_HOST (http://127.0.0.1:{port}) and the network")
    assert_hidden(str(error), *keys)


def test_an_unresolvable_host_is_not_retried_and_names_it(keys: tuple[str, str], no_sleep: list[float]) -> None:
    settings = Settings(host="http://no-such-host.invalid", api_key=keys[0], app_key=keys[1])
    error = unreachable_error(settings, lambda api: LogsApi(api).submit_log(one_log()))
    assert no_sleep == [] and error.host == "no-such-host.invalid"
    assert "cannot resolve the host name no-such-host.invalid: check DD_HOST" in str(error)
    assert_hidden(str(error), *keys)


def test_raw_requests_are_guarded_too_and_never_show_the_path(keys: tuple[str, str]) -> None:
    """The legacy logs intake takes the key in its path: the message names the host and port only."""
    settings = Settings(host=f"http://127.0.0.1:{closed_port()}", api_key=keys[0])
    error = unreachable_error(settings, lambda api: raw_request(api, "POST", f"/v1/input/{keys[0]}", body=b"[]"))
    assert "/v1/input" not in str(error)
    assert_hidden(str(error), *keys)


def test_an_unresolvable_site_names_dd_site() -> None:
    gaierror = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    reason = NameResolutionError("api.datadoghq.eu", None, gaierror)  # type: ignore[arg-type]
    error = unreachable(reason, "https://api.datadoghq.eu/api/v1/validate", Settings(site="datadoghq.eu"))
    assert str(error) == ("Datadog is unreachable: cannot resolve the host name api.datadoghq.eu: check DD_SITE "
                          "(datadoghq.eu) and the network (DNS, proxy)")


def test_a_dropped_connection_is_still_retried_and_not_called_unreachable(keys: tuple[str, str],
                                                                           no_sleep: list[float]) -> None:
    """A read error (the server accepts, then hangs up) may be transient: retried as before, urllib3's error kept."""
    accepted: list[int] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)

        def hang_up() -> None:
            for _ in range(3):
                conn, _ = listener.accept()
                accepted.append(1)
                conn.recv(65536)
                conn.close()

        thread = threading.Thread(target=hang_up, daemon=True)
        thread.start()
        settings = Settings(host=f"http://127.0.0.1:{listener.getsockname()[1]}", api_key=keys[0])
        with make_api_client(settings, retries=2) as api, pytest.raises(MaxRetryError) as info:
            AuthenticationApi(api).validate()
        thread.join(timeout=5)
    assert len(accepted) == 3 and isinstance(info.value.reason, ProtocolError)  # first try + 2 retries


@pytest.mark.parametrize("errors, hint, expected", [
    (["Application key not found"], "DD_API_KEY", "application key (DD_APP_KEY)"),  # Datadog's words win
    (["API key not found"], "DD_APP_KEY", "API key (DD_API_KEY)"),
    (["Forbidden"], "DD_APP_KEY", "application key (DD_APP_KEY)"),  # else the endpoint's auth
    (["Forbidden"], None, "API key (DD_API_KEY) or application key (DD_APP_KEY)"),
])
def test_describe_api_error_picks_the_key(errors: list[str], hint: Any, expected: str) -> None:
    message = describe_api_error(_forbidden(*errors), Settings(site="datadoghq.eu"), hint)
    assert message == f"Datadog rejected the {expected} at https://api.datadoghq.eu (HTTP 403: {errors[0]})"


def test_describe_api_error_reads_log_intake_error_objects() -> None:
    exc = _forbidden({"status": "403", "title": "Forbidden", "detail": "Invalid API key"})
    assert "API key (DD_API_KEY)" in describe_api_error(exc, Settings(), None)


def test_auth_errors_lets_other_errors_through(keys: tuple[str, str]) -> None:
    with pytest.raises(ApiException) as info, auth_errors(Settings(api_key=keys[0]), "DD_API_KEY"):
        raise ApiException(status=400, reason="Bad Request")
    assert info.value.status == 400
