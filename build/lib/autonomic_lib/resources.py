"""Where the kit's data files are: the source tree's `assets/` and `notebooks/`, or their copies in an installed kit.

A checkout (and the editable install `make` does) reads the top-level folders, so an edit shows at once; a
wheel (`pip install .`) carries copies inside the package (`autonomic_lib/_assets`, `autonomic_lib/_notebooks`,
mapped in pyproject.toml), used when no source tree sits beside the package.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    source = _PACKAGE.parent / name
    return source if source.is_dir() else _PACKAGE / f"_{name}"


ASSETS_DIR = _data_dir("assets")
NOTEBOOKS_DIR = _data_dir("notebooks")
