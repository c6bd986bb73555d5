"""autonomic-kit: see, test and explain a self-healing GenAI agent swarm with Datadog (or its sandbox)."""

from __future__ import annotations

from .analysis import query_frame
from .catalog import Catalog, load_catalog
from .client import make_api_client, validate_keys
from .errors import AutonomicError, CatalogError, ConfigError, QueryError, SandboxError
from .series import Series, submit_series
from .settings import Settings
from .reconciliation import reconcile
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
