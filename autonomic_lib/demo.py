"""`python -m autonomic_lib demo`: the whole demo as the four notebooks, run headless, rendered, summarised.

Starts a sandbox process (unless Datadog keys are set), runs 00_setup, 01_import_assets, 02_traffic and
03_analysis with papermill (each in its own kernel, finding the sandbox and the run through the state
folder), renders each to self-contained HTML, writes `index.html` from what the notebooks recorded, and
stops the sandbox. Keys are never parameters and are scrubbed from every output. A failed notebook is
still rendered with its error; the steps after it are not run, and the index says which step failed.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from .analysis import CAPTIONS, USER_LATENCY_P95
from .backend import choose_backend
from .budget import message_budget
from .expectations import latency_spikes  # noqa: F401 - re-exported: the demo's spike count, used by tests
from .notebook import NOTEBOOKS, NotebookRun, render_html, run_notebook, scrub
from .render import format_number, format_time, frame_html, missing, plural, png_description
from .sandbox.server import read_state
from .sandbox_process import project_root, start_sandbox_process, stop_sandbox_process
from .settings import Settings

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
STYLE = """body{font-family:system-ui,sans-serif;max-width:1180px;margin:2em auto;color:#222;padding:0 1em}
table{border-collapse:collapse;font-size:13px;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:left;vertical-align:top}.ok{color:#1a7f37;font-weight:600}.bad{color:#cf222e;font-weight:600}
.na{color:#8a8a8a}img{max-width:100%;border:1px solid #eee}.cards{display:grid;grid-template-columns:
repeat(auto-fill,minmax(250px,1fr));gap:10px;margin:1em 0}.card{border:1px solid #ddd;border-radius:6px;
padding:8px 12px}.card h3{margin:0 0 4px;font-size:13px;color:#632ca6}.card p{margin:2px 0;font-size:14px}
.card p.note,p.note{font-size:12px;color:#666}"""
TIME_COLUMNS = ("at", "started", "created", "signal began", "first alert", "last recovery", "last triggered")
PHASE_NOTE = ("Counts are exact sums. From the backend's 10 s windows: p50 is a typical window (the median); p95 and "
              "max are the highest window, the definitions the summary, the verdicts and the dashboard's lines share.")
IMAGES = (("story_png", "The run over time, queried back",
           "The run over time: pass rate, user latency, the most expensive message per minute against the budget "
           "line and the optimization rate, with the phases shaded"),
          ("dashboard_png", "The Ops Center dashboard, drawn from its JSON",
           "The Ops Center dashboard drawn from its JSON with the run's data: version, monitors, latency, cost, "
           "pass rate, optimization rate and logs"))


@dataclass
class Line:
    """One line of a summary card: an optional bold label, the text, a CSS class."""

    text: str
    label: str = ""
    css: str = ""
    sep: str = ": "


@dataclass
class Card:
    """A summary card: a title, its lines, and a note saying what its figures are."""

    title: str
    lines: list[Line] = field(default_factory=list)
    note: str = ""


def _num(value: Any, fmt: str = ",.1f", unit: str = "") -> str:
    """`value` formatted (`fmt`) with its unit, or a dash when there is none."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "–"
    return "–" if missing(number) else f"{number:{fmt}}{unit}"


def _frame(rows: list[dict[str, Any]] | None, columns: list[str] | None = None) -> pd.DataFrame:
    """Recorded rows as a frame, the recorded ISO times as times again."""
    frame = pd.DataFrame(rows or [])
    if columns:
        frame = frame[[c for c in columns if c in frame]]
    for column in TIME_COLUMNS:
        if column in frame:
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return frame


def _table(rows: list[dict[str, Any]] | None, columns: list[str] | None = None) -> Markup:
    frame = _frame(rows, columns)
    if frame.empty:
        return Markup("<p class='na'>nothing recorded</p>")
    return Markup(frame_html(frame, index=False))


PHASE_ROWS = ("messages", "pass", "fail", "pass rate %", "deployments", "optimization failures", "optimization rate %",
              "cost p50 $", "cost p95 $", "cost max $", "user latency p50 s", "user latency p95 s")


def _phase_table(rows: list[dict[str, Any]] | None) -> Markup:
    """The per-phase table with phases as columns, the headline measures first."""
    frame = pd.DataFrame(rows or [])
    if frame.empty or "phase" not in frame:
        return Markup("<p class='na'>nothing recorded</p>")
    table = frame.set_index("phase").T
    order = [r for r in PHASE_ROWS if r in table.index] + sorted(r for r in table.index if r not in PHASE_ROWS)
    return Markup(frame_html(table.loc[order]))


def _cards(records: dict[str, Any]) -> list[Card]:
    """The summary: monitors fired with times, the Case, pass and optimization rates, cost, latency, nothing lost."""
    head = records.get("headline") or {}
    fired: dict[str, list[str]] = {}
    for row in records.get("monitor_history") or []:
        if row.get("to") == "Alert":
            fired.setdefault(row["monitor"], []).append(format_time(row["at"], zone=False))
    delays = {r["monitor"]: r for r in records.get("detection_delays") or []}
    monitors = [Line(f"{', '.join(times)} UTC" + (f" (detected {_num(delays[m].get('detection delay min'), '.1f')} "
                                                  "min after its signal)" if m in delays else ""), m)
                for m, times in fired.items()] or [Line("no monitor fired", css="bad")]
    case = [Line(f" {c.get('title')}: agent {c.get('agent_id')}, {c.get('failure_reason')}, {c.get('status')}",
                 str(c.get("key")), sep="") for c in records.get("cases") or []] or [Line("no Case opened", css="bad")]
    costs = {r["item"]: r for r in records.get("cost_estimate") or []}
    lost = records.get("reconciled")
    return [
        Card("Monitors fired (UTC)", monitors),
        Card("The Case", case),
        Card("Pass rate", [Line(f"{_num(head.get('pass rate %'), '.1f', ' %')} of "
                                f"{plural(head.get('messages') or 0, 'audited message')}")], CAPTIONS["pass rate %"]),
        Card("Optimization rate", [Line(f"{_num(head.get('optimization rate %'), '.1f', ' %')}: "
                                        f"{format_number(head.get('deployments'))} deployed, "
                                        f"{format_number(head.get('optimization failures'))} failed")],
             CAPTIONS["optimization rate %"]),
        Card("Cost", [Line(f"LLM spend of the run ${_num(head.get('LLM cost $'), ',.2f')}"),
                      Line(f"most expensive message ${format_number(head.get('cost max $'))} "
                           f"(budget ${message_budget():.2f})"),
                      Line(f"this telemetry on Datadog ≈ "
                           f"${_num((costs.get('total') or {}).get('per month $'), ',.2f')}/month "
                           f"({plural(records.get('cardinality') or 0, 'custom metric')}; list-price assumption)")],
             f"Most expensive message: {CAPTIONS['cost max $']}."),
        Card("Latency", [Line(f"mean {format_number(head.get('user latency mean s'))} s, {USER_LATENCY_P95.name} "
                              f"{format_number(head.get('user latency p95 s'))} s")],
             f"Mean: {CAPTIONS['user latency mean s']}. {CAPTIONS['user latency p95 s'].capitalize()}; the "
             "latency verdict quotes the same figure."),
        Card("Nothing lost", [Line("everything agrees" if lost else "differences found", css="ok" if lost else "bad"),
                              Line(f"{plural(records.get('compared') or 0, 'series', 'series')}, log groups and "
                                   "events compared")] if lost is not None else [Line("not checked", css="na")]),
    ]


def _environment() -> Environment:
    """The templates of the package, autoescaped: a value is text unless the code made it Markup."""
    return Environment(loader=PackageLoader("autonomic_lib", "templates"), autoescape=True,
                       undefined=StrictUndefined, trim_blocks=False)


def write_index(out_dir: Path, runs: list[NotebookRun], *, scenario: str, seed: int, target: str,
                secrets: list[str]) -> tuple[Path, bool]:
    """The self-contained summary page (images embedded, no key); returns (path, everything held)."""
    records: dict[str, Any] = {}
    for run in runs:
        records.update(run.records)
    failed = next((r for r in runs if not r.ok), None)
    verdicts = records.get("verdicts") or []
    broken = [v for v in verdicts if v.get("verdict") == "did not hold"]
    good = failed is None and verdicts and not broken
    headline = ("every expectation held" if good else f"step {failed.name} failed" if failed
                else f"{plural(len(broken), 'expectation')} did not hold" if broken else "no verdict recorded")
    steps = [{"name": r.name, "css": "ok" if r.ok else "bad" if r.html else "na",
              "status": "ok" if r.ok else "FAILED" if r.html else "not run (an earlier step failed)",
              "seconds": f"{r.seconds:.1f} s", "html": r.html.name if r.html else "", "error": r.error or ""}
             for r in runs]
    rows = [{"expects": v["the seed expects"], "observed": v["observed"], "verdict": v["verdict"],
             "css": "ok" if v["verdict"] == "held" else "bad" if v["verdict"] == "did not hold" else "na"}
            for v in verdicts]
    images = [{"title": title, "src": records[key], "alt": png_description(records[key]) or alt}
              for key, title, alt in IMAGES if str(records.get(key, "")).startswith("data:image/png;base64,")]
    page = _environment().get_template("index.html.j2").render(
        style=Markup(STYLE), scenario=scenario, seed=seed, target=target,
        generated=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), good=good, verdict=headline,
        cards=_cards(records), steps=steps, verdicts=rows, images=images, phase_note=PHASE_NOTE,
        tables={"phases": _phase_table(records.get("phase_table")),
                "transitions": _table(records.get("monitor_history"),
                                      ["monitor", "group", "from", "to", "at", "value"]),
                "workflow_runs": _table(records.get("workflow_runs")),
                "assets": _table(records.get("assets"), ["kind", "name", "action", "id"])})
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "index.html"
    path.write_text(scrub(page, secrets), encoding="utf-8")
    return path, bool(good)


def _import_runner() -> None:
    """Import what runs the notebooks (papermill: 1.5 s) while the sandbox process starts; the first notebook's
    `import papermill` then finds it loaded. A failed import is left to that notebook to report."""
    try:
        import nbformat  # noqa: F401
        import papermill  # noqa: F401
    except Exception:  # noqa: BLE001 - run_notebook imports them again and says what failed
        pass


def run_demo(out_dir: Path, scenario: str = "seed-demo", seed: int = 7, *, progress: bool = True,
             notebooks_dir: Path | None = None) -> int:
    """Run the four notebooks and write the reports; 0 when every step ran and every expectation held."""
    importer = threading.Thread(target=_import_runner, name="import-papermill", daemon=True)
    importer.start()
    out_dir = Path(out_dir).resolve()
    logging.getLogger("papermill").setLevel(logging.WARNING)  # its per-notebook INFO lines repeat ours
    settings = Settings.from_env()
    state = Path(tempfile.mkdtemp(prefix="autonomic-demo-"))
    secrets: list[str] = [k.reveal() for k in (settings.api_key, settings.app_key) if k is not None]
    runs: list[NotebookRun] = []
    target = settings.target
    sandbox_wanted = False
    try:
        # The notebooks ask the same question with the same folder, so they agree with the demo; the folder is
        # new, so no sandbox runs there yet.
        sandbox_wanted = choose_backend("auto", settings, state / "sandbox").settings is None
        if not sandbox_wanted and settings.is_sandbox:
            print(f"DD_HOST and keys are set: the demo runs against the {target} with backfill pacing.", flush=True)
        elif not sandbox_wanted:
            print(f"Keys are set: the demo runs against {target} with live pacing (the incident phases play in real "
                  "time, about 95 min for seed-demo).", flush=True)
        else:
            sandbox = start_sandbox_process(state / "sandbox")
            sandbox_state = read_state(state / "sandbox")
            secrets += [sandbox_state.api_key, sandbox_state.app_key] if sandbox_state else []
            target = sandbox.target
            print(f"Sandbox started: {target} (data in {state / 'sandbox'})", flush=True)
        base = {"SANDBOX_DIR": str(state / "sandbox")}
        importer.join()
        # Each page is drawn while the next notebook runs (its kernel mostly waits on the sandbox).
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="render") as renderer:
            pages: list[tuple[NotebookRun, Future[Path]]] = []
            for number, name in enumerate(NOTEBOOKS):
                source = (notebooks_dir or NOTEBOOKS_DIR) / f"{name}.ipynb"
                if runs and not runs[-1].ok:
                    runs.append(NotebookRun(name, out_dir / f"{name}.ipynb"))
                    print(f"[{number + 1}/{len(NOTEBOOKS)}] {name}: not run (an earlier step failed)", flush=True)
                    continue
                print(f"[{number + 1}/{len(NOTEBOOKS)}] {name} ...", flush=True)
                parameters = {**base, "SCENARIO": scenario, "SEED": seed} if name == "00_setup" else base
                run = run_notebook(source, out_dir, parameters, secrets=secrets, cwd=project_root(), progress=progress,
                                   render=False)
                runs.append(run)
                html = out_dir / f"{name}.html"
                if run.ipynb.is_file():
                    pages.append((run, renderer.submit(render_html, run.ipynb, html, secrets)))
                print(f"      {'ok' if run.ok else 'FAILED'} in {run.seconds:.1f} s -> {html}"
                      + (f"\n      {run.error}" if run.error else ""), flush=True)
            for run, page in pages:
                run.html = page.result()
    finally:
        if sandbox_wanted:
            stop_sandbox_process(state / "sandbox")
        shutil.rmtree(state, ignore_errors=True)
    index, good = write_index(out_dir, runs, scenario=scenario, seed=seed, target=target, secrets=secrets)
    records: dict[str, Any] = {}
    for run in runs:
        records.update(run.records)
    for v in records.get("verdicts") or []:
        mark = {"held": "held", "did not hold": "NOT HELD"}.get(v["verdict"], v["verdict"])
        print(f"  [{mark}] {v['the seed expects']}: {v['observed']}")
    print(f"{'OK' if good else 'FAILED'}: report at {index}")
    return 0 if good else 1
