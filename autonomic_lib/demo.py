"""`python -m autonomic_lib demo`: the whole demo as the four notebooks, run headless, rendered, summarised.

Starts a sandbox process (unless Datadog keys are set), runs 00_setup, 01_import_assets, 02_traffic and
03_analysis with papermill (each in its own kernel, finding the sandbox and the run through the state
folder), renders each to self-contained HTML, writes `index.html` from what the notebooks recorded, and
stops the sandbox. Keys are never parameters and are scrubbed from every output. A failed notebook is
still rendered with its error; the steps after it are not run, and the index says which step failed.

Nothing a notebook needs is started on its turn: the sandbox boots with the first kernels, each kernel boots and
imports its notebook's modules before its turn (kernels.py), each page is drawn while the next notebook runs. The
index page is index_page.py's.
"""

from __future__ import annotations

import importlib
import logging
import shutil
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .backend import choose_backend
from .notebook import NOTEBOOKS, NotebookRun, render_html, run_notebook
from .sandbox_process import launch_sandbox_process, project_root, stop_sandbox_process, wait_for_sandbox
from .settings import Settings

if TYPE_CHECKING:
    from .kernels import KernelQueue

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
# Kernels started before their notebook's turn, booting and importing while the notebooks before them run: 00's and
# 01's with the sandbox, then each two notebooks ahead, so 03's boots during 01 (which mostly waits on the sandbox),
# not during 02, whose simulation and the sandbox's ingest take both cores on the way to the alerts and the Case.
KERNELS_AHEAD = 2
def _import_runner(first: Path) -> None:
    """Import what runs the notebooks (papermill, nbformat) and read the first notebook as papermill will (nbformat
    builds its schema validator on first use) while the sandbox and the first kernels start; the first notebook then
    finds all that done. A failure is left to that notebook to report.

    jsonschema, which nbformat validates with, imports rfc3987-syntax when it is installed (JupyterLab's
    dependencies bring it) and compiles its Lark grammar on import: ~0.9 s of CPU for the "iri" string formats,
    which no notebook schema uses. It is kept out of this process."""
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]  # None: "not installed" to import
    try:
        from papermill.iorw import load_notebook_node

        load_notebook_node(str(first))
    except Exception:  # noqa: BLE001 - run_notebook imports and reads them again and says what failed
        pass


def run_demo(out_dir: Path, scenario: str = "seed-demo", seed: int = 7, *, progress: bool = True,
             notebooks_dir: Path | None = None) -> int:
    """Run the four notebooks and write the reports; 0 when every step ran and every expectation held.

    What a notebook waits for is started before its turn: the sandbox process and the first kernel at once, each
    next kernel while the notebook before it runs (`kernels.KernelQueue`), each page drawn while the next notebook
    runs, the sandbox stopped while the last page is drawn."""
    out_dir = Path(out_dir).resolve()
    logging.getLogger("papermill").setLevel(logging.WARNING)  # its per-notebook INFO lines repeat ours
    settings = Settings.from_env()
    state = Path(tempfile.mkdtemp(prefix="autonomic-demo-"))
    secrets: list[str] = [k.reveal() for k in (settings.api_key, settings.app_key) if k is not None]
    runs: list[NotebookRun] = []
    target = settings.target
    sources = [(notebooks_dir or NOTEBOOKS_DIR) / f"{name}.ipynb" for name in NOTEBOOKS]
    kernels: KernelQueue | None = None
    renderer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="render")
    pages: list[tuple[NotebookRun, Future[Path]]] = []
    stopper: threading.Thread | None = None
    sandbox: subprocess.Popen[bytes] | None = None
    try:
        # The notebooks ask the same question with the same folder, so they agree with the demo; the folder is
        # new, so no sandbox runs there yet.
        if choose_backend("auto", settings, state / "sandbox").settings is None:
            sandbox = launch_sandbox_process(state / "sandbox")
        from .kernels import KernelQueue  # jupyter_client: imported while the sandbox boots

        kernels = KernelQueue(sources, cwd=project_root(), ahead=KERNELS_AHEAD)
        kernels.start(0)
        kernels.start(1)  # with the sandbox and 00's: the rest when 00 starts (KERNELS_AHEAD)
        importer = threading.Thread(target=_import_runner, args=(sources[0],), name="import-papermill", daemon=True)
        importer.start()
        if sandbox is not None:
            from .sandbox.state import read_state

            target = wait_for_sandbox(state / "sandbox", sandbox).target
            sandbox_state = read_state(state / "sandbox")
            secrets += [sandbox_state.api_key, sandbox_state.app_key] if sandbox_state else []
            print(f"Sandbox started: {target} (data in {state / 'sandbox'})", flush=True)
        elif settings.is_sandbox:
            print(f"DD_HOST and keys are set: the demo runs against the {target} with backfill pacing.", flush=True)
        else:
            print(f"Keys are set: the demo runs against {target} with live pacing (the incident phases play in real "
                  "time, about 95 min for seed-demo).", flush=True)
        base = {"SANDBOX_DIR": str(state / "sandbox")}
        importer.join()
        for number, (name, source) in enumerate(zip(NOTEBOOKS, sources)):
            if runs and not runs[-1].ok:
                runs.append(NotebookRun(name, out_dir / f"{name}.ipynb"))
                print(f"[{number + 1}/{len(NOTEBOOKS)}] {name}: not run (an earlier step failed)", flush=True)
                continue
            print(f"[{number + 1}/{len(NOTEBOOKS)}] {name} ...", flush=True)
            parameters = {**base, "SCENARIO": scenario, "SEED": seed} if name == "00_setup" else base
            kernel = kernels.take(number)
            run = run_notebook(source, out_dir, parameters, secrets=secrets, cwd=project_root(), progress=progress,
                               render=False, kernel_manager=kernel.manager)
            kernel.shut_down()
            runs.append(run)
            html = out_dir / f"{name}.html"
            if run.ipynb.is_file():  # drawn while the next notebook runs (its kernel mostly waits on the sandbox)
                pages.append((run, renderer.submit(render_html, run.ipynb, html, secrets)))
            if number == 0:  # the index page's modules (pandas, Jinja2, the analysis' captions): loaded by then
                renderer.submit(importlib.import_module, ".index_page", __package__)
            print(f"      {'ok' if run.ok else 'FAILED'} in {run.seconds:.1f} s -> {html}"
                  + (f"\n      {run.error}" if run.error else ""), flush=True)
        if sandbox is not None:  # it checkpoints and exits while the last page and the index are drawn
            stopper = threading.Thread(target=stop_sandbox_process, args=(state / "sandbox",), name="stop-sandbox")
            stopper.start()
        for run, page in pages:
            run.html = page.result()
        from .index_page import write_index

        index, good = write_index(out_dir, runs, scenario=scenario, seed=seed, target=target, secrets=secrets)
    finally:
        renderer.shutdown(wait=True)
        if kernels is not None:
            kernels.close()
        if stopper is not None:
            stopper.join()
        elif sandbox is not None and not stop_sandbox_process(state / "sandbox") and sandbox.poll() is None:
            sandbox.terminate()  # stopped before it published its state file
            sandbox.wait(timeout=30)
        shutil.rmtree(state, ignore_errors=True)
    records: dict[str, Any] = {}
    for run in runs:
        records.update(run.records)
    for v in records.get("verdicts") or []:
        mark = {"held": "held", "did not hold": "NOT HELD"}.get(v["verdict"], v["verdict"])
        print(f"  [{mark}] {v['the seed expects']}: {v['observed']}")
    print(f"{'OK' if good else 'FAILED'}: report at {index}")
    return 0 if good else 1
