"""Metric metadata and the v2 metric reads, without HTTP: the catalogue's rows, edits on top, active metrics."""

from __future__ import annotations

import numpy as np
import pytest

from autonomic_lib.catalog import load_catalog
from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.metrics.backend import Metrics
from autonomic_lib.sandbox.metrics.intake import IntakePolicy
from autonomic_lib.sandbox.metrics.listing import AllTags, MetricFilter, tag_filter
from autonomic_lib.sandbox.metrics.store import MetricStore, SeriesPoints
from autonomic_lib.sandbox.storage.database import open_database
from autonomic_lib.sandbox.storage.documents import DocumentStore

NOW = 1_800_000_000
COST = "autonomic.agent.cost"


def backend(path=None) -> Metrics:
    database = open_database(path)
    return Metrics(MetricStore(database=database), IntakePolicy(clock=lambda: NOW), load_catalog(),
                   DocumentStore(database))


def point(metric: str, ts: int, *tags: str, kind: str = "gauge", unit: str | None = None) -> SeriesPoints:
    return SeriesPoints(metric, tags, np.array([ts]), np.array([1.0]), type=kind, unit=unit)


def test_a_catalogue_metric_reads_as_its_metadata_csv_row() -> None:
    spec = load_catalog().metrics[COST]
    meta = backend().metadata.get(COST)
    assert meta["type"] == spec.type and meta.get("unit") == spec.unit and meta["description"] == spec.description
    assert meta["short_name"] == spec.short_name and meta["integration"] == "autonomic_ai"
    assert None not in meta.values()


def test_a_metric_outside_the_catalogue_reads_as_its_intake_declared_it() -> None:
    metrics = backend()
    metrics.write([point("test.meta.latency", NOW - 10, "env:a", kind="count", unit="second")])
    assert metrics.metadata.get("test.meta.latency") == {"type": "count", "unit": "second"}


def test_an_unknown_metric_is_a_404_for_a_read_and_an_edit_and_stores_nothing() -> None:
    metrics = backend()
    for call in (lambda: metrics.metadata.get("nope.metric"),
                 lambda: metrics.metadata.update("nope.metric", {"description": "d"})):
        with pytest.raises(IntakeError) as exc:
            call()
        assert exc.value.status == 404 and "nope.metric" in str(exc.value)
    assert not metrics.metadata.known("nope.metric")


def test_an_edit_changes_only_its_fields_survives_a_restart_and_types_queries(tmp_path) -> None:
    metrics = backend(tmp_path / "db.duckdb")
    before = metrics.metadata.get(COST)
    after = metrics.metadata.update(COST, {"unit": "byte", "per_unit": "second", "description": "edited"})
    assert after == {**before, "unit": "byte", "per_unit": "second", "description": "edited"}
    assert (metrics.kind(COST).unit, metrics.kind(COST).per_unit) == ("byte", "second")
    metrics.store.close()
    reopened = backend(tmp_path / "db.duckdb")
    assert reopened.metadata.get(COST) == after
    assert load_catalog().metrics[COST].description != "edited"  # the repository's assets are untouched


def test_a_distribution_stays_one_in_metadata_and_is_a_gauge_for_queries() -> None:
    metrics = backend()
    metrics.write([point("test.meta.dist", NOW - 10)])
    metrics.metadata.update("test.meta.dist", {"type": "distribution"})
    assert metrics.metadata.get("test.meta.dist")["type"] == "distribution"
    assert metrics.kind("test.meta.dist").type == "gauge"


@pytest.mark.parametrize(("body", "named"), [
    ({"unit": "bananas"}, "'unit'"), ({"per_unit": 3}, "'per_unit'"), ({"type": "histogram"}, "'type'"),
    ({"statsd_interval": "10"}, "'statsd_interval'"), ({"statsd_interval": 0}, "'statsd_interval'"),
    ({"short_name": "x" * 201}, "'short_name'"), ({"colour": "red"}, "'colour'"), ([], "MetricMetadata object"),
    ({"description": "fine", "unit": "bananas"}, "'unit'"),
])
def test_a_bad_edit_is_a_400_naming_the_field_and_changes_nothing(body, named: str) -> None:
    metrics = backend()
    before = metrics.metadata.get(COST)
    with pytest.raises(IntakeError) as exc:
        metrics.metadata.update(COST, body)
    assert exc.value.status == 400 and named in str(exc.value)
    assert metrics.metadata.get(COST) == before


def test_the_list_holds_metrics_active_in_the_window_passing_the_tag_filter() -> None:
    metrics = backend()
    metrics.write([point("test.l.a", NOW - 100, "env:prod", "service:web-1"), point("test.l.b", NOW - 100, "env:dev"),
                   point("test.l.old", NOW - 7200, "env:prod")])
    names = lambda wanted: metrics.list_active(wanted, page_size=None, cursor=None)[0]  # noqa: E731
    assert names(MetricFilter()) == ["test.l.a", "test.l.b"]
    assert names(MetricFilter(window=3 * 3600)) == ["test.l.a", "test.l.b", "test.l.old"]
    assert names(MetricFilter(tags=tag_filter("env IN (prod,stage) AND service:web*", "filter[tags]"))) == ["test.l.a"]
    assert names(MetricFilter(configured=True)) == [] and names(MetricFilter(configured=False)) == ["test.l.a",
                                                                                                     "test.l.b"]
    metrics.metadata.update("test.l.b", {"type": "distribution"})
    assert names(MetricFilter(metric_type="distribution")) == ["test.l.b"]
    assert names(MetricFilter(metric_type="non_distribution")) == ["test.l.a"]


def test_the_list_pages_by_cursor_without_losing_or_repeating_a_metric() -> None:
    metrics = backend()
    metrics.write([point(f"test.p.{i:02d}", NOW - 10) for i in range(7)])
    seen, cursor = [], None
    while True:
        page, cursor = metrics.list_active(MetricFilter(), page_size=3, cursor=cursor)
        seen += page
        if cursor is None:
            break
    assert seen == [f"test.p.{i:02d}" for i in range(7)]


def test_a_bad_tag_filter_or_cursor_is_a_400_naming_it() -> None:
    with pytest.raises(IntakeError, match="filter\\[tags\\]"):
        tag_filter("env:a} + avg:b{*", "filter[tags]")
    with pytest.raises(IntakeError, match="page\\[cursor\\]"):
        backend().list_active(MetricFilter(), page_size=2, cursor="%%%")


def test_a_metrics_tags_are_those_of_its_active_series_filtered_and_bounded() -> None:
    metrics = backend()
    metrics.write([point("test.t", NOW - 100, "env:prod", "host:a"), point("test.t", NOW - 100, "env:dev", "host:b"),
                   point("test.t", NOW - 30000, "env:old")])
    tags = lambda **kw: metrics.tags_of("test.t", **{"window": 14400, "scope": AllTags(), "match": None,  # noqa: E731
                                                      "values": True, "limit": None, **kw})
    assert tags() == ["env:dev", "env:prod", "host:a", "host:b"]
    assert tags(window=86400)[:3] == ["env:dev", "env:old", "env:prod"]
    assert tags(scope=tag_filter("env:prod", "filter[tags]")) == ["env:prod", "host:a"]
    assert tags(match="host") == ["host:a", "host:b"] and tags(values=False) == ["env", "host"]
    assert tags(limit=1) == ["env:dev"]
    with pytest.raises(IntakeError) as exc:
        metrics.tags_of("nope", window=14400, scope=AllTags(), match=None, values=True, limit=None)
    assert exc.value.status == 404
