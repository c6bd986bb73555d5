"""One run shared by the four notebooks: the backend (Datadog or a sandbox process) and the plan.

Every notebook calls `open_session(...)`: `backend.choose_backend` picks Datadog or the sandbox running
from the state folder (`SANDBOX_DIR`, `.sandbox` by default); a sandbox process is started only when
no keys are set and none is running there. The plan and the ledger pass between notebooks on disk
(`run_plan`): explicit parameters win, then `run.json`, then the defaults.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
from datadog_api_client import ApiClient

from .backend import Backend, choose_backend
from .client import make_api_client, raw_request, validate_keys
from .errors import ConfigError, SandboxError
from .run_plan import LEDGER_FILE, RunPlan, load_ledger, plan_run, save_ledger
from .sandbox_process import start_sandbox_process, state_dir
from .settings import Settings
from .swarm import Scenario, get_scenario
from .telemetry import Backfill, Ledger, Live
from .traffic import expected_messages, run_scenario


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
        return save_ledger(self.folder, ledger)

    def load_ledger(self) -> Ledger:
        return load_ledger(self.folder)

    def describe(self) -> pd.DataFrame:
        """The run as a two-column table for the notebook (no key)."""
        rows = {"backend": self.settings.target, "state folder": str(self.folder),
                "sandbox": ("started by this notebook" if self.started_sandbox else "already running")
                if self.is_sandbox else "not used", "scenario": self.plan.scenario, "seed": self.plan.seed,
                "pacing": self.plan.pacing, "links go to": self.settings.app_url}
        return pd.DataFrame({"value": rows})


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
    env = Settings.from_env()
    if site:
        env = replace(env, site=site)
    settings = choose_backend(backend, env, folder).settings
    started = False
    if settings is None:
        if not start:
            raise SandboxError(f"no sandbox is running from {folder}; run 00_setup (or "
                               f"`python -m autonomic_lib sandbox --data-dir {folder} --late-data 'autonomic.*'`)")
        settings, started = start_sandbox_process(folder), True
    if validate:
        validate_keys(settings)
    plan = plan_run(settings, folder, scenario=scenario, seed=seed, pacing=pacing)
    if save:
        plan.save(folder)
    return Session(settings, folder, plan, started)


def send_traffic(session: Session, api_client: ApiClient, *, pacing: Backfill | Live | None = None) -> Ledger:
    """Simulate the plan's scenario and send it with its pacing (or `pacing`, pinned by muting.mute_phase), one
    progress bar per phase; saves the ledger. A run already sent from this state folder is cleared first
    (`clear_previous_run`).

    Raises:
        ConfigError: Datadog, and this state folder already sent a run (the message says how to start over).
    """
    from .notebook import ProgressBar

    clear_previous_run(session, api_client)
    scenario = session.scenario
    expected = expected_messages(scenario)
    bars = {name: ProgressBar(name, n, "messages") for name, n in expected.items()}
    points = dict.fromkeys(bars, 0)

    def progress(phase: str, messages: int, sent: int) -> None:
        bar = bars[phase]
        points[phase] += sent
        bar.update(messages, note=f"({points[phase]:,} points acknowledged)", total=max(bar.total, bar.n + messages))

    ledger = run_scenario(scenario, session.plan.seed, api_client=api_client, pacing=pacing or session.pacing,
                          progress=progress)
    for bar in bars.values():
        bar.total = max(bar.n, 1)  # the expected count was a Poisson mean: end every bar full
        bar.close()
    session.save_ledger(ledger)
    return ledger


def clear_previous_run(session: Session, api_client: ApiClient) -> None:
    """A run has an identity: when this state folder already holds a sent run, the sandbox starts a new one
    (`POST /sandbox/reset`: telemetry, evaluations, notifications, cases and downtimes of the last run are cleared,
    the assets kept), so a second run never piles onto the first; on Datadog, whose data cannot be cleared, it
    refuses. Nothing to do when no run was sent.

    Raises:
        ConfigError: Datadog, and this state folder already sent a run (the message says how to start over).
    """
    from .notebook import announce

    previous = previous_run(session)
    if previous is not None:
        if not session.is_sandbox:
            raise ConfigError(f"this state folder already sent a run to Datadog ({previous}); sending it again "
                              "would pile a second copy onto the same time window. Start over with "
                              f"`python -m autonomic_lib reset --data-dir {session.folder}` (or 00_setup with "
                              "RESET=True) and a new ENV tag, or analyse the run that was sent (03_analysis)")
        raw_request(api_client, "POST", "/sandbox/reset", app_key=True)
        (session.folder / LEDGER_FILE).unlink(missing_ok=True)
        announce(f"A new run: the previous one ({previous}) was cleared from the sandbox; the assets are kept.")


def previous_run(session: Session) -> str | None:
    """A line describing the run this state folder already sent, or None when it sent none."""
    path = session.folder / LEDGER_FILE
    if not path.is_file():
        return None
    try:
        ledger = session.load_ledger()
    except Exception:  # an unreadable ledger from an older kit is still a run that was sent
        return f"ledger {path.name} from {_utc(path.stat().st_mtime)}"
    return f"{ledger.scenario}, seed {ledger.seed}, sent {_utc(path.stat().st_mtime)}"


def _utc(ts: float) -> str:
    return pd.Timestamp(ts, unit="s", tz="UTC").strftime("%Y-%m-%d %H:%M UTC")


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
