"""The dashboards backend without HTTP: ids, listing with the deleted filter and paging, updates, snapshots."""

from __future__ import annotations

import itertools
import re
from typing import Any

import numpy as np
import pytest

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.dashboards.backend import Dashboards, format_dashboard_id
from autonomic_lib.sandbox.http.routing import Address
from autonomic_lib.sandbox.metrics.backend import Metrics
from autonomic_lib.sandbox.metrics.intake import IntakePolicy
from autonomic_lib.sandbox.metrics.store import MetricStore, SeriesPoints
from autonomic_lib.sandbox.storage.database import open_database
from autonomic_lib.sandbox.storage.documents import DocumentStore

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
NOTE = {"definition": {"type": "note", "content": "hi"}}


@pytest.fixture
def dashboards() -> Dashboards:
    """A backend over one in-memory database (documents and metrics), its clock a second further at each reading."""
    database, ticks = open_database(None), itertools.count()
    metrics = Metrics(MetricStore(database=database), IntakePolicy(), catalog=None)
    return Dashboards(DocumentStore(database), lambda: T0 + next(ticks), metrics, Address("http://sandbox.test"))


def body(title: str, widgets: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"title": title, "layout_type": "ordered", "widgets": widgets if widgets is not None else [NOTE]}


def titles(docs: list[dict[str, Any]]) -> list[str]:
    return [d["title"] for d in docs]


def test_dashboard_ids_look_like_datadogs_and_never_repeat() -> None:
    ids = [format_dashboard_id(n) for n in range(1, 2001)]
    assert all(re.fullmatch(r"[0-9a-z]{3}-[0-9a-z]{3}-[0-9a-z]{3}", i) for i in ids) and len(set(ids)) == len(ids)


def test_list_dashboards_shows_live_ones_and_the_deleted_ones_on_request(dashboards: Dashboards) -> None:
    keep, gone = (dashboards.create_dashboard(body=body(t)) for t in ("keep", "gone"))
    dashboards.delete_dashboard(gone["id"])
    assert titles(dashboards.list_dashboards()) == ["keep"]
    (deleted,) = dashboards.list_dashboards(deleted=True)
    assert deleted["id"] == gone["id"] and deleted["deleted_at"] > gone["modified_at"]
    assert dashboards.list_dashboards(shared=True) == [] == dashboards.list_dashboards(shared=True, deleted=True)
    assert dashboards.get_dashboard(keep["id"]) == keep


def test_list_dashboards_pages_with_start_and_count(dashboards: Dashboards) -> None:
    for title in "abcde":
        dashboards.create_dashboard(body=body(title))
    assert titles(dashboards.list_dashboards(start=1, count=2)) == ["b", "c"]
    assert titles(dashboards.list_dashboards(start=3)) == ["d", "e"]
    assert dashboards.list_dashboards(start=9) == []


def test_a_refused_dashboard_is_not_stored_but_uses_up_an_id(dashboards: Dashboards) -> None:
    with pytest.raises(IntakeError, match="layout_type: 'grid'"):
        dashboards.create_dashboard(body={**body("bad"), "layout_type": "grid"})
    created = dashboards.create_dashboard(body=body("good"))
    assert created["id"] == format_dashboard_id(2) and titles(dashboards.list_dashboards()) == ["good"]


def test_update_keeps_creation_time_and_known_widget_ids_and_ignores_read_only_fields(
        dashboards: Dashboards) -> None:
    created = dashboards.create_dashboard(body=body("Ops Center", [NOTE, NOTE]))
    kept = created["widgets"][0]
    updated = dashboards.update_dashboard(created["id"], body={
        **body("Ops v2", [kept, NOTE]), "author_handle": "someone@else", "url": "/elsewhere"})
    assert updated["widgets"][0]["id"] == kept["id"]
    assert updated["widgets"][1]["id"] not in {w["id"] for w in created["widgets"]}
    assert updated["created_at"] == created["created_at"] < updated["modified_at"]
    assert updated["url"] == f"/dashboard/{created['id']}/ops-v2" and updated["author_handle"] != "someone@else"


def test_unknown_dashboards_are_404(dashboards: Dashboards) -> None:
    for call in (lambda: dashboards.get_dashboard("zzz-zzz-zzz"), lambda: dashboards.delete_dashboard("zzz-zzz-zzz"),
                 lambda: dashboards.update_dashboard("zzz-zzz-zzz", body=body("x"))):
        with pytest.raises(IntakeError, match="Dashboard zzz-zzz-zzz not found") as err:
            call()
        assert err.value.status == 404


def test_a_snapshot_is_stored_checked_and_drawn_at_its_size(dashboards: Dashboards) -> None:
    start = int(T0) - 600
    dashboards.metrics.write([SeriesPoints("snap.metric", ("env:demo",), np.array([start + 60, start + 120]),
                                           np.array([1.0, 2.0]), type="gauge")])
    doc = dashboards.create_snapshot(start=str(start), end=str(int(T0)), metric_query="avg:snap.metric{*}",
                                     width="200", height="120")
    assert doc["queries"] == ["avg:snap.metric{*}"] and (doc["width"], doc["height"]) == (200, 120)
    png = dashboards.snapshot_png(doc["token"])
    assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(png[16:20], "big") == 200 and int.from_bytes(png[20:24], "big") == 120
    assert dashboards.snapshot_png("unknown") is None


@pytest.mark.parametrize("kwargs, message", [
    ({"start": None, "end": "60"}, "The parameter 'start' is required"),
    ({"start": "60", "end": "0"}, "The parameter 'end' must be after 'start'"),
    ({"start": "0", "end": "60"}, "One of the parameters 'metric_query' or 'graph_def' is required"),
    ({"start": "0", "end": "60", "graph_def": '{"requests": []}'}, "graph_def needs 'requests'"),
    ({"start": "0", "end": "60", "metric_query": "avg:m{*}", "width": "99"}, "The parameter 'width' must be"),
])
def test_snapshot_requests_are_refused_naming_the_parameter(dashboards: Dashboards, kwargs: dict[str, Any],
                                                            message: str) -> None:
    with pytest.raises(IntakeError, match=re.escape(message)):
        dashboards.create_snapshot(**kwargs)
