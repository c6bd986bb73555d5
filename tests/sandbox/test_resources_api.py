"""Dashboards, monitors and workflows through the official client against the session sandbox (type checks on)."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
import urllib3
from datadog_api_client import ApiClient
from datadog_api_client.exceptions import ApiException, ForbiddenException, NotFoundException
from datadog_api_client.v1.api.dashboards_api import DashboardsApi
from datadog_api_client.v1.api.monitors_api import MonitorsApi
from datadog_api_client.v1.model.dashboard import Dashboard
from datadog_api_client.v1.model.dashboard_layout_type import DashboardLayoutType
from datadog_api_client.v1.model.formula_and_function_metric_query_definition import (
    FormulaAndFunctionMetricQueryDefinition)
from datadog_api_client.v1.model.group_widget_definition import GroupWidgetDefinition
from datadog_api_client.v1.model.log_stream_widget_definition import LogStreamWidgetDefinition
from datadog_api_client.v1.model.monitor import Monitor
from datadog_api_client.v1.model.monitor_options import MonitorOptions
from datadog_api_client.v1.model.monitor_overall_states import MonitorOverallStates
from datadog_api_client.v1.model.monitor_summary_widget_definition import MonitorSummaryWidgetDefinition
from datadog_api_client.v1.model.monitor_threshold_window_options import MonitorThresholdWindowOptions
from datadog_api_client.v1.model.monitor_thresholds import MonitorThresholds
from datadog_api_client.v1.model.monitor_type import MonitorType
from datadog_api_client.v1.model.monitor_update_request import MonitorUpdateRequest
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
from datadog_api_client.v2.api.workflow_automation_api import WorkflowAutomationApi
from datadog_api_client.v2.model.create_workflow_request import CreateWorkflowRequest
from datadog_api_client.v2.model.monitor_trigger import MonitorTrigger
from datadog_api_client.v2.model.monitor_trigger_wrapper import MonitorTriggerWrapper
from datadog_api_client.v2.model.outbound_edge import OutboundEdge
from datadog_api_client.v2.model.parameter import Parameter
from datadog_api_client.v2.model.spec import Spec
from datadog_api_client.v2.model.step import Step
from datadog_api_client.v2.model.trigger_rate_limit import TriggerRateLimit
from datadog_api_client.v2.model.update_workflow_request import UpdateWorkflowRequest
from datadog_api_client.v2.model.workflow_data import WorkflowData
from datadog_api_client.v2.model.workflow_data_attributes import WorkflowDataAttributes
from datadog_api_client.v2.model.workflow_data_type import WorkflowDataType
from datadog_api_client.v2.model.workflow_data_update import WorkflowDataUpdate
from datadog_api_client.v2.model.workflow_data_update_attributes import WorkflowDataUpdateAttributes

from autonomic_lib.sandbox.automation import workflows as workflow_model
from autonomic_lib.sandbox.server import SandboxServer

from ..conftest import client_for

pytestmark = pytest.mark.api


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def raw(server: SandboxServer, method: str, path: str, body: Any = None, *, app_key: bool = True) -> tuple[int, Any]:
    """A hand-built request, for bodies the client's models cannot express (unknown widget types, ...)."""
    headers = {"Content-Type": "application/json", "DD-API-KEY": server.config.api_key}
    if app_key:
        headers["DD-APPLICATION-KEY"] = server.config.app_key
    response = urllib3.request(method, server.url + path, body=None if body is None else orjson.dumps(body),
                               headers=headers, retries=False)
    return response.status, orjson.loads(response.data) if response.data else None


def errors_of(exc: pytest.ExceptionInfo[ApiException]) -> list[Any]:
    body = exc.value.body
    return (orjson.loads(body) if isinstance(body, (str, bytes)) else body)["errors"]


# ---------------------------------------------------------------------------------------------------- dashboards
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
    ({"title": None}, "'title' must be a non-empty string"),
    ({"template_variables": [{"name": "env", "default": "a", "defaults": ["b"]}]}, "'template_variables' is invalid"),
    ({"template_variables": [{"prefix": "env"}]}, "template_variables[0]: 'name' is a required property"),
])
def test_invalid_dashboards_are_refused(session_sandbox: SandboxServer, change: dict[str, Any], expected: str) -> None:
    body = {"title": unique("Bad"), "layout_type": "ordered", "widgets": [], **change}
    status, answer = raw(session_sandbox, "POST", "/api/v1/dashboard", body)
    assert status == 400 and expected in answer["errors"][0]


