"""HTTP plumbing shared by the sandbox's products: Datadog's auth, JSON bodies, and the one error shape per API.

Each product's `routes(backend)` builds its URL table with `route()`, so a handler receives its own product's
backend and never the application; the keys live in the app state (`app.state.keys`, set by app.py).
"""

from __future__ import annotations

import hmac
import logging
import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Awaitable, Callable, Literal, TypeVar

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from autonomic_lib.errors import IntakeError, QueryError, UnsupportedQueryError

B = TypeVar("B")
Handler = Callable[[Request, B], Awaitable[Response]]
ErrorStyle = Literal["v1", "jsonapi", "detail", "legacy"]
JSONAPI = "application/vnd.api+json"
log = logging.getLogger("autonomic_lib.sandbox")
_KEY_SHAPED = re.compile(r"[0-9a-fA-F]{32,40}")


@dataclass(frozen=True)
class Keys:
    """The API and application keys a sandbox accepts; compared in constant time."""

    api_key: str
    app_key: str

    def api_key_ok(self, given: str) -> bool:
        return bool(given) and hmac.compare_digest(given.encode(), self.api_key.encode())

    def app_key_ok(self, given: str) -> bool:
        return bool(given) and hmac.compare_digest(given.encode(), self.app_key.encode())


@dataclass
class Address:
    """The sandbox's own base URL, for links it writes outside a request (monitor URLs, snapshot links).

    The server sets it when it binds; a sandbox served another way (an ASGI test client) learns it from its
    first keyed request.
    """

    url: str = ""

    def remember(self, request: Request) -> None:
        if not self.url:
            self.url = str(request.base_url).rstrip("/")


def json_response(body: Any, status: int = 200, media_type: str = "application/json") -> Response:
    return Response(orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), status_code=status, media_type=media_type)


def error_response(status: int, *messages: str, style: ErrorStyle = "v1", media_type: str | None = None) -> Response:
    """Datadog's error body for `status`, in the shape each API answers with (as recorded):

    - "v1": `{"errors": ["..."]}` (v1 resources, metrics, events, and every key refusal);
    - "jsonapi": `{"errors": [{status, title, detail}]}` (Case Management, the v2 logs intake);
    - "detail": `{"errors": [{detail}]}` (Workflow Automation);
    - "legacy": `{code, message}` (the legacy logs intake).
    """
    if style == "legacy":
        return json_response({"code": status, "message": "; ".join(messages)}, status)
    if style == "detail":
        return json_response({"errors": [{"detail": m} for m in messages]}, status, media_type=media_type or JSONAPI)
    if style == "jsonapi":
        title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
        return json_response({"errors": [{"status": str(status), "title": title, "detail": m} for m in messages]},
                             status, media_type=media_type or JSONAPI)
    return json_response({"errors": list(messages)}, status)


def refusal(exc: Exception, style: ErrorStyle) -> Response | None:
    """The answer to a refusal raised by a handler (IntakeError, a query error), or None for anything else."""
    if isinstance(exc, IntakeError):
        return error_response(exc.status, *exc.messages, style=style)
    if isinstance(exc, UnsupportedQueryError):
        return error_response(400, f"Unsupported query: {exc}", style=style)
    if isinstance(exc, QueryError):
        return error_response(400, f"Error parsing query: {exc}", style=style)
    return None


def internal_error(request: Request, exc: BaseException, style: ErrorStyle = "v1",
                   media_type: str | None = None) -> Response:
    """The last resort, for a bug: no input may come here (a malformed request is a 4xx naming the problem).

    Logged with its traceback, never with headers or keys (the legacy logs intake takes the API key in its path),
    and answered 500 in the API's error shape, so a client still reads it as Datadog's.
    """
    path = _KEY_SHAPED.sub("****", request.url.path)
    log.error("internal error on %s %s", request.method, path, exc_info=exc)
    return error_response(500, f"Internal sandbox error: {type(exc).__name__}", style=style, media_type=media_type)


def route(path: str, method: str, handler: Handler[B], backend: B, *, app_key: bool,
          errors: ErrorStyle = "v1") -> Route:
    """A route that checks Datadog's keys first: the API key always, the application key where Datadog needs it.

    Refusals the handler raises are rendered in the route's `errors` style, and so is a bug's 500 (internal_error);
    key refusals always in v1's, as recorded.
    """

    async def endpoint(request: Request) -> Response:
        request.app.state.address.remember(request)
        keys: Keys = request.app.state.keys
        api_key = request.headers.get("dd-api-key")
        if not api_key:
            return error_response(403, "API key required")
        if not keys.api_key_ok(api_key):
            return error_response(403, "Forbidden")
        if app_key:
            given = request.headers.get("dd-application-key")
            if not given:
                return error_response(403, "Application key required")
            if not keys.app_key_ok(given):
                return error_response(403, "Forbidden")
        try:
            return await handler(request, backend)
        except (IntakeError, QueryError) as exc:
            answer = refusal(exc, errors)
            assert answer is not None
            return answer
        except Exception as exc:
            return internal_error(request, exc, errors)

    return Route(path, endpoint, methods=[method])


def public_route(path: str, handler: Handler[B], backend: B) -> Route:
    """A GET route without keys: the pages Datadog serves publicly (snapshot PNGs, an event's page)."""

    async def endpoint(request: Request) -> Response:
        return await handler(request, backend)

    return Route(path, endpoint, methods=["GET"])


async def json_body(request: Request) -> Any:
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise IntakeError(400, f"Invalid JSON in request body: {exc}") from None
