"""Monitor search: the query of Datadog's Manage Monitors page over stored monitors and their groups.

Endpoints `GET /api/v1/monitor/search` and `GET /api/v1/monitor/groups/search` (client models
`MonitorSearchResponse`, `MonitorGroupSearchResponse`; recorded answers, cassettes
`test_monitors_search_returns_ok_response` and `test_monitors_group_search_returns_ok_response`: facets
`counts.{status,muted,tag,type}` as `[{count, name}]` by count, `metadata.{total_count, page_count, page,
per_page}` with page 0 first and 30 a page).

Query (https://docs.datadoghq.com/monitors/manage/search/ and the client's docstring, `type:metric status:alert`):
space-separated terms that must all hold. Plain text matches the title or the message (case-insensitive, `*` a
wildcard: `*postgres*`), a bare number the monitor id; `title:` and `message:` search one of them. Attributes:
`status:` (alert, warn, no data, ok), `type:` (the facet: metric, anomaly, log, ...), `tag:` (a monitor tag, `*`
wildcards), `muted:` (true/false), `id:`, `priority:`, `metric:`, `scope:`, `notification:` (an @-handle of
the message), and on groups `group:`. Values may be quoted ("no data"). The docs' boolean syntax (OR, NOT, -term,
parentheses) is refused with a 400 naming it: its exact rules are not documented well enough to imitate.
Sandbox readings: a monitor is `muted` when downtimes silence all of its groups right now; results are in id order
unless `sort` says otherwise (name, status or tags, asc or desc).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from autonomic_lib.errors import IntakeError, QueryError
from autonomic_lib.query.glob import Glob
from autonomic_lib.query.language import metric_queries, parse_monitor
from autonomic_lib.sandbox.http.params import shorten
from autonomic_lib.sandbox.monitors.model import scope_tags

MAX_QUERY = 2000  # characters of a search query (a sandbox bound)
MAX_TERMS = 50
MAX_PER_PAGE, DEFAULT_PER_PAGE = 1000, 30
MONITOR_FIELDS = ("status", "type", "tag", "muted", "id", "title", "message", "priority", "metric", "scope",
                  "notification")
GROUP_FIELDS = (*MONITOR_FIELDS, "group")
SORT_FIELDS = ("name", "status", "tags")
_STATUSES = {"alert": "Alert", "warn": "Warn", "no data": "No Data", "ok": "OK"}
_BOOLEAN_WORDS = ("OR", "AND", "NOT")


@dataclass(frozen=True)
class Term:
    """One search term: `field` None for plain text."""

    field: str | None
    value: str


Row = dict[str, Any]  # what terms are checked against: a monitor's or a group's searchable values


def parse_search(text: str, fields: tuple[str, ...]) -> list[Term]:
    """The terms of a search query; a 400 naming the problem for syntax the sandbox does not read."""
    if len(text) > MAX_QUERY:
        raise IntakeError(400, f"The parameter 'query' must be at most {MAX_QUERY} characters")
    terms, i = [], 0
    while i < len(text):  # a linear scan: no regular expression runs over the query
        if text[i].isspace():
            i += 1
            continue
        word, i = _word(text, i)
        if word in _BOOLEAN_WORDS or word.startswith(("-", "(", ")")) or word.endswith(")"):
            raise IntakeError(400, f"The parameter 'query' uses {shorten(word)}: boolean operators and parentheses "
                                   "are not supported by the sandbox's monitor search (terms are ANDed)")
        field, sep, value = word.partition(":")
        if sep and field.lower() in fields:
            terms.append(Term(field.lower(), value.strip('"').lower()))
        elif sep and field.isidentifier():
            raise IntakeError(400, f"The parameter 'query' has an unknown attribute {shorten(field)}; expected one "
                                   f"of {', '.join(fields)}")
        else:
            terms.append(Term(None, word.strip('"').lower()))
        if len(terms) > MAX_TERMS:
            raise IntakeError(400, f"The parameter 'query' has more than {MAX_TERMS} terms")
    return terms


def _word(text: str, i: int) -> tuple[str, int]:
    """The word starting at i, a double-quoted part (spaces included) kept whole; and where it ends."""
    start, quoted = i, False
    while i < len(text) and (quoted or not text[i].isspace()):
        quoted = not quoted if text[i] == '"' else quoted
        i += 1
    return text[start:i], i


def matches(terms: Iterable[Term], row: Row) -> bool:
    return all(_holds(term, row) for term in terms)


def _holds(term: Term, row: Row) -> bool:
    value = term.value
    if term.field is None:
        if value.isdigit():
            return str(row["id"]) == value
        return _like(value, row["name"]) or _like(value, row["message"])
    if term.field == "status":
        return row["status"] == _STATUSES.get(value, value)
    if term.field == "muted":
        return value in ("true", "false") and row["muted"] == (value == "true")
    if term.field in ("id", "priority"):
        return str(row[term.field]) == value
    if term.field in ("title", "message"):
        return _like(value, row["name" if term.field == "title" else "message"])
    if term.field == "type":
        return row["classification"] == value
    listed = {"tag": "tags", "metric": "metrics", "scope": "scopes", "notification": "notifications",
              "group": "groups"}[term.field]
    pattern = Glob.compile(value, single=False)
    return any(pattern.fullmatch(item.lower()) for item in row[listed])


def _like(value: str, text: str) -> bool:
    """Plain-text search: a substring, or with `*` a wildcard pattern over the whole text."""
    if "*" in value:
        return Glob.compile(value, single=False).fullmatch(text.lower())
    return value in text.lower()


# ---------------------------------------------------------------------------------------------------- rows
def classification(monitor: dict[str, Any]) -> str:
    """The `type` facet of a monitor (recorded names: metric, anomaly, log, ...)."""
    mtype = str(monitor.get("type") or "")
    if mtype in ("query alert", "metric alert"):
        return "anomaly" if "anomalies(" in str(monitor.get("query") or "") else "metric"
    return mtype.removesuffix(" alert")


def notification_handles(message: str) -> list[str]:
    """The @-handles of a message, without the `@` (a split, not a pattern: messages are user text)."""
    handles = []
    for word in message.split():
        if word.startswith("@") and len(word) > 1:
            handle = word[1:].rstrip(".,;:!?)")
            handles.append(handle.split("(", 1)[0])
    return list(dict.fromkeys(handles))


def monitor_row(monitor: dict[str, Any], silenced: set[str]) -> Row:
    """A monitor's searchable values; `silenced` are the groups downtimes silence now."""
    groups = (monitor.get("state") or {}).get("groups") or {}
    query = str(monitor.get("query") or "")
    try:
        metrics = sorted({q.metric for q in metric_queries(parse_monitor(query).expression)})
    except QueryError:  # a monitor type whose query is no metric query
        metrics = []
    return {"id": monitor["id"], "name": monitor.get("name") or "", "message": monitor.get("message") or "",
            "type": monitor.get("type"), "query": query,
            "status": monitor.get("overall_state") or "No Data", "classification": classification(monitor),
            "tags": list(monitor.get("tags") or []), "priority": monitor.get("priority"), "metrics": metrics,
            "scopes": sorted(scope_tags(query)), "notifications": notification_handles(monitor.get("message") or ""),
            "muted": bool(silenced) and ("*" in silenced or set(groups) <= silenced), "groups": sorted(groups),
            "last_triggered_ts": max((g.get("last_triggered_ts") or 0 for g in groups.values()), default=0) or None}


