"""Case Management backend of the sandbox: projects, cases, their actions and search, stored as documents.

Shapes follow the client's models (CaseAttributes, CasesResponseMeta, ProjectAttributes, TimelineCell) and the
recorded cassettes (create_a_case, search_cases_..._with_pagination, comment_case), so every answer deserializes
with the client's type checking on. The HTTP layer (case_routes.py), the workflow runner's `casem` actions and
`@case-` mentions in monitor notifications all reach one `Cases` (as `automation.cases`), so a case opened by a
workflow is the same object the API shows.

Sandbox choices where Datadog is unconfirmed: the search `filter` understands `status:`, `priority:`,
`project:`, `key:`, any other `key:value` as a case attribute (`agent_id:a1`), and free text (quoted or not)
matched in title, description and key; archived cases are left out unless `archived:true`; project keys are
1-10 upper-case letters or digits; each project numbers its cases (`AUTO-1`), `public_id` is org-wide.
"""

from __future__ import annotations

import re
import shlex
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.http.identity import SANDBOX_USER, SANDBOX_USER_UUID
from autonomic_lib.sandbox.storage.documents import DocumentStore

# document kinds (and id counters) of Case Management; no other module names them
CASE, PROJECT, COMMENT = "case", "case_project", "case_comment"
_CASE_NUMBERS = "case_key:{project_id}"  # each project numbers its own cases (AUTO-1, AUTO-2, ...)

STANDARD_TYPE_ID = "00000000-0000-0000-0000-000000000001"  # recorded: type_id ...0001 -> "type": "STANDARD"
PRIORITIES = ("P1", "P2", "P3", "P4", "P5", "NOT_DEFINED")
STATUSES = {"OPEN": ("Open", "SG_OPEN"), "IN_PROGRESS": ("In Progress", "SG_IN_PROGRESS"),
            "CLOSED": ("Closed", "SG_CLOSED")}
