"""Log monitors and the monitor types the sandbox does not evaluate, through the official client (type checks on)
against the session sandbox; request bodies are those of the client's own examples (examples/v1/monitors/)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import urllib3
from datadog_api_client import ApiClient
from datadog_api_client.exceptions import ApiException, NotFoundException
from datadog_api_client.v1.api.monitors_api import MonitorsApi
from datadog_api_client.v1.model.monitor import Monitor
from datadog_api_client.v1.model.monitor_draft_status import MonitorDraftStatus
from datadog_api_client.v1.model.monitor_formula_and_function_aggregate_filtered_data_source import (
    MonitorFormulaAndFunctionAggregateFilteredDataSource,
)
from datadog_api_client.v1.model.monitor_formula_and_function_aggregate_filtered_query_definition import (
    MonitorFormulaAndFunctionAggregateFilteredQueryDefinition,
)
from datadog_api_client.v1.model.monitor_formula_and_function_aggregate_query_filter import (
    MonitorFormulaAndFunctionAggregateQueryFilter,
)
from datadog_api_client.v1.model.monitor_formula_and_function_metrics_data_source import (
    MonitorFormulaAndFunctionMetricsDataSource,
)
from datadog_api_client.v1.model.monitor_formula_and_function_metrics_query_definition import (
    MonitorFormulaAndFunctionMetricsQueryDefinition,
)
from datadog_api_client.v1.model.monitor_formula_and_function_reference_table_column import (
    MonitorFormulaAndFunctionReferenceTableColumn,
)
from datadog_api_client.v1.model.monitor_formula_and_function_reference_table_data_source import (
    MonitorFormulaAndFunctionReferenceTableDataSource,
)
from datadog_api_client.v1.model.monitor_formula_and_function_reference_table_query_definition import (
    MonitorFormulaAndFunctionReferenceTableQueryDefinition,
)
from datadog_api_client.v1.model.monitor_formula_and_function_cost_aggregator import (
    MonitorFormulaAndFunctionCostAggregator,
)
from datadog_api_client.v1.model.monitor_formula_and_function_cost_data_source import (
    MonitorFormulaAndFunctionCostDataSource,
)
from datadog_api_client.v1.model.monitor_formula_and_function_cost_query_definition import (
    MonitorFormulaAndFunctionCostQueryDefinition,
)
from datadog_api_client.v1.model.monitor_formula_and_function_event_aggregation import (
    MonitorFormulaAndFunctionEventAggregation,
)
from datadog_api_client.v1.model.monitor_formula_and_function_event_query_definition import (
    MonitorFormulaAndFunctionEventQueryDefinition,
)
from datadog_api_client.v1.model.monitor_formula_and_function_event_query_definition_compute import (
    MonitorFormulaAndFunctionEventQueryDefinitionCompute,
)
from datadog_api_client.v1.model.monitor_formula_and_function_event_query_definition_search import (
    MonitorFormulaAndFunctionEventQueryDefinitionSearch,
)
from datadog_api_client.v1.model.monitor_formula_and_function_events_data_source import (
    MonitorFormulaAndFunctionEventsDataSource,
)
from datadog_api_client.v1.model.monitor_options import MonitorOptions
from datadog_api_client.v1.model.monitor_overall_states import MonitorOverallStates
from datadog_api_client.v1.model.monitor_thresholds import MonitorThresholds
from datadog_api_client.v1.model.monitor_type import MonitorType
from datadog_api_client.v1.model.monitor_update_request import MonitorUpdateRequest
from datadog_api_client.v2.api.logs_api import LogsApi
from datadog_api_client.v2.model.http_log import HTTPLog
from datadog_api_client.v2.model.http_log_item import HTTPLogItem

from autonomic_lib.links import page_url
from autonomic_lib.sandbox.server import SandboxServer
from tests.conftest import errors_of, raw, unique

pytestmark = pytest.mark.api

EXAMPLE_LOG_QUERY = 'logs("service:foo AND type:error").index("main").rollup("count").by("source").last("5m") > 2'


def test_a_log_alert_is_created_got_updated_evaluated_and_deleted(api_client: ApiClient,
                                                                   session_sandbox: SandboxServer) -> None:
    api, name = MonitorsApi(api_client), unique("log alert")
    service = unique("svc").replace("-", "")  # this test's own logs, whatever else the session sandbox holds
    query = EXAMPLE_LOG_QUERY.replace("service:foo", f"service:{service}")
    created = api.create_monitor(body=Monitor(name=name, type=MonitorType.LOG_ALERT, query=query,
                                              message="some message Notify: @hipchat-channel",
                                              tags=["test:log", "env:ci"], priority=3))
    assert created.type == MonitorType.LOG_ALERT and created.overall_state == MonitorOverallStates.NO_DATA
    assert created.multi is True and created.options.thresholds.critical == 2 and created.query == query
    fetched = api.get_monitor(created.id, group_states="all")
    assert fetched.state.groups == {} and "sandbox_evaluation" not in fetched.state.to_dict()

    stamp = int((time.time() // 60 * 60 - 90) * 1000)  # inside the last whole minute the evaluator judges
    LogsApi(api_client).submit_log(body=HTTPLog([
        HTTPLogItem(message=f"failure {i}", service=service, ddsource="nginx", ddtags="type:error,env:ci",
                    timestamp=stamp + i) for i in range(3)]))
    raw(session_sandbox, "POST", "/sandbox/evaluate")
    alerting = api.get_monitor(created.id, group_states="alert")
    assert alerting.overall_state == MonitorOverallStates.ALERT
    assert list(alerting.state.groups) == ["source:nginx"]
    _, history = raw(session_sandbox, "GET", f"/sandbox/monitors/{created.id}/history")
    assert [(t["group"], t["current"], t["value"]) for t in history["transitions"]] == [("source:nginx", "Alert", 3)]

    updated = api.update_monitor(created.id, body=MonitorUpdateRequest(
        query=query.replace("> 2", "> 5"), options=MonitorOptions(thresholds=MonitorThresholds(critical=5.0))))
    assert updated.query.endswith("> 5") and updated.options.thresholds.critical == 5
    with pytest.raises(ApiException) as exc:
        api.update_monitor(created.id, body=MonitorUpdateRequest(query=query.replace(".last(\"5m\")", "")))
    assert exc.value.status == 400 and ".last(" in errors_of(exc)[0]
    assert api.get_monitor(created.id).query.endswith("> 5")  # the refused update lost nothing
    assert api.validate_monitor(body=Monitor(type=MonitorType.LOG_ALERT, query=query)) == {}

    assert api.delete_monitor(created.id).deleted_monitor_id == created.id
    with pytest.raises(NotFoundException):
        api.get_monitor(created.id)


def test_the_recorded_invalid_log_alert_gets_datadogs_answer(session_sandbox: SandboxServer) -> None:
    status, answer = raw(session_sandbox, "POST", "/api/v1/monitor/validate", {"query": "query", "type": "log alert"})
    assert status == 400
    assert answer["errors"][0].startswith("The value provided for parameter 'query' is invalid: invalid operator "
                                          "specified")


def _event_query(name: str, data_source: str, search: str) -> MonitorFormulaAndFunctionEventQueryDefinition:
    return MonitorFormulaAndFunctionEventQueryDefinition(
        data_source=MonitorFormulaAndFunctionEventsDataSource(data_source), name=name,
        search=MonitorFormulaAndFunctionEventQueryDefinitionSearch(query=search), indexes=["*"],
        compute=MonitorFormulaAndFunctionEventQueryDefinitionCompute(
            aggregation=MonitorFormulaAndFunctionEventAggregation("count")), group_by=[])


def unevaluated_examples() -> list[tuple[str, dict[str, Any]]]:
    """The client's create-monitor examples for types the sandbox does not evaluate (their query and options)."""
    return [
        ("llm-observability", {"type": MonitorType.LLM_OBSERVABILITY_ALERT,
                               "query": 'llm-observability("*").rollup("count").last("2h") > 0',
                               "options": MonitorOptions(thresholds=MonitorThresholds(critical=0.0),
                                                         include_tags=True, notify_audit=False)}),
        ("ci-tests", {"type": MonitorType.CI_TESTS_ALERT, "priority": 3,
                      "query": 'ci-tests("type:test @git.branch:staging* @test.status:fail").rollup("count")'
                               '.by("@test.name").last("5m") >= 1',
                      "options": MonitorOptions(thresholds=MonitorThresholds(critical=1.0))}),
        ("ci-pipelines formula", {"type": MonitorType("ci-pipelines alert"), "priority": 3,
                                  "query": 'formula("query1 / query2 * 100").last("15m") >= 0.8',
                                  "options": MonitorOptions(thresholds=MonitorThresholds(critical=0.8), variables=[
                                      _event_query("query1", "ci_pipelines", "@ci.status:error"),
                                      _event_query("query2", "ci_pipelines", "")])}),
        ("rum formula", {"type": MonitorType("rum alert"), "priority": 3,
                         "query": 'formula("query2 / query1 * 100").last("15m") >= 0.8',
                         "options": MonitorOptions(thresholds=MonitorThresholds(critical=0.8), variables=[
                             _event_query("query2", "rum", ""), _event_query("query1", "rum", "status:error")])}),
        ("cost", {"type": MonitorType.COST_ALERT, "priority": 3,
                  "query": 'formula("exclude_null(query1)").last("7d").anomaly(direction="above", threshold=10) >= 5',
                  "options": MonitorOptions(thresholds=MonitorThresholds(critical=5.0, warning=3.0), include_tags=True,
                                            variables=[MonitorFormulaAndFunctionCostQueryDefinition(
                                                data_source=MonitorFormulaAndFunctionCostDataSource.CLOUD_COST,
                                                query="sum:aws.cost.net.amortized.shared.resources.allocated"
                                                      "{aws_product IN (amplify ,athena, backup, bedrock ) } by "
                                                      "{aws_product}.rollup(sum, 86400)",
                                                name="query1",
                                                aggregator=MonitorFormulaAndFunctionCostAggregator.SUM)])}),
        ("error-tracking draft", {"type": MonitorType.ERROR_TRACKING_ALERT, "priority": 3,
                                  "draft_status": MonitorDraftStatus.DRAFT,
                                  "query": 'error-tracking-rum("service:foo AND @error.source:source")'
                                           '.rollup("count").by("@issue.id").last("1h") >= 1',
                                  "options": MonitorOptions(thresholds=MonitorThresholds(critical=1.0))}),
        ("metric formula aggregate filtered", {  # CreateMonitor_2082938111's body; Datadog stores it (cassette)
            "type": MonitorType.QUERY_ALERT, "query": 'formula("query1").rollup("sum").last("5m") > 100',
            "options": MonitorOptions(thresholds=MonitorThresholds(critical=100.0), variables=[
                MonitorFormulaAndFunctionAggregateFilteredQueryDefinition(
                    data_source=MonitorFormulaAndFunctionAggregateFilteredDataSource.AGGREGATE_FILTERED_QUERY,
                    name="query1",
                    base_query=MonitorFormulaAndFunctionMetricsQueryDefinition(
                        data_source=MonitorFormulaAndFunctionMetricsDataSource.METRICS, name="query1",
                        query="max:container.cpu.usage{*} by {kube_cluster_name}.rollup(max)"),
                    filter_query=MonitorFormulaAndFunctionReferenceTableQueryDefinition(
                        name="filter_query", table_name="test_table",
                        data_source=MonitorFormulaAndFunctionReferenceTableDataSource.REFERENCE_TABLE,
                        columns=[MonitorFormulaAndFunctionReferenceTableColumn(name="cluster_name")]),
                    filters=[MonitorFormulaAndFunctionAggregateQueryFilter(base_attribute="kube_cluster_name",
                                                                           filter_attribute="cluster_name")])])}),
        ("event-v2", {"type": MonitorType.EVENT_V2_ALERT,
                      "query": 'events("sources:nagios status:(error OR warning)").rollup("count").last("5m") > 1'}),
        ("slo", {"type": MonitorType.SLO_ALERT, "query": 'error_budget("abc123").over("7d") > 10'}),
        ("service check", {"type": MonitorType.SERVICE_CHECK,
                           "query": '"datadog.agent.up".over("*").by("host").last(2).count_by_status()',
                           "options": MonitorOptions(thresholds=MonitorThresholds(critical=1.0, ok=1.0))}),
    ]


