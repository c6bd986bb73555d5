"""The one place that builds datadog_api_client clients: same keys, routing and retries for sandbox and sites."""

from __future__ import annotations

import errno
import logging
import re
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import urlencode

import urllib3
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NameResolutionError, NewConnectionError

from datadog_api_client import ApiClient, Configuration
from datadog_api_client.exceptions import (
    ApiException,
    ForbiddenException,
    NotFoundException,
    ServiceException,
    UnauthorizedException,
)
from datadog_api_client.rest import ClientRetry
from datadog_api_client.v1.api.authentication_api import AuthenticationApi
from datadog_api_client.v1.api.metrics_api import MetricsApi

from .errors import BackendUnreachable, ConfigError
from .settings import KeyVar, Settings

log = logging.getLogger("autonomic_lib")

_KEY_NAMES = {"DD_API_KEY": "API key (DD_API_KEY)", "DD_APP_KEY": "application key (DD_APP_KEY)"}
_VALIDATE_QUERY = "avg:autonomic.kit.validate{*}"


def make_api_client(settings: Settings, *, retries: int = 3) -> ApiClient:
    """Build an ApiClient for `settings.target`; use it as a context manager to close its connections.

    An explicit host receives every operation, logs intake included. For a Datadog site the client's
    own server table is kept, so logs still go to http-intake.logs.<site> and the rest to api.<site>.

    Args:
        settings: Target and keys; nothing is read from os.environ.
        retries: Retries on 408, 429, 5xx and read errors; waits X-Ratelimit-Reset seconds, else 2 * 2**n.
            A connection that cannot be made at all (refused, unknown host name, connect timeout) is not retried:
            it raises BackendUnreachable at once.
    """
    if retries < 0:
        raise ValueError("retries must be >= 0")
    config = Configuration(
        host=settings.host,
        compress=True,
        check_return_type=True,
        enable_retry=True,
        max_retries=retries,
        retry_backoff_factor=2,  # the client's minimum
    )
    # Configuration.__init__ copies DD_SITE, DD_API_KEY and DD_APP_KEY from os.environ; overwrite them
    # so Settings stays the only source (an unset key must stay unset, not become the shell's).
    config.server_variables = {} if settings.host else {"site": settings.site}
    config.api_key = {
        scheme: secret.reveal()
        for scheme, secret in (("apiKeyAuth", settings.api_key), ("appKeyAuth", settings.app_key))
        if secret is not None
    }
    # Same policy as enable_retry builds, but once retries run out the last 429/5xx is returned, so callers
    # get the client's ApiException (status, body) instead of urllib3's MaxRetryError; and connect=0, because
    # a refused connection or an unknown name is a wrong address, which backing off for 13 s does not fix.
    config.retry_policy = ClientRetry(total=retries, connect=0, backoff_factor=2, raise_on_status=False)
    api = ApiClient(config)
    _guard_connections(api, settings)
    return api


def _guard_connections(api: ApiClient, settings: Settings) -> None:
    """Make every request of `api` (generated APIs and raw_request alike) raise BackendUnreachable, not urllib3's
    MaxRetryError, when no connection can be made. Both go through the pool manager's urlopen, so it is wrapped."""
    pool = api.rest_client.pool_manager
    urlopen: Callable[..., Any] = pool.urlopen

    def guarded(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return urlopen(method, url, *args, **kwargs)
        except (MaxRetryError, ConnectTimeoutError) as exc:
            reason = exc.reason if isinstance(exc, MaxRetryError) else exc
            if not isinstance(reason, ConnectTimeoutError):  # read errors and exhausted 5xx retries stay as they are
                raise
            # `from None`: urllib3's chain repeats the URL, whose path may hold a key (the legacy logs intake)
            raise unreachable(reason, url, settings) from None

    setattr(pool, "urlopen", guarded)  # noqa: B010 - an instance attribute; mypy refuses assigning to a method


def unreachable(reason: ConnectTimeoutError, url: str, settings: Settings) -> BackendUnreachable:
    """One line naming the host the client tried and what to check; the URL's path and every key stay out."""
    parts = urllib3.util.parse_url(url)
    host = parts.host or "?"
    where = f"{host}:{parts.port}" if parts.port else host
    check = (f"check DD_HOST ({settings.host})" if settings.host else f"check DD_SITE ({settings.site})") + \
        " and the network"
    cause = reason.__cause__ if isinstance(reason.__cause__, OSError) else None
    if isinstance(reason, NameResolutionError):
        message = f"cannot resolve the host name {host}: {check} (DNS, proxy)"
    elif cause is not None and cause.errno == errno.ECONNREFUSED:
        running = " (is the sandbox running?)" if settings.is_sandbox else ""
        message = f"connection refused by {where}{running}: {check}"
    elif isinstance(reason, NewConnectionError):
        why = cause.strerror if cause is not None and cause.strerror else "no connection"
        message = f"cannot connect to {where} ({why}): {check}"
    else:
        message = f"{where} did not accept a connection in time: {check}"
    return BackendUnreachable(f"{_who(settings)} is unreachable: {message}", host=where)


def _who(settings: Settings) -> str:
    return "The sandbox" if settings.is_sandbox else "Datadog"


def _error_text(exc: ApiException, settings: Settings) -> str:
    """The server's error messages, one line, without any key value (a server may echo what it got)."""
    body = exc.body
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list):
        text = "; ".join(
            str(e.get("detail") or e.get("title") or e) if isinstance(e, dict) else str(e) for e in errors
        )
    else:
        text = str(body or exc.reason or "")
    for secret in (settings.api_key, settings.app_key):
        if secret is not None:
            text = text.replace(secret.reveal(), str(secret))
    text = re.sub(r"\s+", " ", text).strip()
    return text[:300] + ("…" if len(text) > 300 else "")


