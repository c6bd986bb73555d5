"""The automation product's backend: workflows and their instances, monitor notifications, and Case Management.

Every resource is a document of the sandbox's DocumentStore; the document kinds are named here (and in cases.py
for Case Management) and nowhere else. Handlers (routes.py, case_routes.py) parse requests and render answers;
the rules (validation, filtering, sorting, paging) live here, so they can be tested without HTTP. Refusals are
IntakeErrors carrying Datadog's status and message, rendered by each route's error style.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.automation import runner
from autonomic_lib.sandbox.automation import workflows as wm
from autonomic_lib.sandbox.automation.cases import Cases, iso
from autonomic_lib.sandbox.http.identity import SANDBOX_USER, SANDBOX_USER_UUID
from autonomic_lib.sandbox.http.params import iso_time
from autonomic_lib.sandbox.http.routing import Address
from autonomic_lib.sandbox.storage.documents import DocumentStore

# document kinds (and id counters) of workflow automation; Case Management's are in cases.py
WORKFLOW, INSTANCE, NOTIFICATION = "workflow", "workflow_instance", "notification"


@dataclass(frozen=True)
class WorkflowPage:
    """One page of list_workflows, with the counts Datadog's `meta.page` reports."""

    items: list[dict[str, Any]]
    total: int  # every stored workflow
    filtered: int  # those the filters kept, on every page


@dataclass(frozen=True)
class InstancePage:
    """One page of a workflow's instances, newest first, with the workflow's counts per outcome."""

    items: list[dict[str, Any]]
    total: int
    outcomes: Mapping[str, int] = field(default_factory=dict)  # detailsKind (SUCCEEDED, FAILED...) -> instances


