"""`python -m autonomic_lib demo`: the seed's story on the sandbox (or Datadog with keys), then reports/index.html.

Until the notebooks take over (they will run the same steps through papermill), the demo drives the
library directly: lint and import the assets, send the scenario's traffic, reconcile the backend
against the ledger, pull the metrics back and check the seed's "What to Expect" list. The command,
its options and its output folder stay the same when the notebooks land.
"""

from __future__ import annotations

import html
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .analysis import metric_series, optimization_rate, pass_rate
from .assets import Change, import_assets
from .backend import connect, sandbox_settings
from .client import make_api_client
from .render import Panel, figure_data_uri, phase_spans, timeline
from .settings import Settings
from .swarm import run_scenario
from .telemetry import Backfill, Ledger, Live, Reconciliation, reconcile

log = logging.getLogger("autonomic_lib")
BUDGET = 0.10
SPIKE_LATENCY = 15.0  # s: a minute whose mean user latency passes this is part of a spike


@dataclass
class Expectation:
    """One line of the seed's "What to Expect", checked against what happened."""

    expectation: str
    observed: str
    held: bool | None  # None: not checkable yet


@dataclass
class DemoRun:
    """Everything the report shows."""

    target: str
    changes: list[Change]
    ledger: Ledger
    reconciliation: Reconciliation
    expectations: list[Expectation]
    chart: str  # data URI


def latency_spikes(latency: pd.Series, threshold: float = SPIKE_LATENCY) -> int:
    """How many separate runs of minutes have a mean user latency above `threshold`."""
    above = (latency > threshold).astype(int)
    return int(((above.diff().fillna(above) == 1)).sum())


def check_expectations(ledger: Ledger, result: Reconciliation, changes: list[Change], latency: pd.Series
                       ) -> list[Expectation]:
    """The seed's demo flow, phase by phase, as verdicts."""
    phases = ledger.summary()

    def value(phase: str, column: str) -> float:
        return float(phases.loc[phase, column]) if phase in phases.index else float("nan")

    baseline_pass = value("baseline", "pass") / max(value("baseline", "messages"), 1)
    spikes = latency_spikes(latency)
    return [
        Expectation("The assets (dashboard, 3 monitors, workflow) are imported",
                    f"{len(changes)} assets: " + ", ".join(sorted({c.action for c in changes})), len(changes) == 5),
        Expectation("Normal traffic establishes a baseline",
                    f"{int(value('baseline', 'messages')):,} messages, pass rate {100 * baseline_pass:.1f} %",
                    value("baseline", "messages") > 0 and baseline_pass > 0.95),
        Expectation("The loop heals an agent: a new version is deployed",
                    f"{int(phases['deployments'].sum())} deployment(s)", phases["deployments"].sum() >= 1),
        Expectation("Budget breach (3x): messages cost more than $0.10",
                    f"{int(value('budget_breach', 'budget_breaches'))} breaches, max ${value('budget_breach', 'cost_max'):.3f}",
                    value("budget_breach", "budget_breaches") == 3 and value("budget_breach", "cost_max") > BUDGET),
        Expectation("Latency spikes (3x) near 25 s",
                    f"{spikes} spike(s) of mean user latency > {SPIKE_LATENCY:.0f} s; phase p95 "
                    f"{value('latency_spike', 'user_latency_p95'):.1f} s",
                    spikes == 3 and value("latency_spike", "user_latency_p95") >= 20),
        Expectation("Optimization failure (2x): the Refiner gives up",
                    f"{int(value('optimization_failure', 'optimization_failures'))} failure(s)",
                    value("optimization_failure", "optimization_failures") == 2),
        Expectation("Nothing is lost: the backend holds exactly what was acknowledged",
                    f"{len(result.table)} series/log groups/events compared, "
                    f"{int((~result.table['match']).sum())} differ", result.ok),
        Expectation("The three monitors alert at their incidents, the workflow opens a Case",
                    "not checked yet: the sandbox's monitor evaluator and workflow runner are being built", None),
    ]


