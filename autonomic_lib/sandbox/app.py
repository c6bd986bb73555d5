"""The sandbox application: the one container of every product's backend, and the ASGI app gathering their routes.

Products (metrics, logs, dashboards, monitors, automation, and the read-only pages over them) never import this
module: each builds its URL table from its own backend (`routes(backend)`), and the wiring between them (the
evaluator's notifier, links to the sandbox's own address) is made here. Every response is shaped so the official
datadog-api-client deserializes it with type checking on; every refusal is Datadog's status and error body
(see http/routing.py).
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from autonomic_lib.catalog import Catalog, load_catalog
from autonomic_lib.errors import CatalogError
from autonomic_lib.sandbox.automation import notifications
from autonomic_lib.sandbox.automation import routes as automation_routes
from autonomic_lib.sandbox.automation.backend import Automation
from autonomic_lib.sandbox.config import SandboxConfig
from autonomic_lib.sandbox.dashboards import routes as dashboard_routes
from autonomic_lib.sandbox.dashboards.backend import Dashboards
from autonomic_lib.sandbox.dogstatsd import routes as dogstatsd_routes
from autonomic_lib.sandbox.downtimes import routes as downtime_routes
from autonomic_lib.sandbox.downtimes.backend import Downtimes
from autonomic_lib.sandbox.dogstatsd.backend import DogStatsD
from autonomic_lib.sandbox.http.routing import Address, Keys, error_response, internal_error, json_response, route
from autonomic_lib.sandbox.logs import event_routes
from autonomic_lib.sandbox.llmobs import routes as llmobs_routes
from autonomic_lib.sandbox.llmobs.backend import LLMObs
from autonomic_lib.sandbox.logs import routes as log_routes
from autonomic_lib.sandbox.logs.backend import Logs
from autonomic_lib.sandbox.metrics import routes as metric_routes
from autonomic_lib.sandbox.metrics.backend import Metrics
from autonomic_lib.sandbox.metrics.evaluate import MetricKind
from autonomic_lib.sandbox.metrics.intake import IntakePolicy
from autonomic_lib.sandbox.metrics.store import MetricStore
from autonomic_lib.sandbox.monitors import routes as monitor_routes
from autonomic_lib.sandbox.monitors.backend import Monitors
from autonomic_lib.sandbox.monitors.evaluator import Transition
from autonomic_lib.sandbox.monitors.service import MonitorEvaluator
from autonomic_lib.sandbox.pages import routes as page_routes
from autonomic_lib.sandbox.pages.backend import Pages
from autonomic_lib.sandbox.storage.database import open_database
from autonomic_lib.sandbox.storage.documents import DocumentStore

__all__ = ["Sandbox", "SandboxConfig", "create_app"]

log = logging.getLogger("autonomic_lib.sandbox")


class Sandbox:
    """Every product's backend over one database; the server starts and stops the monitor evaluator.

    Usage::

        sandbox = Sandbox(SandboxConfig(api_key=..., app_key=..., data_dir=None))
        app = create_app(sandbox)     # serve it (server.py), or drive it with an ASGI test client
        sandbox.close()
    """

    def __init__(self, config: SandboxConfig):
        self.config = config
        database = open_database(config.data_dir / "metrics.duckdb" if config.data_dir else None,
                                 memory_limit=config.memory_limit)
        self.store = MetricStore(database=database)
        self.documents = DocumentStore(database)
        self.policy = IntakePolicy(late_data=tuple(config.late_data))
        self.address = Address(api_key=config.api_key)
        self.catalog = _catalog(config)
        clock = self.policy.clock
        self.metrics = Metrics(self.store, self.policy, self.catalog, self.documents)
        self.logs = Logs(self.documents, clock)
        self.metrics.sources["logs"] = self.logs.formula_source  # logs and events as data sources of /api/v2/query/*
        self.metrics.sources["events"] = self.logs.events_formula_source
        self.llmobs = LLMObs(self.documents, self.metrics)
        self.dashboards = Dashboards(self.documents, clock, self.metrics, self.address)
        self.automation = Automation(self.documents, clock, self.address)
        self.monitors = Monitors(self.documents, clock, self.metrics)
        self.downtimes = Downtimes(self.documents, clock, self.monitors)
        self.monitors.matching_downtimes = self.downtimes.matching_v1
        self.monitors.silenced_groups = self.downtimes.silenced_groups
        self.pages = Pages(monitors=self.monitors, dashboards=self.dashboards, automation=self.automation,
                           metrics=self.metrics, llmobs=self.llmobs)
        self.dogstatsd = DogStatsD(self.metrics, self.logs, self.documents, clock=clock,  # fed by server.py's listener
                                   interval=config.dogstatsd_interval)
        self.evaluator = MonitorEvaluator(monitors=self.monitors, events=self.logs, metrics=self.metrics,
                                          notify=self._notify, quiet_seconds=config.evaluation_quiet_seconds,
                                          silence=self.downtimes.silence)
        self.logs.on_ingest(self.evaluator.learn_logs)  # log intake triggers evaluation, as metric writes do

    def new_run(self) -> dict[str, int]:
        """Forget everything a run sent and caused (telemetry, evaluations, notifications, workflow runs, cases,
        snapshots, and the downtimes that muted its phases); keep the assets (dashboards, monitors, workflows, case
        projects). Returns what was cleared.

        Why: the demo's story is backfilled to end now, so a second run overlaps the first in time; without this
        its points pile onto the first's and every count doubles.
        """
        cleared = {"transitions": self.evaluator.new_run(), "points": self.store.clear(), **self.logs.clear(),
                   **self.llmobs.clear(), **self.automation.clear_runs(),
                   "snapshots": self.dashboards.clear_snapshots(), "downtimes": self.downtimes.clear()}
        log.info("new run: cleared %s", cleared)
        return cleared

    def _notify(self, monitor: dict[str, Any], transition: Transition) -> None:
        notifications.on_transition(self.automation, monitor, transition)

    @property
    def app_url(self) -> str:
        """The sandbox's own base URL (set by the server), for links it writes outside a request."""
        return self.address.url

    @app_url.setter
    def app_url(self, url: str) -> None:
        self.address.url = url

    def kind(self, metric: str) -> MetricKind:
        return self.metrics.kind(metric)

    def close(self) -> None:
        self.evaluator.stop()
        self.store.close()


