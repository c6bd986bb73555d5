"""The dashboards product's backend: dashboards (and the deleted ones, restorable) and graph snapshots.

Every resource is a document of the sandbox's DocumentStore; the document kinds are named here and nowhere else.
Handlers (routes.py) parse requests and render answers; validation (model.py, snapshots.py), ids, listing and
paging live here, so they can be tested without HTTP. Refusals are IntakeErrors in Datadog's v1 wording.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.dashboards import lists, model, snapshots
from autonomic_lib.sandbox.http.identity import SANDBOX_USER
from autonomic_lib.sandbox.http.params import iso_time, shorten
from autonomic_lib.sandbox.http.routing import Address
from autonomic_lib.sandbox.metrics.backend import Metrics
from autonomic_lib.sandbox.storage.documents import DocumentStore

# document kinds (and id counters) of the dashboards product
DASHBOARD, DELETED, WIDGET, SNAPSHOT = "dashboard", "dashboard_deleted", "widget", "snapshot"
LIST = "dashboard_list"
_READ_ONLY = ("id", "url", "author_handle", "author_name", "created_at", "modified_at")  # ignored in a body
_ID_SPACE, _ID_STEP, _ID_SALT = 36 ** 9, 1_000_003_111, 2_812_915_309  # a step coprime with 36: ids never repeat


def format_dashboard_id(n: int) -> str:
    """Datadog-style `abc-def-ghi` from a never-reused counter (a bijection of it, so ids never collide)."""
    value, chars = (n * _ID_STEP + _ID_SALT) % _ID_SPACE, []
    for _ in range(9):
        value, digit = divmod(value, 36)
        chars.append("0123456789abcdefghijklmnopqrstuvwxyz"[digit])
    text = "".join(chars)
    return f"{text[:3]}-{text[3:6]}-{text[6:]}"


def _slug(title: str) -> str:
    """The url slug as recorded: lower case, spaces to '-', other punctuation dropped."""
    return re.sub(r"[^a-z0-9-]", "", title.lower().replace(" ", "-"))


class Dashboards:
    """Dashboards as documents; snapshots draw from `metrics` and link to the sandbox's own `address`.

    Usage::

        dashboards = Dashboards(DocumentStore(open_database(None)), time.time, metrics, Address())
        created = dashboards.create_dashboard(body={"title": "Ops", "layout_type": "ordered", "widgets": []})
        dashboards.delete_dashboard(created["id"])
        dashboards.list_dashboards(deleted=True)   # restorable, as on Datadog
    """

    def __init__(self, documents: DocumentStore, clock: Callable[[], float], metrics: Metrics, address: Address):
        self._documents, self.clock, self.metrics, self.address = documents, clock, metrics, address

    # -------------------------------------------------------------------------------------------- dashboards
    def create_dashboard(self, *, body: Any) -> dict[str, Any]:
        """Store a new dashboard from a v1 Dashboard body; every widget gets a new integer id.

        Raises:
            IntakeError: 400 with Datadog's message for an invalid body (nothing is stored).
        """
        new_id = format_dashboard_id(self._documents.next_id(DASHBOARD))  # drawn first: a refused body uses one up too
        return self._store(new_id, body, old=None)

    def get_dashboard(self, dashboard_id: str) -> dict[str, Any]:
        """The dashboard; a 404 IntakeError when there is none (or it was deleted)."""
        doc = self._documents.get(DASHBOARD, dashboard_id)
        if doc is None:
            raise IntakeError(404, f"Dashboard {dashboard_id} not found")
        return doc

    def update_dashboard(self, dashboard_id: str, *, body: Any) -> dict[str, Any]:
        """Replace the dashboard, keeping its creation time and the ids of the widgets it already had."""
        old = self.get_dashboard(dashboard_id)
        return self._store(dashboard_id, body, old=old)

    def delete_dashboard(self, dashboard_id: str) -> None:
        """Datadog keeps deleted dashboards restorable; the sandbox keeps them listable (`deleted=True`)."""
        doc = self.get_dashboard(dashboard_id)
        self._documents.put(DELETED, dashboard_id, {**doc, "deleted_at": iso_time(self.clock())})
        self._documents.delete(DASHBOARD, dashboard_id)

    def list_dashboards(self, *, deleted: bool = False, shared: bool = False, start: int = 0,
                        count: int | None = None) -> list[dict[str, Any]]:
        """Dashboards in creation order, `count` of them from `start` (all by default).

        Args:
            deleted: list the deleted dashboards instead.
            shared: only shared dashboards; nothing is shared in the sandbox, so this lists nothing.
        """
        docs = [] if shared else self._documents.list(DELETED if deleted else DASHBOARD)
        return docs[start:start + count if count is not None else None]

    def _store(self, dashboard_id: str, body: Any, *, old: dict[str, Any] | None) -> dict[str, Any]:
        keep = frozenset(model.widget_ids(old["widgets"])) if old else frozenset()
        checked = model.check_dashboard(body, lambda: self._documents.next_id(WIDGET), keep)
        now = iso_time(self.clock())
        for read_only in _READ_ONLY:
            checked.pop(read_only, None)
        doc = {"id": dashboard_id, **checked, "description": checked.get("description"),
               "url": f"/dashboard/{dashboard_id}/{_slug(checked['title'])}",
               "is_read_only": bool(checked.get("is_read_only")),
               "author_handle": SANDBOX_USER["handle"], "author_name": SANDBOX_USER["name"],
               "created_at": old["created_at"] if old else now, "modified_at": now}
        doc.setdefault("template_variables", [])
        doc.setdefault("notify_list", [])
        doc.setdefault("restricted_roles", [])
        self._documents.put(DASHBOARD, dashboard_id, doc)
        return doc

    # -------------------------------------------------------------------------------------------- lists
    def create_list(self, *, body: Any) -> dict[str, Any]:
        """POST /api/v1/dashboard/lists/manual: a new, empty manual list (lists.py)."""
        name, now, list_id = lists.checked_name(body), iso_time(self.clock()), self._documents.next_id(LIST)
        doc = {"id": list_id, "name": name, "created": now, "modified": now, "items": []}
        self._documents.put(LIST, list_id, doc)
        return self._list_json(doc)

    def get_list(self, list_id: str) -> dict[str, Any]:
        return self._list_json(self._list(list_id))

    def all_lists(self) -> list[dict[str, Any]]:
        return [self._list_json(doc) for doc in self._documents.list(LIST)]

    def rename_list(self, list_id: str, *, body: Any) -> dict[str, Any]:
        """PUT /api/v1/dashboard/lists/manual/{id}: a new name, the items kept."""
        doc = self._list(list_id)
        doc = {**doc, "name": lists.checked_name(body), "modified": iso_time(self.clock())}
        self._documents.put(LIST, doc["id"], doc)
        return self._list_json(doc)

    def delete_list(self, list_id: str) -> int:
        doc = self._list(list_id)
        self._documents.delete(LIST, doc["id"])
        return int(doc["id"])

    def list_items(self, list_id: str) -> list[dict[str, Any]]:
        """The dashboards of a list that still exist, as DashboardListItems shows them."""
        return [lists.item_json(d, SANDBOX_USER) for d in self._dashboards_of(self._list(list_id))]

    def change_items(self, list_id: str, *, body: Any, how: str) -> list[dict[str, str]]:
        """Add, remove or replace (`how`: "add" | "delete" | "update") a list's dashboards; the items affected
        ("update": the list's items after it).

        Raises:
            IntakeError: 404 for an unknown list or dashboard, 400 for an item whose type is not the dashboard's
                (nothing is changed).
        """
        doc = self._list(list_id)
        items = lists.checked_items(body)
        for i, item in enumerate(items):
            dashboard = self._documents.get(DASHBOARD, item["id"])
            if dashboard is None:
                raise IntakeError(404, f"Dashboard {shorten(item['id'], 60)} not found (dashboards[{i}])")
            if how != "delete" and lists.dashboard_type(dashboard) != item["type"]:
                raise IntakeError(400, f"dashboards[{i}].type {item['type']!r} is not the type of dashboard "
                                       f"{item['id']} ({lists.dashboard_type(dashboard)})")
        current = {i["id"]: i for i in doc["items"]}
        wanted = {i["id"]: i for i in items}
        if how == "add":
            after = {**current, **wanted}
        elif how == "delete":
            after = {k: v for k, v in current.items() if k not in wanted}
        else:
            after = wanted
        self._documents.put(LIST, doc["id"], {**doc, "items": list(after.values()), "modified": iso_time(self.clock())})
        if how == "delete":
            return [current[k] for k in wanted if k in current]
        return items if how == "add" else list(after.values())

    def _list(self, list_id: str) -> dict[str, Any]:
        doc = self._documents.get(LIST, list_id) if list_id.isascii() and list_id.isdigit() else None
        if doc is None:
            raise IntakeError(404, f"Dashboard list {shorten(list_id, 60)} not found")
        return doc

    def _dashboards_of(self, doc: dict[str, Any]) -> list[dict[str, Any]]:
        found = (self._documents.get(DASHBOARD, item["id"]) for item in doc["items"])
        return [d for d in found if d is not None]

    def _list_json(self, doc: dict[str, Any]) -> dict[str, Any]:
        return lists.list_json(doc, len(self._dashboards_of(doc)), SANDBOX_USER)

    # -------------------------------------------------------------------------------------------- snapshots
    def create_snapshot(self, *, start: str | None, end: str | None, metric_query: str | None = None,
                        graph_def: str | None = None, title: str | None = None, width: str | None = None,
                        height: str | None = None) -> dict[str, Any]:
        """Check a snapshot request (the query parameters as given) and store it under an unguessable token.

        Returns:
            The stored snapshot: its token, queries, range, size, title and the request's query or graph_def.

        Raises:
            IntakeError: 400 naming the parameter at fault (see snapshots.check_request).
        """
        request = snapshots.check_request(start=start, end=end, metric_query=metric_query, graph_def=graph_def,
                                          title=title, width=width, height=height)
        doc = {"token": secrets.token_urlsafe(18), **request}
        self._documents.put(SNAPSHOT, doc["token"], doc, ts=int(self.clock() * 1000))
        return doc

    def snapshot_png(self, token: str) -> bytes | None:
        """The snapshot's PNG, drawn now from the stored points; None for an unknown token."""
        doc = self._documents.get(SNAPSHOT, token)
        return None if doc is None else snapshots.draw(doc, self.metrics)

    def clear_snapshots(self) -> int:
        """Forget every graph snapshot (a new run draws its own); dashboards stay."""
        return self._documents.delete_kind(SNAPSHOT)

