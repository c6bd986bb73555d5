"""Asset files as the kit ships them, loaded and checked against the datadog-api-client models.

The client's models are the contract Datadog's API enforces, so type checking them locally refuses a
wrong field before anything is sent. Their `oneOf` unions (widget definitions, workflow triggers)
swallow errors into an "unparsed" object; this module digs the real error out of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping

from datadog_api_client import Configuration
from datadog_api_client.exceptions import ApiTypeError, ApiValueError
from datadog_api_client.model_utils import ModelComposed, ModelSimple, UnparsedObject, validate_and_convert_types
from datadog_api_client.v1.model.dashboard import Dashboard
from datadog_api_client.v1.model.monitor import Monitor
from datadog_api_client.v2.model.create_workflow_request import CreateWorkflowRequest

from ..catalog import ASSETS_DIR
from ..errors import AutonomicError

Kind = Literal["dashboard", "monitor", "workflow"]
KINDS: tuple[Kind, ...] = ("dashboard", "monitor", "workflow")
FOLDERS: dict[Kind, str] = {"dashboard": "dashboards", "monitor": "monitors", "workflow": "workflows"}
MANAGED_TAG = "managed-by:autonomic-kit"
INTEGRATION_TAG = "integration:autonomic_ai"
NAME_PREFIX = "[Autonomic AI]"
_MODELS: dict[Kind, type] = {"dashboard": Dashboard, "monitor": Monitor, "workflow": CreateWorkflowRequest}
_CONFIG = Configuration()


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an asset: where (file, JSON path), what, and how to fix it."""

    file: str
    path: str
    message: str
    fix: str
    rule: str
    severity: Literal["error", "warning"] = "error"

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
    """One asset file: its kind, its parsed JSON (None when unreadable) and the API body inside it."""

    kind: Kind
    path: Path
    data: Any

    @property
    def body(self) -> dict[str, Any]:
        """What the API receives: the dashboard itself, a monitor template's definition, a workflow's attributes."""
        if not isinstance(self.data, dict):
            return {}
        if self.kind == "monitor":
            return self.data.get("definition") or {}
        if self.kind == "workflow":
            return ((self.data.get("data") or {}).get("attributes")) or {}
        return self.data

    @property
    def name(self) -> str:
        """The title or name the kit finds the asset by in the backend."""
        return str(self.body.get("title" if self.kind == "dashboard" else "name") or self.path.stem)

    @property
    def body_path(self) -> str:
        """JSON path of the API body inside the file."""
        return {"dashboard": "$", "monitor": "$.definition", "workflow": "$.data.attributes"}[self.kind]


def shipped_paths(root: Path | None = None) -> list[Path]:
    """The kit's own asset files, dashboards then monitors then workflows."""
    base = Path(root) if root is not None else ASSETS_DIR
    return [p for kind in KINDS for p in sorted((base / FOLDERS[kind]).glob("*.json"))]


def guess_kind(path: Path, data: Any) -> Kind | None:
    """The folder says the kind (assets/monitors/...); else a `monitor_...` file name; else the content."""
    for kind, folder in FOLDERS.items():
        if path.parent.name == folder:
            return kind
    for kind in KINDS:
        if path.name.startswith(kind + "_"):
            return kind
    if isinstance(data, dict):
        if "widgets" in data:
            return "dashboard"
        if "definition" in data:
            return "monitor"
        if "data" in data:
            return "workflow"
    return None


def load(paths: list[Path], problems: list[Problem]) -> list[Asset]:
    """Read asset files; unreadable JSON and unknown kinds become problems, never exceptions."""
    assets = []
    for path in paths:
        path = Path(path)
        data: Any = None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            problems.append(Problem(str(path), "$", f"cannot read the file ({exc.strerror})", "check the path", "json"))
        except json.JSONDecodeError as exc:
            problems.append(Problem(str(path), "$", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                                    "fix the JSON syntax (a trailing comma or a missing quote is the usual cause)",
                                    "json"))
        kind = guess_kind(path, data)
        if kind is None:
            problems.append(Problem(str(path), "$", "cannot tell whether this is a dashboard, a monitor or a workflow",
                                    "put it under assets/dashboards, assets/monitors or assets/workflows", "layout"))
            continue
        assets.append(Asset(kind, path, data))
    return assets


