"""The logs product's backend: stored logs and the events stream (posted events and monitor events).

Logs and events are documents; their kinds are this module's alone. A log's id encodes its key (timestamp ms,
payload batch, index in the payload), so ids are unique, ordered like the logs, and a search cursor is just the
id of the last log of a page. Events are stored at their `date_happened` (epoch seconds), so they list by time.
The monitors product writes its monitor events here (monitors may import logs; logs never imports monitors).
"""

from __future__ import annotations

import base64
from typing import Any, Callable, Collection, NamedTuple

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.logs.analytics import MAX_LOGS, Aggregation, Computed, aggregate, evaluate, formula_aggregation
from autonomic_lib.sandbox.logs.events_v2 import EventKey, event_key, search_view, uid_key
from autonomic_lib.sandbox.logs.search import LogView, parse_query
from autonomic_lib.sandbox.storage.documents import DocumentStore

_LOG, _LOG_BATCH, _EVENT = "log", "log-batch", "event"
EVENTS_PER_PAGE = 1000
LogKey = tuple[int, int, int]  # (timestamp ms, payload batch, index in the payload): the order of logs


class LogPage(NamedTuple):
    """One page of a log search, and whether more logs match after it."""

    logs: list[dict[str, Any]]
    more: bool


class Logs:
    """Logs and events, kept as documents; `clock` is the sandbox's "now" in epoch seconds.

    Usage::

        logs = Logs(DocumentStore(open_database(None)), clock=time.time)
        logs.ingest([{"k": ts_ms, "message": "...", "status": "info", "tags": [], "attributes": {}}])
        logs.search(query="service:web", start_ms=t0, end_ms=t1, limit=50)
        event = logs.add_event(title="Deployed", text="v2", date_happened=ts, tags=["env:demo"])
    """

    def __init__(self, documents: DocumentStore, clock: Callable[[], float]):
        self._documents, self.clock = documents, clock
        self._ingest_listeners: list[Callable[[list[dict[str, Any]]], None]] = []

    def on_ingest(self, listener: Callable[[list[dict[str, Any]]], None]) -> None:
        """Call `listener(logs)` after every stored payload (the monitor evaluator learns of new logs this way)."""
        self._ingest_listeners.append(listener)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # ------------------------------------------------------------------------------------------ logs
    def ingest(self, docs: list[dict[str, Any]]) -> list[str]:
        """Store one payload's normalised logs (each with its time in epoch ms as "k") at once; returns their ids.

        One durable batch number per payload makes the keys unique and write-ordered within a millisecond.
        """
        if not docs:
            return []
        batch = self._documents.next_id(_LOG_BATCH)
        stored = [{**doc, "k": [doc["k"], batch, i], "id": log_id((doc["k"], batch, i))} for i, doc in enumerate(docs)]
        self._documents.put_many(_LOG, [(d["id"], d["k"][0], d) for d in stored])
        for listener in self._ingest_listeners:
            listener(stored)
        return [d["id"] for d in stored]

    def search(self, *, query: str | None = None, start_ms: int, end_ms: int, newest_first: bool = True,
               limit: int = 10, after: LogKey | None = None) -> LogPage:
        """Logs matching `query` (search.py's syntax) timed in [start_ms, end_ms], `limit` of them in key order.

        `after` is the key of the last log of the previous page (`log_key` of its id): the page goes on past it.

        Raises:
            IntakeError, QueryError: the query is malformed or uses syntax the sandbox lacks.
        """
        matcher = parse_query(query)
        since, until = start_ms, end_ms + 1
        if after is not None:  # only the remaining time range is read
            since, until = (since, min(until, after[0] + 1)) if newest_first else (max(since, after[0]), until)
        docs = sorted(self._documents.list(_LOG, since=since, until=until), key=lambda d: d["k"],
                      reverse=newest_first)
        found: list[dict[str, Any]] = []
        for doc in docs:
            key = tuple(doc["k"])
            if after is not None and (key >= after if newest_first else key <= after):
                continue
            if matcher.matches(LogView(doc)):
                found.append(doc)
                if len(found) > limit:
                    break
        return LogPage(found[:limit], len(found) > limit)

    def aggregate(self, *, query: str | None, start_ms: int, end_ms: int, spec: Aggregation) -> list[dict[str, Any]]:
        """POST /api/v2/logs/analytics/aggregate: the buckets of `spec` (analytics.py) over the logs matching `query`
        timed in [start_ms, end_ms].

        Raises:
            IntakeError: 400 past MAX_LOGS logs in the range, or a query the sandbox cannot read (QueryError too).
        """
        return aggregate(self._matching(query, start_ms, end_ms), spec, start_ms, end_ms)

    def formula_source(self, query: dict[str, Any], where: str, *, start_ms: int, end_ms: int,
                       interval_ms: int | None, total: bool) -> list[tuple[tuple[str, ...], Computed | None]]:
        """A `logs` query of /api/v2/query/timeseries or /scalar (analytics.formula_aggregation): per group, its
        tags (`facet:value`) and its series of (epoch ms, value), or its total (None without a value).

        The metrics product calls this through `Metrics.sources` (wired by app.py): logs never import metrics.
        """
        return self._formula(self._matching, query, where, start_ms=start_ms, end_ms=end_ms,
                             interval_ms=interval_ms, total=total)

    def events_formula_source(self, query: dict[str, Any], where: str, *, start_ms: int, end_ms: int,
                              interval_ms: int | None, total: bool) -> list[tuple[tuple[str, ...], Computed | None]]:
        """An `events` query of /api/v2/query/*: as `formula_source`, over the events (v1 and v2 alike), each seen
        as the event search sees it (events_v2.search_view: title and text, tags with host and source, status,
        `@` attributes)."""
        return self._formula(self._matching_events, query, where, start_ms=start_ms, end_ms=end_ms,
                             interval_ms=interval_ms, total=total)

    def _formula(self, matching: Callable[[str | None, int, int], list[dict[str, Any]]], query: dict[str, Any],
                 where: str, *, start_ms: int, end_ms: int, interval_ms: int | None,
                 total: bool) -> list[tuple[tuple[str, ...], Computed | None]]:
        search = query.get("search") or {}
        text = search.get("query") if isinstance(search, dict) else None
        if text is not None and not isinstance(text, str):
            raise IntakeError(400, f"{where}.search.query: must be a string")
        spec = formula_aggregation(query, where, start_ms=start_ms, end_ms=end_ms, interval_ms=interval_ms,
                                   total=total)
        return [(tuple(f"{facet}:{value}" for facet, value in by.items()), computes.get("c0"))
                for by, computes in evaluate(matching(text, start_ms, end_ms), spec, start_ms, end_ms)]

    def _matching_events(self, query: str | None, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
        """The events matching `query` in [start_ms, end_ms], shaped as the aggregation reads a log ("k" its time
        in ms; message, status, tags, attributes as the event search sees them); a 400 past MAX_LOGS."""
        matcher = parse_query(query)
        docs = self._documents.list(_EVENT, since=start_ms, until=end_ms + 1, limit=MAX_LOGS + 1)
        if len(docs) > MAX_LOGS:
            raise IntakeError(400, f"More than {MAX_LOGS} events in the time range; the sandbox aggregates at most "
                                   "that many: narrow the time range")
        views = [search_view(event) for event in docs]
        return [{**view.doc, "k": [event["date_happened"] * 1000, event["id"]], "hostname": event.get("host"),
                 "ddsource": event.get("source_type_name")}
                for event, view in zip(docs, views) if matcher.matches(view)]

    def _matching(self, query: str | None, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
        """The logs matching `query` timed in [start_ms, end_ms]; a 400 past MAX_LOGS logs in the range."""
        matcher = parse_query(query)
        docs = self._documents.list(_LOG, since=start_ms, until=end_ms + 1, limit=MAX_LOGS + 1)
        if len(docs) > MAX_LOGS:
            raise IntakeError(400, f"More than {MAX_LOGS} logs in the time range; the sandbox aggregates at most that "
                                   "many: narrow the time range")
        return [d for d in docs if matcher.matches(LogView(d))]

    # ------------------------------------------------------------------------------------------ events
    def add_event(self, *, title: str, text: str, date_happened: int, **fields: Any) -> dict[str, Any]:
        """Store an event under a new id; the other Event `fields` are kept in the order given. Returns it."""
        event = {"id": self._documents.next_id(_EVENT), "title": title, "text": text, "date_happened": date_happened,
                 **fields}
        self._documents.put(_EVENT, event["id"], event, ts=date_happened * 1000)
        return event

    def get_event(self, event_id: int | str) -> dict[str, Any] | None:
        """The event, or None; ids compare as their decimal text (so "07" is not event 7)."""
        return self._documents.get(_EVENT, event_id)

    def delete_event(self, event_id: int) -> bool:
        """Remove an event (a monitor transition a replay retracted); False when there was none."""
        return self._documents.delete(_EVENT, event_id)

    def list_events(self, *, start: int, end: int, priority: str | None = None, sources: Collection[str] = (),
                    tags: Collection[str] = (), page: int = 0) -> list[dict[str, Any]]:
        """Events that happened in [start, end] (epoch s), newest first, `EVENTS_PER_PAGE` a page (page 0 first).

        `priority` matches exactly (an event without one is "normal"); `sources` (any of) and `tags` (all of)
        match case-insensitively.
        """
        wanted_sources, wanted_tags = {s.lower() for s in sources}, {t.lower() for t in tags}

        def keep(e: dict[str, Any]) -> bool:
            return ((priority is None or (e.get("priority") or "normal") == priority)
                    and (not wanted_sources or str(e.get("source_type_name", "")).lower() in wanted_sources)
                    and wanted_tags <= {t.lower() for t in e["tags"]})

        docs = self._documents.list(_EVENT, since=start * 1000, until=(end + 1) * 1000)
        events = sorted((e for e in docs if keep(e)), key=lambda e: (e["date_happened"], e["id"]), reverse=True)
        return events[page * EVENTS_PER_PAGE:(page + 1) * EVENTS_PER_PAGE]

    def event_by_uid(self, uid: str) -> dict[str, Any] | None:
        """The event whose v2 id is `uid` (events_v2.event_uid), or None."""
        key = uid_key(uid)
        event = self.get_event(key[1]) if key is not None else None
        return event if event is not None and event_key(event) == key else None

    def search_events(self, *, query: str | None, start_ms: int, end_ms: int, newest_first: bool, limit: int,
                      after: EventKey | None = None) -> tuple[list[dict[str, Any]], bool]:
        """Events matching `query` (the log search syntax, over events_v2.search_view) that happened in
        [start_ms, end_ms], `limit` of them in time order past the key `after`; and whether more match.

        Raises:
            IntakeError, QueryError: the query is malformed or uses syntax the sandbox lacks.
        """
        matcher = parse_query(query)
        docs = self._documents.list(_EVENT, since=start_ms, until=end_ms + 1)
        found: list[dict[str, Any]] = []
        for event in sorted(docs, key=event_key, reverse=newest_first):
            if after is not None and (event_key(event) >= after if newest_first else event_key(event) <= after):
                continue
            if matcher.matches(search_view(event)):
                found.append(event)
                if len(found) > limit:
                    break
        return found[:limit], len(found) > limit

    def clear(self) -> dict[str, int]:
        """Forget every log and event (a new run); how many of each there were."""
        return {"logs": self._documents.delete_kind(_LOG), "events": self._documents.delete_kind(_EVENT)}



def log_id(key: LogKey) -> str:
    """Like Datadog's ids (base64 of a version byte and the ms timestamp, then a unique part), stable and unique."""
    ts, batch, index = key
    raw = b"\x01" + ts.to_bytes(8, "big", signed=True) + batch.to_bytes(8, "big") + index.to_bytes(4, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def log_key(ident: str) -> LogKey:
    """The key a log id encodes; ValueError when `ident` is not one of this sandbox's ids."""
    raw = base64.urlsafe_b64decode(ident + "=" * (-len(ident) % 4))
    if len(raw) != 21 or raw[0] != 1:
        raise ValueError(ident)
    return (int.from_bytes(raw[1:9], "big", signed=True), int.from_bytes(raw[9:17], "big"),
            int.from_bytes(raw[17:], "big"))
