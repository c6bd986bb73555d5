"""Import and export of the assets: find what the kit manages, create or update it, and bring edits home.

Managed assets are found by tag (`managed-by:autonomic-kit` on monitors and workflows) and by title or
name; dashboards carry no free-form tags in Datadog, so their title identifies them, and export also takes
those whose description mentions autonomic-kit. Import gives a foreign asset (one brought from Datadog) the
same marks: the tag, or for a dashboard IMPORT_MARK in its description. An asset is "unchanged" when every
field of the local body equals the backend's (fields the backend adds, such as ids, timestamps and option
defaults, are ignored), so a second import sends nothing.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

from datadog_api_client import ApiClient
from datadog_api_client.model_utils import model_to_dict, validate_and_convert_types
from datadog_api_client.v1.api.dashboards_api import DashboardsApi
from datadog_api_client.v1.api.monitors_api import MonitorsApi
from datadog_api_client.v1.model.monitor_update_request import MonitorUpdateRequest
from datadog_api_client.v2.api.case_management_api import CaseManagementApi
from datadog_api_client.v2.api.workflow_automation_api import WorkflowAutomationApi
from datadog_api_client.v2.model.project_create import ProjectCreate
from datadog_api_client.v2.model.project_create_attributes import ProjectCreateAttributes
from datadog_api_client.v2.model.project_create_request import ProjectCreateRequest
from datadog_api_client.v2.model.project_resource_type import ProjectResourceType
from datadog_api_client.v2.model.update_workflow_request import UpdateWorkflowRequest

from ..client import auth_errors, make_api_client
from ..links import page_url
from ..settings import Settings
from .model import _CONFIG, FOLDERS, IMPORT_MARK, KIT_MARK, MANAGED_TAG, NAME_PREFIX, Asset, Kind, to_model

Action = Literal["create", "update", "unchanged"]
Form = Literal["kit", "datadog"]
FORMS: tuple[Form, ...] = ("kit", "datadog")
CASE_PROJECT_NAME = "Autonomic AI"
CASE_PROJECT_KEY = "AUTO"
ORDER: dict[Kind, int] = {"workflow": 0, "monitor": 1, "dashboard": 2}  # a mention must find its workflow
_DASHBOARD_FIELDS = ("title", "description", "layout_type", "reflow_type", "template_variables",
                     "template_variable_presets", "notify_list", "tags", "widgets")
_MONITOR_FIELDS = ("name", "type", "query", "message", "tags", "priority", "options")
_WORKFLOW_FIELDS = ("name", "description", "tags", "published", "spec")


@dataclass(kw_only=True)
class Change:
    """What import did (or, in a dry run, would do) to one asset."""

    kind: Kind
    name: str
    action: Action
    id: str | None = None
    url: str | None = None
    diff: list[str] = field(default_factory=list)
    file: Path | None = None


def _json(model: Any) -> Any:
    """A client model as the JSON the API speaks (camelCase keys where the API uses them)."""
    return json.loads(json.dumps(model_to_dict(model, serialize=True), default=str))


def diff(local: Any, remote: Any, path: str = "$") -> list[str]:
    """Differences where the local asset disagrees with the backend; keys only the backend has are ignored."""
    if isinstance(local, dict) and isinstance(remote, dict):
        return [line for key, value in local.items() for line in diff(value, remote.get(key), f"{path}.{key}")]
    if path.endswith(".tags") and isinstance(local, list) and isinstance(remote, list):
        local, remote = sorted(map(str, local)), sorted(map(str, remote))  # tags are a set; backends sort them
    if isinstance(local, list) and isinstance(remote, list) and len(local) == len(remote):
        return [line for i, (a, b) in enumerate(zip(local, remote)) for line in diff(a, b, f"{path}[{i}]")]
    if _same(local, remote):
        return []
    shown = (json.dumps(v, default=str) for v in (remote, local))
    return [f"{path}: {next(shown)[:80]} -> {next(shown)[:80]}"]


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON values: 1 == 1.0, but True is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


def _workflow_inputs(body: dict[str, Any]) -> list[dict[str, Any]]:
    return ((body.get("spec") or {}).get("inputSchema") or {}).get("parameters") or []


def _has_project(existing: tuple[str, dict[str, Any]] | None) -> bool:
    return existing is not None and any(p.get("name") == "project_id" and p.get("defaultValue")
                                        for p in _workflow_inputs(existing[1]))


def _uses_project(body: dict[str, Any]) -> bool:
    return any(p.get("name") == "project_id" for p in _workflow_inputs(body) if isinstance(p, dict))


def _mark(asset: Asset, body: dict[str, Any]) -> None:
    """Give a foreign asset the kit's mark, so the kit finds it again (monitors, workflows: tag; dashboards: text)."""
    if asset.kind == "dashboard":
        description = str(body.get("description") or "")
        if IMPORT_MARK not in description:
            body["description"] = f"{description}\n\n{IMPORT_MARK}" if description else IMPORT_MARK
    elif MANAGED_TAG not in (body.get("tags") or []):
        body["tags"] = [*(body.get("tags") or []), MANAGED_TAG]


