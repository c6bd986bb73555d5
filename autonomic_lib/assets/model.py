"""Asset files, in the kit's layout or as Datadog produces them, loaded and checked against the client's models.

A file's kind and layout come from its content, wherever it sits:

    monitor    {"version", "title", "description", "tags", "definition": {"query", ...}}   the kit's template
               {"query", "type": <a monitor type>, ...}          Datadog's API body, UI export or GET answer
    dashboard  {"widgets": [...], "layout_type", ...}            the API body, or Datadog's export (id, url, ...)
    workflow   {"data": {"type": "workflows", "attributes"}}     the kit's create request, or Datadog's GET answer
               {"name", "spec": {...}, ...}                      the bare attributes (Datadog's UI export)

Fields only the backend writes (ids, timestamps, creator, state, urls) are noted once and left out of the body.
An asset is the kit's own when it carries the kit's mark (below); any other is foreign, brought from Datadog: lint
holds it to Datadog's rules and the catalogue, not to the kit's conventions.

The client's models are the contract Datadog's API enforces, so type checking them locally refuses a wrong
field before anything is sent. Their `oneOf` unions (widget definitions, workflow triggers) swallow errors into
an "unparsed" object; this module digs the real error out of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping

from datadog_api_client import Configuration
from datadog_api_client.exceptions import ApiTypeError, ApiValueError
from datadog_api_client.model_utils import ModelComposed, ModelSimple, UnparsedObject, validate_and_convert_types
from datadog_api_client.v1.model.dashboard import Dashboard
from datadog_api_client.v1.model.monitor import Monitor
from datadog_api_client.v1.model.monitor_type import MonitorType
from datadog_api_client.v2.model.create_workflow_request import CreateWorkflowRequest
from datadog_api_client.v2.model.workflow_data import WorkflowData
from datadog_api_client.v2.model.workflow_data_attributes import WorkflowDataAttributes

from ..catalog import ASSETS_DIR
from ..errors import AutonomicError

Kind = Literal["dashboard", "monitor", "workflow"]
Layout = Literal["template", "body", "request", "attributes"]
Severity = Literal["error", "warning", "info"]
KINDS: tuple[Kind, ...] = ("dashboard", "monitor", "workflow")
FOLDERS: dict[Kind, str] = {"dashboard": "dashboards", "monitor": "monitors", "workflow": "workflows"}
MANAGED_TAG = "managed-by:autonomic-kit"
INTEGRATION_TAG = "integration:autonomic_ai"
NAME_PREFIX = "[Autonomic AI]"
# Dashboards take team tags only: one whose description mentions KIT_MARK is the kit's to export, and import
# adds IMPORT_MARK to a foreign dashboard's description so that export finds it again.
KIT_MARK = "autonomic-kit"
IMPORT_MARK = f"Imported by {KIT_MARK}."
MONITOR_TYPES = frozenset(str(t) for t in MonitorType.allowed_values)
# Where the API body sits in a file of each layout.
BODY_PATHS: dict[Layout, str] = {"template": "$.definition", "body": "$", "request": "$.data.attributes",
                                 "attributes": "$"}
SHAPES = ('a monitor has "query" and "type" (or is the kit\'s template with definition.query); a dashboard has '
          '"widgets" and "layout_type"; a workflow is {"data": {"type": "workflows", "attributes": {...}}} or '
          'the attributes with a "spec"')
_MODELS: dict[Kind, type] = {"dashboard": Dashboard, "monitor": Monitor, "workflow": CreateWorkflowRequest}
_CONFIG = Configuration()


def _read_only(model: type, *extra: str) -> frozenset[str]:
    """JSON names of the fields only the backend writes: the model's read-only ones, plus those it lacks."""
    names: set[str] = getattr(model, "read_only_vars", set())
    return frozenset({model.attribute_map[n] for n in names} | set(extra))  # type: ignore[attr-defined]