class Automation:
    """Workflows, instances, notifications and cases (`cases`); links point at the sandbox's `address`.

    Usage::

        automation = Automation(DocumentStore(open_database(None)), time.time, Address())
        workflow = automation.create_workflow(attributes={"name": "Fix", "spec": {...}})
        instance = automation.start_instance(workflow["id"], payload={"agent_id": "a1"})
        automation.list_instances(workflow["id"], page_size=10).items
    """

    def __init__(self, documents: DocumentStore, clock: Callable[[], float], address: Address):
        self._documents, self.clock, self.address = documents, clock, address
        self._running: dict[str, threading.Event] = {}  # instance id -> its cancel flag, while its steps run
        self._running_lock = threading.Lock()
        self.cases = Cases(documents)

    # -------------------------------------------------------------------------------------------- workflows
    def create_workflow(self, *, attributes: Mapping[str, Any]) -> dict[str, Any]:
        """Store a new workflow owned by the sandbox user; `attributes` is the request's `data.attributes`.

        Raises:
            IntakeError: 400 listing every problem of the attributes (see workflows.check_attributes).
        """
        attrs = {"description": "", "published": False, **attributes, "tags": attributes.get("tags") or []}
        if problems := wm.check_attributes(attrs, other_handles=self._handles()):
            raise IntakeError(400, *problems)
        now = iso_time(self.clock(), zulu=True)
        user = {"data": {"id": SANDBOX_USER_UUID, "type": "users"}}
        doc: dict[str, Any]
        doc = {"id": str(uuid.uuid4()), "type": "workflows",
               "attributes": {**{k: attrs[k] for k in wm.ATTRIBUTES if k in attrs}, "tags": sorted(attrs["tags"]),
                              "createdAt": now, "updatedAt": now},
               "relationships": {"creator": user, "owner": user}}
        self._documents.put(WORKFLOW, doc["id"], doc)
        return doc

    def get_workflow(self, workflow_id: str) -> dict[str, Any]:
        """The stored workflow; a 404 IntakeError when there is none."""
        doc = self._documents.get(WORKFLOW, workflow_id)
        if doc is None:
            raise IntakeError(404, "workflow not found")  # recorded wording
        return doc

    def update_workflow(self, workflow_id: str, *, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Merge `changes` (attributes among workflows.ATTRIBUTES) into the workflow, checked as a whole."""
        doc = self.get_workflow(workflow_id)
        attrs = {**doc["attributes"], **changes}
        if problems := wm.check_attributes(attrs, other_handles=self._handles(except_id=doc["id"])):
            raise IntakeError(400, *problems)
        attrs["tags"] = sorted(attrs.get("tags") or [])
        doc = {**doc, "attributes": {**attrs, "updatedAt": iso_time(self.clock(), zulu=True)}}
        self._documents.put(WORKFLOW, doc["id"], doc)
        return doc

    def delete_workflow(self, workflow_id: str) -> None:
        """Remove the workflow (its instances stay, as their ids were handed out); 404 when unknown."""
        self.get_workflow(workflow_id)
        self._documents.delete(WORKFLOW, workflow_id)

    def list_workflows(self, *, include_unpublished: bool = False, query: str = "",
                       trigger_kinds: Sequence[str] = (), sort: Sequence[str] = (), limit: int = 50,
                       page: int = 0) -> WorkflowPage:
        """Workflows as the client's list_workflows documents it, in write order unless sorted.

        Args:
            include_unpublished: keep drafts too (published workflows only by default).
            query: `key:value` matches a tag; other text a name, a handle or the owner's name (any case).
            trigger_kinds: keep workflows with one of these triggers (`monitor` for `monitorTrigger`...).
            sort: fields of workflows.SORT_KEYS, `-` for descending; the first is the primary order.
            limit, page: the page size and the page (from 0).

        Raises:
            IntakeError: 400 for an unknown sort field.
        """
        docs = self._documents.list(WORKFLOW)
        total = len(docs)
        if not include_unpublished:
            docs = [d for d in docs if d["attributes"].get("published")]
        query = query.strip().lower()
        if ":" in query:
            docs = [d for d in docs if query in {t.lower() for t in d["attributes"].get("tags") or []}]
        elif query:
            owner = str(SANDBOX_USER["name"]).lower()
            docs = [d for d in docs if query in d["attributes"]["name"].lower()
                    or query in (wm.handle_of(d) or "").lower() or query in owner]
        if trigger_kinds:
            docs = [d for d in docs if any(f"{k}Trigger" in t for t in d["attributes"]["spec"].get("triggers", [])
                                           for k in trigger_kinds)]
        for field_name in reversed(sort):  # stable sorts, last field first: the first field wins
            docs.sort(key=wm.sort_key(field_name), reverse=field_name.startswith("-"))
        return WorkflowPage(docs[page * limit:(page + 1) * limit], total, len(docs))

    def workflow_by_handle(self, handle: str) -> dict[str, Any] | None:
        """The stored workflow whose spec handle is `handle` (what `@workflow-<handle>` mentions), or None."""
        return next((w for w in self._documents.list(WORKFLOW) if wm.handle_of(w) == handle), None)

    def _handles(self, *, except_id: str | None = None) -> dict[str, str]:
        """Handle -> workflow id for every stored workflow (but `except_id`), to keep handles unique."""
        return {h: w["id"] for w in self._documents.list(WORKFLOW)
                if (h := wm.handle_of(w)) and w["id"] != except_id}

    # -------------------------------------------------------------------------------------------- instances
    def start_instance(self, workflow_id: str, *, payload: Mapping[str, Any], kind: runner.TriggerKind = "api",
                       source: dict[str, Any] | None = None, at: float | None = None) -> dict[str, Any]:
        """Run an instance of the workflow to its end (runs are synchronous) and store it.

        Args:
            payload: the trigger's input parameter values (over the input schema's defaults).
            kind: the trigger that started it; an "api" run is the sandbox user's unless `source` says otherwise.
            source: the run's `Source` object (a monitor's, built by notifications.py).
            at: the trigger time (epoch s); the sandbox clock by default.

        Returns:
            The stored instance document (with the internal `workflow_id`, `trigger_kind`, `triggered_at`).
        """
        workflow = self.get_workflow(workflow_id)
        if source is None:
            source = {"type": "api", "name": workflow["attributes"]["name"], "initiator": {
                "email": SANDBOX_USER["email"], "name": SANDBOX_USER["name"], "id": SANDBOX_USER_UUID}}
        at = self.clock() if at is None else at
        instance_id, cancel = runner.new_instance_id(), threading.Event()
        with self._running_lock:
            self._running[instance_id] = cancel
        try:  # stored as running first, so it can be read and canceled while its steps run
            self._documents.put(INSTANCE, instance_id, runner.pending(
                workflow, instance_id, payload=payload, source=source, kind=kind, at=at), ts=int(at * 1000))
            doc = runner.execute(self.cases, workflow, payload=payload, source=source, kind=kind, at=at,
                                 instance_id=instance_id, canceled=cancel.is_set)
            self._documents.put(INSTANCE, doc["id"], doc, ts=int(at * 1000))
        finally:
            with self._running_lock:
                del self._running[instance_id]
        return doc

    def get_instance(self, workflow_id: str, instance_id: str) -> dict[str, Any]:
        """An instance of the workflow; 404 for an unknown workflow, or an instance of another one."""
        workflow = self.get_workflow(workflow_id)
        doc = self._documents.get(INSTANCE, instance_id)
        if doc is None or doc["workflow_id"] != workflow["id"]:
            raise IntakeError(404, "instance not found")
        return doc

    def cancel_instance(self, workflow_id: str, instance_id: str) -> None:
        """Cancel a running instance: it stops before its next step (runner.execute), CANCELED.

        A run is synchronous (its sleeps are virtual), so an instance is running only while its steps execute,
        from a monitor's notification or an API call still waiting for its answer; an instance found running
        that no run holds any more (the sandbox stopped during it) is marked CANCELED at once.

        Raises:
            IntakeError: 404 for an unknown instance; 400 for one that already finished.
        """
        doc = self.get_instance(workflow_id, instance_id)
        status = doc["attributes"]["instanceStatus"]
        if status["detailsKind"] != "IN_PROGRESS":
            raise IntakeError(400, f"instance {doc['id']} already finished ({status['displayName']}); it cannot be "
                                   "canceled")
        with self._running_lock:
            cancel = self._running.get(doc["id"])
            if cancel is not None:
                cancel.set()
                return
        doc["attributes"]["instanceStatus"] = {"detailsKind": "CANCELED", "displayName": runner.STATUS["CANCELED"]}
        doc["attributes"]["endTimestamp"] = iso(self.clock())
        self._documents.put(INSTANCE, doc["id"], doc, ts=int(doc["triggered_at"] * 1000))

    def list_instances(self, workflow_id: str, *, page_size: int = 10, page_number: int = 0) -> InstancePage:
        """The workflow's instances, newest trigger time first; `page_number` counts from 0."""
        workflow = self.get_workflow(workflow_id)
        docs = self._instances(workflow["id"], newest_first=True)
        docs.sort(key=lambda d: d["triggered_at"], reverse=True)
        outcomes = Counter(d["attributes"]["instanceStatus"]["detailsKind"] for d in docs)
        return InstancePage(docs[page_number * page_size:(page_number + 1) * page_size], len(docs), outcomes)

    def rate_limited(self, workflow_id: str, *, at: float) -> str | None:
        """Why a monitor may not start the workflow at `at` (its monitor trigger's rateLimit), or None.

        The window trails the trigger time (data time), so a backfilled timeline replays as if live.
        """
        limit = runner.rate_limit(self.get_workflow(workflow_id))
        if limit is None:
            return None
        count, window = limit
        recent = [i for i in self._instances(workflow_id)
                  if i["trigger_kind"] == "monitor" and at - window < i["triggered_at"] <= at]
        if len(recent) >= count:
            return (f"rate limit reached: the monitor trigger allows {count} run(s) per {window}s and "
                    f"{len(recent)} already ran since {iso(at - window)}")
        return None

    def _instances(self, workflow_id: str, *, newest_first: bool = False) -> list[dict[str, Any]]:
        return [d for d in self._documents.list(INSTANCE, newest_first=newest_first)
                if d["workflow_id"] == workflow_id]

    # -------------------------------------------------------------------------------------------- notifications
    def record_notification(self, notification: Mapping[str, Any], *, at: float) -> dict[str, Any]:
        """Store a sent notification under a new id (its first field); returns the stored document."""
        doc = {"id": self._documents.next_id(NOTIFICATION), **notification}
        self._documents.put(NOTIFICATION, doc["id"], doc, ts=int(at * 1000))
        return doc

    def list_notifications(self, *, monitor_id: str | int | None = None) -> list[dict[str, Any]]:
        """Notifications sent on monitor transitions, oldest first; only one monitor's when `monitor_id` is set."""
        docs = self._documents.list(NOTIFICATION)
        if monitor_id is not None and monitor_id != "":
            docs = [d for d in docs if str(d["monitor_id"]) == str(monitor_id)]
        return docs

    def clear_runs(self) -> dict[str, int]:
        """Forget what a run caused (workflow instances, notifications, cases); workflows and projects stay."""
        return {"workflow_instances": self._documents.delete_kind(INSTANCE),
                "notifications": self._documents.delete_kind(NOTIFICATION), "cases": self.cases.clear_cases()}

