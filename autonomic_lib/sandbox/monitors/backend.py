"""The monitors product's backend: monitor definitions, their evaluation records and transitions.

Monitors, the evaluator's per-monitor records and the transitions it found are documents whose kinds are this
module's alone; routes.py and the evaluation service (service.py, which judges them) go through the methods here.
"""

from __future__ import annotations

from typing import Any, Callable, Collection, Sequence

import pandas as pd

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.http.identity import ORG_ID, SANDBOX_USER
from autonomic_lib.sandbox.http.params import iso_time
from autonomic_lib.sandbox.metrics.backend import Metrics
from autonomic_lib.sandbox.monitors import model as mm
from autonomic_lib.sandbox.monitors import search as ms
from autonomic_lib.sandbox.monitors.anomaly import anomaly_band
from autonomic_lib.sandbox.monitors.evaluator import Transition, iso
from autonomic_lib.sandbox.monitors.unevaluated import is_evaluated, not_evaluated_reason
from autonomic_lib.sandbox.storage.documents import DocumentStore

_MONITOR, _EVALUATION, _TRANSITION = "monitor", "monitor_evaluation", "monitor_transition"
MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE = 1000, 100
_USER_FIELDS = ("type", "query", "name", "message", "tags", "priority", "options", "restricted_roles")
_FOREVER = 2 ** 40  # past any transition time, in epoch seconds


