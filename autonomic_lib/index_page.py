"""The demo's index page: the summary cards, the steps, the verdicts, the tables and the run's images, one
self-contained HTML file (Jinja2, autoescaped; no key)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from .analysis import CAPTIONS, USER_LATENCY_P95
from .budget import message_budget
from .notebook import NotebookRun, scrub
from .render import format_number, format_time, frame_html, missing, plural, png_description

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