def run_story(settings: Settings, scenario: str, seed: int, pacing: Backfill | Live) -> DemoRun:
    """Import, traffic, reconciliation and query-back against one backend."""
    changes = import_assets(settings)  # lints first; AssetError (every problem) and nothing sent if any fails
    with make_api_client(settings) as client:
        ledger = run_scenario(scenario, seed, api_client=client, pacing=pacing)
        result = reconcile(ledger, client)
        scope = f"env:{ledger.env}"
        start, end = int(ledger.start), int(ledger.end) + 60
        latency = metric_series(client, f"avg:autonomic.agent.latency.avg{{{scope}}}.rollup(avg, 60)", start, end)
        cost = metric_series(client, f"max:autonomic.agent.cost.max{{{scope}}}.rollup(max, 60)", start, end)
        panels = [
            Panel("Pass Rate % (Auditor)", {"pass rate %": pass_rate(client, scope, start, end)}, "%"),
            Panel("User Facing Latency (mean per minute)", {"latency": latency}, "s"),
            Panel("ChatBot Agent Cost (most expensive message per minute)", {"cost": cost}, "USD",
                  threshold=BUDGET, threshold_label="budget $0.10"),
            Panel("Optimization Rate % (cumulative)", {"optimization rate %": _hold_to(
                optimization_rate(client, scope, start, end), end)}, "%", steps=True),
        ]
    chart = figure_data_uri(timeline(panels, phase_spans(ledger), title=f"{scenario} (seed {seed}), queried back"))
    return DemoRun(settings.target, changes, ledger, result, check_expectations(ledger, result, changes, latency), chart)


def _hold_to(series: pd.Series, end: int) -> pd.Series:
    """Extend a step series with its last value up to `end`, so the chart shows where it stayed."""
    if series.empty:
        return series
    last = pd.Series([series.iloc[-1]], index=[pd.Timestamp(end, unit="s", tz="UTC")])
    return pd.concat([series, last])


def _number(v: float) -> str:
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.4g}"


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(border=0, classes="grid", float_format=_number, na_rep="–")


def write_index(out_dir: Path, run: DemoRun, scenario: str, seed: int) -> Path:
    """A self-contained page (images embedded, no key) summarising the run."""
    out_dir.mkdir(parents=True, exist_ok=True)
    checked = [e for e in run.expectations if e.held is not None]
    verdict = "every expectation held" if all(e.held for e in checked) else "an expectation did not hold"
    rows = "\n".join(
        f"<tr><td>{html.escape(e.expectation)}</td><td>{html.escape(e.observed)}</td>"
        f"<td class='{'ok' if e.held else 'bad' if e.held is False else 'todo'}'>"
        f"{'held' if e.held else 'did not hold' if e.held is False else 'not checked yet'}</td></tr>"
        for e in run.expectations)
    assets = pd.DataFrame([{"kind": c.kind, "name": c.name, "action": c.action, "id": c.id} for c in run.changes])
    summary = run.ledger.summary().T
    cardinality = run.ledger.cardinality()
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>autonomic-kit report</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1150px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;font-size:13px;margin:0.5em 0 1.5em}}td,th{{border:1px solid #ccc;padding:3px 8px}}
.ok{{color:#1a7f37;font-weight:600}}.bad{{color:#cf222e;font-weight:600}}.todo{{color:#8a8a8a}}
img{{max-width:100%}}</style></head><body>
<h1>autonomic-kit report</h1>
<p>Scenario <b>{html.escape(scenario)}</b>, seed {seed}, sent to {html.escape(run.target)}.
Generated {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}.</p>
<h2 id="summary">Verdict: <span class="{'ok' if all(e.held for e in checked) else 'bad'}">{verdict}</span></h2>
<p>{run.ledger.points:,} metric points, {run.ledger.log_count:,} logs and {len(run.ledger.events)} event(s)
acknowledged; {len(cardinality)} metrics in {int(cardinality['series'].sum())} series.</p>
<table><tr><th>the seed expects</th><th>observed</th><th></th></tr>{rows}</table>
<h2>The run, queried back from the backend</h2>
<img alt="pass rate, latency, cost and optimization rate over the phases" src="{run.chart}">
<h2>Per phase (from the ledger)</h2>{_table(summary)}
<h2>Assets imported</h2>{_table(assets)}
<h2>Custom-metric cardinality</h2>{_table(cardinality)}
</body></html>"""
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def run_demo(out_dir: Path, scenario: str = "seed-demo", seed: int = 7) -> int:
    """Run the demo; 0 when every checkable expectation held, 1 otherwise."""
    settings = Settings.from_env()
    if settings.api_key is not None:
        with connect(settings=settings) as (target, label):
            pacing: Backfill | Live = Backfill() if target.is_sandbox else Live()
            if not target.is_sandbox:
                print(f"Sending to {label} with live pacing: the incident phases play in real time (about 95 min).")
            run = run_story(target, scenario, seed, pacing)
    else:
        with tempfile.TemporaryDirectory(prefix="autonomic-demo-") as workdir, sandbox_settings(Path(workdir)) as sbx:
            run = run_story(sbx, scenario, seed, Backfill())
    index = write_index(Path(out_dir), run, scenario, seed)
    failed = [e for e in run.expectations if e.held is False]
    for e in run.expectations:
        mark = "held" if e.held else "NOT HELD" if e.held is False else "not checked yet"
        print(f"  [{mark}] {e.expectation}: {e.observed}")
    print(f"{'OK' if not failed else 'FAILED'}: report at {index.resolve()}")
    return 0 if not failed else 1