# Fields Datadog returns beside the model's read-only ones (DATADOG.md §3.1, §4.1, §5.1).
READ_ONLY: dict[Kind, frozenset[str]] = {
    "monitor": _read_only(Monitor, "org_id", "created_at", "overall_state_modified", "matching_downtimes"),
    "dashboard": _read_only(Dashboard),
    "workflow": _read_only(WorkflowDataAttributes, "id"),
}
_ENVELOPE_READ_ONLY = _read_only(WorkflowData)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an asset: where (file, JSON path), what, and how to fix it.

    `info` is a note, not a problem: something lint or import does for you (read-only fields left out).
    """

    file: str
    path: str
    message: str
    fix: str
    rule: str
    severity: Severity = "error"

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.severity}: {self.message}. Fix: {self.fix} [{self.rule}]"


class AssetError(AutonomicError):
    """Assets failed lint or model validation; `problems` holds every finding, not only the first."""

    def __init__(self, problems: list[Problem]):
        errors = [p for p in problems if p.severity == "error"]
        super().__init__(f"{len(errors)} problem(s) in the assets:\n" + "\n".join(f"  - {p}" for p in errors))
        self.problems = problems


@dataclass
class Asset:
    """One asset file: its kind, its parsed JSON (None when unreadable), its layout and the API body inside it."""

    kind: Kind
    path: Path
    data: Any
    layout: Layout

    @property
    def raw_body(self) -> dict[str, Any]:
        """The body as the file holds it, read-only fields included."""
        data = self.data if isinstance(self.data, dict) else {}
        inner: Any = data
        if self.layout == "template":
            inner = data.get("definition")
        elif self.layout == "request":
            envelope = data.get("data")
            inner = envelope.get("attributes") if isinstance(envelope, dict) else None
        return inner if isinstance(inner, dict) else {}

    @cached_property
    def body(self) -> dict[str, Any]:
        """What the API receives: the file's body without the fields only the backend writes."""
        body = {k: v for k, v in self.raw_body.items() if k not in READ_ONLY[self.kind]}
        if self.kind == "dashboard" and isinstance(body.get("widgets"), list):
            body["widgets"] = _without_widget_ids(body["widgets"])
        return body

    @cached_property
    def read_only(self) -> list[str]:
        """JSON paths of the read-only fields in the file (Datadog's exports carry them; the API ignores them)."""
        found = [f"{self.body_path}.{k}" for k in self.raw_body if k in READ_ONLY[self.kind]]
        if self.layout == "request" and isinstance(self.data, dict) and isinstance(self.data.get("data"), dict):
            found = [f"$.data.{k}" for k in self.data["data"] if k in _ENVELOPE_READ_ONLY] + found
        if self.kind == "dashboard":
            found += list(_widget_id_paths(self.raw_body.get("widgets"), "$.widgets"))
        return found

    @property
    def name(self) -> str:
        """The title or name the kit finds the asset by in the backend."""
        return str(self.body.get("title" if self.kind == "dashboard" else "name") or self.path.stem)

    @property
    def body_path(self) -> str:
        """JSON path of the API body inside the file."""
        return BODY_PATHS[self.layout]

    @property
    def foreign(self) -> bool:
        """Brought from Datadog rather than the kit's own: the kit's conventions do not apply, only Datadog's.

        Monitors and workflows are the kit's when tagged integration:autonomic_ai (a template's own tags count),
        the integrations-core mark that import never adds; dashboards, which take team tags only, when they
        carry no field only Datadog writes and no IMPORT_MARK.
        """
        if self.kind == "dashboard":
            return bool(self.read_only) or IMPORT_MARK in str(self.body.get("description") or "")
        tags = _tags(self.body.get("tags"))
        if self.layout == "template" and isinstance(self.data, dict):
            tags += _tags(self.data.get("tags"))
        return INTEGRATION_TAG not in tags


def _tags(value: Any) -> list[str]:
    return [str(t) for t in value] if isinstance(value, list) else []


