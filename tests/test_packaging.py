"""An installed kit (a wheel, not the checkout) carries its dependencies, its console script and its data files."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest
from setuptools import find_packages

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_lists_every_subpackage() -> None:
    """pyproject.toml lists packages explicitly (two are mapped folders): a new subpackage must be added there."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set(find_packages(where=str(ROOT), include=["autonomic_lib*"]))
    assert found | {"autonomic_lib._assets", "autonomic_lib._notebooks"} == listed


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_a_built_wheel_declares_its_dependencies_and_finds_its_assets_outside_the_checkout(tmp_path: Path) -> None:
    """`pip install .` once gave a package with no dependencies and no assets."""
    source = tmp_path / "source"  # a copy: building in the checkout would leave build/ and *.egg-info there
    source.mkdir()
    for name in ("pyproject.toml", "requirements.txt", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for folder in ("autonomic_lib", "assets", "notebooks"):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w", str(tmp_path)],
                   check=True, capture_output=True, timeout=200)
    (wheel,) = tmp_path.glob("autonomic_kit-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        entry_points = archive.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
        archive.extractall(tmp_path / "site")
    assert "Requires-Dist: datadog-api-client==" in metadata and "Requires-Dist: duckdb==" in metadata
    assert "Requires-Dist: pytest" not in metadata  # test tools are requirements-dev.txt's
    assert "autonomic-kit = autonomic_lib.cli:main" in entry_points
    assert "autonomic_lib/_assets/monitors/budget_breach.json" in names
    assert "autonomic_lib/_notebooks/02_traffic.ipynb" in names
    # no site: neither the checkout's editable install nor the current folder is importable, only the wheel
    probe = ("import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"
             "from autonomic_lib.resources import ASSETS_DIR, NOTEBOOKS_DIR\n"
             "from autonomic_lib.catalog import load_catalog\n"
             "from autonomic_lib.budget import message_budget\n"
             "print(ASSETS_DIR, NOTEBOOKS_DIR, len(load_catalog().metrics), message_budget())")
    done = subprocess.run([sys.executable, "-S", "-c", probe, str(tmp_path / "site"), sysconfig.get_paths()["purelib"]],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assets, notebooks, metrics, budget = done.stdout.split()
    assert assets == str(tmp_path / "site" / "autonomic_lib" / "_assets") and notebooks.endswith("_notebooks")
    assert int(metrics) > 10 and float(budget) == 0.1
