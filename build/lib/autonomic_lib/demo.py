"""`python -m autonomic_lib demo`: the whole demo as the four notebooks, run headless, rendered, summarised.

Starts a sandbox process (unless Datadog keys are set), runs 00_setup, 01_import_assets, 02_traffic and
03_analysis with papermill (each in its own kernel, finding the sandbox and the run through the state
folder), renders each to self-contained HTML, writes `index.html` from what the notebooks recorded, and
stops the sandbox. Keys are never parameters and are scrubbed from every output. A failed notebook is
still rendered with its error; the steps after it are not run, and the index says which step failed.
"""

from __future__ import annotations

import html
import logging
import math
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from .backend import choose_backend
from .expectations import latency_spikes  # noqa: F401 - re-exported: the demo's spike count, used by tests
from .notebook import NOTEBOOKS, NotebookRun, run_notebook, scrub
from .sandbox.server import read_state
from .sandbox_process import project_root, start_sandbox_process, stop_sandbox_process
from .settings import Settings

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
STYLE = """body{font-family:system-ui,sans-serif;max-width:1180px;margin:2em auto;color:#222;padding:0 1em}
table{border-collapse:collapse;font-size:13px;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:left;vertical-align:top}.ok{color:#1a7f37;font-weight:600}.bad{color:#cf222e;font-weight:600}
.na{color:#8a8a8a}img{max-width:100%;border:1px solid #eee}.cards{display:grid;grid-template-columns:
repeat(auto-fill,minmax(250px,1fr));gap:10px;margin:1em 0}.card{border:1px solid #ddd;border-radius:6px;
padding:8px 12px}.card h3{margin:0 0 4px;font-size:13px;color:#632ca6}.card p{margin:2px 0;font-size:14px}"""


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _num(value: Any, fmt: str = ",.1f", unit: str = "") -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "–"
    return "–" if math.isnan(number) else f"{number:{fmt}}{unit}"


def _frame_html(rows: list[dict[str, Any]] | None, columns: list[str] | None = None) -> str:
    frame = pd.DataFrame(rows or [])
    if frame.empty:
        return "<p class='na'>nothing recorded</p>"
    if columns:
        frame = frame[[c for c in columns if c in frame]]
    return frame.to_html(index=False, border=0, na_rep="–", float_format=lambda v: f"{v:,.4g}")


PHASE_ROWS = ("messages", "pass", "fail", "pass rate %", "deployments", "optimization failures", "optimization rate %",
              "cost p50 $", "cost p95 $", "cost max $", "user latency p50 s", "user latency p95 s")


def _phase_html(rows: list[dict[str, Any]] | None) -> str:
    """The per-phase table with phases as columns, the headline measures first."""
    frame = pd.DataFrame(rows or [])
    if frame.empty or "phase" not in frame:
        return "<p class='na'>nothing recorded</p>"
    table = frame.set_index("phase").T
    order = [r for r in PHASE_ROWS if r in table.index] + sorted(r for r in table.index if r not in PHASE_ROWS)
    return table.loc[order].to_html(border=0, na_rep="–", float_format=lambda v: f"{v:,.4g}")