def _without_widget_ids(widgets: list[Any]) -> list[Any]:
    """Widget ids are the backend's: Datadog numbers every widget, groups' children too."""
    out = []
    for widget in widgets:
        if isinstance(widget, dict):
            widget = {k: v for k, v in widget.items() if k != "id"}
            definition = widget.get("definition")
            if isinstance(definition, dict) and isinstance(definition.get("widgets"), list):
                widget["definition"] = {**definition, "widgets": _without_widget_ids(definition["widgets"])}
        out.append(widget)
    return out


def _widget_id_paths(widgets: Any, path: str) -> Iterable[str]:
    for i, widget in enumerate(widgets if isinstance(widgets, list) else []):
        if isinstance(widget, dict):
            if "id" in widget:
                yield f"{path}[{i}].id"
            definition = widget.get("definition")
            if isinstance(definition, dict):
                yield from _widget_id_paths(definition.get("widgets"), f"{path}[{i}].definition.widgets")


def shipped_paths(root: Path | None = None) -> list[Path]:
    """The kit's own asset files, dashboards then monitors then workflows."""
    base = Path(root) if root is not None else ASSETS_DIR
    return [p for kind in KINDS for p in sorted((base / FOLDERS[kind]).glob("*.json"))]


def expand(paths: Iterable[Path], problems: list[Problem]) -> list[Path]:
    """Files to lint: folders walked for *.json (sorted, hidden ones skipped); an empty folder is a problem."""
    files: list[Path] = []
    for path in map(Path, paths):
        if not path.is_dir():
            files.append(path)
            continue
        found = sorted(p for p in path.rglob("*.json")
                       if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts))
        if not found:
            problems.append(Problem(str(path), "$", "the folder holds no .json file",
                                    "give asset files, or a folder holding them", "layout"))
        files.extend(found)
    return files


def recognise(data: Any) -> tuple[Kind, Layout] | None:
    """The kind and layout the content says, whatever the file's name or folder; None when it says neither."""
    if not isinstance(data, dict):
        return None
    envelope = data.get("data")
    if isinstance(envelope, dict) and envelope.get("type") == "workflows" and isinstance(envelope.get("attributes"),
                                                                                        dict):
        return "workflow", "request"
    definition = data.get("definition")
    if isinstance(definition, dict) and "query" in definition:
        return "monitor", "template"
    if isinstance(data.get("query"), str) and data.get("type") in MONITOR_TYPES:
        return "monitor", "body"
    if isinstance(data.get("widgets"), list) and "layout_type" in data:
        return "dashboard", "body"
    if isinstance(data.get("spec"), dict):
        return "workflow", "attributes"
    return None


def _hinted_kind(path: Path) -> Kind | None:
    """The kind a file's folder (assets/monitors/...) or name (monitor_...) suggests."""
    for kind, folder in FOLDERS.items():
        if path.parent.name == folder:
            return kind
    return next((kind for kind in KINDS if path.name.startswith(kind + "_")), None)


def guess_kind(path: Path, data: Any) -> tuple[Kind, Layout] | None:
    """The content decides; when it is unreadable or incomplete, the folder or file name gives the kind, so
    the problem reported is what is missing rather than what the file is."""
    recognised = recognise(data)
    if recognised is not None:
        return recognised
    kind = _hinted_kind(path)
    if kind is None:
        return None
    fields = data if isinstance(data, dict) else {}
    if kind == "monitor":
        return kind, "template" if "definition" in fields or "query" not in fields else "body"
    if kind == "workflow":
        return kind, "request" if "data" in fields or "spec" not in fields else "attributes"
    return kind, "body"


def _unknown_kind(path: Path, data: Any) -> Problem:
    if isinstance(data, list):
        return Problem(str(path), "$", "the file holds a JSON array, not one asset",
                       "save each monitor, dashboard or workflow in a file of its own", "layout")
    if isinstance(data, dict) and isinstance(data.get("query"), str) and "type" in data:
        return Problem(str(path), "$.type", f"{data.get('type')!r} is not a monitor type",
                       f"use one of {', '.join(sorted(MONITOR_TYPES))}", "layout")
    return Problem(str(path), "$", "cannot tell whether this is a dashboard, a monitor or a workflow",
                   SHAPES, "layout")


