"""HTML of the pages: Jinja2 templates (package data in templates/), autoescaped, so every name, query, message
and comment stored by a client is shown as text, never as markup. Each page has the same header: which sandbox
served it, which run its data is, when it was drawn, and that it is read-only."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from autonomic_lib.sandbox.pages.backend import RunSummary, when

if TYPE_CHECKING:  # jinja2 itself is imported with the first page: every command importing the sandbox would pay
    from jinja2 import Environment

Link = Callable[..., str]  # link(kind, ident, **params) -> the page's URL with its token


@lru_cache(maxsize=1)
def environment() -> Environment:
    from jinja2 import Environment, PackageLoader

    env = Environment(loader=PackageLoader("autonomic_lib.sandbox.pages", "templates"), autoescape=True,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["number"] = _number
    env.filters["when"] = when
    return env


def _number(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:,.4g}" if isinstance(value, float) else str(value)


def render(template: str, *, sandbox_url: str, run: RunSummary, link: Link, **context: Any) -> str:
    """A page: `template` with the common header (sandbox address, the run's envs and phases, when drawn)."""
    header = {"sandbox_url": sandbox_url, "run": run, "drawn": when(time.time())}
    return environment().get_template(template).render(header=header, link=link, **context)


def not_found(*, sandbox_url: str) -> str:
    """The one answer for an unknown id and for a missing or wrong token: it says nothing of which ids exist."""
    return environment().get_template("not_found.html").render(sandbox_url=sandbox_url)
