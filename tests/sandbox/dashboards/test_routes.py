"""Dashboards through the official client against the session sandbox (type checks on)."""

from __future__ import annotations

from typing import Any

import pytest
from datadog_api_client import ApiClient
from datadog_api_client.exceptions import NotFoundException
from datadog_api_client.v1.api.dashboards_api import DashboardsApi
from datadog_api_client.v1.model.dashboard import Dashboard
from datadog_api_client.v1.model.dashboard_layout_type import DashboardLayoutType
from datadog_api_client.v1.model.formula_and_function_metric_query_definition import (
    FormulaAndFunctionMetricQueryDefinition,
)
from datadog_api_client.v1.model.group_widget_definition import GroupWidgetDefinition
from datadog_api_client.v1.model.log_stream_widget_definition import LogStreamWidgetDefinition
from datadog_api_client.v1.model.monitor_summary_widget_definition import MonitorSummaryWidgetDefinition
from datadog_api_client.v1.model.note_widget_definition import NoteWidgetDefinition
from datadog_api_client.v1.model.query_value_widget_definition import QueryValueWidgetDefinition
from datadog_api_client.v1.model.query_value_widget_request import QueryValueWidgetRequest
from datadog_api_client.v1.model.timeseries_widget_definition import TimeseriesWidgetDefinition
from datadog_api_client.v1.model.timeseries_widget_request import TimeseriesWidgetRequest
from datadog_api_client.v1.model.toplist_widget_definition import ToplistWidgetDefinition
from datadog_api_client.v1.model.toplist_widget_request import ToplistWidgetRequest
from datadog_api_client.v1.model.widget import Widget
from datadog_api_client.v1.model.widget_conditional_format import WidgetConditionalFormat
from datadog_api_client.v1.model.widget_field_sort import WidgetFieldSort
from datadog_api_client.v1.model.widget_formula import WidgetFormula
from datadog_api_client.v1.model.widget_formula_sort import WidgetFormulaSort
from datadog_api_client.v1.model.widget_palette import WidgetPalette
from datadog_api_client.v1.model.widget_sort_by import WidgetSortBy

from autonomic_lib.sandbox.server import SandboxServer
from tests.conftest import errors_of, raw, unique

pytestmark = pytest.mark.api


def metric_query(name: str, query: str, aggregator: str | None = None) -> FormulaAndFunctionMetricQueryDefinition:
    extra = {"aggregator": aggregator} if aggregator else {}  # enum fields take their string values
    return FormulaAndFunctionMetricQueryDefinition(data_source="metrics", name=name, query=query, **extra)


def ops_center_widgets() -> list[Widget]:
    """One widget of each type the kit's dashboard uses, built from the client's models."""
    query_value = QueryValueWidgetDefinition(
        type="query_value", title="Pass rate %", precision=1,
        requests=[QueryValueWidgetRequest(
            response_format="scalar",
            queries=[metric_query("p", "sum:autonomic.audit.pass{env:demo}.as_count()", "sum"),
                     metric_query("t", "sum:autonomic.audit.total{env:demo}.as_count()", "sum")],
            formulas=[WidgetFormula(formula="100 * p / t")],
            conditional_formats=[
                WidgetConditionalFormat(comparator="<", value=90.0, palette="white_on_red"),
                WidgetConditionalFormat(comparator=">=", value=90.0, palette="white_on_green")])])
    timeseries = TimeseriesWidgetDefinition(
        type="timeseries", title="Latency by role", requests=[TimeseriesWidgetRequest(
            response_format="timeseries", display_type="line",
            queries=[metric_query("q1", "avg:autonomic.latency{env:demo} by {role}")],
            formulas=[WidgetFormula(formula="q1 * 1000")])])
    toplist = ToplistWidgetDefinition(
        type="toplist", title="Costliest agents", requests=[ToplistWidgetRequest(
            response_format="scalar", queries=[metric_query("c", "sum:autonomic.cost{env:demo} by {agent_id}", "sum")],
            formulas=[WidgetFormula(formula="c")],
            sort=WidgetSortBy(count=10, order_by=[WidgetFormulaSort(type="formula", index=0, order="desc")]))])
    manage_status = MonitorSummaryWidgetDefinition(
        type="manage_status", query="", summary_type="monitors", display_format="countsAndList",
        color_preference="text", sort="status,asc", hide_zero_counts=True)
    log_stream = LogStreamWidgetDefinition(
        type="log_stream", query="service:autonomic-refiner", indexes=[], columns=["host", "service"],
        message_display="inline", sort=WidgetFieldSort(column="time", order="desc"))
    note = NoteWidgetDefinition(type="note", content="## Autonomic AI\nSelf-healing swarm.", background_color="blue")
    group = GroupWidgetDefinition(type="group", layout_type="ordered", title="Golden signals",
                                  widgets=[Widget(definition=query_value), Widget(definition=timeseries)])
    return [Widget(definition=note), Widget(definition=group), Widget(definition=toplist),
            Widget(definition=manage_status), Widget(definition=log_stream)]