def _rejected_key(exc: ApiException, key_hint: KeyVar | None) -> KeyVar | None:
    """Which key Datadog refused: its error text says so when it can, else the endpoint's auth."""
    text = str(exc.body or "").lower()
    if "application key" in text or "app key" in text:
        return "DD_APP_KEY"
    if "api key" in text:
        return "DD_API_KEY"
    return key_hint


def describe_api_error(exc: ApiException, settings: Settings, key_hint: KeyVar | None = None) -> str:
    """A one-line message for an ApiException that names the key variable and host, never a key value.

    Unlike str(exc), it carries no HTTP headers.

    Args:
        exc: What the client raised.
        settings: The settings the client was built from, for the host and to scrub key values.
        key_hint: The key the endpoint checks when only one applies, e.g. DD_API_KEY for intake and
            /api/v1/validate; used when Datadog's error text does not say which key it refused.
    """
    who = _who(settings)
    detail = _error_text(exc, settings)
    suffix = f" (HTTP {exc.status}: {detail})" if detail else f" (HTTP {exc.status})"
    if exc.status in (401, 403):
        key = _rejected_key(exc, key_hint)
        what = _KEY_NAMES[key] if key else f"{_KEY_NAMES['DD_API_KEY']} or {_KEY_NAMES['DD_APP_KEY']}"
        return f"{who} rejected the {what} at {settings.api_url}{suffix}"
    return f"{who} answered HTTP {exc.status} at {settings.api_url}" + (f": {detail}" if detail else "")


@contextmanager
def auth_errors(settings: Settings, key_hint: KeyVar | None = None) -> Iterator[None]:
    """Turn 401/403 from the client into ConfigError (see describe_api_error); other errors pass through."""
    try:
        yield
    except (UnauthorizedException, ForbiddenException) as exc:
        # `from None`: the chained ApiException would print response headers in the traceback.
        raise ConfigError(describe_api_error(exc, settings, key_hint)) from None


def validate_keys(settings: Settings) -> None:
    """Check the API key (GET /api/v1/validate) and, when set, the application key (one tiny metric query).

    Raises:
        ConfigError: A key is missing or refused; the message names DD_API_KEY or DD_APP_KEY and the target.
    """
    settings.require("DD_API_KEY")
    with make_api_client(settings) as api:
        with auth_errors(settings, "DD_API_KEY"):
            if not AuthenticationApi(api).validate().get("valid", True):
                raise ConfigError(f"{_who(settings)} rejected the {_KEY_NAMES['DD_API_KEY']} at {settings.api_url}")
        if settings.app_key is not None:
            # /api/v1/validate ignores the application key; a one-minute query is the cheapest call needing it.
            now = int(time.time())
            with auth_errors(settings, "DD_APP_KEY"):
                MetricsApi(api).query_metrics(_from=now - 60, to=now, query=_VALIDATE_QUERY)
    log.info("keys accepted by %s (%s)", settings.target, "API + application" if settings.app_key else "API only")


def raw_request(api_client: ApiClient, method: str, path: str, *, body: bytes | None = None,
                params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None,
                app_key: bool = False) -> bytes:
    """Send one request through the ApiClient's connection pool, auth and retry policy; return the body bytes.

    For bulk paths where the generated API's per-item model objects cost more than the work itself
    (series submission, long query-backs). Errors raise the same exception classes as the generated API.
    """
    config = api_client.configuration
    all_headers = dict(api_client.default_headers)
    all_headers.update({"Accept": "application/json"})
    if body is not None:
        all_headers["Content-Type"] = "application/json"
    all_headers.update(headers or {})
    auth = config.auth_settings()
    for scheme in ("apiKeyAuth", "appKeyAuth") if app_key else ("apiKeyAuth",):
        if scheme in auth and auth[scheme].get("value"):
            all_headers[auth[scheme]["key"]] = auth[scheme]["value"]
    url = config.host.rstrip("/") + path + (f"?{urlencode(params)}" if params else "")
    response = api_client.rest_client.pool_manager.request(
        method, url, body=body, headers=all_headers, preload_content=True, timeout=config.request_timeout or 60)
    if not 200 <= response.status <= 299:
        for status, cls in ((401, UnauthorizedException), (403, ForbiddenException), (404, NotFoundException)):
            if response.status == status:
                raise cls(http_resp=response)
        raise (ServiceException if response.status >= 500 else ApiException)(http_resp=response)
    return response.data
