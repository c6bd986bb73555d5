"""One run shared by the four notebooks: the backend (Datadog or a sandbox process), the plan, the ledger.

Notebooks run in separate kernels (papermill, JupyterLab restarts), so nothing passes between them in
memory. The state folder (`SANDBOX_DIR`, `.sandbox` by default) holds it on disk:

- `sandbox.json`: address and keys of the running sandbox (written by the sandbox itself, mode 0600);
- `run.json`: the plan 00_setup prepared (backend, site, scenario, seed, pacing); never a key;
- `ledger.pkl`: what 02_traffic sent and had acknowledged, for 03_analysis to reconcile.

Every notebook calls `open_session(...)`: explicit parameters win, then `run.json`, then the defaults; a
sandbox is started (as its own process) only when no keys are set and none is running there.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal, Sequence

import pandas as pd
from datadog_api_client import ApiClient

from .backend import KIT_LATE_DATA, running_sandbox
from .client import make_api_client, validate_keys
from .errors import ConfigError, SandboxError
from .settings import Settings
from .swarm import Scenario, get_scenario
from .telemetry import Backfill, Ledger, Live
from .traffic import expected_messages

Backend = Literal["auto", "sandbox", "datadog"]
PLAN_FILE, LEDGER_FILE, LOG_FILE = "run.json", "ledger.pkl", "sandbox.log"
DEFAULTS = {"scenario": "seed-demo", "seed": 7, "pacing": "auto"}
# Sandboxes this process started: kept so they are reaped when stopped (and not warned about as leaked
# while they deliberately outlive a notebook's kernel).
_STARTED: dict[int, subprocess.Popen[bytes]] = {}


def project_root(start: Path | None = None) -> Path:
    """The kit's folder (holding notebooks/ and assets/) at or above `start` (default: the working directory).

    JupyterLab runs a notebook's kernel in notebooks/, papermill in the caller's folder: resolving
    relative paths against this root makes `.sandbox` the same folder for both.
    """
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "notebooks").is_dir() and (folder / "assets").is_dir():
            return folder
    return here


def state_dir(sandbox_dir: str | Path) -> Path:
    """`sandbox_dir` as an absolute path (relative ones against `project_root()`)."""
    path = Path(sandbox_dir).expanduser()
    return path if path.is_absolute() else project_root() / path


@dataclass(frozen=True)
class RunPlan:
    """What 00_setup prepared; `run.json` in the state folder. Holds no key."""

    backend: str  # "sandbox" or "datadog"
    target: str
    scenario: str
    seed: int
    pacing: str  # "backfill" or "live"
    site: str | None = None
    created_at: float = 0.0

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / PLAN_FILE
        path.write_text(json.dumps(asdict(self), indent=1), encoding="utf-8")
        return path

    @staticmethod
    def load(folder: Path) -> RunPlan | None:
        try:
            return RunPlan(**json.loads((folder / PLAN_FILE).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None


def start_sandbox_process(folder: Path, timeout: float = 60.0, *, late_data: Sequence[str] = KIT_LATE_DATA,
                          memory_limit: str | None = None) -> Settings:
    """Start `python -m autonomic_lib sandbox --data-dir <folder> --late-data 'autonomic.*'` on its own.

    It outlives the kernel that started it (its own session); stop it with `stop_sandbox_process`.
    Its output goes to `<folder>/sandbox.log` (it never prints a key in full).
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sandbox.json").unlink(missing_ok=True)  # a stale file of a dead sandbox
    late = [arg for glob in late_data for arg in ("--late-data", glob)]
    late += ["--memory-limit", memory_limit] if memory_limit else []
    with open(folder / LOG_FILE, "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "autonomic_lib", "sandbox", "--data-dir", str(folder), *late],
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, env={k: v for k, v in os.environ.items()
                                                                if not k.startswith("DD_")})
    _STARTED[process.pid] = process
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = running_sandbox(folder)
        if found is not None:
            return found
        if process.poll() is not None:
            tail = (folder / LOG_FILE).read_text(errors="replace")[-600:]
            raise SandboxError(f"the sandbox exited with code {process.returncode}; its log ({folder / LOG_FILE}) "
                               f"ends with:\n{tail}")
        time.sleep(0.1)
    process.terminate()
    process.wait(timeout=30)
    raise SandboxError(f"the sandbox did not publish {folder / 'sandbox.json'} within {timeout:.0f} s")


