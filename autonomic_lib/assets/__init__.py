"""Datadog assets as code: the Ops Center dashboard, the monitors and the remediation workflow.

    problems = lint_assets()                     # the kit's own files, or lint_assets([paths...])
    report = import_assets(settings)             # create / update / unchanged, idempotent
    export_assets(settings, out_dir)             # what the backend holds, back to files
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..catalog import Catalog, load_catalog
from .lint import SANDBOX_ACTIONS, Linter
from .model import (MANAGED_TAG, Asset, AssetError, Problem, check_layout, check_model, load,
                    shipped_paths)

__all__ = ["Asset", "AssetError", "MANAGED_TAG", "Problem", "SANDBOX_ACTIONS", "lint_assets", "load_assets",
           "shipped_paths"]


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