@pytest.mark.parametrize("label, fields", unevaluated_examples(), ids=[e[0] for e in unevaluated_examples()])
def test_other_monitor_types_are_stored_listed_updated_and_deleted_but_not_evaluated(
        api_client: ApiClient, label: str, fields: dict[str, Any]) -> None:
    api, name = MonitorsApi(api_client), unique(label)
    created = api.create_monitor(body=Monitor(name=name, message="alert", tags=["test:examplemonitor", "env:ci"],
                                              **fields))
    assert created.type == fields["type"] and created.query == fields["query"]
    assert created.overall_state == MonitorOverallStates.NO_DATA
    fetched = api.get_monitor(created.id, group_states="all")
    assert fetched.state.groups == {}
    marker = fetched.state["sandbox_evaluation"]
    assert marker["evaluated"] is False and "not evaluated by the sandbox" in marker["reason"]
    assert [m.id for m in api.list_monitors(name=name)] == [created.id]
    renamed = api.update_monitor(created.id, body=MonitorUpdateRequest(name=f"{name} renamed"))
    assert renamed.name == f"{name} renamed" and renamed.query == fields["query"]
    assert api.validate_existing_monitor(created.id, body=Monitor(name=name, **fields)) == {}
    assert api.delete_monitor(created.id).deleted_monitor_id == created.id