def load(paths: list[Path], problems: list[Problem]) -> list[Asset]:
    """Read asset files; unreadable JSON and unknown kinds become problems, never exceptions."""
    assets = []
    for path in paths:
        path = Path(path)
        data: Any = None
        readable = False
        try:
            data, readable = json.loads(path.read_text(encoding="utf-8")), True
        except OSError as exc:
            problems.append(Problem(str(path), "$", f"cannot read the file ({exc.strerror})", "check the path", "json"))
        except UnicodeDecodeError:
            problems.append(Problem(str(path), "$", "the file is not UTF-8 text", "save it as UTF-8 JSON", "json"))
        except json.JSONDecodeError as exc:
            problems.append(Problem(str(path), "$", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                                    "fix the JSON syntax (a trailing comma or a missing quote is the usual cause)",
                                    "json"))
        guessed = guess_kind(path, data)
        if guessed is None:
            if readable:  # an unreadable file has its problem already
                problems.append(_unknown_kind(path, data))
            continue
        assets.append(Asset(guessed[0], path, data, guessed[1]))
    return assets


def check_layout(asset: Asset, problems: list[Problem]) -> bool:
    """The file-level keys around the API body (monitor template, workflow request envelope)."""
    file, data = str(asset.path), asset.data
    if data is None:
        return False
    if not isinstance(data, dict):
        problems.append(Problem(file, "$", "the file must hold a JSON object", "wrap the asset in {...}", "layout"))
        return False
    if asset.layout == "template":
        missing = [k for k in ("version", "title", "description", "tags", "definition") if k not in data]
        if missing:
            problems.append(Problem(file, "$", f"monitor template lacks {', '.join(missing)}",
                                    "use the integrations-core template: version, title, description, tags, "
                                    "definition; or Datadog's own monitor JSON (name, type, query, ...)", "layout"))
            return "definition" in data and isinstance(data["definition"], dict)
    if asset.layout == "request":
        envelope = data.get("data")
        if isinstance(envelope, dict) and envelope.get("type") != "workflows" and "attributes" in envelope:
            problems.append(Problem(file, "$.data.type", f"the request's type is {envelope.get('type')!r}, "
                                    "not 'workflows'", 'set "type": "workflows"', "layout"))
            return False
        if not isinstance(envelope, dict) or not isinstance(envelope.get("attributes"), dict):
            problems.append(Problem(file, "$.data", "a workflow file is a JSON:API request "
                                    '{"data": {"type": "workflows", "attributes": {...}}}, or the attributes alone '
                                    "with their spec (Datadog's UI export)",
                                    "wrap the workflow in that envelope", "layout"))
            return False
    return True


def note_read_only(asset: Asset, problems: list[Problem]) -> None:
    """Datadog's exports carry fields only the backend writes; they are named once, and import leaves them out."""
    paths = asset.read_only
    if not paths:
        return
    widgets = [p for p in paths if p.endswith("].id") and ".widgets[" in p]
    named = [p for p in paths if p not in widgets] + ([f"{len(widgets)} widget id(s)"] if widgets else [])
    problems.append(Problem(str(asset.path), "$", f"fields only Datadog writes: {', '.join(named)}",
                            "nothing to do: import leaves them out and export never writes them", "read-only",
                            "info"))


def _json_path(items: list[Any], skip: int) -> str:
    return "$" + "".join(f"[{i}]" if isinstance(i, int) else f".{i}" for i in items[skip:])


def _where(asset: Asset, items: list[Any]) -> str:
    """The file's JSON path for a client error path ([kind, ...], a workflow's inside its request envelope)."""
    return asset.body_path + _json_path(items, 3 if asset.kind == "workflow" else 1)[1:]


