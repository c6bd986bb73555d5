"""autonomic-kit: see, test and explain a self-healing GenAI agent swarm with Datadog (or its sandbox).

The public names load on first use (PEP 562): `python -m autonomic_lib sandbox` and every other import of a
submodule would otherwise pay for pandas and the query-back first (~0.7 s of each process start).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .analysis import query_frame
    from .catalog import Catalog, load_catalog
    from .client import make_api_client, validate_keys
    from .errors import AutonomicError, CatalogError, ConfigError, QueryError, SandboxError
    from .reconciliation import reconcile
    from .series import Series, submit_series
    from .settings import Settings
    from .telemetry import Recorder
    from .traffic import run_scenario

__all__ = [
    "AutonomicError",
    "Catalog",
    "CatalogError",
    "ConfigError",
    "QueryError",
    "Recorder",
    "SandboxError",
    "Series",
    "Settings",
    "load_catalog",
    "make_api_client",
    "query_frame",
    "reconcile",
    "run_scenario",
    "submit_series",
    "validate_keys",
]
_HOME = {"query_frame": "analysis", "Catalog": "catalog", "load_catalog": "catalog", "make_api_client": "client",
         "validate_keys": "client", "AutonomicError": "errors", "CatalogError": "errors", "ConfigError": "errors",
         "QueryError": "errors", "SandboxError": "errors", "reconcile": "reconciliation", "Series": "series",
         "submit_series": "series", "Settings": "settings", "Recorder": "telemetry", "run_scenario": "traffic"}


def __getattr__(name: str) -> Any:
    """Import a public name's module when the name is first used."""
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
