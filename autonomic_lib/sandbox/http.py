"""HTTP plumbing shared by the sandbox's route modules: Datadog's auth, JSON bodies and error shapes."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any, Awaitable, Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import IntakeError, QueryError, UnsupportedQueryError
from ..units import unit as lookup_unit

if TYPE_CHECKING:
    from .app import Sandbox


def json_response(body: Any, status: int = 200, media_type: str = "application/json") -> Response:
    return Response(orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), status_code=status, media_type=media_type)


def error_response(status: int, *messages: str) -> Response:
    return json_response({"errors": list(messages)}, status)


Handler = Callable[[Request, "Sandbox"], Awaitable[Response]]


def route(path: str, method: str, handler: Handler, *, app_key: bool) -> Route:
    """A route that checks Datadog's keys first: the API key always, the application key where Datadog needs it."""

    async def endpoint(request: Request) -> Response:
        sandbox = request.app.state.sandbox
        api_key = request.headers.get("dd-api-key")
        if not api_key:
            return error_response(403, "API key required")
        if not hmac.compare_digest(api_key.encode(), sandbox.config.api_key.encode()):
            return error_response(403, "Forbidden")
        if app_key:
            given = request.headers.get("dd-application-key")
            if not given:
                return error_response(403, "Application key required")
            if not hmac.compare_digest(given.encode(), sandbox.config.app_key.encode()):
                return error_response(403, "Forbidden")
        try:
            return await handler(request, sandbox)
        except IntakeError as exc:
            return error_response(exc.status, str(exc))
        except UnsupportedQueryError as exc:
            return error_response(400, f"Unsupported query: {exc}")
        except QueryError as exc:
            return error_response(400, f"Error parsing query: {exc}")

    return Route(path, endpoint, methods=[method])


def unit_pair(kind_unit: tuple[str | None, str | None]) -> list[dict[str, Any] | None]:
    """The 2-element unit array of query responses."""
    return [u.as_json() if (u := lookup_unit(name)) else None for name in kind_unit]


async def json_body(request: Request) -> Any:
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise IntakeError(400, f"Invalid JSON in request body: {exc}") from None