def test_unknown_dashboard_is_404(api_client: ApiClient) -> None:
    api = DashboardsApi(api_client)
    for call in (lambda: api.get_dashboard("zzz-zzz-zzz"), lambda: api.delete_dashboard("zzz-zzz-zzz"),
                 lambda: api.update_dashboard("zzz-zzz-zzz", body=Dashboard(
                     title="x", widgets=[], layout_type=DashboardLayoutType.ORDERED))):
        with pytest.raises(NotFoundException) as exc:
            call()
        assert "zzz-zzz-zzz" in errors_of(exc)[0]


# ---------------------------------------------------------------------------------------------------- monitors
def metric_monitor(name: str, query: str = "avg(last_5m):avg:autonomic.latency{env:demo} by {role} > 2",
                   **extra: Any) -> Monitor:
    return Monitor(name=name, type=MonitorType.METRIC_ALERT, query=query, message="Slow. @workflow-open-case", **extra)


def anomaly_monitor(name: str, alert_window: str = "last_15m", trigger_window: str = "last_15m",
                    threshold: str = "1") -> Monitor:
    query = ("avg(last_1h):anomalies(avg:autonomic.latency{env:demo}, 'basic', 2, direction='above', "
             f"alert_window='{alert_window}', interval=60, count_default_zero='true') >= {threshold}")
    options = MonitorOptions(thresholds=MonitorThresholds(critical=float(threshold), critical_recovery=0.0),
                             threshold_windows=MonitorThresholdWindowOptions(trigger_window=trigger_window,
                                                                             recovery_window=trigger_window))
    return Monitor(name=name, type=MonitorType.QUERY_ALERT, query=query, options=options)


def test_metric_alert_is_created_as_query_alert_with_datadog_defaults(api_client: ApiClient) -> None:
    api, name = MonitorsApi(api_client), unique("[autonomic] latency")
    created = api.create_monitor(body=metric_monitor(name, tags=["team:ai"], priority=2))

    assert created.type == MonitorType.QUERY_ALERT and created.overall_state == MonitorOverallStates.NO_DATA
    assert created.multi is True and created.deleted is None and created.restricted_roles is None
    assert created.matching_downtimes == [] and created.priority == 2 and created.creator.handle
    assert created.created == created.modified and created["created_at"] > 0
    options = created.options
    assert options.thresholds.critical == 2 and options.notify_no_data is False and options.include_tags is True
    assert options.new_host_delay == 300 and options.notify_audit is False and options.silenced == {}
    fetched = api.get_monitor(created.id)
    assert fetched.query == created.query and fetched.name == name


def test_monitor_update_list_filters_and_delete(api_client: ApiClient) -> None:
    api, stem = MonitorsApi(api_client), unique("filters")
    first = api.create_monitor(body=metric_monitor(f"{stem} budget", tags=["kind:budget", "team:ai"]))
    second = api.create_monitor(body=metric_monitor(f"{stem} latency", tags=["kind:latency", "team:ai"],
                                                    query="avg(last_5m):avg:autonomic.latency{env:prod} > 2"))

    assert [m.id for m in api.list_monitors(name=stem.upper())] == [first.id, second.id]
    assert [m.id for m in api.list_monitors(name=stem, monitor_tags="team:ai,kind:latency")] == [second.id]
    assert [m.id for m in api.list_monitors(name=stem, tags="env:prod")] == [second.id]
    assert [m.id for m in api.list_monitors(name=stem, id_offset=first.id)] == [second.id]
    assert [m.id for m in api.list_monitors(name=stem, page=1, page_size=1)] == [second.id]

    updated = api.update_monitor(first.id, body=MonitorUpdateRequest(name=f"{stem} renamed", tags=["kind:cost"]))
    assert updated.name == f"{stem} renamed" and updated.tags == ["kind:cost"] and updated.query == first.query
    assert updated.modified >= first.modified and updated.overall_state == MonitorOverallStates.NO_DATA

    assert api.check_can_delete_monitor(monitor_ids=[first.id, second.id]).data.ok == [first.id, second.id]
    assert api.delete_monitor(first.id).deleted_monitor_id == first.id
    with pytest.raises(NotFoundException) as exc:
        api.get_monitor(first.id)
    assert errors_of(exc) == ["Monitor not found"]
    can = api.check_can_delete_monitor(monitor_ids=[first.id, second.id])
    assert can.data.ok == [second.id] and can.errors == {str(first.id): ["Monitor not found"]}
    api.delete_monitor(second.id)