class Monitors:
    """Monitors as documents over `metrics` (whose kinds and data the expected band and the evaluator read).

    Usage::

        monitors = Monitors(documents, clock, metrics)
        created = monitors.create({"type": "query alert", "query": "avg(last_5m):avg:m{*} > 1", ...})
        monitors.search(tags=["env:demo"], page=0, page_size=50)
        monitors.history(created["id"], group="agent_id:a1")   # what the evaluator (service.py) recorded
    """

    def __init__(self, documents: DocumentStore, clock: Callable[[], float], metrics: Metrics):
        self._documents, self.clock, self.metrics = documents, clock, metrics
        # the downtimes silencing a monitor, as v1's matching_downtimes, and the groups they silence now (app.py
        # wires the downtimes product's)
        self.matching_downtimes: Callable[[dict[str, Any]], list[dict[str, Any]]] = lambda monitor: []
        self.silenced_groups: Callable[[dict[str, Any]], set[str]] = lambda monitor: set()

    # ------------------------------------------------------------------------------------------ definitions
    def create(self, body: Any) -> dict[str, Any]:
        """Validate a create body (model.py) and store the monitor under a new id, not yet evaluated.

        Raises:
            IntakeError: 400 with Datadog's wording for an invalid (or unevaluable) monitor.
        """
        fields = mm.normalise_monitor(body)
        now = self.clock()
        monitor_id = self._documents.next_id(_MONITOR)
        doc = {"id": monitor_id, "org_id": ORG_ID, **fields, "created": iso_time(now), "modified": iso_time(now),
               "created_at": int(now * 1000), "creator": dict(SANDBOX_USER), "deleted": None,
               "matching_downtimes": [], "overall_state": "No Data", "overall_state_modified": None,
               "state": {"groups": {}}}
        self._documents.put(_MONITOR, monitor_id, doc)
        return doc

    def get(self, monitor_id: int) -> dict[str, Any] | None:
        return self._documents.get(_MONITOR, monitor_id)

    def update(self, monitor_id: int, body: Any) -> dict[str, Any] | None:
        """A partial update: given fields replace the stored ones, evaluation state is kept; None if no monitor.

        Raises:
            IntakeError: 400 when the merged monitor is invalid.
        """
        doc = self.get(monitor_id)
        if doc is None:
            return None
        fields = mm.normalise_monitor(body, existing={k: doc[k] for k in _USER_FIELDS})
        doc = {**doc, **fields, "modified": iso_time(self.clock())}
        self._documents.put(_MONITOR, monitor_id, doc)
        return doc

    def delete(self, monitor_id: int) -> bool:
        """Remove a monitor; False when there was none."""
        return self._documents.delete(_MONITOR, monitor_id)

    def count(self) -> int:
        return self._documents.count(_MONITOR)

    def search(self, *, name: str = "", tags: Collection[str] = (), monitor_tags: Collection[str] = (),
               id_offset: int = 0, page: int | None = None, page_size: int | None = None) -> list[dict[str, Any]]:
        """Monitors by id, as Datadog's list filters them; every monitor when no filter is given.

        `name` is a case-insensitive substring; `tags` are scope tags the query must have (case-insensitive),
        `monitor_tags` the monitor's own tags (all of them); only ids above `id_offset`. Paging starts once
        `page` or `page_size` is given (page 0 first, 100 a page unless told).

        Raises:
            IntakeError: 400 when `page_size` is over 1000.
        """
        if page is not None and page_size is None:
            page_size = DEFAULT_PAGE_SIZE
        if page_size is not None and page_size > MAX_PAGE_SIZE:
            raise IntakeError(400, f"Parameter 'page_size' must be at most {MAX_PAGE_SIZE}")
        name, scope, own = name.lower(), {t.lower() for t in tags}, set(monitor_tags)
        docs = [d for d in sorted(self._documents.list(_MONITOR), key=lambda d: d["id"])
                if d["id"] > id_offset and name in d["name"].lower() and own <= set(d["tags"])
                and scope <= mm.scope_tags(d["query"])]
        if page_size is not None:
            docs = docs[(page or 0) * page_size:((page or 0) + 1) * page_size]
        return docs

    def find(self, *, query: str = "", groups: bool = False, page: int = 0, per_page: int | None = None,
             sort: str | None = None) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
        """Monitor search (search.py): the page of matching monitors (or monitor groups), its metadata, the facets.

        Raises:
            IntakeError: 400 for a query, sort or page size the search does not take.
        """
        terms = ms.parse_search(query, ms.GROUP_FIELDS if groups else ms.MONITOR_FIELDS)
        rows = []
        for monitor in self.search():
            silenced = self.silenced_groups(monitor)
            found = ms.group_rows(monitor, silenced) if groups else [ms.monitor_row(monitor, silenced)]
            rows += [row for row in found if ms.matches(terms, row)]
        return ms.page_of(rows, page=page, per_page=per_page, sort=sort)

    def expected_band(self, monitor: dict[str, Any], *, start: int, end: int) -> pd.DataFrame:
        """An anomaly monitor's expected band over [start, end] (time, value, lower, upper; NaN where unknown).

        Raises:
            IntakeError: 400 when the monitor is not an anomaly monitor.
        """
        if "anomalies(" not in monitor["query"]:
            raise IntakeError(400, f"Monitor {monitor['id']} is not an anomaly monitor; it has no expected band")
        return anomaly_band(self.metrics.store, monitor["query"], start, end, kinds=self.metrics.kind)

    # ------------------------------------------------------------------------------------------ evaluation
    def evaluation(self, monitor_id: int) -> dict[str, Any] | None:
        """The evaluator's record of a monitor (evaluated_until, origin, group states, error), None before any."""
        return self._documents.get(_EVALUATION, monitor_id)

    def save_evaluation(self, monitor_id: int, record: dict[str, Any]) -> None:
        self._documents.put(_EVALUATION, monitor_id, record)

    def save_state(self, monitor: dict[str, Any], *, overall_state: str, groups: dict[str, dict[str, Any]],
                   changed_at: int) -> None:
        """Write what the API shows of an evaluation: `overall_state` (modified at `changed_at` when it changes)
        and `state.groups`; the rest of `monitor` is written as given."""
        doc = dict(monitor)
        if overall_state != doc.get("overall_state"):
            doc["overall_state_modified"] = iso(changed_at)
        doc["overall_state"] = overall_state
        doc["state"] = {**(doc.get("state") or {}), "groups": groups}
        self._documents.put(_MONITOR, doc["id"], doc)

    def add_transitions(self, transitions: Sequence[Transition], *, event_ids: Sequence[int | None]) -> None:
        """Record transitions (at most one per monitor, group and minute), each with the id of its event.

        Each is stored with its notification still owed (`notified: False`), in the same write: a crash between
        storing and notifying leaves the notification pending, never lost (`pending_transitions`).
        """
        self._documents.put_many(_TRANSITION, [
            (_transition_id(t.monitor_id, t.at, t.group), t.at,
             {**_transition_json(t), "event_id": event_id, "notified": False})
            for t, event_id in zip(transitions, event_ids, strict=True)])

    def pending_transitions(self) -> list[dict[str, Any]]:
        """Transitions whose notification is still owed, in time order (transitions stored before notifications
        were tracked count as notified)."""
        return [r for r in self._documents.list(_TRANSITION, since=0, until=_FOREVER) if r.get("notified") is False]

    def mark_notified(self, row: dict[str, Any], *, error: str | None = None, muted: str | None = None) -> None:
        """The notification of a stored transition was delivered (or given up on, or muted, with the reason)."""
        key = _transition_id(row["monitor_id"], row["at"], row["group"])
        stored = self._documents.get(_TRANSITION, key)
        if stored is not None:
            self._documents.put(_TRANSITION, key, {**stored, "notified": True,
                                                   **({"notify_error": error} if error else {}),
                                                   **({"silenced": muted} if muted else {})}, ts=row["at"])

    def remove_transition(self, monitor_id: int, *, at: int, group: str) -> bool:
        """Forget a transition (a replay no longer makes it); False when there was none."""
        return self._documents.delete(_TRANSITION, _transition_id(monitor_id, at, group))

    def history(self, monitor_id: int, *, group: str | None = None, since: int | None = None,
                until: int | None = None) -> list[dict[str, Any]]:
        """The monitor's transitions in time order (optionally one group, at in [since, until))."""
        rows = self._documents.list(_TRANSITION, since=since if since is not None else 0,
                                    until=until if until is not None else _FOREVER)
        return [r for r in rows if r["monitor_id"] == monitor_id and (group is None or r["group"] == group)]

    def evaluation_status(self) -> list[dict[str, Any]]:
        """Per monitor: evaluated up to, overall state, groups (status, value, reason), and any error."""
        out = []
        for monitor in self.search():
            record = self.evaluation(monitor["id"]) or {}
            groups = {k: {x: v.get(x) for x in ("status", "value", "reason", "first_seen", "last_data")}
                      for k, v in (record.get("groups") or {}).items()}
            out.append({"monitor_id": monitor["id"], "name": monitor.get("name"),
                        "evaluated_until": record.get("evaluated_until"),
                        "overall_state": monitor.get("overall_state"), "groups": groups, "error": record.get("error"),
                        **({} if is_evaluated(monitor) else
                           {"not_evaluated": not_evaluated_reason(monitor)})})
        return out

    def clear_evaluations(self) -> int:
        """Forget every evaluation and transition (a new run); monitors stay, back to "No Data" and no groups."""
        self._documents.delete_kind(_EVALUATION)
        transitions = self._documents.delete_kind(_TRANSITION)
        for monitor in self.search():
            self._documents.put(_MONITOR, monitor["id"], {**monitor, "overall_state": "No Data",
                                                          "overall_state_modified": None, "state": {"groups": {}}})
        return transitions



def _transition_id(monitor_id: int, at: int, group: str) -> str:
    return f"{monitor_id}:{at}:{group}"


def transition_of(row: dict[str, Any]) -> Transition:
    """The Transition a stored row records (the inverse of `_transition_json`)."""
    return Transition(row["monitor_id"], row["group"], tuple(row["group_tags"]), row["previous"], row["current"],
                      row["at"], row["value"], row["threshold"], row["window_start"], row["window_end"])


def _transition_json(t: Transition) -> dict[str, Any]:
    return {"monitor_id": t.monitor_id, "group": t.group, "group_tags": list(t.group_tags), "previous": t.previous,
            "current": t.current, "at": t.at, "value": t.value, "threshold": t.threshold,
            "window_start": t.window_start, "window_end": t.window_end}
