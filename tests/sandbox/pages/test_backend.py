"""The pages' backend without HTTP: template variables, widget requests, a dashboard's widgets, missing ids."""

from __future__ import annotations

import time

import numpy as np
import pytest

from autonomic_lib.sandbox.automation.backend import Automation
from autonomic_lib.sandbox.dashboards.backend import Dashboards
from autonomic_lib.sandbox.http.routing import Address
from autonomic_lib.sandbox.metrics.backend import Metrics
from autonomic_lib.sandbox.metrics.intake import IntakePolicy
from autonomic_lib.sandbox.metrics.store import MetricStore, SeriesPoints
from autonomic_lib.sandbox.monitors.backend import Monitors
from autonomic_lib.sandbox.pages.backend import Pages, fill_variables, template_values, widget_request
from autonomic_lib.sandbox.storage.database import open_database
from autonomic_lib.sandbox.storage.documents import DocumentStore


@pytest.fixture
def pages() -> Pages:
    documents = DocumentStore(open_database(None))
    metrics = Metrics(MetricStore(), IntakePolicy(), catalog=None)
    return Pages(monitors=Monitors(documents, time.time, metrics),
                 dashboards=Dashboards(documents, time.time, metrics, Address()),
                 automation=Automation(documents, time.time, Address()), metrics=metrics)


def test_template_variables_take_their_defaults_and_drop_out_when_unset() -> None:
    values = template_values([{"name": "env", "prefix": "env", "defaults": ["demo"]},
                              {"name": "agent", "prefix": "agent_id", "defaults": ["*"]}])
    assert values == {"env": "env:demo", "agent": "*"}
    assert fill_variables("sum:m{$env,verdict:pass}", values) == "sum:m{env:demo,verdict:pass}"
    assert fill_variables("sum:m{$agent,verdict:pass}", values) == "sum:m{verdict:pass}"
    assert fill_variables("sum:m{verdict:pass,$agent}", values) == "sum:m{verdict:pass}"
    assert fill_variables("sum:m{$agent}", values) == "sum:m{*}"


def test_widget_requests_read_both_shapes_and_refuse_other_data_sources() -> None:
    classic = widget_request({"q": "avg:m{$env}", "display_type": "bars"}, {"env": "env:demo"})
    assert classic.queries == {"query1": "avg:m{env:demo}"} and classic.display == "bars"
    v2 = widget_request({"queries": [{"data_source": "metrics", "name": "a", "query": "sum:m{*}", "aggregator": "sum"}],
                         "formulas": [{"formula": "a * 2", "alias": "double"}]}, {})
    assert v2.formulas == [("a * 2", "double")] and v2.aggregators == {"a": "sum"}
    with pytest.raises(ValueError, match="logs"):
        widget_request({"queries": [{"data_source": "logs", "name": "l", "query": "x"}]}, {})


def test_a_dashboard_draws_what_it_can_and_says_why_not_the_rest(pages: Pages) -> None:
    now = int(time.time()) // 60 * 60
    pages.metrics.write([SeriesPoints("m.x", ("env:demo",), np.arange(30) * 60 + now - 1800, np.ones(30),
                                      type="gauge")])
    board = pages.dashboards.create_dashboard(body={"title": "T", "layout_type": "ordered", "widgets": [
        {"definition": {"type": "timeseries", "requests": [{"q": "avg:m.x{env:demo}"}]}},
        {"definition": {"type": "query_value", "requests": [{"q": "avg:m.x{env:demo}", "aggregator": "last"}]}},
        {"definition": {"type": "query_value", "title": "Bad", "requests": [{"q": "avg:m.x{env:demo}.nosuch()"}]}},
        {"definition": {"type": "free_text", "text": "hello"}}]})
    view = pages.dashboard(board["id"], hours=1)
    assert view is not None
    drawn, value, bad, text = view["widgets"]
    assert drawn.chart is not None and drawn.chart.startswith("data:image/png;base64,") and drawn.note is None
    assert value.value == "1.00"
    assert bad.chart is None and bad.value is None and bad.note is not None and bad.note.startswith("not drawn:")
    assert text.type == "free_text" and "not drawn" in (text.note or "")


def test_unknown_ids_are_none(pages: Pages) -> None:
    assert pages.monitor(404) is None and pages.dashboard("zzz-zzz-zzz") is None
    assert pages.workflow("00000000-0000-0000-0000-000000000000") is None and pages.case("NOPE-1") is None