def check_layout(asset: Asset, problems: list[Problem]) -> bool:
    """The file-level keys around the API body (monitor template, workflow request envelope)."""
    file, data = str(asset.path), asset.data
    if data is None:
        return False
    if not isinstance(data, dict):
        problems.append(Problem(file, "$", "the file must hold a JSON object", "wrap the asset in {...}", "layout"))
        return False
    if asset.kind == "monitor":
        missing = [k for k in ("version", "title", "description", "tags", "definition") if k not in data]
        if missing:
            problems.append(Problem(file, "$", f"monitor template lacks {', '.join(missing)}",
                                    "use the integrations-core template: version, title, description, tags, definition",
                                    "layout"))
            return "definition" in data and isinstance(data["definition"], dict)
    if asset.kind == "workflow":
        envelope = data.get("data")
        if not isinstance(envelope, dict) or envelope.get("type") != "workflows" or "attributes" not in envelope:
            problems.append(Problem(file, "$.data", "a workflow file is a create request: "
                                    '{"data": {"type": "workflows", "attributes": {...}}}',
                                    "wrap the workflow in that envelope", "layout"))
            return False
    return True


def _json_path(items: list[Any], skip: int) -> str:
    return "$" + "".join(f"[{i}]" if isinstance(i, int) else f".{i}" for i in items[skip:])


def to_model(kind: Kind, body: dict[str, Any]) -> Any:
    """The client model for an API body (type checked); raises the client's ApiTypeError/ApiValueError."""
    data = {"data": {"type": "workflows", "attributes": body}} if kind == "workflow" else body
    return validate_and_convert_types(data, (_MODELS[kind],), [kind], True, True, _CONFIG)


def check_model(asset: Asset, problems: list[Problem]) -> None:
    """Validate the asset against the client's models, type checking on, including inside oneOf unions."""
    data = asset.data if asset.kind == "workflow" else asset.body
    prefix = "$.definition" if asset.kind == "monitor" else "$"
    try:
        model = validate_and_convert_types(data, (_MODELS[asset.kind],), [asset.kind], True, True, _CONFIG)
    except (ApiTypeError, ApiValueError) as exc:
        problems.append(_model_problem(asset, exc, prefix))
        return
    _walk_unparsed(asset, model, prefix, problems)


def _model_problem(asset: Asset, exc: Exception, prefix: str) -> Problem:
    path = list(getattr(exc, "path_to_item", None) or [])
    message = str(exc).split(" at [")[0]
    return Problem(str(asset.path), prefix + _json_path(path, 1)[1:], message,
                   "match the Datadog API schema (datadog-api-client model)", "model")


def _walk_unparsed(asset: Asset, node: Any, prefix: str, problems: list[Problem]) -> None:
    """Find oneOf values the client could not match and say why, via the candidate their `type` names."""
    if isinstance(node, list):
        for item in node:
            _walk_unparsed(asset, item, prefix, problems)
        return
    if isinstance(node, ModelComposed) and getattr(node, "_unparsed", False):
        _explain_unparsed(asset, node, prefix, problems)
        return
    if isinstance(node, ModelSimple) and getattr(node, "_unparsed", False):  # an enum value the API refuses
        allowed = ", ".join(sorted(map(str, getattr(node, "allowed_values", ()))))
        problems.append(Problem(str(asset.path), prefix + _json_path(list(node._path_to_item), 1)[1:],
                                f"{node._data_store.get('value')!r} is not a valid {type(node).__name__}",
                                f"use one of {allowed}", "model"))
        return
    store = getattr(node, "_data_store", None)
    if isinstance(node, ModelComposed):
        for inner in getattr(node, "_composed_instances", []):
            _walk_unparsed(asset, inner, prefix, problems)
    if isinstance(store, dict):
        for value in store.values():
            _walk_unparsed(asset, value, prefix, problems)


def _type_values(candidate: type) -> tuple[Any, ...]:
    types = getattr(candidate, "openapi_types", None)
    enum = types.get("type", (None,))[0] if isinstance(types, Mapping) else None
    return tuple(getattr(enum, "allowed_values", ()) or ())


def _explain_unparsed(asset: Asset, node: ModelComposed, prefix: str, problems: list[Problem]) -> None:
    path = list(node._path_to_item)
    where = prefix + _json_path(path, 1)[1:]
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
            problems.append(_model_problem(asset, exc, prefix))
            return
        except TypeError as exc:  # the model's constructor: a required field is missing
            if len(candidates) == 1:
                detail = str(exc).split("__init__() ")[-1]
                problems.append(Problem(str(asset.path), where, f"{candidate.__name__}: {detail}",
                                        "add the required field(s)", "model"))
                return
            continue
        if len(candidates) == 1:  # the shape fits; an error, if any, is deeper (a widget inside a group)
            _walk_unparsed(asset, model, prefix, problems)
            return
    problems.append(Problem(str(asset.path), where, f"matches none of the {type(node).__name__} shapes",
                            "compare with the Datadog API schema for this object", "model"))
