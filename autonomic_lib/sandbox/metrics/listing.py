"""The v2 metric reads: the list of actively reporting metrics and the tags of one metric.

`GET /api/v2/metrics` (`list_tag_configurations`) and `GET /api/v2/metrics/{metric_name}/all-tags`
(`list_tags_by_metric_name`) as the client 2.62.0 documents them (its `MetricsApi` docstrings hold the API
reference's parameter texts): a metric is active when one of its series has a point within `window[seconds]` of
now (default 1 h for the list, 4 h and at least 4 h for the tags).

What the sandbox does not keep, it does not pretend to filter on: it has no Metrics Without Limits tag
configurations (so `filter[configured]=true`, `filter[tags_configured]` and `filter[include_percentiles]=true`
match nothing, every metric is configurable), and it records neither which metrics were queried nor which assets
use them nor ingested volumes, so `filter[queried]`, `filter[related_assets]`, `include` and `sort` are refused.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Callable

from autonomic_lib.errors import IntakeError, QueryError
from autonomic_lib.query.language import AllTags, MetricQuery, Scope, parse_query
from autonomic_lib.sandbox.metrics.store import MetricStore, Series

LIST_WINDOW_DEFAULT, LIST_WINDOW_MAX = 3600, 2_592_000  # window[seconds] of GET /api/v2/metrics
TAGS_WINDOW_DEFAULT = 14_400  # and its minimum: window[seconds] of .../all-tags
MAX_PAGE_SIZE = 10_000  # page[size]: "the default value is 10000, the maximum value is 10000"
UNTRACKED = ("filter[queried]", "filter[queried][window][seconds]", "filter[related_assets]", "include", "sort")


@dataclass(frozen=True, kw_only=True)
class MetricFilter:
    """The filters of `GET /api/v2/metrics`, parsed; None means the parameter was not given."""

    window: int = LIST_WINDOW_DEFAULT
    tags: Scope = AllTags()
    metric_type: str | None = None  # "distribution" | "non_distribution"
    configured: bool | None = None
    is_configurable: bool | None = None
    tags_configured: str | None = None
    include_percentiles: bool | None = None


def tag_filter(text: str, parameter: str) -> Scope:
    """A `filter[tags]` expression (`env IN (a,b) AND service:web*`, or `env:a,host:b`) as the metric query
    language's tag filter; a 400 naming the parameter when it does not parse."""
    try:
        query = parse_query(f"avg:m{{{text}}}")
    except QueryError as exc:
        raise IntakeError(400, f"The parameter '{parameter}' is not a tag filter: {exc}") from None
    if not isinstance(query, MetricQuery):
        raise IntakeError(400, f"The parameter '{parameter}' is not a tag filter: {text[:60]!r}")
    return query.scope


def list_metrics(store: MetricStore, now: int, wanted: MetricFilter, metric_type: Callable[[str], str], *,
                 page_size: int | None = None, cursor: str | None = None) -> tuple[list[str], str | None]:
    """Names of the active metrics passing `wanted`, sorted; one page of them and the next page's cursor.

    `metric_type(name)` is the metric's metadata type (a catalogue "distribution" stays one). Without `page_size`
    and `cursor` the whole list is one page (Datadog's paging is opt-in), still bounded by MAX_PAGE_SIZE.
    """
    names = sorted({s.metric for s in store.active_series(now - wanted.window) if wanted.tags.matches(s.tags)})
    names = [n for n in names if _passes(n, wanted, metric_type)]
    after = _cursor_name(cursor) if cursor else None
    if after is not None:
        names = [n for n in names if n > after]
    limit = page_size or MAX_PAGE_SIZE
    page = names[:limit]
    more = len(names) > limit and (page_size is not None or cursor is not None)
    if len(names) > limit and not more:
        raise IntakeError(400, f"More than {MAX_PAGE_SIZE} metrics match; page with page[size] and page[cursor]")
    return page, encode_cursor(page[-1]) if more else None


def _passes(name: str, wanted: MetricFilter, metric_type: Callable[[str], str]) -> bool:
    distribution = metric_type(name) == "distribution"
    if wanted.metric_type is not None and distribution != (wanted.metric_type == "distribution"):
        return False
    if wanted.configured or wanted.tags_configured is not None or wanted.is_configurable is False:
        return False  # no metric has a tag configuration; every metric may get one
    if wanted.include_percentiles is not None:
        return distribution and not wanted.include_percentiles  # no distribution has percentiles configured
    return True


def encode_cursor(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")


def _cursor_name(cursor: str) -> str:
    try:
        return base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeDecodeError):  # binascii.Error is a ValueError
        raise IntakeError(400, f"page[cursor] {cursor[:40]!r} is not a cursor this sandbox returned") from None


def metric_tags(series: list[Series], *, scope: Scope, match: str | None, values: bool,
                limit: int | None) -> list[str]:
    """The distinct tags of the series passing `scope`, sorted: `key:value`, or keys only when `values` is False;
    only those containing `match`; at most `limit` of them."""
    tags = {t if values else t.partition(":")[0] for s in series if scope.matches(s.tags) for t in s.tags}
    found = sorted(t for t in tags if match is None or match in t)
    return found[:limit] if limit is not None else found


def all_tags_body(metric: str, tags: list[str]) -> dict[str, Any]:
    """MetricAllTagsResponse: the sandbox indexes every ingested tag (it has no tag configurations)."""
    return {"data": {"id": metric, "type": "metrics", "attributes": {"tags": tags, "ingested_tags": tags}}}
