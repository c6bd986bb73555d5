"""Kernels the demo starts ahead of their notebooks (autonomic_lib/kernels.py): a notebook runs on one with papermill
as on its own, finds its modules imported with nothing else in its namespace or history, and every kernel started
(the ones of notebooks never run too) is stopped with its clients closed."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from autonomic_lib.kernels import KernelQueue, imported_modules
from autonomic_lib.notebook import run_notebook


def write_notebook(path: Path, *sources: str, magic: str | None = None) -> Path:
    cells = [nbformat.v4.new_code_cell(source) for source in sources]
    if magic:
        cells.insert(0, nbformat.v4.new_code_cell(magic))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("import not_code"), *cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_the_modules_a_notebook_imports_are_read_from_its_code_cells(tmp_path: Path) -> None:
    path = write_notebook(tmp_path / "n.ipynb", "import json, os.path\nfrom collections import abc as _abc",
                          "from . import nothing\nfrom json import dumps\nif True:\n    import wave",
                          magic="%matplotlib inline\nimport colorsys")
    assert imported_modules(path) == ["json", "os.path", "collections"]  # top level, in order, once; no magic cell


@pytest.mark.slow
def test_a_notebook_runs_on_a_started_kernel_with_its_imports_loaded_and_every_kernel_is_stopped(
        tmp_path: Path) -> None:
    first = write_notebook(tmp_path / "first.ipynb",
                           "import sys\nloaded_early = 'colorsys' in sys.modules",
                           "import colorsys\nfrom autonomic_lib.notebook import record",
                           "record('loaded_early', loaded_early)\n"
                           "record('names', sorted(k for k in globals() if not k.startswith('_')))\n"
                           "record('history', [line for line in In if 'import' + 'lib' in line])\n"
                           "print(colorsys.rgb_to_hsv(1, 0, 0))")
    never_run = write_notebook(tmp_path / "second.ipynb", "import wave")
    kernels = KernelQueue([first, never_run], cwd=tmp_path, ahead=1)
    kernels.start(0)
    try:
        kernel = kernels.take(0)
        assert set(kernels.kernels) == {0, 1}  # the next notebook's kernel starts when this one is taken
        run = run_notebook(first, tmp_path / "out", {}, progress=False, render=False, kernel_manager=kernel.manager)
        kernel.shut_down()
    finally:
        kernels.close()
    assert run.ok, run.error
    assert run.records["loaded_early"] is True
    assert set(run.records["names"]) == {"In", "Out", "colorsys", "exit", "get_ipython", "loaded_early", "open",
                                         "quit", "record", "sys"}
    assert run.records["history"] == []
    outputs = [o for cell in nbformat.read(run.ipynb, as_version=4).cells for o in cell.get("outputs", [])]
    assert any("(0.0, 1.0, 1)" in o.get("text", "") for o in outputs)  # printed output reached the notebook
    for started in kernels.kernels.values():
        assert not started.manager.has_kernel  # both stopped, the one of the notebook never run too
        assert started.manager.clients == []
