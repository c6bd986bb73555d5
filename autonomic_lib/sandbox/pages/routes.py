"""The read-only pages at the paths the kit's links use: `/monitors/{id}` (`?group=`), `/dashboard/{id}[/slug]`,
`/workflow/{id}`, `/cases/{key}`, `/llm-obs/traces/{trace_id}`; `?hours=` (1-48, default 6) sets the span a
page's charts cover.

Auth: a link opens in a browser, which sends no keys, so a page needs the token of its path instead
(`?token=`, links.page_token: an HMAC under the sandbox's API key, written by the kit's link writers). A missing
or wrong token answers exactly as an unknown id does (404, the same page), so the pages reveal nothing to whoever
can reach 127.0.0.1 without a link. Pages and the links inside them never carry a key; the responses forbid
caching, referrers (the token is in the URL) and any script or outside resource (Content-Security-Policy).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from autonomic_lib.links import TOKEN_PARAM, PageKind, page_path, page_url, token_ok
from autonomic_lib.sandbox.http.routing import Handler, Keys, public_route
from autonomic_lib.sandbox.pages import views
from autonomic_lib.sandbox.pages.backend import DEFAULT_HOURS, MAX_HOURS, Pages

HEADERS = {"Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
                                      "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
           "Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
Build = Callable[[Pages, str, Mapping[str, str]], "dict[str, Any] | None"]


def hours(params: Mapping[str, str]) -> int:
    """`?hours=`: how far back the charts reach; anything but a whole number of hours in range is the default."""
    raw = params.get("hours", "")
    return min(int(raw), MAX_HOURS) if raw.isdigit() and int(raw) > 0 else DEFAULT_HOURS


def _html(text: str, status: int = 200) -> Response:
    return HTMLResponse(text, status, headers=HEADERS)


def page(kind: PageKind, param: str, template: str, build: Build) -> Handler[Pages]:
    """A page handler: check the token of the page's path, gather its view (None: 404) and render it."""

    async def handler(request: Request, pages: Pages) -> Response:
        ident, keys = request.path_params[param], request.app.state.keys
        assert isinstance(keys, Keys)
        base = str(request.base_url).rstrip("/")
        if not token_ok(keys.api_key, page_path(kind, ident), request.query_params.get(TOKEN_PARAM, "")):
            return _html(views.not_found(sandbox_url=base), 404)

        def link(target: PageKind, target_id: str | int, **params: str | None) -> str:
            """A link to another page (relative, with its token); a None parameter is left out."""
            given = {name: value for name, value in params.items() if value is not None}
            return page_url("", target, target_id, api_key=keys.api_key, **given)

        def draw() -> str | None:
            context = build(pages, ident, request.query_params)
            if context is None:
                return None
            return views.render(template, sandbox_url=base, run=pages.run_summary(), link=link, **context)

        text = await run_in_threadpool(draw)
        return _html(text) if text is not None else _html(views.not_found(sandbox_url=base), 404)

    return handler


def _monitor(pages: Pages, ident: str, params: Mapping[str, str]) -> dict[str, Any] | None:
    if not ident.isdigit():
        return None
    return pages.monitor(int(ident), group=params.get("group") or None, hours=hours(params))


def routes(pages: Pages) -> list[Route]:
    dashboard = page("dashboard", "dashboard_id", "dashboard.html",
                     lambda p, ident, params: p.dashboard(ident, hours=hours(params)))
    return [
        public_route("/monitors/{monitor_id}", page("monitor", "monitor_id", "monitor.html", _monitor), pages),
        public_route("/dashboard/{dashboard_id}", dashboard, pages),
        public_route("/dashboard/{dashboard_id}/{slug}", dashboard, pages),
        public_route("/workflow/{workflow_id}", page("workflow", "workflow_id", "workflow.html",
                                                     lambda p, ident, _: p.workflow(ident)), pages),
        public_route("/cases/{case_key}", page("case", "case_key", "case.html", lambda p, ident, _: p.case(ident)),
                     pages),
        public_route("/llm-obs/traces/{trace_id}", page("llm_trace", "trace_id", "llm_trace.html",
                                                        lambda p, ident, _: p.llm_trace(ident)), pages),
    ]