SORT_FIELDS = ("created_at", "priority", "status")
MAX_PAGE_SIZE = 100
_PROJECT_KEY = re.compile(r"[A-Z][A-Z0-9]{0,9}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MAX_REASON = 200  # sandbox bound on a resolved reason (Datadog documents none)
GROUP_FIELDS = ("status", "priority", "project", "type", "creation_source", "assignee")  # and case attributes
MAX_GROUP_VALUES = 1000  # CaseAggregateGroupBy.limit's documented maximum, the count's too
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_ORDER: dict[str, Callable[[dict[str, Any]], Any]] = {
    "created_at": lambda c: c["attributes"]["created_at"],
    "priority": lambda c: PRIORITIES.index(c["attributes"]["priority"]),
    "status": lambda c: list(STATUSES).index(c["attributes"]["status"])}


def iso(ts: float) -> str:
    """A v2 timestamp (`2026-01-01T00:00:00.000000Z`), as cases and workflow instances show them."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _user(user_id: str | None) -> dict[str, Any]:
    return {"data": {"id": user_id, "type": "user"} if user_id else None}


def status_from(name: Any, status: Any, *, default: str | None = None) -> str:
    """A CaseStatus from a status (OPEN...) or a status name ("Open", "In Progress", "Closed")."""
    if status is not None:
        if not isinstance(status, str) or status not in STATUSES:
            raise IntakeError(400, f"status {status!r} is not one of {', '.join(STATUSES)}")
        return str(status)
    if name is not None:
        for code, (label, _) in STATUSES.items():
            if isinstance(name, str) and name.strip().lower() in (label.lower(), code.lower()):
                return code
        raise IntakeError(400, f"status_name {name!r} is not one of Open, In Progress, Closed")
    if default is None:
        raise IntakeError(400, "data.attributes.status: required")
    return default


class Cases:
    """Case Management's projects, cases and comments, over the sandbox's documents.

    Usage::

        cases = Cases(DocumentStore(open_database(None)))
        project = cases.create_project(attributes={"key": "AUTO", "name": "Autonomic"})
        case = cases.create_case(data={"type": "case", ...}, now=time.time())   # AUTO-1
        cases.search(query="status:open project:AUTO", page_size=20)
    """

    def __init__(self, documents: DocumentStore):
        self._documents = documents

    # -------------------------------------------------------------------------------------------- projects
    def create_project(self, *, attributes: Any) -> dict[str, Any]:
        """A project; its key numbers its cases and (lower-cased) is its `@case-<handle>` for monitors.

        Raises:
            IntakeError: 400 for a missing name or a malformed or reserved key, 409 for a key already taken.
        """
        if not isinstance(attributes, dict):
            raise IntakeError(400, "data.attributes: required object")
        key, name = attributes.get("key"), attributes.get("name")
        if not isinstance(name, str) or not name.strip():
            raise IntakeError(400, "data.attributes.name: a project needs a non-empty name")
        if not isinstance(key, str) or not _PROJECT_KEY.fullmatch(key):
            raise IntakeError(400, f"data.attributes.key: {key!r} must be 1-10 upper-case letters or digits, "
                                   "starting with a letter")
        if key == "CASE":
            raise IntakeError(400, "data.attributes.key: 'CASE' is reserved")  # documented restriction
        types = attributes.get("enabled_custom_case_types") or []
        if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
            raise IntakeError(400, "data.attributes.enabled_custom_case_types: must be an array of case type ids")
        if any(p["attributes"]["key"] == key for p in self.list_projects()):
            raise IntakeError(409, f"a project with key {key!r} already exists")
        doc: dict[str, Any]
        doc = {"id": str(uuid.uuid4()), "type": "project",
               "attributes": {"key": key, "name": name, "restricted": False,
                              "enabled_custom_case_types": types,
                              "settings": {"integration_monitor": {"enabled": True, "handle": key.lower(),
                                                                   "auto_resolve_enabled": False,
                                                                   "case_type_id": STANDARD_TYPE_ID}}}}
        self._documents.put(PROJECT, doc["id"], doc)
        return doc

    def get_project(self, project_id: str) -> dict[str, Any]:
        """The project; a 404 IntakeError when there is none."""
        doc = self._documents.get(PROJECT, project_id)
        if doc is None:
            raise IntakeError(404, f"project {project_id} not found")
        return doc

    def update_project(self, project_id: str, *, attributes: Any) -> dict[str, Any]:
        """PATCH a project (ProjectUpdateAttributes): `name`, `enabled_custom_case_types`, `settings` (merged),
        `team_uuid`, `columns_config`; its key never changes. A 400 naming the field, 404 for an unknown project."""
        doc = self.get_project(project_id)
        if not isinstance(attributes, dict):
            raise IntakeError(400, "data.attributes: required object")
        attrs = dict(doc["attributes"])
        for name, value in attributes.items():
            if name == "name":
                if not isinstance(value, str) or not value.strip():
                    raise IntakeError(400, "data.attributes.name: a project needs a non-empty name")
            elif name == "enabled_custom_case_types":
                if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
                    raise IntakeError(400, "data.attributes.enabled_custom_case_types: must be an array of case type "
                                           "ids")
            elif name == "settings":
                value = _merged_settings(attrs.get("settings", {}), value)
            elif name == "team_uuid":
                if not isinstance(value, str) or not _UUID.fullmatch(value):
                    raise IntakeError(400, "data.attributes.team_uuid: must be a team UUID")
            elif name == "columns_config":
                if not isinstance(value, dict):
                    raise IntakeError(400, "data.attributes.columns_config: must be an object")
            else:
                raise IntakeError(400, f"data.attributes.{str(name)[:60]}: not a field a project update takes")
            attrs[name] = value
        doc = {**doc, "attributes": attrs}
        self._documents.put(PROJECT, doc["id"], doc)
        return doc

    def delete_project(self, project_id: str) -> None:
        """Delete a project without cases; 409 while it has some (the sandbox never drops cases with it)."""
        doc = self.get_project(project_id)
        held = sum(1 for c in self._documents.list(CASE) if c["relationships"]["project"]["data"]["id"] == doc["id"])
        if held:
            raise IntakeError(409, f"project {project_id} still has {held} case(s); the sandbox deletes only an empty "
                                   "project, so no case is lost")
        self._documents.delete(PROJECT, doc["id"])

    def list_projects(self) -> list[dict[str, Any]]:
        """Every project, oldest first."""
        return self._documents.list(PROJECT)

    def project_by_handle(self, handle: str) -> dict[str, Any] | None:
        """The project a monitor's `@case-<handle>` names (its monitor integration handle, enabled)."""
        for project in self.list_projects():
            monitor = project["attributes"].get("settings", {}).get("integration_monitor", {})
            if monitor.get("enabled") and monitor.get("handle", "").lower() == handle.lower():
                return project
        return None

    # -------------------------------------------------------------------------------------------- cases
    def create_case(self, *, data: Any, now: float, creation_source: str = "MANUAL",
                    attributes: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A new case from a CaseCreate `data` object (the API body's, or one built by a workflow step).

        Args:
            now: its creation time (the sandbox clock, a run's virtual clock, or a monitor transition's time).
            creation_source: MANUAL (the API), WORKFLOW or MONITOR.
            attributes: case attributes to file (`agent_id`, `monitor_id`, ...); values become string lists.

        Raises:
            IntakeError: 400 naming the field of a malformed body, 404 for an unknown project.
        """
        if not isinstance(data, dict) or data.get("type") != "case":
            raise IntakeError(400, 'data.type: got a missing or wrong type, expected one of "case"')
        attrs = data.get("attributes")
        if not isinstance(attrs, dict):
            raise IntakeError(400, "data.attributes: required object")
        title = attrs.get("title")
        if not isinstance(title, str) or not title.strip():
            raise IntakeError(400, "data.attributes.title: a case needs a non-empty title")
        type_id = attrs.get("type_id")
        if type_id is None and attrs.get("type") == "STANDARD":  # clients 2.23-2.44 sent type instead of type_id
            type_id = STANDARD_TYPE_ID
        if not isinstance(type_id, str) or not _UUID.fullmatch(type_id):
            raise IntakeError(400, "data.attributes.type_id: required case type UUID, e.g. " + STANDARD_TYPE_ID)
        priority = attrs.get("priority", "NOT_DEFINED")
        if priority not in PRIORITIES:
            raise IntakeError(400, f"data.attributes.priority: {priority!r} is not one of {', '.join(PRIORITIES)}")
        status = status_from(attrs.get("status_name"), attrs.get("status"), default="OPEN")
        description = attrs.get("description", "")
        if not isinstance(description, str):
            raise IntakeError(400, "data.attributes.description: must be a string")
        custom = attrs.get("custom_attributes") or {}
        if not isinstance(custom, dict):
            raise IntakeError(400, "data.attributes.custom_attributes: must be an object")
        rels = data.get("relationships") or {}
        project_id = _related_id(rels, "project")
        if not isinstance(project_id, str):
            raise IntakeError(400, "data.relationships.project: a case needs a project ({data: {id, type: project}})")
        project = self.get_project(project_id)
        assignee = _related_id(rels, "assignee")
        if assignee is not None and not isinstance(assignee, str):
            raise IntakeError(400, "data.relationships.assignee.data.id: must be a user UUID string")
        number = self._documents.next_id(_CASE_NUMBERS.format(project_id=project_id))
        public_id = self._documents.next_id(CASE)
        case_id = str(uuid.uuid4())
        name, group = STATUSES[status]
        doc: dict[str, Any]
        doc = {"id": case_id, "type": "case",
               "attributes": {"attributes": _attribute_map(attributes or {}), "comment_count": 0,
                              "created_at": iso(now), "modified_at": iso(now), "closed_at": None,
                              "archived_at": None, "creation_source": creation_source,
                              "custom_attributes": dict(custom),
                              "description": description, "insights": [], "internal_id": case_id,
                              "key": f"{project['attributes']['key']}-{number}", "merge_status": "NOT_MERGED",
                              "priority": priority, "public_id": str(public_id), "status": status,
                              "status_group": group, "status_name": name, "title": title, "type_id": type_id,
                              **({"type": "STANDARD"} if type_id == STANDARD_TYPE_ID else {})},
               "relationships": {"assignee": _user(assignee), "created_by": _user(SANDBOX_USER_UUID),
                                 "modified_by": _user(SANDBOX_USER_UUID),
                                 "project": {"data": {"id": project_id, "type": "project"}}}}
        self._documents.put(CASE, case_id, doc, ts=int(now * 1000))
        return doc

    def get_case(self, case_id: str) -> dict[str, Any]:
        """A case by its UUID or its key (`AUTO-3`), as Datadog's case paths accept both; 404 when unknown."""
        doc = self._documents.get(CASE, case_id)
        if doc is None:
            doc = next((c for c in self._documents.list(CASE) if c["attributes"]["key"] == case_id), None)
        if doc is None:
            raise IntakeError(404, f"case {case_id} not found")
        return doc

    def update_case(self, case_id: str, *, now: float, **changes: Any) -> dict[str, Any]:
        """Apply one action and stamp modified_at.

        Args:
            changes: `status` (a CaseStatus; sets closed_at), `priority`, `assignee` (a user id or None),
                `archived` (bool; sets archived_at), or any case attribute to replace (`title`, ...).
        """
        doc = self.get_case(case_id)
        attrs = doc["attributes"]
        if "status" in changes:
            status = changes.pop("status")
            attrs["status"] = status
            attrs["status_name"], attrs["status_group"] = STATUSES[status]
            attrs["closed_at"] = iso(now) if status == "CLOSED" else None
        if "priority" in changes:
            priority = changes.pop("priority")
            if priority not in PRIORITIES:
                raise IntakeError(400, f"priority {priority!r} is not one of {', '.join(PRIORITIES)}")
            attrs["priority"] = priority
        if "assignee" in changes:
            doc["relationships"]["assignee"] = _user(changes.pop("assignee"))
        if "archived" in changes:
            attrs["archived_at"] = iso(now) if changes.pop("archived") else None
        attrs.update(changes)
        attrs["modified_at"] = iso(now)
        created = datetime.fromisoformat(attrs["created_at"]).timestamp()
        self._documents.put(CASE, doc["id"], doc, ts=int(created * 1000))
        return doc

    def add_comment(self, case_id: str, *, message: Any, now: float) -> dict[str, Any]:
        """A COMMENT timeline cell on the case (TimelineCellResource), counted in comment_count."""
        if not isinstance(message, str) or not message.strip():
            raise IntakeError(400, "data.attributes.comment: a comment needs text")
        doc = self.get_case(case_id)
        author = {"id": SANDBOX_USER_UUID, "name": SANDBOX_USER["name"], "email": SANDBOX_USER["email"],
                  "handle": SANDBOX_USER["handle"]}
        cell: dict[str, Any]
        cell = {"id": str(uuid.uuid4()), "type": "timeline_cell",
                "attributes": {"author": {"type": "USER", "content": author},
                               "cell_content": {"message": message}, "created_at": iso(now),
                               "modified_at": iso(now), "type": "COMMENT"}}
        stored = {"case_id": doc["id"], "n": self._documents.next_id(COMMENT), **cell}  # n: the order, kept by edits
        self._documents.put(COMMENT, cell["id"], stored, ts=int(now * 1000))
        self.update_case(doc["id"], now=now, comment_count=doc["attributes"]["comment_count"] + 1)
        return cell

    def update_comment(self, case_id: str, cell_id: str, *, message: Any, now: float) -> dict[str, Any]:
        """Edit a comment of the case: its message and modified_at change, in the timeline too."""
        if not isinstance(message, str) or not message.strip():
            raise IntakeError(400, "data.attributes.comment: a comment needs text")
        case, stored = self._comment(case_id, cell_id)
        stored["attributes"] = {**stored["attributes"], "cell_content": {"message": message}, "modified_at": iso(now)}
        created = datetime.fromisoformat(stored["attributes"]["created_at"]).timestamp()
        self._documents.put(COMMENT, cell_id, stored, ts=int(created * 1000))
        self.update_case(case["id"], now=now)
        return {k: v for k, v in stored.items() if k not in ("case_id", "n")}

    def delete_comment(self, case_id: str, cell_id: str, *, now: float) -> None:
        """Remove a comment from the case's timeline and its comment_count."""
        case, _ = self._comment(case_id, cell_id)
        self._documents.delete(COMMENT, cell_id)
        self.update_case(case["id"], now=now, comment_count=max(case["attributes"]["comment_count"] - 1, 0))

    def _comment(self, case_id: str, cell_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        case = self.get_case(case_id)
        stored = self._documents.get(COMMENT, cell_id)
        if stored is None or stored["case_id"] != case["id"]:
            raise IntakeError(404, f"comment {cell_id[:60]} not found on case {case_id[:60]}")
        return case, stored

    def timeline(self, case_id: str) -> list[dict[str, Any]]:
        """The case's timeline cells (its comments), oldest first; 404 for an unknown case."""
        doc = self.get_case(case_id)
        cells = sorted((c for c in self._documents.list(COMMENT) if c["case_id"] == doc["id"]),
                       key=lambda c: (c["attributes"]["created_at"], c.get("n", 0)))
        return [{k: v for k, v in c.items() if k not in ("case_id", "n")} for c in cells]

    # -------------------------------------------------------------------------------------------- search
    def search(self, *, query: str = "", sort_field: str = "created_at", ascending: bool = False,
               page_size: int = 10, page_number: int = 1) -> dict[str, Any]:
        """CasesResponse: `meta.page` is {current, size (items on this page), total (pages)}, as recorded.

        Args:
            query: the search filter (see the module docstring); terms are ANDed.
            page_number: from 1 (anything lower reads as 1).

        Raises:
            IntakeError: 400 for a sort field other than SORT_FIELDS or a page size outside 1..MAX_PAGE_SIZE.
        """
        if sort_field not in SORT_FIELDS:
            raise IntakeError(400, f"sort[field]: {sort_field!r} is not one of {', '.join(SORT_FIELDS)}")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise IntakeError(400, f"page[size]: must be between 1 and {MAX_PAGE_SIZE}")
        matches = [c for c in self._documents.list(CASE) if self._matches(c, query)]
        order = _ORDER[sort_field]
        matches.sort(key=lambda c: (order(c), int(c["attributes"]["public_id"])), reverse=not ascending)
        current = max(page_number, 1)
        chunk = matches[(current - 1) * page_size:current * page_size]
        pages = -(-len(matches) // page_size)
        return {"data": chunk, "meta": {"total_cases": len(matches),
                                        "page": {"current": current, "size": len(chunk), "total": pages}}}

    def _matches(self, case: dict[str, Any], query: str) -> bool:
        """Whether a case matches every term of a search filter (terms are ANDed)."""
        attrs = case["attributes"]
        archived = False
        for term in _terms(query or ""):
            key, sep, value = term.partition(":")
            key_l, value_l = key.lower(), value.lower()
            if sep and key_l == "status":
                if value_l not in (attrs["status"].lower(), attrs["status_name"].lower()):
                    return False
            elif sep and key_l == "priority":
                if value_l != attrs["priority"].lower():
                    return False
            elif sep and key_l == "project":
                project_id = case["relationships"]["project"]["data"]["id"]
                project = self._documents.get(PROJECT, project_id) or {"attributes": {"key": ""}}
                if value_l not in (project_id.lower(), project["attributes"]["key"].lower()):
                    return False
            elif sep and key_l in ("key", "public_id"):
                if value_l not in (attrs["key"].lower(), attrs["public_id"]):
                    return False
            elif sep and key_l == "archived":
                archived = value_l == "true"
            elif sep and key in attrs["attributes"]:
                if value_l not in [v.lower() for v in attrs["attributes"][key]]:
                    return False
            else:
                text = f"{attrs['title']}\n{attrs['description']}\n{attrs['key']}"
                if not re.search(rf"(?<![\w-]){re.escape(term)}(?![\w-])", text, re.IGNORECASE):
                    return False
        return archived == (attrs.get("archived_at") is not None)

    def count(self, *, query: str = "", group_bys: list[str], limit: int = 10) -> list[dict[str, Any]]:
        """GET /api/v2/cases/count: for each field of `group_bys`, its values' case counts (most first, `limit` of
        them) among the cases matching `query` (the search filter)."""
        matches = [c for c in self._documents.list(CASE) if self._matches(c, query)]
        groups = []
        for field in group_bys:
            counts = self._value_counts(matches, field)
            top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
            groups.append({"group": field, "group_values": [{"value": v, "count": n} for v, n in top]})
        return groups

    def aggregate(self, *, query: str = "", group_by: list[str], limit: int = 10) -> dict[str, Any]:
        """POST /api/v2/cases/aggregate: the number of matching cases, and per value of the one `group_by` field
        (most first, `limit` of them) its count."""
        if len(group_by) > 1:
            raise IntakeError(400, "data.attributes.group_by.groups: the sandbox groups by one field at a time")
        matches = [c for c in self._documents.list(CASE) if self._matches(c, query)]
        counts = self._value_counts(matches, group_by[0]) if group_by else {}
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        return {"total": float(len(matches)), "groups": [{"group": v, "value": [float(n)]} for v, n in top]}

    def _value_counts(self, cases: list[dict[str, Any]], field: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for case in cases:
            for value in dict.fromkeys(self._field_values(case, field)):
                counts[value] = counts.get(value, 0) + 1
        return counts

    def _field_values(self, case: dict[str, Any], field: str) -> list[str]:
        """A case's values of a group field (GROUP_FIELDS, else a case attribute); none when it has none."""
        attrs = case["attributes"]
        if field in ("status", "priority", "type", "creation_source"):
            return [str(attrs[field])] if attrs.get(field) is not None else []
        if field == "project":
            project = self._documents.get(PROJECT, case["relationships"]["project"]["data"]["id"])
            return [project["attributes"]["key"]] if project else []
        if field == "assignee":
            assignee = (case["relationships"].get("assignee") or {}).get("data")
            return [assignee["id"]] if assignee else []
        return list(attrs["attributes"].get(field, []))

    def clear_cases(self) -> int:
        """Forget every case and comment (a new run opens its own); projects stay."""
        self._documents.delete_kind(COMMENT)
        return self._documents.delete_kind(CASE)



def due_date(value: Any) -> str | None:
    """A case due date: `YYYY-MM-DD` (a real date), or None to clear it; a 400 naming the field otherwise."""
    if value is None:
        return None
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise IntakeError(400, f"data.attributes.due_date: {str(value)[:40]!r} is not a YYYY-MM-DD date or null")
    try:
        datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        raise IntakeError(400, f"data.attributes.due_date: {value!r} is not a date") from None
    return value


def resolved_reason(value: Any) -> str:
    """A security resolved reason (FALSE_POSITIVE, TRUE_POSITIVE, BENIGN_POSITIVE, ...): any short string."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_REASON:
        raise IntakeError(400, f"data.attributes.security_resolved_reason: required string of at most {MAX_REASON} "
                               "characters")
    return value


def _merged_settings(current: Any, given: Any) -> dict[str, Any]:
    """ProjectSettings with `given` merged in (its integration_monitor field by field), types checked."""
    if not isinstance(given, dict):
        raise IntakeError(400, "data.attributes.settings: must be an object")
    settings = dict(current if isinstance(current, dict) else {})
    for name, value in given.items():
        if name == "integration_monitor":
            if not isinstance(value, dict):
                raise IntakeError(400, "data.attributes.settings.integration_monitor: must be an object")
            for key, kind in (("enabled", bool), ("auto_resolve_enabled", bool), ("handle", str),
                              ("case_type_id", str)):
                if key in value and not isinstance(value[key], kind):
                    raise IntakeError(400, f"data.attributes.settings.integration_monitor.{key}: must be a "
                                           f"{kind.__name__}")
            value = {**settings.get("integration_monitor", {}), **value}
        elif not isinstance(value, dict):
            raise IntakeError(400, f"data.attributes.settings.{str(name)[:60]}: must be an object")
        settings[name] = value
    return settings


def _related_id(relationships: Any, name: str) -> Any:
    """The `data.id` of one of a case's relationships (`project`, `assignee`), None when it has none;
    a 400 naming the relationship when it is not `{data: {id, type}}`."""
    if not isinstance(relationships, dict):
        raise IntakeError(400, "data.relationships: must be an object")
    relation = relationships.get(name) or {}
    target = (relation.get("data") or {}) if isinstance(relation, dict) else None
    if not isinstance(target, dict):
        raise IntakeError(400, f"data.relationships.{name}: must be {{data: {{id, type}}}}")
    return target.get("id")


def _attribute_map(raw: Mapping[str, Any]) -> dict[str, list[str]]:
    """CaseObjectAttributes: every value a list of strings."""
    return {str(k): [str(x) for x in (v if isinstance(v, list) else [v])] for k, v in raw.items() if v is not None}


def _terms(query: str) -> Iterable[str]:
    try:
        return shlex.split(query)
    except ValueError:  # an unbalanced quote: search the words as typed
        return query.split()
