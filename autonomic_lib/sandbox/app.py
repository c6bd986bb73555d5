"""The sandbox application: its configuration, shared state, and the ASGI app gathering every route module.

Every response is shaped so the official datadog-api-client deserializes it with type checking on;
every refusal is Datadog's status with an `{"errors": [...]}` body (see http.py).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..catalog import Catalog, load_catalog
from ..errors import CatalogError
from . import automation_api, cases_api, evaluation_api, logs_events_api, metrics_api, resources_api
from .database import open_database
from .documents import DocumentStore
from .evaluate import MetricKind
from .evaluation_api import MonitorEvaluator
from .http import error_response
from .intake import IntakePolicy
from .store import MetricStore

log = logging.getLogger("autonomic_lib.sandbox")
_KEY_SHAPED = re.compile(r"[0-9a-fA-F]{32,40}")


@dataclass
class SandboxConfig:
    """What a sandbox instance needs: its keys, where it keeps data, and intake policy."""

    api_key: str
    app_key: str
    data_dir: Path | None = None  # None keeps everything in memory (tests)
    late_data: tuple[str, ...] = ()
    catalog_dir: Path | None = None
    memory_limit: str = "256MB"


@dataclass
class Sandbox:
    """The state every route shares: configuration, store, intake policy and catalogue."""

    config: SandboxConfig
    store: MetricStore = field(init=False)
    documents: DocumentStore = field(init=False)
    policy: IntakePolicy = field(init=False)
    catalog: Catalog | None = field(init=False)
    evaluator: MonitorEvaluator = field(init=False)
    app_url: str = ""  # the sandbox's own base URL, for links it writes outside a request (set by the server)

    def __post_init__(self) -> None:
        path = self.config.data_dir / "metrics.duckdb" if self.config.data_dir else None
        database = open_database(path, memory_limit=self.config.memory_limit)
        self.store = MetricStore(database=database)
        self.documents = DocumentStore(database)
        self.policy = IntakePolicy(late_data=tuple(self.config.late_data))
        try:
            self.catalog = load_catalog(self.config.catalog_dir)
        except CatalogError as exc:  # the sandbox still serves arbitrary metrics, typed by their intake
            log.warning("metric catalogue not loaded, using intake types only: %s", exc)
            self.catalog = None
        self.evaluator = MonitorEvaluator(self)  # started and stopped by the server (SandboxServer)

    def kind(self, metric: str) -> MetricKind:
        """Type and unit of a metric: the catalogue's when it knows the metric, else what the intake declared."""
        if self.catalog is not None and metric in self.catalog.metrics:
            spec = self.catalog.metrics[metric]
            return MetricKind(spec.type if spec.type != "distribution" else "gauge", spec.unit, spec.per_unit, spec.interval)
        mtype = self.store.metric_type(metric)
        intervals = [s.interval for s in self.store.series(metric) if s.interval]
        return MetricKind("gauge" if mtype == "unspecified" else mtype, self.store.metric_unit(metric), None,
                          intervals[-1] if intervals else None)

    def close(self) -> None:
        self.evaluator.stop()
        self.store.close()


def create_app(sandbox: Sandbox) -> Starlette:
    """The ASGI application serving `sandbox`; the caller owns the sandbox's lifetime."""
    app = Starlette(routes=[
        *metrics_api.ROUTES, *logs_events_api.ROUTES, *resources_api.ROUTES, *cases_api.ROUTES,
        *automation_api.ROUTES, *evaluation_api.ROUTES,
    ], exception_handlers={HTTPException: http_error, Exception: server_error})
    app.state.sandbox = sandbox
    return app


async def http_error(request: Request, exc: Exception) -> Response:
    """Unknown routes and methods answer as Datadog does, with an errors body."""
    status = getattr(exc, "status_code", 500)
    return error_response(status, {404: "Not found", 405: "Method not allowed"}.get(status, str(getattr(exc, "detail", ""))))


async def server_error(request: Request, exc: Exception) -> Response:
    """A bug in the sandbox must still answer in Datadog's shape (and be logged, without headers or keys)."""
    path = _KEY_SHAPED.sub("****", request.url.path)  # the legacy logs intake takes the API key in its path
    log.exception("internal error on %s %s", request.method, path)
    return error_response(500, f"Internal sandbox error: {type(exc).__name__}")
