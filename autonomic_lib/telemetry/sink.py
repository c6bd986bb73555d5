"""Where telemetry goes: the Datadog API (a site or the sandbox) or memory, behind one small interface.

`ApiSink` sends metrics through `submit_series` (batched under the v2 limits, compressed, retried by
the client's policy), logs to `POST /api/v2/logs` in batches of at most 1000 items and 5 MB
(gzip), events through the client's `EventsApi.create_event`, and LLM Observability spans and evaluations to
their documented intake (`telemetry.traces`). Each method returns only what the
backend acknowledged; a refusal raises, so nothing is counted that was not accepted.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Protocol, Sequence

import orjson
from datadog_api_client import ApiClient
from datadog_api_client.exceptions import ApiException, ForbiddenException, ServiceException, UnauthorizedException
from datadog_api_client.v1.api.events_api import EventsApi
from datadog_api_client.v1.model.event_alert_type import EventAlertType
from datadog_api_client.v1.model.event_create_request import EventCreateRequest

from ..client import raw_request
from ..series import Series, SubmitReport, submit_series
from .traces import EVALUATIONS_PATH, SPANS_PATH, evaluation_requests, span_requests

MAX_LOG_ITEMS = 1000  # per request (DATADOG.md 6.1)
MAX_LOG_BYTES = 5_000_000  # uncompressed per request, a little under Datadog's 5 MB
LOGS_PATH = "/api/v2/logs"


class Sink(Protocol):
    """What the sender needs from a backend."""

    def send_series(self, series: Sequence[Series]) -> SubmitReport: ...

    def send_logs(self, items: Sequence[Mapping[str, Any]]) -> int: ...

    def send_event(self, body: Mapping[str, Any]) -> str: ...

    def send_traces(self, traces: Sequence[Sequence[Mapping[str, Any]]],
                    evaluations: Sequence[Mapping[str, Any]]) -> None: ...


def log_batches(items: Sequence[Mapping[str, Any]]) -> Iterator[tuple[bytes, int]]:
    """(JSON array body, item count) pairs of at most 1000 items and 5 MB each."""
    batch: list[bytes] = []
    size = 2
    for item in items:
        raw = orjson.dumps(item)
        if batch and (len(batch) >= MAX_LOG_ITEMS or size + len(raw) + 1 > MAX_LOG_BYTES):
            yield b"[" + b",".join(batch) + b"]", len(batch)
            batch, size = [], 2
        batch.append(raw)
        size += len(raw) + 1
    if batch:
        yield b"[" + b",".join(batch) + b"]", len(batch)


def logs_url(api_client: ApiClient) -> str:
    """The logs intake base URL: the explicit host (sandbox), else http-intake.logs.<site> as the client routes it."""
    host = api_client.configuration.host.rstrip("/")
    prefix = "https://api."
    return "https://http-intake.logs." + host[len(prefix):] if host.startswith(prefix) else host


class ApiSink:
    """Sends to whatever `api_client` points at (from `make_api_client`)."""

    def __init__(self, api_client: ApiClient, *, encoding: str = "zstd1", concurrency: int = 2):
        self.api_client, self.encoding, self.concurrency = api_client, encoding, concurrency
        self._events = EventsApi(api_client)

    def send_series(self, series: Sequence[Series]) -> SubmitReport:
        return submit_series(self.api_client, series, encoding=self.encoding, concurrency=self.concurrency)

    def send_logs(self, items: Sequence[Mapping[str, Any]]) -> int:
        sent = 0
        for body, n in log_batches(items):
            self._post_logs(gzip.compress(body, compresslevel=6, mtime=0))
            sent += n
        return sent

    def _post_logs(self, body: bytes) -> None:
        """One logs intake request through the client's pool, auth header and retry policy."""
        config = self.api_client.configuration
        headers = dict(self.api_client.default_headers)
        headers.update({"Accept": "application/json", "Content-Type": "application/json", "Content-Encoding": "gzip"})
        auth = config.auth_settings().get("apiKeyAuth")
        if auth and auth.get("value"):
            headers[auth["key"]] = auth["value"]
        response = self.api_client.rest_client.pool_manager.request(
            "POST", logs_url(self.api_client) + LOGS_PATH, body=body, headers=headers, preload_content=True,
            timeout=config.request_timeout or 60)
        if not 200 <= response.status <= 299:
            for status, cls in ((401, UnauthorizedException), (403, ForbiddenException)):
                if response.status == status:
                    raise cls(http_resp=response)
            raise (ServiceException if response.status >= 500 else ApiException)(http_resp=response)

    def send_event(self, body: Mapping[str, Any]) -> str:
        fields = dict(body)
        fields["alert_type"] = EventAlertType(fields["alert_type"])
        response = self._events.create_event(EventCreateRequest(**fields))
        return str(response.event.id_str if getattr(response.event, "id_str", None) else response.event.id)

    def send_traces(self, traces: Sequence[Sequence[Mapping[str, Any]]],
                    evaluations: Sequence[Mapping[str, Any]]) -> None:
        """LLM Observability spans (each trace's together), then their evaluations, to the documented intake; a
        refusal raises."""
        for body, _ in span_requests(traces):
            raw_request(self.api_client, "POST", SPANS_PATH, body=body)
        for body, _ in evaluation_requests(evaluations):
            raw_request(self.api_client, "POST", EVALUATIONS_PATH, body=body)


@dataclass
class MemorySink:
    """Keeps everything in memory: tests, dry runs, and the benchmark's simulation-only figures."""

    series: list[Series] = field(default_factory=list)
    logs: list[Mapping[str, Any]] = field(default_factory=list)
    events: list[Mapping[str, Any]] = field(default_factory=list)
    spans: list[Mapping[str, Any]] = field(default_factory=list)
    evaluations: list[Mapping[str, Any]] = field(default_factory=list)
    keep: bool = True

    def send_series(self, series: Sequence[Series]) -> SubmitReport:
        if self.keep:
            self.series.extend(series)
        return SubmitReport(points=sum(len(s.values) for s in series), requests=1 if series else 0)

    def send_logs(self, items: Sequence[Mapping[str, Any]]) -> int:
        if self.keep:
            self.logs.extend(items)
        return len(items)

    def send_event(self, body: Mapping[str, Any]) -> str:
        self.events.append(body)
        return str(len(self.events))

    def send_traces(self, traces: Sequence[Sequence[Mapping[str, Any]]],
                    evaluations: Sequence[Mapping[str, Any]]) -> None:
        if self.keep:
            self.spans.extend(span for trace in traces for span in trace)
            self.evaluations.extend(evaluations)
