"""The demo's failure path: a failing notebook is still rendered with its error, the steps after it are not
run, the index names the failed step, the command exits non-zero, and the sandbox it started is stopped."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from autonomic_lib.demo import run_demo
from autonomic_lib.notebook import KEY_PATTERN, NOTEBOOKS

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_a_failing_notebook_is_rendered_with_its_error_and_the_index_names_the_step(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notebooks = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", notebooks)
    broken = nbformat.read(notebooks / "01_import_assets.ipynb", as_version=4)
    broken.cells.insert(3, nbformat.v4.new_code_cell('raise RuntimeError("the import step broke on purpose")'))
    nbformat.write(broken, notebooks / "01_import_assets.ipynb")

    code = run_demo(tmp_path / "reports", scenario="seed-demo", seed=7, progress=False, notebooks_dir=notebooks)

    out = tmp_path / "reports"
    assert code == 1
    assert "FAILED: report at" in capsys.readouterr().out
    page = (out / "01_import_assets.html").read_text()
    assert "the import step broke on purpose" in page and "RuntimeError" in page
    assert not (out / "02_traffic.html").exists() and not (out / "03_analysis.html").exists()
    index = (out / "index.html").read_text()
    assert "step 01_import_assets failed" in index
    assert index.count("not run (an earlier step failed)") == 2
    assert (out / "00_setup.html").is_file()
    for path in out.iterdir():
        assert KEY_PATTERN.search(path.read_text(errors="replace")) is None, path.name
    assert len(NOTEBOOKS) == 4
    assert not list(tmp_path.glob("**/sandbox.json"))  # stopped: the state file is gone with it
