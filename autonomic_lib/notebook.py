"""Notebook plumbing: record results by name, progress bars, and running notebooks headless into HTML.

Results a notebook records (`record("pass_rate", 97.1)`) are display outputs of their own MIME type,
like scrapbook's scraps: they travel inside the executed .ipynb, render as nothing, and `read_records`
reads them back for the tests and the report index. Keys are never papermill parameters (the kernels
read them from the environment, `.env` or the sandbox's state file) and are scrubbed from every output.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from .resources import NOTEBOOKS_DIR

RECORD_MIME = "application/vnd.autonomic.record+json"
log = logging.getLogger("autonomic_lib")
NOTEBOOKS = ("00_setup", "01_import_assets", "02_traffic", "03_analysis")
# Datadog keys are 32 (API) and 40 (application) hex characters; longer hex runs (digests) are not keys.
KEY_PATTERN = re.compile(r"(?<![0-9a-fA-F])(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{32})(?![0-9a-fA-F])")


class RecordError(ValueError):
    """A value cannot be recorded (not JSON-able, or it looks like a key)."""


def plain(value: Any) -> Any:
    """`value` as JSON-able data: frames become lists of row dicts, NaN becomes None, times ISO strings."""
    import numpy as np  # here, not above: the demo imports this module for its runner, before it needs pandas
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        frame = value.reset_index() if not isinstance(value.index, pd.RangeIndex) else value
        return [plain(row) for row in frame.to_dict(orient="records")]
    if isinstance(value, pd.Series):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [plain(v) for v in value]
    if value is pd.NaT or value is None:
        return None
    if isinstance(value, (pd.Timestamp, datetime, date)):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (bool, int, float, str)):
        return value
    raise RecordError(f"cannot record a {type(value).__name__}; give numbers, text, lists, dicts or DataFrames")


def record(name: str, value: Any) -> None:
    """Record `value` under `name` in the running notebook's outputs (read back with `read_records`)."""
    from IPython.display import display

    data = plain(value)
    if KEY_PATTERN.search(repr(data)):
        raise RecordError(f"refusing to record {name!r}: it contains a 32/40-hex string shaped like a Datadog key")
    display({RECORD_MIME: {"name": name, "data": data}}, raw=True)


def records_of(nb: Any) -> dict[str, Any]:
    """Every record of a notebook node (later records of the same name win)."""
    found: dict[str, Any] = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            payload = output.get("data", {}).get(RECORD_MIME)
            if payload is not None:
                found[payload["name"]] = payload["data"]
    return found


def read_records(path: str | Path) -> dict[str, Any]:
    """The records of an executed notebook file."""
    import nbformat

    return records_of(nbformat.read(str(path), as_version=4))


class ProgressBar:
    """A progress bar that redraws in place in Jupyter and keeps its final state in executed notebooks.

    Usage::

        bar = ProgressBar("baseline", total=5676, unit="msg")
        bar.update(100); bar.close()
    """

    def __init__(self, label: str, total: float, unit: str = "", note: str = ""):
        from IPython.display import display

        self.label, self.total, self.unit, self.note = label, max(float(total), 1.0), unit, note
        self.n = 0.0
        self._last = 0.0
        self._handle = display(self._bundle(), raw=True, display_id=True)

    def _bundle(self) -> dict[str, str]:
        share = min(self.n / self.total, 1.0)
        text = f"{self.label}: {self.n:,.0f}/{self.total:,.0f} {self.unit} {self.note}".strip()
        return {"text/plain": f"{text} [{100 * share:.0f} %]",
                "text/html": f"<div style='font-family:monospace'><progress value='{share:.4f}' max='1' "
                             f"style='width:18em'></progress> {_escape(text)}</div>"}

    def update(self, n: float = 1, note: str | None = None, total: float | None = None) -> None:
        self.n += n
        if note is not None:
            self.note = note
        if total is not None:
            self.total = max(float(total), 1.0)
        now = time.monotonic()
        if now - self._last >= 0.2 or self.n >= self.total:  # no flood of display updates
            self._last = now
            self.refresh()

    def refresh(self) -> None:
        if self._handle is not None:
            self._handle.update(self._bundle(), raw=True)

    def close(self) -> None:
        self.refresh()


class ParameterError(ValueError):
    """A papermill parameter the notebook does not declare (papermill itself only warns)."""


def check_parameters(namespace: Mapping[str, Any], notebook: str | Path) -> None:
    """Refuse injected parameters the notebook does not declare: `-p SEEED 3` once ran silently with the default
    seed. The injected names come from papermill's "# Parameters" cell in the kernel's history (`In`); the declared
    ones from the notebook's cell tagged `parameters`. Outside a papermill run there is nothing to check.

    Raises:
        ParameterError: naming each unknown parameter, the closest declared one, and the declared list.
    """
    import difflib

    import orjson

    injected = [src for src in namespace.get("In", []) if isinstance(src, str) and src.startswith("# Parameters")]
    if not injected:
        return
    path = Path(notebook) if str(notebook).endswith(".ipynb") else NOTEBOOKS_DIR / f"{notebook}.ipynb"
    # The saved JSON (nbformat 4: a cell's source is a string or a list of lines), not nbformat.read: importing
    # nbformat costs every kernel ~2 s of CPU (jsonschema's format checkers compile dozens of grammars).
    cells = orjson.loads(path.read_bytes())["cells"]
    declared = {name for cell in cells if "parameters" in cell.get("metadata", {}).get("tags", [])
                for name in _assigned("".join(cell["source"]))}
    unknown = sorted({name for src in injected for name in _assigned(src)} - declared)
    if unknown:
        hints = [f"{name} (did you mean {close[0]}?)" if (close := difflib.get_close_matches(name, declared, 1))
                 else name for name in unknown]
        raise ParameterError(f"{path.name} has no parameter {', '.join(hints)}; it takes "
                             f"{', '.join(sorted(declared))}")