def test_a_composite_combines_existing_monitors(api_client: ApiClient) -> None:
    api = MonitorsApi(api_client)
    parts = [api.create_monitor(body=Monitor(name=unique("part"), type=MonitorType.LOG_ALERT,
                                             query='logs("status:error").rollup("count").last("5m") > 0'))
             for _ in range(2)]
    composite = api.create_monitor(body=Monitor(name=unique("composite"), type=MonitorType.COMPOSITE,
                                                query=f"{parts[0].id} && !{parts[1].id}"))
    assert composite.type == MonitorType.COMPOSITE and composite.overall_state == MonitorOverallStates.NO_DATA
    for monitor in (composite, *parts):
        api.delete_monitor(monitor.id)


@pytest.mark.parametrize("body, words", [
    ({"type": "event-v2 alert", "query": 'events("*").rollup("count").last("5m")'}, "invalid operator specified"),
    ({"type": "composite", "query": "12345 && uptime"}, "composite query combines monitor ids"),
    ({"type": "service check", "query": "datadog.agent.up"}, ".over("),
    ({"type": "rum alert", "query": 'rum("*").rollup("count").last("5m") > 1',
      "options": {"thresholds": {"critical": 2}}}, "does not match"),
])
def test_documented_query_shapes_of_other_types_are_checked(session_sandbox: SandboxServer, body: dict[str, Any],
                                                            words: str) -> None:
    status, answer = raw(session_sandbox, "POST", "/api/v1/monitor", body)
    assert status == 400 and words in answer["errors"][0]