def render(asset: Asset, settings: Settings, case_project: str | None, remote: dict[str, Any] | None) -> dict[str, Any]:
    """The API body for this target: a foreign asset gets the kit's mark, a metric alert is stored as the query
    alert Datadog makes of it (so it compares equal), the workflow's links point at the target's app and its case
    project is kept."""
    body = copy.deepcopy(asset.body)
    if asset.foreign:
        _mark(asset, body)
    if asset.kind == "monitor" and body.get("type") == "metric alert":  # recorded: Datadog answers query alert
        body["type"] = "query alert"
    if asset.kind != "workflow":
        return body
    remote_defaults = {p.get("name"): p.get("defaultValue") for p in _workflow_inputs(remote or {})}
    for param in _workflow_inputs(body):
        if param.get("name") == "app_url":
            param["defaultValue"] = settings.app_url
        elif param.get("name") == "project_id":
            project = case_project or remote_defaults.get("project_id")
            if project:
                param["defaultValue"] = project
    return body


class Backend:
    """The three Datadog APIs the kit manages assets through, with managed assets looked up by kind."""

    def __init__(self, client: ApiClient, settings: Settings):
        self.settings = settings
        self.dashboards = DashboardsApi(client)
        self.monitors = MonitorsApi(client)
        self.workflows = WorkflowAutomationApi(client)
        self.cases = CaseManagementApi(client)

    def case_project(self, *, create: bool) -> str | None:
        """The id of the kit's Case Management project (found by name); created when missing and `create`."""
        for project in self.cases.get_projects().data:
            if project.attributes.name == CASE_PROJECT_NAME:
                return str(project.id)
        if not create:
            return None
        request = ProjectCreateRequest(data=ProjectCreate(
            type=ProjectResourceType.PROJECT,
            attributes=ProjectCreateAttributes(name=CASE_PROJECT_NAME, key=CASE_PROJECT_KEY)))
        return str(self.cases.create_project(body=request).data.id)

    def find(self, kind: Kind, name: str) -> tuple[str, dict[str, Any]] | None:
        """The id and body of the managed asset called `name`, or None."""
        matches = self.managed(kind, {name})
        return matches[0] if matches else None

    def managed(self, kind: Kind, names: set[str] | None = None) -> list[tuple[str, dict[str, Any]]]:
        """Ids and bodies of managed assets of a kind (only those named `names` when given)."""
        found: list[tuple[str, dict[str, Any]]] = []
        if kind == "dashboard":
            for summary in self.dashboards.list_dashboards().get("dashboards", []):
                if names is not None:
                    wanted = summary.title in names
                else:  # the ones that say they are the kit's (summaries carry the description)
                    wanted = KIT_MARK in str(summary.get("description") or "")
                if wanted:
                    found.append((summary.id, _json(self.dashboards.get_dashboard(summary.id))))
        elif kind == "monitor":
            for monitor in self.monitors.list_monitors(monitor_tags=MANAGED_TAG):
                body = _json(monitor)
                if MANAGED_TAG in body.get("tags", []) and (names is None or body.get("name") in names):
                    found.append((str(body["id"]), body))
        else:
            for item in self.workflows.list_workflows().get("data", []):
                attributes = _json(item.attributes) if "attributes" in item else {}
                if names is not None and attributes.get("name") not in names:
                    continue
                body = _json(self.workflows.get_workflow(item.id).data.attributes)
                if MANAGED_TAG in body.get("tags", []):
                    found.append((item.id, body))
        return found

    def create(self, kind: Kind, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if kind == "dashboard":
            created = _json(self.dashboards.create_dashboard(body=to_model(kind, body)))
            return str(created["id"]), created
        if kind == "monitor":
            created = _json(self.monitors.create_monitor(body=to_model(kind, body)))
            return str(created["id"]), created
        response = _json(self.workflows.create_workflow(body=to_model(kind, body)))
        return str(response["data"]["id"]), response["data"]

    def update(self, kind: Kind, ident: str, body: dict[str, Any]) -> dict[str, Any]:
        if kind == "dashboard":
            return _json(self.dashboards.update_dashboard(ident, body=to_model(kind, body)))
        if kind == "monitor":
            request = validate_and_convert_types(body, (MonitorUpdateRequest,), ["monitor"], True, True, _CONFIG)
            return _json(self.monitors.update_monitor(int(ident), body=request))
        request = validate_and_convert_types({"data": {"type": "workflows", "attributes": body}},
                                             (UpdateWorkflowRequest,), ["workflow"], True, True, _CONFIG)
        return _json(self.workflows.update_workflow(ident, body=request))["data"]

    def url(self, kind: Kind, ident: str, remote: dict[str, Any] | None = None) -> str:
        """The asset's page: Datadog's web app, or the sandbox's read-only page with its token (links.py)."""
        settings = self.settings
        key = settings.api_key.reveal() if settings.is_sandbox and settings.api_key is not None else None
        shown = (remote or {}).get("url") if kind == "dashboard" else None  # the dashboard's own slugged path
        return page_url(settings.app_url, kind, ident, api_key=key, shown_path=shown)


def sync(assets: list[Asset], settings: Settings, *, dry_run: bool = False, case_project: str | None = None,
         client_factory: Callable[[Settings], ApiClient] = make_api_client) -> list[Change]:
    """Create or update each asset in the backend; with `dry_run`, only compare. Assets must already be linted."""
    changes = []
    with client_factory(settings) as client, auth_errors(settings):
        backend = Backend(client, settings)
        for asset in sorted(assets, key=lambda a: ORDER[a.kind]):
            existing = backend.find(asset.kind, asset.name)
            project = case_project
            if asset.kind == "workflow" and project is None and _uses_project(asset.body) \
                    and not _has_project(existing):
                # the workflow opens Cases in a project: the kit's own unless the user named one (--case-project)
                project = backend.case_project(create=not dry_run)
            body = render(asset, settings, project, existing[1] if existing else None)
            if existing is None:
                change = Change(kind=asset.kind, name=asset.name, action="create", file=asset.path,
                                diff=[f"$: new {asset.kind} {asset.name!r}"])
                if not dry_run:
                    change.id, created = backend.create(asset.kind, body)
                    change.url = backend.url(asset.kind, change.id, created)
                changes.append(change)
                continue
            ident, remote = existing
            lines = diff(body, remote)
            change = Change(kind=asset.kind, name=asset.name, action="update" if lines else "unchanged", id=ident,
                            url=backend.url(asset.kind, ident, remote), diff=lines, file=asset.path)
            if lines and not dry_run:
                backend.update(asset.kind, ident, body)
            changes.append(change)
    return changes


def _slug(name: str) -> str:
    name = name.replace(NAME_PREFIX, "")
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:60] or "asset"