def _assigned(source: str) -> list[str]:
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)]


def announce(text: str) -> None:
    """One line for the reader: shown in the notebook (Markdown) when in a kernel, else logged."""
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:  # pragma: no cover - IPython ships with the kit's requirements
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        display(Markdown(f"**{text}**"))
    else:
        log.info("%s", text)


def countdown(seconds: float, label: str, *, sleep: Any = time.sleep) -> None:
    """A live countdown bar, e.g. while Datadog's monitor windows pass."""
    bar = ProgressBar(label, seconds, "s")
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        sleep(min(1.0, left))
        bar.n = seconds - max(end - time.monotonic(), 0.0)
        bar.update(0, note=f"({max(end - time.monotonic(), 0):.0f} s left)")
    bar.n = seconds
    bar.close()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ------------------------------------------------------------------------------------------ headless runs
def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every known secret, and anything shaped like a Datadog key, replaced by ****."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "****")
    return KEY_PATTERN.sub("****", text)


@dataclass
class NotebookRun:
    """One notebook executed by papermill and rendered: where its outputs are and what it recorded."""

    name: str
    ipynb: Path
    html: Path | None = None
    ok: bool = False
    error: str | None = None
    seconds: float = 0.0
    records: dict[str, Any] = field(default_factory=dict)


def offline_exporter() -> Any:
    """nbconvert's JupyterLab HTML exporter without the CDN scripts (require.js, MathJax, mermaid): the
    reports must open offline, and the kit's notebooks use neither widgets nor LaTeX."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    template = ("{%- extends 'lab/index.html.j2' -%}\n"
                "{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}\n"
                "{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}\n"
                "{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}\n")
    exporter = HTMLExporter(template_name="lab", extra_loaders=[DictLoader({"offline.html.j2": template})])
    exporter.template_file = "offline.html.j2"
    exporter.embed_images = True
    return exporter


_EXPORTERS = threading.local()


def _thread_exporter() -> Any:
    """This thread's `offline_exporter()`, made once: making one loads and compiles nbconvert's templates (0.2-0.4 s
    of each page); an exporter keeps state while it renders, so threads do not share one."""
    if getattr(_EXPORTERS, "exporter", None) is None:
        _EXPORTERS.exporter = offline_exporter()
    return _EXPORTERS.exporter


def render_html(ipynb: Path, html_path: Path, secrets: Iterable[str] = ()) -> Path:
    """Render an executed notebook to a self-contained HTML page, scrubbed of keys."""
    import nbformat

    nb = nbformat.read(str(ipynb), as_version=4)
    for cell in nb.cells:  # records are data for the index and tests, not something to show
        if "outputs" in cell:
            cell.outputs = [o for o in cell.outputs if RECORD_MIME not in o.get("data", {})]
    body, _ = _thread_exporter().from_notebook_node(nb, resources={"metadata": {"name": ipynb.stem}})
    html_path.write_text(scrub(body, list(secrets)), encoding="utf-8")
    return html_path


def run_notebook(source: Path, out_dir: Path, parameters: Mapping[str, Any], *, secrets: Iterable[str] = (),
                 cwd: Path | None = None, progress: bool = True, timeout: int | None = 1800,
                 render: bool = True, kernel_manager: Any = None) -> NotebookRun:
    """Execute `source` with papermill into `out_dir/<name>.ipynb`, scrub keys, render `<name>.html`.

    A failing notebook is still saved and rendered (papermill writes it with the error before raising);
    the run says `ok=False` and carries the error's first line. `render=False` leaves the page to the caller
    (`render_html(run.ipynb, ...)`), e.g. to draw it while the next notebook runs. `kernel_manager`: a kernel
    started already (`kernels.StartedKernel.manager`), which its owner stops; else papermill starts and stops one.
    """
    import nbformat
    import papermill

    secrets = [s for s in secrets if s]
    for key, value in parameters.items():  # keys must never become parameters (they would be in the output)
        if any(s and s in str(value) for s in secrets) or "KEY" in key.upper():
            raise ValueError(f"parameter {key!r} looks like a key; keys come from the environment, never parameters")
    out_dir.mkdir(parents=True, exist_ok=True)
    run = NotebookRun(source.stem, out_dir / f"{source.stem}.ipynb")
    started = time.monotonic()
    kernel = {"km": kernel_manager} if kernel_manager is not None else {}
    try:
        papermill.execute_notebook(str(source), str(run.ipynb), parameters=dict(parameters), progress_bar=progress,
                                   cwd=str(cwd) if cwd else None, kernel_name="python3", execution_timeout=timeout,
                                   **kernel)
        run.ok = True
    except Exception as exc:  # noqa: BLE001 - PapermillExecutionError, a dead kernel, a timeout: all a failed step
        run.error = scrub(f"{type(exc).__name__}: {getattr(exc, 'ename', '')} {getattr(exc, 'evalue', exc)}",
                          secrets).strip()
    run.seconds = time.monotonic() - started
    if run.ipynb.is_file():
        text = scrub(run.ipynb.read_text(encoding="utf-8"), secrets)
        run.ipynb.write_text(text, encoding="utf-8")
        run.records = records_of(nbformat.reads(text, as_version=4))
        if render:
            run.html = render_html(run.ipynb, out_dir / f"{source.stem}.html", secrets)
    return run