def group_rows(monitor: dict[str, Any], silenced: set[str]) -> list[Row]:
    """One row per evaluated group of a monitor, the monitor's values with the group's status."""
    base = monitor_row(monitor, silenced)
    rows = []
    for name, group in sorted(((monitor.get("state") or {}).get("groups") or {}).items()):
        rows.append({**base, "group": name, "groups": [name], "status": group.get("status") or "No Data",
                     "group_tags": ["*"] if name == "*" else name.split(","),
                     "muted": "*" in silenced or name in silenced,
                     "last_triggered_ts": group.get("last_triggered_ts") or None,
                     "last_nodata_ts": group.get("last_nodata_ts") or 0})
    return rows


# ---------------------------------------------------------------------------------------------------- pages
def page_of(rows: list[Row], *, page: int, per_page: int | None, sort: str | None
            ) -> tuple[list[Row], dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """One page of matching rows, the metadata and the facet counts (over every match)."""
    per_page = DEFAULT_PER_PAGE if per_page is None else per_page
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise IntakeError(400, f"The parameter 'per_page' must be from 1 to {MAX_PER_PAGE}")
    ordered = _sorted(rows, sort)
    counts = {"status": _facet(r["status"] for r in rows), "muted": _facet(r["muted"] for r in rows),
              "tag": _facet(t for r in rows for t in r["tags"]), "type": _facet(r["classification"] for r in rows)}
    metadata = {"total_count": len(rows), "page_count": -(-len(rows) // per_page), "page": page,
                "per_page": per_page}
    return ordered[page * per_page:(page + 1) * per_page], metadata, counts


def _sorted(rows: list[Row], sort: str | None) -> list[Row]:
    if not sort:
        return sorted(rows, key=lambda r: (r["id"], r.get("group", "")))
    field, _, direction = sort.partition(",")
    field, direction = field.strip(), direction.strip().lower() or "asc"
    if field not in SORT_FIELDS or direction not in ("asc", "desc"):
        raise IntakeError(400, f"The parameter 'sort' must be <field>,<asc|desc> with field one of "
                               f"{', '.join(SORT_FIELDS)}, not {shorten(sort)}")
    key: Callable[[Row], Any] = {"name": lambda r: r["name"].lower(), "status": lambda r: r["status"],
                                 "tags": lambda r: sorted(r["tags"])}[field]
    return sorted(rows, key=lambda r: (key(r), r["id"]), reverse=direction == "desc")


def _facet(values: Iterable[Any]) -> list[dict[str, Any]]:
    return [{"count": n, "name": name} for name, n in sorted(Counter(values).items(), key=lambda kv: (-kv[1],
                                                                                                        str(kv[0])))]
