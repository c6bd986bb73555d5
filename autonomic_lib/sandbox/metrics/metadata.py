"""Metric metadata as `GET`/`PUT /api/v1/metrics/{metric_name}` serve it: the catalogue's row, edits on top.

A metric's metadata is what `assets/metadata.csv` says of it (metric_type -> type, unit_name -> unit,
per_unit_name -> per_unit, description, short_name, integration, interval -> statsd_interval), or for a metric
the catalogue does not know, what its intake declared (type, unit, interval). An edit (`PUT`, the client's
`update_metric_metadata`) changes only the fields it names; edits are documents of the sandbox's database, durable
across restarts, and never written to the repository's assets. They also type the metric for queries (a unit set
here is the unit query responses show), as Datadog's metadata does.

Fields and their types: the client's `MetricMetadata` model (datadog-api-client 2.62.0) and
https://docs.datadoghq.com/api/latest/metrics/#edit-metric-metadata. A metric Datadog has never seen answers 404
("Get metric metadata returns Not Found" in the client's features/v1/metrics.feature), for a read and an edit alike.
"""

from __future__ import annotations

from typing import Any

from autonomic_lib.catalog import INTEGRATION, METRIC_TYPES, Catalog
from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.http.params import int_field, shorten
from autonomic_lib.sandbox.metrics.store import MetricStore
from autonomic_lib.sandbox.storage.documents import DocumentStore
from autonomic_lib.units import UNITS

FIELDS = ("description", "integration", "per_unit", "short_name", "statsd_interval", "type", "unit")
# Sandbox bounds (Datadog documents none): far above any real description or short name, and a flush interval of at
# most a day (the Agent flushes every 10 s; DogStatsD's interval is seconds).
MAX_TEXT = {"description": 4000, "short_name": 200, "integration": 200}
MAX_STATSD_INTERVAL = 86_400
_KIND = "metric-metadata"


class MetricMetadata:
    """The metadata of every metric the sandbox knows, and the edits made to it.

    Usage::

        metadata = MetricMetadata(documents, catalog, store)
        metadata.get("autonomic.agent.cost")              # {"type": "count", "unit": "dollar", ...}
        metadata.update("autonomic.agent.cost", {"description": "Spend per message"})
    """

    def __init__(self, documents: DocumentStore, catalog: Catalog | None, store: MetricStore):
        self._documents, self._catalog, self._store = documents, catalog, store
        # read on every query (Metrics.kind), so kept in memory; written through to the database
        self._edits: dict[str, dict[str, Any]] = {d["metric"]: d["fields"] for d in documents.list(_KIND)}

    def known(self, metric: str) -> bool:
        """Whether the metric exists for Datadog: in the catalogue, edited, or with series in the store."""
        return (self._catalog is not None and metric in self._catalog.metrics) or metric in self._edits \
            or bool(self._store.series(metric))

    def edits(self, metric: str) -> dict[str, Any]:
        """The fields edited for `metric` (empty when none)."""
        return self._edits.get(metric, {})

    def get(self, metric: str) -> dict[str, Any]:
        """The MetricMetadata body of `metric`: fields with no value are left out (the model types none as null).

        Raises:
            IntakeError: 404 when the sandbox has never seen the metric.
        """
        if not self.known(metric):
            raise IntakeError(404, f"Metric not found: {shorten(metric, 200)}")
        return {**self._base(metric), **self.edits(metric)}

    def update(self, metric: str, body: Any) -> dict[str, Any]:
        """Apply an edit (the fields `body` names) and return the metadata after it.

        Raises:
            IntakeError: 404 for an unknown metric; 400 naming the field for an unknown field, a value of the wrong
                type, a type Datadog's metadata does not take, a unit not in Datadog's list, or a size past a bound.
        """
        if not isinstance(body, dict):
            raise IntakeError(400, "The request body must be a MetricMetadata object")
        fields = {name: _checked(name, value) for name, value in body.items()}
        current = self.get(metric)  # 404 before anything is stored
        if fields:
            edits = {**self.edits(metric), **fields}
            self._documents.put(_KIND, metric, {"metric": metric, "fields": edits})
            self._edits[metric] = edits
        return {**current, **fields}

    def _base(self, metric: str) -> dict[str, Any]:
        """The metadata before edits: the catalogue's row, else what the intake declared."""
        if self._catalog is not None and metric in self._catalog.metrics:
            spec = self._catalog.metrics[metric]
            row: dict[str, Any] = {"type": spec.type, "unit": spec.unit, "per_unit": spec.per_unit,
                                   "description": spec.description, "short_name": spec.short_name,
                                   "integration": INTEGRATION, "statsd_interval": spec.interval}
        else:
            declared = self._store.metric_type(metric)
            intervals = [s.interval for s in self._store.series(metric) if s.interval]
            row = {"type": declared if declared != "unspecified" else "gauge", "unit": self._store.metric_unit(metric),
                   "statsd_interval": intervals[-1] if intervals else None}
        return {name: value for name, value in row.items() if value is not None}


def _checked(name: str, value: Any) -> Any:
    """One field of an edit, checked; a 400 naming it otherwise."""
    if name not in FIELDS:
        raise IntakeError(400, f"Unknown field '{shorten(name, 60)}'; MetricMetadata has {', '.join(FIELDS)}")
    if name == "statsd_interval":
        return int_field(value, "The field 'statsd_interval'", low=1, high=MAX_STATSD_INTERVAL, what="seconds")
    if not isinstance(value, str):
        raise IntakeError(400, f"The field '{name}' must be a string, got {shorten(value)}")
    if name == "type" and value not in METRIC_TYPES:
        raise IntakeError(400, f"The field 'type' must be one of {', '.join(METRIC_TYPES)}, not {shorten(value)}")
    if name in ("unit", "per_unit") and value not in UNITS:
        raise IntakeError(400, f"The field '{name}' must be one of Datadog's units "
                               f"(docs.datadoghq.com/metrics/units), not {shorten(value)}")
    if len(value) > MAX_TEXT.get(name, 200):
        raise IntakeError(400, f"The field '{name}' is {len(value)} characters; the sandbox takes at most "
                               f"{MAX_TEXT.get(name, 200)}")
    return value