def to_model(kind: Kind, body: dict[str, Any]) -> Any:
    """The client model for an API body (type checked); raises the client's ApiTypeError/ApiValueError."""
    data = {"data": {"type": "workflows", "attributes": body}} if kind == "workflow" else body
    return validate_and_convert_types(data, (_MODELS[kind],), [kind], True, True, _CONFIG)


def check_model(asset: Asset, problems: list[Problem]) -> None:
    """Validate the asset's body against the client's models, type checking on, including inside oneOf unions."""
    try:
        model = to_model(asset.kind, asset.body)
    except (ApiTypeError, ApiValueError) as exc:
        problems.append(_model_problem(asset, exc))
        return
    _walk_unparsed(asset, model, problems)


def _model_problem(asset: Asset, exc: Exception) -> Problem:
    path = list(getattr(exc, "path_to_item", None) or [])
    message = str(exc).split(" at [")[0]
    return Problem(str(asset.path), _where(asset, path), message,
                   "match the Datadog API schema (datadog-api-client model)", "model")


def _walk_unparsed(asset: Asset, node: Any, problems: list[Problem]) -> None:
    """Find oneOf values the client could not match and say why, via the candidate their `type` names."""
    if isinstance(node, list):
        for item in node:
            _walk_unparsed(asset, item, problems)
        return
    if isinstance(node, ModelComposed) and getattr(node, "_unparsed", False):
        _explain_unparsed(asset, node, problems)
        return
    if isinstance(node, ModelSimple) and getattr(node, "_unparsed", False):  # an enum value the API refuses
        allowed = ", ".join(sorted(map(str, getattr(node, "allowed_values", ()))))
        problems.append(Problem(str(asset.path), _where(asset, list(node._path_to_item)),
                                f"{node._data_store.get('value')!r} is not a valid {type(node).__name__}",
                                f"use one of {allowed}", "model"))
        return
    store = getattr(node, "_data_store", None)
    if isinstance(node, ModelComposed):
        for inner in getattr(node, "_composed_instances", []):
            _walk_unparsed(asset, inner, problems)
    if isinstance(store, dict):
        for value in store.values():
            _walk_unparsed(asset, value, problems)


def _type_values(candidate: type) -> tuple[Any, ...]:
    types = getattr(candidate, "openapi_types", None)
    enum = types.get("type", (None,))[0] if isinstance(types, Mapping) else None
    return tuple(getattr(enum, "allowed_values", ()) or ())


def _explain_unparsed(asset: Asset, node: ModelComposed, problems: list[Problem]) -> None:
    path = list(node._path_to_item)
    where = _where(asset, path)
    raw = next((dict(c._data_store) for c in node._composed_instances if isinstance(c, UnparsedObject)), {})
    candidates = node._composed_schemas["oneOf"]
    wanted = raw.get("type") if isinstance(raw, dict) else None
    typed = [(c, _type_values(c)) for c in candidates]
    if wanted is not None and any(values for _, values in typed):
        match = [c for c, values in typed if wanted in values]
        if not match:
            known = sorted({v for _, values in typed for v in values})
            problems.append(Problem(str(asset.path), where + ".type", f"unknown {type(node).__name__} type {wanted!r}",
                                    f"use one of {', '.join(known)}", "widget-type"))
            return
        candidates = match
    for candidate in candidates:
        try:
            model = validate_and_convert_types(raw, (candidate,), path, True, True, _CONFIG)
        except (ApiTypeError, ApiValueError) as exc:
            problems.append(_model_problem(asset, exc))
            return
        except TypeError as exc:  # the model's constructor: a required field is missing
            if len(candidates) == 1:
                detail = str(exc).split("__init__() ")[-1]
                problems.append(Problem(str(asset.path), where, f"{candidate.__name__}: {detail}",
                                        "add the required field(s)", "model"))
                return
            continue
        if len(candidates) == 1:  # the shape fits; an error, if any, is deeper (a widget inside a group)
            _walk_unparsed(asset, model, problems)
            return
    problems.append(Problem(str(asset.path), where, f"matches none of the {type(node).__name__} shapes",
                            "compare with the Datadog API schema for this object", "model"))
