"""The cursor search that logs (/api/v2/logs/events) and events v2 (/api/v2/events) share: the parameters checked
alike, a time range read in the log syntax, an opaque cursor naming the last item returned, and `links.next`.

Each API keeps what differs: its page size bound, its default order, how an id becomes a sort key, what it
searches and how an item is rendered.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.http.params import int_field
from autonomic_lib.sandbox.logs.search import parse_time


@dataclass(frozen=True)
class SearchRequest:
    """One search as the client asked it (body fields or query parameters), unchecked."""

    query: Any
    start: Any
    end: Any
    sort: Any
    limit: Any
    cursor: Any


@dataclass(frozen=True)
class CursorSearch:
    """What one API's search is: `search(query=, start_ms=, end_ms=, newest_first=, limit=, after=)` answers
    (items, more); `id_of` is an item's public id, which a cursor names; `key_of` turns that id back into the
    `after` key (None if it is not one)."""

    path: str  # where links.next points, e.g. "api/v2/logs/events"
    now_ms: Callable[[], int]  # the backend's clock
    max_limit: int
    default_sort: str
    id_of: Callable[[dict[str, Any]], str]
    key_of: Callable[[Any], Any]
    search: Callable[..., tuple[list[dict[str, Any]], bool]]

    async def answer(self, request: Request, asked: SearchRequest) -> tuple[list[dict[str, Any]], dict[str, Any],
                                                                                str | None]:
        """The page of items, the `meta` (elapsed, request_id, status, page.after) and the `links.next` URL.

        Raises:
            IntakeError: a parameter of the wrong type or out of range, or a cursor this sandbox did not return.
        """
        for name, value in (("filter.query", asked.query), ("filter.from", asked.start), ("filter.to", asked.end),
                            ("page.cursor", asked.cursor)):
            if value is not None and not isinstance(value, str):
                raise IntakeError(400, f"{name} must be a string")
        limit = int_field(asked.limit, "page.limit", low=1, high=self.max_limit)
        sort = asked.sort or self.default_sort
        if not isinstance(sort, str) or sort not in ("timestamp", "-timestamp"):
            raise IntakeError(400, f"sort must be 'timestamp' or '-timestamp', got {str(sort)[:40]!r}")
        after = self._after(asked.cursor) if asked.cursor else None
        started, now = time.perf_counter(), self.now_ms()
        lo = parse_time(asked.start or "now-15m", now, "filter.from")
        hi = parse_time(asked.end or "now", now, "filter.to")
        if hi < lo:
            raise IntakeError(400, f"filter.to ({asked.end}) is earlier than filter.from ({asked.start})")
        items, more = await run_in_threadpool(lambda: self.search(
            query=asked.query, start_ms=lo, end_ms=hi, newest_first=sort == "-timestamp", limit=limit, after=after))
        meta: dict[str, Any] = {"elapsed": int((time.perf_counter() - started) * 1000),
                                "request_id": uuid.uuid4().hex, "status": "done"}
        if not more:
            return items, meta, None
        token = base64.urlsafe_b64encode(orjson.dumps({"after": self.id_of(items[-1])})).decode().rstrip("=")
        meta["page"] = {"after": token}
        params = {"filter[query]": asked.query, "filter[from]": asked.start, "filter[to]": asked.end, "sort": sort,
                  "page[cursor]": token, "page[limit]": limit}
        return items, meta, f"{request.base_url}{self.path}?" + urlencode(
            {k: v for k, v in params.items() if v is not None})

    def _after(self, cursor: str) -> Any:
        try:
            after = self.key_of(orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))["after"])
        except (ValueError, TypeError, KeyError, orjson.JSONDecodeError):
            after = None
        if after is None:
            raise IntakeError(400, f"page.cursor {cursor[:40]!r} is not a cursor this sandbox returned")
        return after
