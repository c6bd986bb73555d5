"""HTTP plumbing shared by the sandbox's products: Datadog's auth, JSON bodies, and the one error shape per API.

Each product's `routes(backend)` builds its URL table with `route()`, so a handler receives its own product's
backend and never the application; the keys live in the app state (`app.state.keys`, set by app.py).
"""

from __future__ import annotations

import hmac
import logging
import re
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Awaitable, Callable, Literal, TypeVar

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from autonomic_lib.errors import IntakeError, QueryError, UnsupportedQueryError
from autonomic_lib.sandbox.http.body import MAX_JSON_BODY, read_body
from autonomic_lib.links import PageKind, page_url

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
    first keyed request. Links to its read-only pages carry their token, signed with `api_key` (links.py).
    """

    url: str = ""
    api_key: str = field(default="", repr=False)

    def page_url(self, kind: PageKind, ident: str | int, **params: str) -> str:
        """A link to one of the sandbox's pages that opens (with its token)."""
        return page_url(self.url, kind, ident, api_key=self.api_key or None, **params)

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


# Sandbox choice: Datadog documents no nesting bound for its API bodies. orjson reads up to 1024 levels but writes
# at most 255: a monitor with 300 levels in its options was read, then could not be stored (a 500). 64 levels is far
# above any Datadog resource (a dashboard's group widgets nest about 12) and leaves room for the documents the
# sandbox wraps around a body.
MAX_JSON_DEPTH = 64


_REQUIRED = object()


async def json_body(request: Request, *, blank: Any = _REQUIRED) -> Any:
    """The JSON body; a 413 past MAX_JSON_BODY, a 400 if it is not JSON or nests deeper than MAX_JSON_DEPTH.

    An empty (or all-whitespace) body is `blank` where the endpoint makes the body optional. Parsed and measured
    in a worker thread: a body of megabytes takes a few tenths of a second, which the event loop (and every other
    request) does not wait for.
    """
    raw = await read_body(request, MAX_JSON_BODY)
    if blank is not _REQUIRED and not raw.strip():
        return blank
    return await run_in_threadpool(_parse_json, raw)


def _parse_json(raw: bytes) -> Any:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):  # orjson's own bound, at 1024 levels
            raise IntakeError(400, _depth_refusal("more than 1024")) from None
        raise IntakeError(400, f"Invalid JSON in request body: {exc}") from None
    if (depth := json_depth(body, MAX_JSON_DEPTH)) > MAX_JSON_DEPTH:
        raise IntakeError(400, _depth_refusal(f"at least {depth}"))
    return body


def _depth_refusal(depth: str) -> str:
    return f"The request body nests {depth} levels of arrays and objects; the sandbox accepts at most {MAX_JSON_DEPTH}"


_CONTAINERS = (dict, list)


def json_depth(value: Any, limit: int) -> int:
    """How many arrays and objects nest in `value` (`{}` is 1, a scalar 0), counted only up to `limit` + 1.

    Level by level, no recursion, each value looked at once: linear in the body's size (about 0.3 s for 5 MB of
    small values), and it stops at the first level past `limit`.
    """
    level, depth = [value] if type(value) in _CONTAINERS else [], 0
    while level and depth <= limit:
        depth += 1
        level = [child for node in level for child in (node.values() if type(node) is dict else node)
                 if type(child) in _CONTAINERS]
    return depth