def stop_sandbox_process(folder: Path, timeout: float = 30.0) -> bool:
    """SIGTERM the sandbox running from `folder` (it checkpoints and removes its state file); True if one ran."""
    from .sandbox.server import read_state

    state = read_state(folder)
    if state is None or state.pid == os.getpid():
        return False
    try:
        os.kill(state.pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    child = _STARTED.pop(state.pid, None)
    if child is not None:
        child.wait(timeout=timeout)  # our child: reap it, or it lingers as a zombie
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and running_sandbox(folder) is not None:
        time.sleep(0.1)
    return True


@dataclass(frozen=True)
class Session:
    """The backend and plan one notebook works with. Its repr shows no key (Settings masks them)."""

    settings: Settings
    folder: Path
    plan: RunPlan
    started_sandbox: bool = False

    @property
    def is_sandbox(self) -> bool:
        return self.settings.is_sandbox

    @property
    def scenario(self) -> Scenario:
        return get_scenario(self.plan.scenario)

    @property
    def pacing(self) -> Backfill | Live:
        return Live() if self.plan.pacing == "live" else Backfill()

    @contextmanager
    def client(self) -> Iterator[ApiClient]:
        """The official datadog-api-client configured for this backend."""
        with make_api_client(self.settings) as api_client:
            yield api_client

    def api(self) -> ApiClient:
        """An ApiClient for notebooks, whose steps span cells (close it at the end)."""
        return make_api_client(self.settings)

    def save_ledger(self, ledger: Ledger) -> Path:
        path = self.folder / LEDGER_FILE
        path.write_bytes(pickle.dumps(ledger))
        return path

    def load_ledger(self) -> Ledger:
        path = self.folder / LEDGER_FILE
        if not path.is_file():
            raise ConfigError(f"no traffic has been sent for this state folder ({path} is missing): run "
                              "02_traffic first, with the same SANDBOX_DIR")
        return pickle.loads(path.read_bytes())

    def describe(self) -> pd.DataFrame:
        """The run as a two-column table for the notebook (no key)."""
        rows = {"backend": self.settings.target, "state folder": str(self.folder),
                "sandbox": ("started by this notebook" if self.started_sandbox else "already running")
                if self.is_sandbox else "not used", "scenario": self.plan.scenario, "seed": self.plan.seed,
                "pacing": self.plan.pacing, "links go to": self.settings.app_url}
        return pd.DataFrame({"value": rows})


def _settings(backend: Backend, site: str | None) -> Settings | None:
    """Datadog settings when the backend is (or may be) Datadog and keys are set; None for the sandbox."""
    env = Settings.from_env()
    if site:
        env = replace(env, site=site)
    has_keys = env.api_key is not None or env.app_key is not None
    if backend == "datadog" or (backend == "auto" and has_keys):
        if env.host is not None and env.is_sandbox:
            raise ConfigError("DD_HOST points at a sandbox; use BACKEND='sandbox' with SANDBOX_DIR instead")
        return env.require()
    if backend not in ("auto", "sandbox"):
        raise ConfigError(f"BACKEND={backend!r} is not one of 'auto', 'sandbox', 'datadog'")
    return None


def open_session(backend: Backend = "auto", site: str | None = None, sandbox_dir: str | Path = ".sandbox", *,
                 scenario: str | None = None, seed: int | None = None, pacing: str | None = None,
                 start: bool = True, validate: bool = True, save: bool = False) -> Session:
    """Connect to the run's backend and read (or make) its plan.

    Args:
        backend: "datadog" needs DD_API_KEY and DD_APP_KEY (environment or .env); "sandbox" uses the sandbox
            running from `sandbox_dir` or starts one; "auto": Datadog when keys are set, else the sandbox.
        site: Datadog site (default: DD_SITE, else datadoghq.com).
        scenario, seed, pacing: None means "as run.json says" (written by 00_setup), else the defaults.
        start: start a sandbox process when none runs (else raise).
        validate: check the keys against the backend (GET /api/v1/validate and one query).
        save: write the plan to run.json (00_setup does).
    """
    folder = state_dir(sandbox_dir)
    settings = _settings(backend, site)
    started = False
    if settings is None:
        settings = running_sandbox(folder)
        if settings is None:
            if not start:
                raise SandboxError(f"no sandbox is running from {folder}; run 00_setup (or "
                                   f"`python -m autonomic_lib sandbox --data-dir {folder} --late-data 'autonomic.*'`)")
            settings, started = start_sandbox_process(folder), True
    if validate:
        validate_keys(settings)
    previous = RunPlan.load(folder)
    chosen: dict[str, Any] = {"scenario": scenario, "seed": seed, "pacing": pacing}
    for key, value in chosen.items():
        if value is None:
            chosen[key] = getattr(previous, key) if previous is not None else DEFAULTS[key]
    get_scenario(str(chosen["scenario"]))  # a wrong name or file fails here, naming it
    mode = str(chosen["pacing"])
    if mode == "auto":
        mode = "backfill" if settings.is_sandbox else "live"
    if mode not in ("backfill", "live"):
        raise ConfigError(f"PACING={mode!r} is not one of 'auto', 'backfill', 'live'")
    plan = RunPlan("sandbox" if settings.is_sandbox else "datadog", settings.target, str(chosen["scenario"]),
                   int(chosen["seed"]), mode, None if settings.is_sandbox else settings.site, time.time())
    if save:
        plan.save(folder)
    return Session(settings, folder, plan, started)


# Which monitor each kind of injected fault is meant to trip (the seed's "What to Expect").
FAULT_MONITORS = {"prompt_injection": "Budget breach", "provider_slowdown": "Latency anomaly",
                  "regression": "Optimization failure (then the workflow opens a Case)"}


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


def send_traffic(session: Session, api_client: ApiClient) -> Ledger:
    """Simulate the plan's scenario and send it with its pacing, one progress bar per phase; saves the ledger."""
    from .notebook import ProgressBar
    from .traffic import run_scenario

    scenario = session.scenario
    expected = expected_messages(scenario)
    bars = {name: ProgressBar(name, n, "messages") for name, n in expected.items()}
    points = dict.fromkeys(bars, 0)

    def progress(phase: str, messages: int, sent: int) -> None:
        bar = bars[phase]
        points[phase] += sent
        bar.update(messages, note=f"({points[phase]:,} points acknowledged)", total=max(bar.total, bar.n + messages))

    ledger = run_scenario(scenario, session.plan.seed, api_client=api_client, pacing=session.pacing,
                          progress=progress)
    for bar in bars.values():
        bar.total = max(bar.n, 1)  # the expected count was a Poisson mean: end every bar full
        bar.close()
    session.save_ledger(ledger)
    return ledger


def phase_sent(ledger: Ledger, name: str) -> pd.DataFrame:
    """A small table of what one phase sent and what happened in it (from the ledger)."""
    row = ledger.summary().loc[name]
    keep = {"messages": "messages", "pass": "audits passed", "fail": "audits failed",
            "budget_breaches": "messages over budget", "deployments": "deployments",
            "optimization_failures": "optimization failures", "user_latency_p95": "user latency p95 (s)",
            "cost_max": "most expensive message ($)", "points": "metric points acknowledged",
            "logs": "logs acknowledged", "events": "events acknowledged"}
    return pd.DataFrame({"value": {label: row[column] for column, label in keep.items()}})


def phase_heading(session: Session, name: str, number: str) -> str:
    """Markdown introducing one phase: what it simulates and which monitor it should trip."""
    plan = phase_plan(session.scenario).loc[name]
    return (f"### {number} {name}\n\n{plan['simulates']}  \n**{plan['minutes']} min**, faults: {plan['faults']}. "
            f"Should trip: **{plan['should trip']}**.")


def wait_for_evaluation(session: Session, api_client: ApiClient, datadog_wait: float = 300) -> pd.DataFrame:
    """Let the backend judge the data, then return the kit's monitors as the API shows them.

    Sandbox: POST /sandbox/evaluate (sandbox-only) runs every monitor over every minute the data covers,
    with notifications and workflows, before it answers. Datadog: monitors evaluate every minute on
    windows ending now, so a live countdown lets the last windows pass.
    """
    from .analysis import evaluate_now, kit_monitors
    from .notebook import countdown

    if session.is_sandbox:
        evaluate_now(api_client)
    else:
        countdown(datadog_wait, "Datadog's monitor windows")
    return kit_monitors(api_client)


def environment() -> pd.DataFrame:
    """What this kernel runs on: Python, the packages the kit needs, the catalogue and assets it reads."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    from .catalog import ASSETS_DIR, load_catalog

    rows: dict[str, str] = {"python": platform.python_version(), "platform": platform.platform(terse=True)}
    for package in ("autonomic-kit", "datadog-api-client", "pandas", "matplotlib", "papermill", "nbconvert"):
        try:
            rows[package] = version(package)
        except PackageNotFoundError:
            rows[package] = "MISSING: run `make test` or `pip install -r requirements.txt`"
    catalog = load_catalog()
    rows["metric catalogue"] = f"{len(catalog.metrics)} metrics ({ASSETS_DIR / 'metadata.csv'})"
    rows["assets"] = ", ".join(f"{len(list((ASSETS_DIR / kind).glob('*.json')))} {kind}"
                               for kind in ("dashboards", "monitors", "workflows"))
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
    return (f"**{scenario.name}** (seed {session.plan.seed}, {len(scenario.agents)} agents, {len(scenario.phases)} "
            f"phases, {minutes:.0f} minutes of swarm time) goes to **{session.settings.target}**, {how}. "
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