def all_widget_ids(widgets: list[Any]) -> list[int]:
    ids = []
    for widget in widgets:
        ids.append(widget.id)
        if widget.definition.type.value == "group":
            ids += all_widget_ids(widget.definition.widgets)
    return ids


def test_dashboard_with_many_widget_types_round_trips(api_client: ApiClient) -> None:
    api, title = DashboardsApi(api_client), unique("Autonomic AI Ops Center")
    created = api.create_dashboard(body=Dashboard(title=title, description="demo", widgets=ops_center_widgets(),
                                                  layout_type=DashboardLayoutType.ORDERED))

    assert created.url == f"/dashboard/{created.id}/{title.lower().replace(' ', '-')}"
    parts = created.id.split("-")
    assert len(parts) == 3 and all(len(p) == 3 and p.isalnum() for p in parts)
    ids = all_widget_ids(created.widgets)
    assert len(ids) == 7 and len(set(ids)) == 7 and all(isinstance(i, int) for i in ids)
    assert [w.definition.type.value for w in created.widgets] == ["note", "group", "toplist", "manage_status",
                                                                  "log_stream"]
    fetched = api.get_dashboard(created.id)
    qv = fetched.widgets[1].definition.widgets[0].definition
    assert qv.requests[0].conditional_formats[0].palette == WidgetPalette.WHITE_ON_RED
    assert fetched.widgets[1].definition.widgets[1].definition.requests[0].formulas[0].formula == "q1 * 1000"
    assert fetched.author_handle and fetched.created_at == fetched.modified_at


def test_dashboard_update_keeps_widget_ids_and_list_then_delete(api_client: ApiClient) -> None:
    api, title = DashboardsApi(api_client), unique("Dash")
    created = api.create_dashboard(body=Dashboard(title=title, widgets=ops_center_widgets(),
                                                  layout_type=DashboardLayoutType.ORDERED))
    listed = {d.id: d for d in api.list_dashboards().dashboards}
    assert listed[created.id].title == title and listed[created.id].layout_type == DashboardLayoutType.ORDERED
    assert listed[created.id].is_read_only is False and listed[created.id].url == created.url

    body = api.get_dashboard(created.id)
    body.title = title + " v2"
    body.widgets = body.widgets[:3] + [Widget(definition=NoteWidgetDefinition(
        type="note", content="new"))]
    updated = api.update_dashboard(created.id, body=body)
    assert updated.title == title + " v2" and updated.url.endswith("-v2")
    assert all_widget_ids(updated.widgets)[:5] == all_widget_ids(created.widgets)[:5]
    assert updated.widgets[3].id not in all_widget_ids(created.widgets)
    assert updated.created_at == created.created_at

    assert api.delete_dashboard(created.id).deleted_dashboard_id == created.id
    with pytest.raises(NotFoundException):
        api.get_dashboard(created.id)
    assert created.id not in {d.id for d in api.list_dashboards().dashboards}
    assert created.id in {d.id for d in api.list_dashboards(filter_deleted=True).dashboards}
    assert api.list_dashboards(filter_shared=True).dashboards == []