def _strip_ids(node: Any) -> Any:
    """Widget ids are the backend's, not the author's."""
    if isinstance(node, dict):
        return {k: _strip_ids(v) for k, v in node.items() if k != "id"}
    if isinstance(node, list):
        return [_strip_ids(v) for v in node]
    return node


def to_file(kind: Kind, remote: dict[str, Any], local: Asset | None, form: Form = "kit") -> dict[str, Any]:
    """What the backend holds, as a file: in the kit's layout (a monitor template keeps its title and description)
    or, with form "datadog", the body Datadog's API takes (the same but for monitors, which lose the template)."""
    if kind == "dashboard":
        return _strip_ids({k: remote[k] for k in _DASHBOARD_FIELDS if remote.get(k) not in (None, [])})
    if kind == "workflow":
        attributes = {k: remote[k] for k in _WORKFLOW_FIELDS if k in remote}
        return {"data": {"type": "workflows", "attributes": attributes}}
    definition = {k: remote[k] for k in _MONITOR_FIELDS if remote.get(k) is not None}
    if form == "datadog":
        return definition
    template = dict(local.data) if local is not None and isinstance(local.data, dict) else {
        "version": 2, "title": str(remote.get("name", "")).replace(NAME_PREFIX, "").strip(),
        "description": "Exported from the backend; describe what it watches and why.", "tags": []}
    template["definition"] = definition
    return template


def export(settings: Settings, out_dir: Path, local: list[Asset], *, form: Form = "kit",
           client_factory: Callable[[Settings], ApiClient] = make_api_client) -> list[Path]:
    """Write every managed asset the backend holds under out_dir/{dashboards,monitors,workflows}/, in `form`."""
    by_name = {(a.kind, a.name): a for a in local}
    written = []
    with client_factory(settings) as client, auth_errors(settings):
        backend = Backend(client, settings)
        for kind in ("dashboard", "monitor", "workflow"):
            found = backend.managed(kind)
            names = {a.name for a in local if a.kind == kind} if kind == "dashboard" else set()
            if names:  # the kit's dashboards by title too, should an edit in the UI have dropped the mention
                seen = {ident for ident, _ in found}
                found += [item for item in backend.managed(kind, names) if item[0] not in seen]
            for _, remote in found:
                name = str(remote.get("title" if kind == "dashboard" else "name"))
                mine = by_name.get((kind, name))
                path = Path(out_dir) / FOLDERS[kind] / (mine.path.name if mine else f"{_slug(name)}.json")
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(to_file(kind, remote, mine, form), indent=2) + "\n", encoding="utf-8")
                written.append(path)
    return written


def format_table(changes: list[Change], *, show_diff: bool = True) -> str:
    """The import report: one row per asset with its action, id and URL, then the differences."""
    rows = [("KIND", "ACTION", "NAME", "ID", "URL")]
    rows += [(c.kind, c.action, c.name, c.id or "-", c.url or "-") for c in changes]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4] for r in rows]
    if show_diff:
        for c in changes:
            if c.action == "update":
                lines.append(f"\n{c.kind} {c.name!r} ({c.file}):")
                lines.extend(f"  {line}" for line in c.diff)
    return "\n".join(lines)
