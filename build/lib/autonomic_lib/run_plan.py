"""The run plan and the ledger hand-off: what one notebook leaves on disk for the next.

Notebooks run in separate kernels (papermill, JupyterLab restarts), so nothing passes between them in
memory. The state folder holds it:

- `run.json`: the plan 00_setup prepared (backend, site, scenario, seed, pacing); never a key;
- `ledger.json`: what 02_traffic sent and had acknowledged, for 03_analysis to reconcile (JSON: a state folder
  is data, and unpickling it would run whatever it holds).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .settings import Settings
from .swarm import get_scenario
from .telemetry import Ledger

PLAN_FILE, LEDGER_FILE = "run.json", "ledger.json"
OLD_LEDGER_FILE = "ledger.pkl"  # an older kit's pickle: never loaded
DEFAULTS = {"scenario": "seed-demo", "seed": 7, "pacing": "auto"}


@dataclass(frozen=True, kw_only=True)
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


def plan_run(settings: Settings, folder: Path, *, scenario: str | None = None, seed: int | None = None,
             pacing: str | None = None) -> RunPlan:
    """The plan for `settings`' backend: explicit values win, then `folder`'s run.json, then DEFAULTS.

    Raises:
        ScenarioError: an unknown scenario name or a bad scenario file (named).
        ConfigError: a pacing other than "auto", "backfill" or "live".
    """
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
    return RunPlan(backend="sandbox" if settings.is_sandbox else "datadog", target=settings.target,
                   scenario=str(chosen["scenario"]), seed=int(chosen["seed"]), pacing=mode,
                   site=None if settings.is_sandbox else settings.site, created_at=time.time())


def save_ledger(folder: Path, ledger: Ledger) -> Path:
    """Write what 02_traffic sent to `folder` for 03_analysis."""
    path = folder / LEDGER_FILE
    path.write_bytes(ledger.to_json())
    (folder / OLD_LEDGER_FILE).unlink(missing_ok=True)
    return path


def load_ledger(folder: Path) -> Ledger:
    """The ledger 02_traffic left in `folder`; ConfigError (saying to run 02_traffic) when there is none."""
    path = folder / LEDGER_FILE
    if not path.is_file():
        if (folder / OLD_LEDGER_FILE).is_file():
            raise ConfigError(f"{folder / OLD_LEDGER_FILE} was written by an older kit (a pickle, which this kit never "
                              "loads): run 02_traffic again")
        raise ConfigError(f"no traffic has been sent for this state folder ({path} is missing): run "
                          "02_traffic first, with the same SANDBOX_DIR")
    try:
        return Ledger.from_json(path.read_bytes())
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}; run 02_traffic again") from None