def _catalog(config: SandboxConfig) -> Catalog | None:
    try:
        return load_catalog(config.catalog_dir)
    except CatalogError as exc:  # the sandbox still serves arbitrary metrics, typed by their intake
        log.warning("metric catalogue not loaded, using intake types only: %s", exc)
        return None


def create_app(sandbox: Sandbox) -> Starlette:
    """The ASGI application serving `sandbox`; the caller owns the sandbox's lifetime."""
    app = Starlette(routes=[
        *metric_routes.routes(sandbox.metrics), *log_routes.routes(sandbox.logs),
        *event_routes.routes(sandbox.logs),
        *dashboard_routes.routes(sandbox.dashboards), *monitor_routes.routes(sandbox.monitors, sandbox.evaluator),
        *automation_routes.routes(sandbox.automation), *page_routes.routes(sandbox.pages),
        *dogstatsd_routes.routes(sandbox.dogstatsd), *llmobs_routes.routes(sandbox.llmobs),
        *downtime_routes.routes(sandbox.downtimes),
        route("/sandbox/reset", "POST", new_run, sandbox, app_key=True),
    ], exception_handlers={HTTPException: http_error, Exception: server_error})
    app.state.keys = Keys(sandbox.config.api_key, sandbox.config.app_key)
    app.state.address = sandbox.address
    return app


async def new_run(request: Request, sandbox: Sandbox) -> Response:
    """SANDBOX-ONLY `POST /sandbox/reset`: a new run (Sandbox.new_run); answers what was cleared."""
    return json_response({"cleared": await run_in_threadpool(sandbox.new_run)})


async def http_error(request: Request, exc: Exception) -> Response:
    """Unknown routes and methods answer as Datadog does, with an errors body."""
    status = getattr(exc, "status_code", 500)
    return error_response(status, {404: "Not found", 405: "Method not allowed"}.get(status, str(getattr(exc, "detail", ""))))


async def server_error(request: Request, exc: Exception) -> Response:
    """A bug outside a keyed route (a public page): still Datadog's shape, logged without headers or keys. Keyed
    routes answer theirs in their API's error shape (routing.internal_error)."""
    return internal_error(request, exc)