def _cards(records: dict[str, Any]) -> str:
    """The summary: monitors fired with times, the Case, pass and optimization rates, cost, latency, nothing lost."""
    head = records.get("headline") or {}
    alerts = [r for r in records.get("monitor_history") or [] if r.get("to") == "Alert"]
    fired: dict[str, list[str]] = {}
    for row in alerts:
        fired.setdefault(row["monitor"], []).append(str(row["at"])[11:16])
    cases = records.get("cases") or []
    costs = {r["item"]: r for r in records.get("cost_estimate") or []}
    delays = {r["monitor"]: r for r in records.get("detection_delays") or []}
    monitors = "".join(
        f"<p><b>{_esc(m)}</b>: {_esc(', '.join(t))} UTC"
        f"{' (detected ' + _num(delays[m].get('detection delay min'), '.1f', ' min') + ' after its signal)' if m in delays else ''}</p>"
        for m, t in fired.items()) or "<p class='bad'>no monitor fired</p>"
    case = "".join(f"<p><b>{_esc(c.get('key'))}</b> {_esc(c.get('title'))}: agent {_esc(c.get('agent_id'))}, "
                   f"{_esc(c.get('failure_reason'))}, {_esc(c.get('status'))}</p>" for c in cases) \
        or "<p class='bad'>no Case opened</p>"
    lost = records.get("reconciled")
    cards = [
        ("Monitors fired (UTC)", monitors),
        ("The Case", case),
        ("Pass rate", (f"<p>{_num(head.get('pass rate %'), '.1f', ' %')} of {_num(head.get('messages'), ',.0f')} "
                      "audited messages</p>")),
        ("Optimization rate", (f"<p>{_num(head.get('optimization rate %'), '.1f', ' %')}: "
                              f"{_num(head.get('deployments'), ',.0f')} deployed, "
                              f"{_num(head.get('optimization failures'), ',.0f')} failed</p>")),
        ("Cost", (f"<p>LLM spend of the run ${_num(head.get('LLM cost $'), ',.2f')}</p><p>this telemetry on Datadog "
                 f"≈ ${_num((costs.get('total') or {}).get('per month $'), ',.2f')}/month "
                 f"({_num(records.get('cardinality'), ',.0f')} custom metrics; list-price assumption)</p>")),
        ("Latency", (f"<p>mean {_num(head.get('user latency mean s'), '.1f', ' s')}, worst-minute p95 "
                    f"{_num(head.get('user latency p95 s (worst minute)'), '.1f', ' s')}</p>")),
        ("Nothing lost", f"<p class='{'ok' if lost else 'bad'}'>{'everything agrees' if lost else 'differences found'}"
                         f"</p><p>{_num(records.get('compared'), ',.0f')} series, log groups and events compared</p>"
         if lost is not None else "<p class='na'>not checked</p>"),
    ]
    return "<div class='cards'>" + "".join(f"<div class='card'><h3>{t}</h3>{b}</div>" for t, b in cards) + "</div>"


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
                else f"{len(broken)} expectation(s) did not hold" if broken else "no verdict recorded")
    steps = "".join(
        f"<tr><td>{i}</td><td>{_esc(r.name)}</td><td class='{'ok' if r.ok else 'bad' if r.html else 'na'}'>"
        f"{'ok' if r.ok else 'FAILED' if r.html else 'not run (an earlier step failed)'}</td>"
        f"<td>{r.seconds:.1f} s</td><td>{f'<a href={chr(39)}{r.html.name}{chr(39)}>{r.html.name}</a>' if r.html else ''}"
        f"</td><td>{_esc(r.error or '')}</td></tr>" for i, r in enumerate(runs))
    rows = "".join(f"<tr><td>{_esc(v['the seed expects'])}</td><td>{_esc(v['observed'])}</td><td class='"
                   f"{'ok' if v['verdict'] == 'held' else 'bad' if v['verdict'] == 'did not hold' else 'na'}'>"
                   f"{_esc(v['verdict'])}</td></tr>" for v in verdicts)
    images = "".join(f"<h2>{title}</h2><img alt='{title}' src='{records[key]}'>"
                     for key, title in (("story_png", "The run over time, queried back"),
                                        ("dashboard_png", "The Ops Center dashboard, drawn from its JSON"))
                     if str(records.get(key, "")).startswith("data:image/png;base64,"))
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>autonomic-kit report</title><style>{STYLE}</style></head><body>
<h1>autonomic-kit report</h1>
<p>Scenario <b>{_esc(scenario)}</b>, seed {seed}, on {_esc(target)}. Generated
{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}.</p>
<section id="summary"><h2>Verdict: <span class="{'ok' if good else 'bad'}">{_esc(headline)}</span></h2>
{_cards(records)}</section>
<h2>The four notebooks</h2>
<table><tr><th>#</th><th>step</th><th>status</th><th>time</th><th>rendered</th><th>error</th></tr>{steps}</table>
<h2>The seed's "What to Expect"</h2>
<table id="verdicts"><tr><th>the seed expects</th><th>observed</th><th>verdict</th></tr>{rows}</table>
{images}
<h2>Per phase, queried back</h2>{_phase_html(records.get('phase_table'))}
<h2>Monitor transitions</h2>{_frame_html(records.get('monitor_history'), ['monitor', 'group', 'from', 'to', 'at', 'value'])}
<h2>Workflow runs</h2>{_frame_html(records.get('workflow_runs'))}
<h2>Assets imported</h2>{_frame_html(records.get('assets'), ['kind', 'name', 'action', 'id'])}
</body></html>"""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "index.html"
    path.write_text(scrub(page, secrets), encoding="utf-8")
    return path, bool(good)


def run_demo(out_dir: Path, scenario: str = "seed-demo", seed: int = 7, *, progress: bool = True,
             notebooks_dir: Path | None = None) -> int:
    """Run the four notebooks and write the reports; 0 when every step ran and every expectation held."""
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
        for number, name in enumerate(NOTEBOOKS):
            source = (notebooks_dir or NOTEBOOKS_DIR) / f"{name}.ipynb"
            if runs and not runs[-1].ok:
                runs.append(NotebookRun(name, out_dir / f"{name}.ipynb"))
                print(f"[{number + 1}/{len(NOTEBOOKS)}] {name}: not run (an earlier step failed)", flush=True)
                continue
            print(f"[{number + 1}/{len(NOTEBOOKS)}] {name} ...", flush=True)
            parameters = {**base, "SCENARIO": scenario, "SEED": seed} if name == "00_setup" else base
            run = run_notebook(source, out_dir, parameters, secrets=secrets, cwd=project_root(), progress=progress)
            runs.append(run)
            print(f"      {'ok' if run.ok else 'FAILED'} in {run.seconds:.1f} s -> {run.html}"
                  + (f"\n      {run.error}" if run.error else ""), flush=True)
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