@pytest.mark.parametrize("query, fragment", [
    ("avg(last_5m):avg:autonomic.latency{env:demo > 2", "The value provided for parameter 'query' is invalid: "
                                                        "unexpected '>' at position"),
    ("avg(last_5m):avg:autonomic.latency{env:demo}", "The value provided for parameter 'query' is invalid"),
    ("avg(last_5m):outliers(avg:m{*} by {host}, 'dbscan', 7) > 0", "not supported by the sandbox"),
])
def test_malformed_monitor_query_is_refused_at_creation(api_client: ApiClient, query: str, fragment: str) -> None:
    api, name = MonitorsApi(api_client), unique("bad query")
    with pytest.raises(ApiException) as exc:
        api.create_monitor(body=metric_monitor(name, query=query))
    assert exc.value.status == 400 and fragment in errors_of(exc)[0]
    assert api.list_monitors(name=name) == []


def test_thresholds_must_match_the_query(api_client: ApiClient) -> None:
    api = MonitorsApi(api_client)
    with pytest.raises(ApiException) as exc:
        api.create_monitor(body=metric_monitor(unique("m"), options=MonitorOptions(
            thresholds=MonitorThresholds(critical=3.0))))
    assert errors_of(exc) == ["Alert threshold (3) does not match that used in the query (2)."]
    with pytest.raises(ApiException) as exc:
        api.create_monitor(body=metric_monitor(unique("m"), options=MonitorOptions(
            thresholds=MonitorThresholds(critical=2.0, warning=2.5))))
    assert "'warning' (2.5) must be below 'critical' (2)" in errors_of(exc)[0]


def test_anomaly_monitor_is_accepted_when_windows_agree(api_client: ApiClient) -> None:
    created = MonitorsApi(api_client).create_monitor(body=anomaly_monitor(unique("anomaly")))
    assert created.type == MonitorType.QUERY_ALERT and created.multi is False
    assert created.options.threshold_windows.trigger_window == "last_15m"


@pytest.mark.parametrize("kwargs, fragment", [
    ({"alert_window": "last_15m", "trigger_window": "last_30m"}, "must equal the query's alert_window (last_15m)"),
    ({"threshold": "1.5"}, "fraction of anomalous points in (0, 1]"),
    ({"alert_window": "last_2h", "trigger_window": "last_2h"}, "at least the alert_window"),
])
def test_anomaly_monitor_rules_are_enforced(api_client: ApiClient, kwargs: dict[str, str], fragment: str) -> None:
    with pytest.raises(ApiException) as exc:
        MonitorsApi(api_client).create_monitor(body=anomaly_monitor(unique("anomaly"), **kwargs))
    assert exc.value.status == 400 and fragment in errors_of(exc)[0]


def test_anomaly_monitor_needs_both_threshold_windows(session_sandbox: SandboxServer) -> None:
    body = anomaly_monitor(unique("anomaly")).to_dict()
    del body["options"]["threshold_windows"]["recovery_window"]
    status, answer = raw(session_sandbox, "POST", "/api/v1/monitor", body)
    assert status == 400 and "both trigger_window and recovery_window" in answer["errors"][0]


def test_monitor_options_are_checked_against_the_spec(session_sandbox: SandboxServer) -> None:
    body = {**metric_monitor(unique("opts")).to_dict(), "options": {"on_missing_data": "sometimes"}}
    status, answer = raw(session_sandbox, "POST", "/api/v1/monitor", body)
    assert status == 400 and answer["errors"][0].startswith("options.on_missing_data: 'sometimes' is not one of")


def test_monitor_types_the_sandbox_cannot_evaluate_are_refused(session_sandbox: SandboxServer) -> None:
    body = {"type": "log alert", "query": 'logs("service:x").index("*").rollup("count").last("5m") > 2'}
    status, answer = raw(session_sandbox, "POST", "/api/v1/monitor", body)
    assert status == 400 and "'log alert' is not supported by the sandbox" in answer["errors"][0]
    status, answer = raw(session_sandbox, "POST", "/api/v1/monitor", {"type": "nonsense", "query": "x"})
    assert status == 400 and "parameter 'type' is invalid" in answer["errors"][0]


def test_validate_endpoints(api_client: ApiClient) -> None:
    api = MonitorsApi(api_client)
    assert api.validate_monitor(body=metric_monitor("v")) == {}
    with pytest.raises(ApiException) as exc:
        api.validate_monitor(body=metric_monitor("v", query="avg(last_5m):nope"))
    assert exc.value.status == 400 and "parameter 'query' is invalid" in errors_of(exc)[0]
    created = api.create_monitor(body=metric_monitor(unique("validate")))
    assert api.validate_existing_monitor(created.id, body=metric_monitor("v")) == {}
    with pytest.raises(NotFoundException):
        api.validate_existing_monitor(10 ** 9, body=metric_monitor("v"))
    api.delete_monitor(created.id)


