"""Verdicts and costs: the seed's "What to Expect", checked against what the backend shows, and an estimate
of what this telemetry would cost on Datadog.

The seed promises: a baseline, 3 budget breaches that trip the Budget Breach monitor, 3 latency spikes of
~25 s that trip the Latency monitor, 2 optimization failures that trip the Optimization Failure monitor,
run the workflow and open a Case; the kit adds a log monitor on the Refiner's error logs, which the failures
trip too (and nothing else). Each becomes a row with what was observed and held / did not hold.
A scenario without one of the seed's phases gets "not applicable" for that row, never a false "held".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from .analysis import USER_LATENCY_P95
from .budget import message_budget
from .render import format_number, format_time, plural

SPIKE_LATENCY = 15.0  # s: a minute whose mean user latency passes this is part of a spike
# What the kit ships (assets/): the seed's dashboard, three monitors and workflow, and the log monitor on the
# Refiner's error logs (assets/monitors/refiner_errors.json)
KIT_ASSETS = {"dashboard": 1, "monitor": 4, "workflow": 1}
LOG_MONITOR = "Refiner errors"

# Datadog list prices used for the estimate. ASSUMPTION, not a quote: the public pricing page
# (datadoghq.com/pricing, as listed in 2025) and the billing docs (docs.datadoghq.com/account_management/
# billing/custom_metrics: billed on the monthly average of distinct custom metrics per hour). Contracts,
# plan allotments (100 custom metrics per host on Pro, 200 on Enterprise) and discounts change the real bill.
PRICES = {
    "custom metrics (per 100 per month)": 5.00,
    "log ingestion (per GB)": 0.10,
    "log indexing, 15-day retention (per million events)": 1.70,
}
PRICE_SOURCE = ("ASSUMPTION: Datadog public list prices as listed on datadoghq.com/pricing in 2025 (custom metrics "
                "$5 per 100 per month, logs $0.10/GB ingested and $1.70 per million indexed for 15 days); "
                "billing rule from docs.datadoghq.com/account_management/billing/custom_metrics. Plan allotments "
                "and discounts are not applied.")
HOURS_PER_MONTH = 730
LOG_BYTES = 1_000  # a kit log line with its attributes is about 1 kB as JSON


@dataclass
class Expectation:
    """One line of the seed's "What to Expect", checked against what happened."""

    expectation: str
    observed: str
    held: bool | None  # None: not applicable to this scenario

    @property
    def verdict(self) -> str:
        return "held" if self.held else "did not hold" if self.held is False else "not applicable"


def cost_estimate(cardinality: pd.DataFrame, logs: int, run_seconds: float) -> pd.DataFrame:
    """Monthly cost of running this telemetry all month: every series of the run reporting every hour, and
    logs at the run's rate. An upper bound for the metrics: the demo's `phase` tag multiplies series that a
    production swarm (one phase at a time) would not have."""
    series = int(cardinality["series"].sum()) if not cardinality.empty else 0
    hours = max(run_seconds / 3600, 1 / 60)
    logs_month = logs / hours * HOURS_PER_MONTH
    rows = [
        {"item": "custom metrics (distinct series)", "quantity": series,
         "unit price $": PRICES["custom metrics (per 100 per month)"] / 100,
         "per month $": series * PRICES["custom metrics (per 100 per month)"] / 100},
        {"item": "logs ingested (GB per month)", "quantity": logs_month * LOG_BYTES / 1e9,
         "unit price $": PRICES["log ingestion (per GB)"],
         "per month $": logs_month * LOG_BYTES / 1e9 * PRICES["log ingestion (per GB)"]},
        {"item": "logs indexed (millions per month)", "quantity": logs_month / 1e6,
         "unit price $": PRICES["log indexing, 15-day retention (per million events)"],
         "per month $": logs_month / 1e6 * PRICES["log indexing, 15-day retention (per million events)"]},
    ]
    frame = pd.DataFrame(rows).set_index("item")
    frame.loc["total"] = [None, None, frame["per month $"].sum()]
    frame.attrs["source"] = PRICE_SOURCE
    return frame


def latency_spikes(latency: pd.Series, threshold: float = SPIKE_LATENCY) -> int:
    """How many separate runs of minutes have a mean user latency above `threshold`."""
    above = (latency > threshold).astype(int)
    return int((above.diff().fillna(above) == 1).sum())


def _alerts_in(history: pd.DataFrame, monitor: str, phase: Any) -> pd.DataFrame:
    """Alert transitions of `monitor` between the phase's start and 15 min after its end (windows lag)."""
    if history.empty or phase is None:
        return history.iloc[0:0]
    rows = history[(history["monitor"] == monitor) & (history["to"] == "Alert")]
    return rows[(rows["at"] > phase.start) & (rows["at"] <= phase.end + pd.Timedelta(minutes=15))]


def _times(rows: pd.DataFrame) -> str:
    """"at 06:40, 06:46 UTC", or "never"."""
    times = sorted({format_time(t, zone=False) for t in rows["at"]})
    return f"at {', '.join(times)} UTC" if times else "never"


def _alerted(rows: pd.DataFrame) -> str:
    """"alerted 3 times at 06:40, 06:46, 06:47 UTC", or "never alerted"."""
    return f"alerted {plural(len(rows), 'time')} {_times(rows)}" if len(rows) else "never alerted"


