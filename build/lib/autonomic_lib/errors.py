"""The kit's exception tree, so callers catch one family instead of third-party errors.

    AutonomicError
    ├── ConfigError            settings, keys, sites: names the variable, never the key
    ├── CatalogError           assets/metadata.csv and assets/tags.csv: names the file, row and column
    ├── AssetError             (autonomic_lib.assets) dashboards/monitors/workflows failing lint or model
    │                          validation: every problem with its file, JSON path and fix
    ├── ScenarioError          a scenario definition (or its use) is invalid: names the file and field
    ├── BackendUnreachable     no connection to Datadog or the sandbox (refused, name not resolved): names the
    │                          host and what to check (DD_SITE, DD_HOST, the network), never a key
    ├── SandboxError           the embedded sandbox could not start, or its state is unusable
    ├── QueryError             a metric query could not be parsed or evaluated
    │   └── UnsupportedQueryError   valid Datadog syntax the sandbox does not imitate
    ├── IntakeError            a request the sandbox refuses: status code + messages, as Datadog answers; rendered
    │                          by the sandbox's routes as v1 `{"errors": [...]}` or JSON:API error objects
    └── StepError              (autonomic_lib.sandbox.automation.runner) a workflow step the sandbox cannot run
"""

from __future__ import annotations


class AutonomicError(Exception):
    """Root of every error the kit raises on purpose."""


class ConfigError(AutonomicError):
    """Settings are missing or wrong; the message names the variable and the site or host."""


class CatalogError(AutonomicError):
    """The metric catalogue is malformed, or a metric/tag is not in it."""

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None, column: str | None = None):
        where = ", ".join(p for p in (file, f"row {row}" if row is not None else None, f"column {column!r}" if column else None) if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.file, self.row, self.column = file, row, column


class ScenarioError(AutonomicError):
    """A scenario definition is invalid; names the file (when there is one) and the field path.

    Here rather than in `swarm`, so the telemetry's pacings can refuse a timeline without importing the swarm.
    """

    def __init__(self, message: str, *, field: str | None = None, file: str | None = None):
        where = ": ".join(p for p in (file, field) if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.field, self.file = field, file


class BackendUnreachable(AutonomicError):
    """The backend could not be connected to at all; retrying a refused connection or an unknown name won't help.

    `host` is the host (and port) the client tried, never a URL path (the legacy logs intake carries the key there).
    """

    def __init__(self, message: str, *, host: str):
        super().__init__(message)
        self.host = host


class SandboxError(AutonomicError):
    """The sandbox cannot start or its state folder is unusable."""


class QueryError(AutonomicError):
    """A metric query is invalid; `position` is the character offset when known."""

    def __init__(self, message: str, *, query: str | None = None, position: int | None = None):
        super().__init__(message)
        self.query, self.position = query, position


class UnsupportedQueryError(QueryError):
    """Valid Datadog syntax that the sandbox refuses rather than answer wrongly."""


class IntakeError(AutonomicError):
    """A request the sandbox refuses; carries the HTTP status Datadog would answer with and every problem found."""

    def __init__(self, status: int, message: str, *more: str):
        super().__init__("; ".join((message, *more)))
        self.status, self.messages = status, (message, *more)