def test_group_states_come_from_the_monitor_document(api_client: ApiClient, session_sandbox: SandboxServer) -> None:
    api = MonitorsApi(api_client)
    created = api.create_monitor(body=metric_monitor(unique("groups")))
    docs = session_sandbox.sandbox.documents
    doc = docs.get("monitor", created.id)
    group = {"last_triggered_ts": 1767225300, "last_notified_ts": 1767225300, "last_resolved_ts": 0,
             "last_nodata_ts": 0}
    doc["overall_state"] = "Alert"
    doc["state"] = {"groups": {"role:refiner": {"name": "role:refiner", "status": "Alert", **group},
                               "role:auditor": {"name": "role:auditor", "status": "OK", **group}}}
    docs.put("monitor", created.id, doc)  # what the monitor evaluator will do

    alerting = api.get_monitor(created.id, group_states="alert")
    assert alerting.overall_state == MonitorOverallStates.ALERT and list(alerting.state.groups) == ["role:refiner"]
    assert alerting.state.groups["role:refiner"].last_triggered_ts == 1767225300
    assert set(api.get_monitor(created.id, group_states="all").state.groups) == {"role:refiner", "role:auditor"}
    assert "state" not in api.get_monitor(created.id).to_dict()
    (listed,) = [m for m in api.list_monitors(name=created.name, group_states="all")]
    assert len(listed.state.groups) == 2
    api.delete_monitor(created.id)


# ---------------------------------------------------------------------------------------------------- workflows
def case_workflow(name: str, handle: str | None, published: bool = True) -> CreateWorkflowRequest:
    spec = Spec(
        triggers=[MonitorTriggerWrapper(monitor_trigger=MonitorTrigger(rate_limit=TriggerRateLimit(
            count=1, interval="600s")), start_step_names=["Create_case"])],
        steps=[Step(name="Create_case", action_id="com.datadoghq.dd.casem.createCase",
                    parameters=[Parameter(name="title", value="{{ Source.monitor.name }}")],
                    outbound_edges=[OutboundEdge(next_step_name="Done", branch_name="main")]),
               Step(name="Done", action_id="com.datadoghq.core.noop")],
        **({"handle": handle} if handle else {}))
    return CreateWorkflowRequest(data=WorkflowData(type=WorkflowDataType.WORKFLOWS, attributes=WorkflowDataAttributes(
        name=name, description="Opens a case when optimization fails.", tags=["service:autonomic", "env:demo"],
        published=published, spec=spec)))


def test_workflow_round_trip_and_handle_resolution(api_client: ApiClient, session_sandbox: SandboxServer) -> None:
    api, name, handle = WorkflowAutomationApi(api_client), unique("Open case"), unique("open-case")
    created = api.create_workflow(body=case_workflow(name, handle)).data
    assert str(uuid.UUID(created.id)) == created.id and created.type == WorkflowDataType.WORKFLOWS
    assert created.attributes.spec.handle == handle and created.attributes.tags == ["env:demo", "service:autonomic"]
    assert created.attributes.created_at == created.attributes.updated_at
    assert created.relationships.creator.data.type.value == "users"

    found = session_sandbox.sandbox.automation.workflow_by_handle(handle)
    assert found is not None and found["id"] == created.id and workflow_model.monitor_triggerable(found)

    fetched = api.get_workflow(created.id).data
    assert fetched.attributes.spec.steps[0].action_id == "com.datadoghq.dd.casem.createCase"

    update = UpdateWorkflowRequest(data=WorkflowDataUpdate(
        type=WorkflowDataType.WORKFLOWS, attributes=WorkflowDataUpdateAttributes(name=name + " v2", published=False)))
    updated = api.update_workflow(created.id, body=update).data
    assert updated.attributes.name == name + " v2" and updated.attributes.published is False
    assert updated.attributes.spec.handle == handle
    assert not workflow_model.monitor_triggerable(session_sandbox.sandbox.documents.get("workflow", created.id))

    api.delete_workflow(created.id)
    with pytest.raises(NotFoundException) as exc:
        api.get_workflow(created.id)
    assert errors_of(exc) == [{"detail": "workflow not found"}]
    assert session_sandbox.sandbox.automation.workflow_by_handle(handle) is None


