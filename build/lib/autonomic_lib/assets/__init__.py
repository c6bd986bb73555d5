"""Datadog assets as code: the Ops Center dashboard, the monitors and the remediation workflow.

    problems = lint_assets()                     # the kit's own files, or lint_assets([paths...])
    report = import_assets(settings)             # create / update / unchanged, idempotent
    export_assets(settings, out_dir)             # what the backend holds, back to files
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..catalog import ASSETS_DIR, Catalog, load_catalog
from ..settings import Settings
from .lint import SANDBOX_ACTIONS, Linter
from .model import (MANAGED_TAG, Asset, AssetError, Problem, check_layout, check_model, load,
                    shipped_paths)
from .sync import Change, export, format_table, sync

__all__ = ["Asset", "AssetError", "Change", "MANAGED_TAG", "Problem", "SANDBOX_ACTIONS",
           "export_assets", "format_table", "import_assets", "lint_assets", "load_assets", "shipped_paths"]


def lint_assets(paths: Sequence[Path] | None = None, catalog: Catalog | None = None) -> tuple[list[Asset], list[Problem]]:
    """Load and check assets; every problem is returned, none raised.

    Args:
        paths: Asset files; default the kit's own (assets/dashboards, monitors, workflows). Monitor
            mentions are checked against these workflows plus the kit's shipped ones.
        catalog: The metric catalogue; default assets/metadata.csv and tags.csv.

    Returns:
        The loaded assets and the problems (errors and warnings) in file order.
    """
    catalog = catalog or load_catalog()
    problems: list[Problem] = []
    files = [Path(p) for p in paths] if paths else shipped_paths()
    assets = load(files, problems)
    usable = [a for a in assets if check_layout(a, problems)]
    for asset in usable:
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


def export_assets(settings: Settings, out_dir: Path | None = None) -> list[Path]:
    """Write the managed assets the backend holds to out_dir (default the kit's assets/) in the same layout."""
    return export(settings, Path(out_dir) if out_dir is not None else ASSETS_DIR, load(shipped_paths(), []))
