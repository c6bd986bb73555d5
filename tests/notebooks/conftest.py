"""Notebook fixtures: the four notebooks by short name, a sandbox they find through its state folder, and a
headless papermill run that keeps the executed notebook (a CI artefact under test-artifacts/)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autonomic_lib.notebook import read_records
from autonomic_lib.sandbox.server import SandboxServer
from tests.conftest import start_sandbox

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = {"setup": ROOT / "notebooks" / "00_setup.ipynb", "import": ROOT / "notebooks" / "01_import_assets.ipynb",
             "traffic": ROOT / "notebooks" / "02_traffic.ipynb", "analysis": ROOT / "notebooks" / "03_analysis.ipynb"}
SHORT_STORY = Path(__file__).parent / "fixtures" / "short_story.yaml"
ARTIFACTS = ROOT / "test-artifacts" / "notebooks"


@pytest.fixture(scope="session")
def notebooks() -> dict[str, Path]:
    return NOTEBOOKS


@pytest.fixture(scope="module")
def notebook_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    """A real sandbox (thread of the test process) publishing sandbox.json in its data folder, as the
    sandbox process does: the notebooks' kernels find it there through SANDBOX_DIR."""
    server = start_sandbox(tmp_path_factory.mktemp("state") / "sandbox", late_data=("autonomic.*",))
    yield server
    server.stop()


def execute(notebook: Path, out_name: str, **parameters: Any) -> tuple[Path, dict[str, Any]]:
    """Run `notebook` headless with papermill from the project root; return the executed file and its records."""
    import papermill

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    output = ARTIFACTS / f"{out_name}.ipynb"
    papermill.execute_notebook(str(notebook), str(output), parameters=parameters, progress_bar=False,
                               cwd=str(ROOT), kernel_name="python3", log_output=False)
    return output, read_records(output)