def test_the_monitor_page_and_the_evaluation_status_say_a_monitor_is_not_evaluated(
        api_client: ApiClient, session_sandbox: SandboxServer) -> None:
    api = MonitorsApi(api_client)
    created = api.create_monitor(body=Monitor(name=unique("slo"), type=MonitorType.SLO_ALERT,
                                              query='error_budget("abc123").over("7d") > 10'))
    page = urllib3.request("GET", page_url(session_sandbox.url, "monitor", created.id,
                                           api_key=session_sandbox.config.api_key), retries=False)
    assert page.status == 200
    assert 'id="not-evaluated"' in page.data.decode() and "not evaluated by the sandbox" in page.data.decode()
    _, status = raw(session_sandbox, "GET", "/sandbox/evaluation")
    [mine] = [m for m in status["monitors"] if m["monitor_id"] == created.id]
    assert "'slo alert' monitor is stored" in mine["not_evaluated"] and mine["overall_state"] == "No Data"
    api.delete_monitor(created.id)


def test_a_log_alert_mentioning_a_workflow_runs_it_with_the_group(api_client: ApiClient,
                                                                   session_sandbox: SandboxServer) -> None:
    handle, service = unique("log-wf"), unique("svc").replace("-", "")
    status, created = raw(session_sandbox, "POST", "/api/v2/workflows", {"data": {"type": "workflows", "attributes": {
        "name": handle, "published": True, "spec": {
            "handle": handle, "triggers": [{"monitorTrigger": {}, "startStepNames": ["Wait"]}],
            "inputSchema": {"parameters": [{"name": "agent_id", "type": "STRING", "defaultValue": "unknown"}]},
            "steps": [{"name": "Wait", "actionId": "com.datadoghq.core.noop"}]}}}})
    assert status == 201, created
    monitor = MonitorsApi(api_client).create_monitor(body=Monitor(
        name=unique("refiner errors"), type=MonitorType.LOG_ALERT,
        query=f'logs("service:{service} status:error").index("*").rollup("count").by("agent_id").last("5m") > 0',
        message=f'{{{{#is_alert}}}}@workflow-{handle}(agent_id="{{{{agent_id.name}}}}"){{{{/is_alert}}}}'))
    stamp = int((time.time() // 60 * 60 - 90) * 1000)
    LogsApi(api_client).submit_log(body=HTTPLog([HTTPLogItem(
        message="Optimization failed", service=service, ddtags="agent_id:agent-02", status="error",
        timestamp=stamp)]))
    raw(session_sandbox, "POST", "/sandbox/evaluate")
    _, instances = raw(session_sandbox, "GET", f"/api/v2/workflows/{created['data']['id']}/instances")
    assert len(instances["data"]) == 1
    _, instance = raw(session_sandbox, "GET",
                      f"/api/v2/workflows/{created['data']['id']}/instances/{instances['data'][0]['id']}")
    source = instance["data"]["attributes"]["source"]["monitor"]
    assert (source["monitorId"], source["group"]) == (monitor.id, "agent_id:agent-02")
    _, history = raw(session_sandbox, "GET", f"/sandbox/monitors/{monitor.id}/history")
    assert [(t["group"], t["current"]) for t in history["transitions"]] == [("agent_id:agent-02", "Alert")]