def _log_monitor(history: pd.DataFrame, phase: Any) -> Expectation:
    """The kit's log monitor fires on the Refiner's error logs of the failure phase, and only then."""
    alerts = _alerts_in(history, LOG_MONITOR, phase)
    rows = history[(history["monitor"] == LOG_MONITOR) & (history["to"] == "Alert")] if not history.empty \
        else history
    others = rows[~rows.index.isin(alerts.index)] if not rows.empty else rows
    extra = f"; also alerted outside the failure phase {_times(others)}" if len(others) else ""
    return Expectation("...and the Refiner's error logs trip the Refiner Errors log monitor, in that phase only",
                       f"log monitor {_alerted(alerts)}{extra}", len(alerts) >= 1 and not len(others))


def check_expectations(*, phases: pd.DataFrame, spans: dict[str, Any], history: pd.DataFrame,
                       ledger_summary: pd.DataFrame, latency: pd.Series, cases: pd.DataFrame,
                       runs: pd.DataFrame, reconciled: bool, compared: int, differ: int,
                       assets: dict[str, int]) -> list[Expectation]:
    """The seed's demo flow as verdicts. `phases` is the query-back table, `spans` the phase time spans."""
    def value(frame: pd.DataFrame, phase: str, column: str) -> float:
        return float(frame.loc[phase, column]) if phase in frame.index and column in frame else float("nan")

    out = [Expectation("The assets are imported: " + ", ".join(plural(n, k) for k, n in KIT_ASSETS.items()),
                       ", ".join(plural(n, k) for k, n in assets.items()),
                       all(assets.get(kind) == n for kind, n in KIT_ASSETS.items()))]
    if "baseline" in phases.index:
        rate = value(phases, "baseline", "pass rate %")
        out.append(Expectation("Normal traffic establishes a baseline",
                               f"{plural(value(phases, 'baseline', 'messages'), 'message')}, pass rate {rate:.1f} %",
                               value(phases, "baseline", "messages") > 0 and rate > 95))
    deployments = float(phases["deployments"].sum()) if "deployments" in phases else 0.0
    out.append(Expectation("The loop heals an agent: a new version is deployed", plural(deployments, "deployment"),
                           deployments >= 1 if "baseline" in phases.index else None))
    if "budget_breach" in spans:
        alerts = _alerts_in(history, "Budget breach", spans["budget_breach"])
        breaches = value(ledger_summary, "budget_breach", "budget_breaches")
        out.append(Expectation(
            f"Budget breach (3x): messages over ${message_budget():.2f} trip the Budget Breach monitor",
            f"{plural(breaches, 'message')} over budget, the most expensive "
            f"${format_number(value(phases, 'budget_breach', 'cost max $'))}; monitor {_alerted(alerts)}",
            breaches == 3 and len(alerts) >= 1))
    if "latency_spike" in spans:
        alerts = _alerts_in(history, "Latency anomaly", spans["latency_spike"])
        spikes = latency_spikes(latency)
        others = history[(history["monitor"] == "Latency anomaly") & (history["to"] == "Alert")
                         & ~history.index.isin(alerts.index)] if not history.empty else history
        extra = f"; also alerted outside its phase {_times(others)}" if len(others) else ""
        out.append(Expectation(
            "Latency spikes (3x) near 25 s trip the Latency Anomaly monitor",
            f"{plural(spikes, 'spike')} of mean user latency > {SPIKE_LATENCY:.0f} s, {USER_LATENCY_P95.name} "
            f"{format_number(value(phases, 'latency_spike', 'user latency p95 s'))} s; monitor {_alerted(alerts)}"
            f"{extra}", spikes == 3 and len(alerts) >= 1))
    if "optimization_failure" in spans:
        alerts = _alerts_in(history, "Optimization failure", spans["optimization_failure"])
        failures = value(phases, "optimization_failure", "optimization failures")
        out.append(Expectation(
            "Optimization failure (2x) trips the Optimization Failure monitor",
            f"{plural(failures, 'failure')}; monitor {_alerted(alerts)}",
            failures == 2 and len(alerts) >= 1))
        ok_runs = runs[runs["status"] == "Succeeded"] if not runs.empty else runs
        with_context = cases.dropna(subset=["agent_id", "failure_reason"]) if not cases.empty else cases
        out.append(Expectation(
            "...which runs the workflow and opens a Case with the agent and the failure reason",
            f"{plural(len(runs), 'workflow run')} ({len(ok_runs)} succeeded); {plural(len(cases), 'Case')}: "
            + "; ".join(f"{c.key} {c.agent_id} ({c.failure_reason}, {c.status})" for c in cases.itertuples()),
            len(ok_runs) >= 1 and len(with_context) >= 1))
        out.append(_log_monitor(history, spans["optimization_failure"]))
    out.append(Expectation("Nothing is lost: the backend holds exactly what was acknowledged",
                           f"{compared:,} series, log groups and events compared, {differ:,} differ", reconciled))
    return out


def verdict_table(expectations: list[Expectation]) -> pd.DataFrame:
    return pd.DataFrame([{"the seed expects": e.expectation, "observed": e.observed, "verdict": e.verdict}
                         for e in expectations])