def test_unknown_widget_type_is_refused_with_its_path_and_nothing_is_stored(session_sandbox: SandboxServer) -> None:
    title = unique("Bad dash")
    body = {"title": title, "layout_type": "ordered", "widgets": [
        {"definition": {"type": "note", "content": "ok"}},
        {"definition": {"type": "group", "layout_type": "ordered", "widgets": [
            {"definition": {"type": "note", "content": "ok"}},
            {"definition": {"type": "sparkline", "requests": []}}]}}]}
    status, answer = raw(session_sandbox, "POST", "/api/v1/dashboard", body)
    assert status == 400
    (message,) = answer["errors"]
    assert message.startswith("Invalid widget definition at position 1 of type group. Error: Invalid inner widget "
                              "definition at position 1 of type sparkline")
    assert "widgets[1].definition.widgets[1].definition.type" in message and "query_value" in message
    _, listed = raw(session_sandbox, "GET", "/api/v1/dashboard")
    assert title not in {d["title"] for d in listed["dashboards"]}


@pytest.mark.parametrize("change, expected", [
    ({"widgets": [{"definition": {"type": "query_value", "requests": [{"q": "avg:m{*}", "conditional_formats": [
        {"comparator": "~", "value": 1, "palette": "red"}]}]}}]},
     "widgets[0].definition.requests[0].conditional_formats[0].comparator: '~' is not one of"),
    ({"widgets": [{"definition": {"type": "note"}}]}, "widgets[0].definition: 'content' is a required property"),
    ({"layout_type": "free", "widgets": [{"definition": {"type": "note", "content": "x"}}]},
     "Invalid widget at position 0. Error: 'layout' is a required property"),
    ({"layout_type": "grid"}, "layout_type: 'grid' is not one of ['ordered', 'free']"),
    ({"title": None}, "'title' must be a string"),
    ({"template_variables": [{"name": "env", "default": "a", "defaults": ["b"]}]}, "'template_variables' is invalid"),
    ({"template_variables": [{"prefix": "env"}]}, "template_variables[0]: 'name' is a required property"),
])
def test_invalid_dashboards_are_refused(session_sandbox: SandboxServer, change: dict[str, Any], expected: str) -> None:
    body = {"title": unique("Bad"), "layout_type": "ordered", "widgets": [], **change}
    status, answer = raw(session_sandbox, "POST", "/api/v1/dashboard", body)
    assert status == 400 and expected in answer["errors"][0]


def test_a_dashboard_with_an_empty_title_is_accepted_as_datadog_does(api_client: ApiClient) -> None:
    api = DashboardsApi(api_client)
    created = api.create_dashboard(body=Dashboard(title="", widgets=[], layout_type=DashboardLayoutType.ORDERED))
    assert created.title == "" and api.get_dashboard(created.id).title == ""
    api.delete_dashboard(created.id)


def test_unknown_dashboard_is_404(api_client: ApiClient) -> None:
    api = DashboardsApi(api_client)
    for call in (lambda: api.get_dashboard("zzz-zzz-zzz"), lambda: api.delete_dashboard("zzz-zzz-zzz"),
                 lambda: api.update_dashboard("zzz-zzz-zzz", body=Dashboard(
                     title="x", widgets=[], layout_type=DashboardLayoutType.ORDERED))):
        with pytest.raises(NotFoundException) as exc:
            call()
        assert "zzz-zzz-zzz" in errors_of(exc)[0]


@pytest.mark.parametrize("method, path", [("GET", "/api/v1/dashboard")])
def test_resources_need_the_application_key(session_sandbox: SandboxServer, method: str, path: str) -> None:
    status, answer = raw(session_sandbox, method, path, {} if method == "POST" else None, app_key=False)
    assert status == 403 and answer == {"errors": ["Application key required"]}
