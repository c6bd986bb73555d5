"""The metrics product's backend: the durable store, the intake policy, metric metadata, and what kind each metric is."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol, Sequence

from autonomic_lib.catalog import Catalog
from autonomic_lib.errors import IntakeError
from autonomic_lib.query.language import Scope
from autonomic_lib.sandbox.metrics.evaluate import MetricKind, kind_from_store
from autonomic_lib.sandbox.metrics.intake import IntakePolicy
from autonomic_lib.sandbox.metrics.listing import MetricFilter, list_metrics, metric_tags
from autonomic_lib.sandbox.metrics.metadata import MetricMetadata
from autonomic_lib.sandbox.metrics.store import MetricStore, SeriesPoints
from autonomic_lib.sandbox.storage.documents import DocumentStore


class FormulaSource(Protocol):
    """Another product's data source for /api/v2/query/* (`logs`): per group, its tags and its series of (epoch ms,
    value) or its total (None without a value). Raises IntakeError naming the field of `where` it cannot read."""

    def __call__(self, query: dict[str, Any], where: str, *, start_ms: int, end_ms: int, interval_ms: int | None,
                 total: bool) -> list[tuple[tuple[str, ...], Any]]: ...


class Metrics:
    """Series intake and queries; every other product that reads metrics goes through `store` and `kind`.

    Usage::

        metrics = Metrics(MetricStore(), IntakePolicy(), catalog=None)
        metrics.write(batch)
        evaluate_query("avg:m{*}", metrics.store, start, end, kinds=metrics.kind)
        metrics.metadata.get("m")
    """

    def __init__(self, store: MetricStore, policy: IntakePolicy, catalog: Catalog | None,
                 documents: DocumentStore | None = None):
        """`documents` keeps the metadata edits (app.py gives the sandbox's own); by default, the store's database."""
        self.store, self.policy, self.catalog = store, policy, catalog
        self.metadata = MetricMetadata(documents or DocumentStore(store.database), catalog, store)
        self.sources: dict[str, FormulaSource] = {}  # data sources other than metrics, by name (wired by app.py)

    def clock(self) -> float:
        return self.policy.clock()

    def kind(self, metric: str) -> MetricKind:
        """Type and unit of a metric: the catalogue's when it knows the metric, else what the intake declared;
        metadata edits (PUT /api/v1/metrics/{name}) over either."""
        if self.catalog is not None and metric in self.catalog.metrics:
            spec = self.catalog.metrics[metric]
            kind = MetricKind(spec.type, spec.unit, spec.per_unit, spec.interval)
        else:
            kind = kind_from_store(self.store, metric)
        edits = self.metadata.edits(metric)
        if edits:
            kind = replace(kind, type=edits.get("type", kind.type), unit=edits.get("unit", kind.unit),
                           per_unit=edits.get("per_unit", kind.per_unit),
                           interval=edits.get("statsd_interval", kind.interval))
        return kind if kind.type != "distribution" else replace(kind, type="gauge")

    def write(self, batch: Sequence[SeriesPoints]) -> int:
        return self.store.write(batch)

    def list_active(self, wanted: MetricFilter, *, page_size: int | None, cursor: str | None
                    ) -> tuple[list[str], str | None]:
        """GET /api/v2/metrics: active metric names passing `wanted` (listing.list_metrics), one page and the next
        cursor."""
        return list_metrics(self.store, int(self.clock()), wanted, self.metadata_type, page_size=page_size,
                            cursor=cursor)

    def active_since(self, since: int, *, host: str | None = None, scope: Scope | None = None) -> list[str]:
        """GET /api/v1/metrics: names of the metrics with a point at or after `since` (epoch s) from a series on
        `host` and passing `scope` (the `tag_filter`), sorted."""
        return sorted({s.metric for s in self.store.active_series(since)
                       if (host is None or f"host:{host}" in s.tags) and (scope is None or scope.matches(s.tags))})

    def search_names(self, text: str) -> list[str]:
        """GET /api/v1/search?q=[metrics:]text: the names containing `text` (any case), sorted (substring matching
        is a sandbox reading of "Query string to search metrics upon")."""
        wanted = text.removeprefix("metrics:").strip().lower()
        return [m for m in self.store.metrics() if wanted in m.lower()]

    def metadata_type(self, metric: str) -> str:
        return str(self.metadata.get(metric).get("type", "gauge"))

    def tags_of(self, metric: str, *, window: int, scope: Scope, match: str | None, values: bool,
                limit: int | None) -> list[str]:
        """GET /api/v2/metrics/{metric}/all-tags: the tags of its series active in the last `window` seconds.

        Raises:
            IntakeError: 404 when the sandbox has never seen the metric.
        """
        if not self.metadata.known(metric):
            raise IntakeError(404, f"Metric not found: {metric[:200]}")
        since = int(self.clock()) - window
        return metric_tags(self.store.active_series(since, metric), scope=scope, match=match, values=values, limit=limit)