def test_list_workflows_filters_and_hides_specs(api_client: ApiClient) -> None:
    api, stem = WorkflowAutomationApi(api_client), unique("listwf")
    published = api.create_workflow(body=case_workflow(f"{stem} live", None)).data
    draft = api.create_workflow(body=case_workflow(f"{stem} draft", None, published=False)).data

    listed = api.list_workflows(filter_query=stem)
    assert [w.id for w in listed.data] == [published.id] and listed.data[0].attributes.spec is None
    both = api.list_workflows(filter_query=stem, filter_include_unpublished=True, filter_include_specs=True,
                              sort="-name", filter_trigger_ids=["monitor"])
    assert [w.id for w in both.data] == [published.id, draft.id]
    assert both.data[0].attributes.spec.steps[1].name == "Done"
    assert both.meta.page.total_filtered_count == 2
    assert api.list_workflows(filter_query=stem, filter_trigger_ids=["schedule"]).data == []
    for wf in (published, draft):
        api.delete_workflow(wf.id)


def bad_spec(**spec: Any) -> dict[str, Any]:
    base = {"triggers": [{"monitorTrigger": {}, "startStepNames": ["A"]}],
            "steps": [{"name": "A", "actionId": "com.datadoghq.core.noop"}]}
    return {"data": {"type": "workflows", "attributes": {"name": unique("bad"), "spec": {**base, **spec}}}}


@pytest.mark.parametrize("body, fragment", [
    (bad_spec(triggers=[]), "no trigger found. At least one trigger is required."),
    (bad_spec(steps=[{"name": "A", "actionId": "x"}, {"name": "A", "actionId": "y"}]),
     "data.attributes.spec.steps[1].name: step name 'A' is used twice"),
    (bad_spec(steps=[{"name": "A", "actionId": "x", "outboundEdges": [{"nextStepName": "B", "branchName": "main"}]}]),
     "data.attributes.spec.steps[0].outboundEdges[0].nextStepName: no step is named 'B'"),
    (bad_spec(steps=[{"name": "A"}]), "data.attributes.spec.steps[0].actionId: a step needs an actionId string"),
    (bad_spec(triggers=[{"pagerTrigger": {}}]), "data.attributes.spec.triggers[0]: a trigger holds exactly one of"),
    (bad_spec(triggers=[{"monitorTrigger": {"rateLimit": {"count": "x"}}}]),
     "data.attributes.spec.triggers[0].monitorTrigger.rateLimit.count: Invalid type"),
    (bad_spec(handle="has space"), "data.attributes.spec.handle: 'has space' must be letters"),
    ({"data": {"type": "workflow", "attributes": {}}}, 'data.type: invalid type, expected "workflows"'),
])
def test_malformed_workflows_are_refused_with_json_paths(session_sandbox: SandboxServer, body: dict[str, Any],
                                                         fragment: str) -> None:
    status, answer = raw(session_sandbox, "POST", "/api/v2/workflows", body)
    assert status == 400
    details = [e["detail"] for e in answer["errors"]]
    assert any(fragment in d for d in details), details
    name = body["data"]["attributes"].get("name")
    if name:
        _, listed = raw(session_sandbox, "GET", f"/api/v2/workflows?filter[query]={name}"
                                                "&filter[includeUnpublished]=true")
        assert listed["data"] == []


def test_workflow_handles_are_unique(api_client: ApiClient) -> None:
    api, handle = WorkflowAutomationApi(api_client), unique("handle")
    first = api.create_workflow(body=case_workflow(unique("wf"), handle)).data
    with pytest.raises(ApiException) as exc:
        api.create_workflow(body=case_workflow(unique("wf"), handle))
    assert exc.value.status == 400 and any(f"already the handle of workflow {first.id}" in e["detail"]
                                           for e in errors_of(exc))
    api.delete_workflow(first.id)


# ---------------------------------------------------------------------------------------------------- auth
@pytest.mark.parametrize("method, path", [("GET", "/api/v1/dashboard"), ("GET", "/api/v1/monitor"),
                                          ("POST", "/api/v1/monitor/validate"), ("GET", "/api/v2/workflows")])
def test_resources_need_the_application_key(session_sandbox: SandboxServer, method: str, path: str) -> None:
    status, answer = raw(session_sandbox, method, path, {} if method == "POST" else None, app_key=False)
    assert status == 403 and answer == {"errors": ["Application key required"]}


def test_wrong_application_key_is_forbidden_through_the_client(session_sandbox: SandboxServer) -> None:
    with client_for(session_sandbox, app_key="not-the-key") as client:
        with pytest.raises(ForbiddenException):
            MonitorsApi(client).list_monitors()
        with pytest.raises(ForbiddenException):
            WorkflowAutomationApi(client).list_workflows()
