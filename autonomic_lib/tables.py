"""What the notebooks show as tables and paragraphs: the environment, the plan, each phase, lint and import results.

Small frames and markdown built from the library's objects, so the notebooks stay one call per step.
"""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import pandas as pd

from .catalog import ASSETS_DIR, load_catalog
from .render import format_number, plural  # imported in a kernel, render shows frames the kit's way
from .session import Session
from .settings import Settings
from .swarm import Scenario
from .telemetry import Ledger
from .traffic import expected_messages

# Which monitor each kind of injected fault is meant to trip (the seed's "What to Expect").
FAULT_MONITORS = {"prompt_injection": "Budget breach", "provider_slowdown": "Latency anomaly",
                  "regression": "Optimization failure (then the workflow opens a Case) and Refiner errors "
                                "(the log monitor)"}


def phase_plan(scenario: Scenario) -> pd.DataFrame:
    """One row per phase: what it simulates, how long, how many messages, which monitor it should trip."""
    expected = expected_messages(scenario)
    rows = []
    for phase in scenario.phases:
        faults = [f.type for f in phase.faults]
        trips = [FAULT_MONITORS[f] for f in faults if not (f == "regression" and getattr(
            next(x for x in phase.faults if x.type == f), "fixable", False))]
        rows.append({"phase": phase.name, "simulates": phase.description or ", ".join(faults) or "normal traffic",
                     "minutes": round(phase.duration / 60, 1), "messages (about)": expected[phase.name],
                     "faults": ", ".join(faults) or "none",
                     "should trip": ", ".join(trips) or ("nothing (history the anomaly monitor learns)"
                                                         if phase.history else "nothing")})
    return pd.DataFrame(rows).set_index("phase")


def phase_sent(ledger: Ledger, name: str) -> pd.DataFrame:
    """A small table of what one phase sent and what happened in it (from the ledger)."""
    row = ledger.summary().loc[name]
    keep = {"messages": "messages", "pass": "audits passed", "fail": "audits failed",
            "budget_breaches": "messages over budget", "deployments": "deployments",
            "optimization_failures": "optimization failures",
            "user_latency_p95": "user latency p95 of its messages (s)",
            "cost_max": "most expensive message ($)", "points": "metric points acknowledged",
            "logs": "logs acknowledged", "events": "events acknowledged"}
    return pd.DataFrame({"value": {label: row[column] for column, label in keep.items()}}, dtype=object)


def phase_heading(session: Session, name: str, number: str) -> str:
    """Markdown introducing one phase: what it simulates and which monitor it should trip."""
    plan = phase_plan(session.scenario).loc[name]
    return (f"### {number} {name}\n\n{plan['simulates']}  \n**{format_number(plan['minutes'])} min**, faults: "
            f"{plan['faults']}. Should trip: **{plan['should trip']}**.")


def environment() -> pd.DataFrame:
    """What this kernel runs on: Python, the packages the kit needs, the catalogue and assets it reads."""
    rows: dict[str, str] = {"python": platform.python_version(), "platform": platform.platform(terse=True)}
    for package in ("autonomic-kit", "datadog-api-client", "pandas", "matplotlib", "papermill", "nbconvert"):
        try:
            rows[package] = version(package)
        except PackageNotFoundError:
            rows[package] = "MISSING: run `make test` or `pip install -r requirements.txt`"
    catalog = load_catalog()
    rows["metric catalogue"] = f"{len(catalog.metrics)} metrics ({ASSETS_DIR / 'metadata.csv'})"
    rows["assets"] = ", ".join(plural(len(list((ASSETS_DIR / folder).glob("*.json"))), kind)
                               for folder, kind in (("dashboards", "dashboard"), ("monitors", "monitor"),
                                                    ("workflows", "workflow")))
    keys = Settings.from_env()
    rows["Datadog keys"] = ("set (DD_API_KEY " + ("and DD_APP_KEY" if keys.app_key else "only") + ")"
                            if keys.api_key else "not set: the sandbox will be used")
    return pd.DataFrame({"value": rows})


def plan_summary(session: Session) -> str:
    """A paragraph (markdown) saying what the run will do and how long it takes."""
    scenario = session.scenario
    minutes = scenario.duration / 60
    live = sum(p.duration for p in scenario.phases if not p.history) / 60
    how = (f"laid out so that it ends now and sent at once (backfill): the whole {minutes:.0f} minutes of "
           "traffic take seconds, and the sandbox evaluates every minute of it" if session.plan.pacing == "backfill"
           else f"history backfilled, then the incident phases played in real time (live): about {live:.0f} minutes")
    # The target holds a URL: in bold, markdown would link "http://...**" with the closing stars inside the link.
    return (f"**{scenario.name}** (seed {session.plan.seed}, {plural(len(scenario.agents), 'agent')}, "
            f"{plural(len(scenario.phases), 'phase')}, {minutes:.0f} minutes of swarm time) goes to "
            f"`{session.settings.target}`, {how}. "
            "Then 01 imports the dashboard, monitors and workflow, 02 sends the traffic, 03 queries it all back.")


def problems_table(assets: list[Any], problems: list[Any]) -> pd.DataFrame:
    """Lint results as a table: one row per problem, or one row per clean asset saying so."""
    if problems:
        return pd.DataFrame([{"file": p.file, "where": p.path, "severity": p.severity, "problem": p.message,
                              "fix": p.fix} for p in problems])
    return pd.DataFrame([{"file": a.path.name, "kind": a.kind, "lint": "clean"} for a in assets])


def assets_table(changes: list[Any]) -> pd.DataFrame:
    """What import did, with each asset's ID and a link to it (Datadog's web app, or the sandbox)."""
    return pd.DataFrame([{"kind": c.kind, "name": c.name, "action": c.action, "id": c.id, "link": c.url}
                         for c in changes])
