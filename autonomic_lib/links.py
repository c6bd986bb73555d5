"""Links to the sandbox's read-only pages: their paths, and the token that lets a browser open one without keys.

The sandbox's data is private, but a link must open from a report in a browser that sends no keys. So a page's
link carries `?token=<page_token(api_key, path)>`: an HMAC of the page's path under the sandbox's API key. The
client that writes the link (it holds the keys) and the sandbox that checks it compute the same token; a page
without a valid one answers 404 like an unknown id. The token reveals nothing of the key, holds while the
sandbox keeps its keys, and is never shaped like a key (base64url, not hex), so the reports' key scrubbing
leaves it intact. Links to Datadog itself carry no token: its web app has its own login.

A foundation module: the kit's link writers (assets/sync.py, the notebooks' tables) and the sandbox's pages both
import it, and it imports nothing of the kit.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Literal
from urllib.parse import quote, urlencode

__all__ = ["LINKS_CAPTION", "PAGE_PATHS", "TOKEN_PARAM", "PageKind", "page_path", "page_token", "page_url",
           "token_ok"]

PageKind = Literal["dashboard", "monitor", "workflow", "case", "llm_trace"]
# The path of each kind of page, as Datadog's web app names them (the Case page and the LLM Observability trace
# page, `/llm-obs/traces/<trace_id>`, are the sandbox's choice).
PAGE_PATHS: dict[PageKind, str] = {"dashboard": "/dashboard/{}", "monitor": "/monitors/{}",
                                   "workflow": "/workflow/{}", "case": "/cases/{}", "llm_trace": "/llm-obs/traces/{}"}
TOKEN_PARAM = "token"
_TOKEN_BYTES = 18  # 144 bits, 24 base64url characters

# For the tables that show sandbox links (render.link_table, the report's index): a link cannot say by itself
# whether the server behind it is up, so the table says it once.
LINKS_CAPTION = ("Links open read-only pages served by the sandbox at {url}; they work only while that sandbox "
                 "runs with the keys it had when the links were written (`python -m autonomic_lib sandbox "
                 "--data-dir <state folder>`, or 00_setup, starts it). A stopped sandbox gives a connection error.")


def page_path(kind: PageKind, ident: str | int) -> str:
    """The canonical path of a page, the one its token is computed over: `/monitors/12`, `/cases/AUTO-3`."""
    return PAGE_PATHS[kind].format(quote(str(ident), safe=""))


def page_token(api_key: str, path: str) -> str:
    """The token of the page at `path` (a canonical path, without query): HMAC-SHA256 under the API key."""
    digest = hmac.new(api_key.encode(), f"sandbox-page:{path}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:_TOKEN_BYTES]).decode("ascii")


def token_ok(api_key: str, path: str, token: str) -> bool:
    """Whether `token` opens the page at `path`; compared in constant time."""
    return bool(token) and hmac.compare_digest(token.encode(), page_token(api_key, path).encode())


def page_url(base_url: str, kind: PageKind, ident: str | int, *, api_key: str | None, shown_path: str | None = None,
             **params: str) -> str:
    """The full link to a page: `base_url` + the page's path (or `shown_path`, e.g. a dashboard's slugged `url`)
    + `params` + the token when `api_key` is given (a sandbox); without a key (Datadog's web app) no token.
    """
    path = page_path(kind, ident)
    query = {**params, **({TOKEN_PARAM: page_token(api_key, path)} if api_key else {})}
    return base_url.rstrip("/") + (shown_path or path) + (f"?{urlencode(query)}" if query else "")
