"""Datadog assets as code: the Ops Center dashboard, the monitors and the remediation workflow, and yours.

    problems = lint_assets()                     # the kit's own files, or lint_assets([files or folders...])
    report = import_assets(settings)             # create / update / unchanged, idempotent
    export_assets(settings, out_dir)             # what the backend holds, back to files (form="datadog": API bodies)

Files may be in the kit's layout or as Datadog produces them (UI exports, API bodies, GET answers); see model.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..catalog import ASSETS_DIR, Catalog, load_catalog
from ..settings import Settings
from .lint import SANDBOX_ACTIONS, Linter
from .model import (MANAGED_TAG, Asset, AssetError, Problem, check_layout, check_model, expand, load,
                    note_read_only, shipped_paths)
from .sync import FORMS, Change, Form, export, format_table, sync

__all__ = ["Asset", "AssetError", "Change", "MANAGED_TAG", "Problem", "SANDBOX_ACTIONS",
           "export_assets", "format_table", "import_assets", "lint_assets", "load_assets", "shipped_paths"]


def lint_assets(paths: Sequence[Path] | None = None,
                catalog: Catalog | None = None) -> tuple[list[Asset], list[Problem]]:
    """Load and check assets; every problem is returned, none raised.

    Args:
        paths: Asset files or folders (walked for *.json); default the kit's own (assets/dashboards, monitors,
            workflows). Monitor mentions are checked against these workflows plus the kit's shipped ones.
        catalog: The metric catalogue; default assets/metadata.csv and tags.csv.

    Returns:
        The loaded assets and the problems (errors, warnings and info notes) in file order.
    """
    catalog = catalog or load_catalog()
    problems: list[Problem] = []
    files = expand(paths, problems) if paths else shipped_paths()
    assets = load(files, problems)
    usable = [a for a in assets if check_layout(a, problems)]
    for asset in usable:
        note_read_only(asset, problems)
        check_model(asset, problems)
    known_workflows = usable + [a for a in load(shipped_paths(), []) if a.kind == "workflow"
                                and all(a.path.resolve() != b.path.resolve() for b in usable)]
    linter = Linter(catalog, [a for a in known_workflows if a.kind == "workflow"], problems)
    for asset in usable:
        getattr(linter, asset.kind)(asset)
    order = {str(p): i for i, p in enumerate(files)}
    problems.sort(key=lambda p: order.get(p.file, len(order)))
    return usable, problems


def load_assets(paths: Sequence[Path] | None = None) -> list[Asset]:
    """Assets that passed lint; raises AssetError listing every error (warnings do not block)."""
    assets, problems = lint_assets(paths)
    if any(p.severity == "error" for p in problems):
        raise AssetError(problems)
    return assets


def import_assets(settings: Settings, paths: Sequence[Path] | None = None, *, dry_run: bool = False,
                  case_project: str | None = None) -> list[Change]:
    """Lint, then create or update the assets in the backend `settings` points at.

    Args:
        settings: The target, with both keys.
        paths: Asset files; default the kit's own.
        dry_run: Compare with the backend and report, sending nothing.
        case_project: Case Management project UUID the workflow opens cases in (its project_id default).

    Raises:
        AssetError: Any lint error; nothing is sent then.
        ConfigError: The backend refused the keys.
    """
    return sync(load_assets(paths), settings, dry_run=dry_run, case_project=case_project)


def export_assets(settings: Settings, out_dir: Path | None = None, *, form: Form = "kit") -> list[Path]:
    """Write the managed assets the backend holds to out_dir (default the kit's assets/) in the same layout.

    Args:
        settings: The backend, with both keys.
        out_dir: Folder for dashboards/, monitors/, workflows/; default the kit's assets/.
        form: "kit" writes monitors as integrations-core templates (the kit's layout); "datadog" writes the
            bodies Datadog's API and import take. Dashboards and workflow requests are the same in both.
    """
    if form not in FORMS:
        raise ValueError(f"form must be one of {', '.join(FORMS)}, not {form!r}")
    return export(settings, Path(out_dir) if out_dir is not None else ASSETS_DIR, load(shipped_paths(), []),
                  form=form)
