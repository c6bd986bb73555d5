"""The downtimes product's backend: v2 downtimes as documents, and what they do to a monitor's notifications.

Datadog (https://docs.datadoghq.com/monitors/downtimes/): "Downtimes silence all monitors' alerts and
notifications, but do not prevent monitor states transitions"; and
(https://docs.datadoghq.com/monitors/guide/prevent-alerts-from-monitors-that-were-in-downtime/) a group that
went from OK to Alert, Warn or No Data during a downtime is not notified, and when the downtime ends the
notifications it held back may follow. The sandbox does this (`silence`): a transition inside a downtime window is
recorded (history, events, group states) but not notified; when the window ends by one of `notify_end_types`
(expired: its end; canceled: the cancellation) and the group is still in that state, in one of
`notify_end_states`, the held transition is notified at the window's end. A later transition of the group (its
recovery during the downtime) supersedes it, and that recovery is muted too. `mute_first_recovery_notification`
is stored and shown, not applied (Datadog does not document it further).
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any, Callable

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.downtimes import model as dm
from autonomic_lib.sandbox.http.identity import SANDBOX_USER, SANDBOX_USER_UUID
from autonomic_lib.sandbox.monitors.backend import Monitors
from autonomic_lib.sandbox.monitors.evaluator import Transition
from autonomic_lib.sandbox.monitors.model import scope_tags
from autonomic_lib.sandbox.monitors.silence import Silence

_DOWNTIME = "downtime"
MAX_PAGE_LIMIT, DEFAULT_PAGE_LIMIT = 1000, 30  # DATADOG: the client's pagination default page[limit] is 30


class Downtimes:
    """Downtimes over the monitors they silence.

    Usage::

        downtimes = Downtimes(documents, clock, monitors)
        doc = downtimes.create({"data": {"type": "downtime", "attributes": {"scope": "*", ...}}})
        downtimes.silence(monitor, transition, now)   # the evaluator's question before notifying
    """

    def __init__(self, documents: Any, clock: Callable[[], float], monitors: Monitors):
        self._documents, self.clock, self.monitors = documents, clock, monitors

    # ------------------------------------------------------------------------------------------ CRUD
    def create(self, body: Any) -> dict[str, Any]:
        now = self.clock()
        fields = dm.normalise_create(body, now)
        doc = {"id": str(uuid.uuid4()), "legacy_id": self._documents.next_id(_DOWNTIME), **fields,
               "created": now, "modified": now, "canceled_at": None}
        self._documents.put(_DOWNTIME, doc["id"], doc)
        return doc

    def get(self, downtime_id: str) -> dict[str, Any] | None:
        return self._documents.get(_DOWNTIME, downtime_id)

    def update(self, downtime_id: str, body: Any) -> dict[str, Any] | None:
        doc = self.get(downtime_id)
        if doc is None:
            return None
        now = self.clock()
        attributes = {k: v for k, v in doc.items() if k not in ("id", "legacy_id", "created", "modified",
                                                                 "canceled_at")}
        fields = dm.normalise_update(body, attributes, now, downtime_id)
        doc = {**doc, **fields, "modified": now}
        self._documents.put(_DOWNTIME, downtime_id, doc)
        return doc

    def cancel(self, downtime_id: str) -> bool:
        """Cancel (kept, status canceled, as Datadog keeps it a while); False when there is none. Idempotent."""
        doc = self.get(downtime_id)
        if doc is None:
            return False
        if doc.get("canceled_at") is None:
            now = self.clock()
            self._documents.put(_DOWNTIME, downtime_id, {**doc, "canceled_at": now, "modified": now})
        return True

    def clear(self) -> int:
        """Forget every downtime (a new run: the last run's phase mutes would cover the new run's timeline, which
        ends now too); how many there were."""
        return self._documents.delete_kind(_DOWNTIME)

    def search(self, *, current_only: bool = False, offset: int = 0, limit: int | None = None
               ) -> tuple[list[dict[str, Any]], int]:
        """Downtimes in creation order (active ones only with current_only), one page; and the filtered total."""
        if limit is not None and not 1 <= limit <= MAX_PAGE_LIMIT:
            raise IntakeError(400, f"The parameter 'page[limit]' must be from 1 to {MAX_PAGE_LIMIT}")
        now = self.clock()
        docs = sorted(self._documents.list(_DOWNTIME), key=lambda d: d["legacy_id"])
        if current_only:
            docs = [d for d in docs if dm.status(d, now) == "active"]
        page = docs[offset:offset + (limit or DEFAULT_PAGE_LIMIT)] if limit is not None or offset else docs
        return page, len(docs)

    def status(self, doc: dict[str, Any]) -> str:
        return dm.status(doc, self.clock())

    # ------------------------------------------------------------------------------------------ monitors
    def matching(self, monitor: dict[str, Any]) -> list[tuple[dict[str, Any], list[str]]]:
        """Downtimes not yet over that apply to the monitor, each with the monitor groups it silences now
        (`*` for a simple alert)."""
        now = self.clock()
        out = []
        for doc in sorted(self._documents.list(_DOWNTIME), key=lambda d: d["legacy_id"]):
            if dm.status(doc, now) in ("ended", "canceled") or not dm.identifies(doc, monitor):
                continue
            scope = dm.parse_scope(doc["scope"])
            query_tags = sorted(scope_tags(monitor.get("query") or ""))
            groups = [name for name in ((monitor.get("state") or {}).get("groups") or {"*": {}})
                      if dm.scope_matches(scope, [*query_tags, *_group_tags(name)])]
            if groups or dm.scope_matches(scope, query_tags):
                out.append((doc, groups))
        return out

    def silenced_groups(self, monitor: dict[str, Any]) -> set[str]:
        """The monitor's groups (`*` for a simple alert) a downtime silences right now."""
        now = self.clock()
        return {group for doc, groups in self.matching(monitor) if dm.window_at(doc, now) is not None
                for group in groups}

    def matching_v1(self, monitor: dict[str, Any]) -> list[dict[str, Any]]:
        """v1's `matching_downtimes` of a monitor (GET /api/v1/monitor/{id}?with_downtimes=true): integer ids (the
        downtime's legacy id: v1 numbers downtimes), POSIX start and end, the scope as a list."""
        now, out = self.clock(), []
        for doc, _groups in self.matching(monitor):
            window = dm.current_window(doc, now)
            if window is not None:  # none: a recurrence over a year away
                out.append({"id": doc["legacy_id"], "start": int(window.start),
                            "end": int(window.end) if window.end is not None else None, "scope": [doc["scope"]]})
        return out

    def silence(self, monitor: dict[str, Any], transition: Transition, now: float) -> Silence | None:
        """What the downtimes do to the notification a transition owes (None: notify it as it is)."""
        tags = [*sorted(scope_tags(monitor.get("query") or "")), *transition.group_tags]
        for doc in sorted(self._documents.list(_DOWNTIME), key=lambda d: d["legacy_id"]):
            if not dm.identifies(doc, monitor) or not dm.scope_matches(dm.parse_scope(doc["scope"]), tags):
                continue
            window = dm.window_at(doc, transition.at)
            if window is not None:
                return self._held(doc, window, monitor, transition, now)
        return None

    def _held(self, doc: dict[str, Any], window: dm.Window, monitor: dict[str, Any], transition: Transition,
              now: float) -> Silence:
        muted = Silence(reason=f"muted by downtime {doc['id']}")
        state = dm.end_state(transition.current)
        ended_by = "canceled" if doc.get("canceled_at") is not None and window.end == doc["canceled_at"] \
            else "expired"
        if state is None or state not in doc["notify_end_states"] or ended_by not in doc["notify_end_types"]:
            return muted
        later = [r for r in self.monitors.history(transition.monitor_id, group=transition.group,
                                                  since=transition.at + 1) if r["at"] > transition.at]
        if later and (window.end is None or later[0]["at"] < window.end):
            return muted  # the group moved on during the downtime: this state no longer holds at its end
        if window.end is None or window.end > now:
            return Silence(wait=True)  # the downtime still runs; decide when it ends
        return Silence(deliver=dataclasses.replace(transition, at=int(window.end)),
                       reason=f"held by downtime {doc['id']}, notified at its end")


def _group_tags(name: str) -> list[str]:
    return [] if name == "*" else name.split(",")


def creator() -> dict[str, Any]:
    """The sandbox's one user as a v2 `users` resource (the downtime's created_by)."""
    return {"type": "users", "id": SANDBOX_USER_UUID,
            "attributes": {"name": SANDBOX_USER["name"], "handle": SANDBOX_USER["handle"],
                           "email": SANDBOX_USER["email"], "status": "Active", "disabled": False,
                           "verified": True, "service_account": False}}
