"""One small run for the page tests: telemetry, an anomaly and a grouped threshold monitor that alert, a workflow
the alert starts (it opens a Case), a failed run, a dashboard with drawable and undrawable widgets, a comment."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
from datadog_api_client import ApiClient
from datadog_api_client.v1.api.monitors_api import MonitorsApi
from datadog_api_client.v1.model.monitor import Monitor
from datadog_api_client.v1.model.monitor_type import MonitorType
from datadog_api_client.v2.api.case_management_api import CaseManagementApi
from datadog_api_client.v2.api.metrics_api import MetricsApi
from datadog_api_client.v2.model.case_comment import CaseComment
from datadog_api_client.v2.model.case_comment_attributes import CaseCommentAttributes
from datadog_api_client.v2.model.case_comment_request import CaseCommentRequest
from datadog_api_client.v2.model.case_resource_type import CaseResourceType
from datadog_api_client.v2.model.metric_intake_type import MetricIntakeType
from datadog_api_client.v2.model.metric_payload import MetricPayload
from datadog_api_client.v2.model.metric_point import MetricPoint
from datadog_api_client.v2.model.metric_series import MetricSeries
from datadog_api_client.v2.model.project_create import ProjectCreate
from datadog_api_client.v2.model.project_create_attributes import ProjectCreateAttributes
from datadog_api_client.v2.model.project_create_request import ProjectCreateRequest
from datadog_api_client.v2.model.project_resource_type import ProjectResourceType

from autonomic_lib.links import page_url
from autonomic_lib.sandbox.server import SandboxServer
from tests.conftest import client_for, raw, start_sandbox

LATE_DATA = ("pages.*",)  # the run is backfilled over the last 4 hours, as the demo's is
HOSTILE = "<script>alert('x')</script>"  # stored text a page must show as text


@dataclass(frozen=True)
class Seeded:
    """What the run created, by id, and the titles the pages must show."""

    anomaly_id: int
    grouped_id: int
    dashboard_id: str
    dashboard_url: str  # the API's relative `url`, with the slug
    workflow_id: str
    case_key: str
    case_id: str
    workflow_name: str
    dashboard_title: str


def _series(metric: str, tags: list[str], times: range, values: list[float], kind: MetricIntakeType) -> MetricSeries:
    return MetricSeries(metric=metric, type=kind, tags=tags,
                        points=[MetricPoint(timestamp=t, value=v) for t, v in zip(times, values)])


def _telemetry(client: ApiClient, now: int) -> None:
    """Four hours of latency a minute (the last 10 minutes far above), failures of one agent, audit verdicts."""
    start = now - 4 * 3600
    minutes = range(start, now, 60)
    rng = np.random.default_rng(0)
    latency = [float(1.5 + rng.normal(0, 0.1)) if t < now - 600 else 9.0 for t in minutes]
    failures = [1.0 if t >= now - 600 else 0.0 for t in minutes]
    MetricsApi(client).submit_metrics(MetricPayload(series=[
        _series("pages.latency", ["env:demo", "phase:baseline"], minutes, latency, MetricIntakeType.GAUGE),
        _series("pages.failed", ["env:demo", "agent_id:a1", "phase:baseline"], minutes, failures,
                MetricIntakeType.COUNT),
        *[_series("pages.verdict", ["env:demo", f"verdict:{v}"], minutes, [n] * len(minutes), MetricIntakeType.COUNT)
          for v, n in (("pass", 3.0), ("fail", 1.0))]]))


def _workflow(server: SandboxServer, project_id: str, handle: str, name: str) -> str:
    status, body = raw(server, "POST", "/api/v2/workflows", {"data": {"type": "workflows", "attributes": {
        "name": name, "description": f"Opens a Case for a stuck agent. {HOSTILE}", "published": True,
        "tags": ["env:demo"], "spec": {
            "handle": handle,
            "triggers": [{"monitorTrigger": {"rateLimit": {"count": 10, "interval": "3600s"}},
                          "startStepNames": ["Open_case"]}],
            "inputSchema": {"parameters": [{"name": "agent_id", "type": "STRING", "defaultValue": "unknown"},
                                           {"name": "project_id", "type": "STRING", "defaultValue": project_id}]},
            "steps": [{"name": "Open_case", "actionId": "com.datadoghq.dd.casem.createCase", "parameters": [
                {"name": "project_id", "value": "{{ Trigger.project_id }}"},
                {"name": "title", "value": "Agent {{ Trigger.agent_id }} is stuck"},
                {"name": "priority", "value": "P2"},
                {"name": "description", "value": f"Review the agent's prompt. {HOSTILE}"}]}]}}}})
    assert status == 201, body
    return str(body["data"]["id"])


def _dashboard(server: SandboxServer, title: str) -> tuple[str, str]:
    def metrics(name: str, query: str, **extra: str) -> dict[str, str]:
        return {"data_source": "metrics", "name": name, "query": query, **extra}

    widgets = [
        {"definition": {"type": "group", "title": "1. Latency", "layout_type": "ordered", "widgets": [
            {"definition": {"type": "query_value", "title": "Latest latency", "precision": 1, "requests": [
                {"response_format": "scalar", "queries": [metrics("lat", "avg:pages.latency{$env}", aggregator="last")],
                 "formulas": [{"formula": "lat"}]}]}},
            {"definition": {"type": "timeseries", "title": "Latency (s)", "requests": [
                {"response_format": "timeseries", "display_type": "line",
                 "queries": [metrics("lat", "avg:pages.latency{$env}")],
                 "formulas": [{"formula": "lat", "alias": "mean latency"}]}]}}]}},
        {"definition": {"type": "timeseries", "title": "Verdicts", "requests": [
            {"response_format": "timeseries", "display_type": "bars",
             "queries": [metrics("v", "sum:pages.verdict{$env} by {verdict}.as_count()")],
             "formulas": [{"formula": "v"}]}]}},
        {"definition": {"type": "toplist", "title": "Failures by agent", "requests": [
            {"response_format": "scalar",
             "queries": [metrics("f", "sum:pages.failed{$env} by {agent_id}.as_count()", aggregator="sum")],
             "formulas": [{"formula": "f", "limit": {"count": 5, "order": "desc"}}]}]}},
        {"definition": {"type": "note", "content": f"Read me {HOSTILE}"}},
    ]
    status, body = raw(server, "POST", "/api/v1/dashboard", {
        "title": title, "description": f"The page test's dashboard {HOSTILE}", "layout_type": "ordered",
        "template_variables": [{"name": "env", "prefix": "env", "available_values": [], "defaults": ["demo"]}],
        "widgets": widgets})
    assert status == 200, body
    return str(body["id"]), str(body["url"])


def seed(server: SandboxServer) -> Seeded:
    """The run, through the official client where its models fit, else the same HTTP by hand."""
    now = int(server.sandbox.policy.clock()) // 60 * 60
    tag = uuid.uuid4().hex[:8]
    handle, workflow_name, title = f"pages-fix-{tag}", f"Pages fix {tag}", f"Pages ops {tag}"
    with client_for(server) as client:
        _telemetry(client, now)
        cases = CaseManagementApi(client)
        project_id = str(cases.create_project(ProjectCreateRequest(data=ProjectCreate(
            type=ProjectResourceType.PROJECT, attributes=ProjectCreateAttributes(
                key="PG" + tag[:4].upper(), name=f"Pages {tag}")))).data.id)
        workflow_id = _workflow(server, project_id, handle, workflow_name)
        monitors = MonitorsApi(client)
        anomaly = monitors.create_monitor(Monitor(
            name=f"Latency anomaly {tag}", type=MonitorType.QUERY_ALERT, message=f"Latency is odd. {HOSTILE}",
            query="avg(last_1h):anomalies(avg:pages.latency{env:demo}, 'basic', 2, direction='above', "
                  "alert_window='last_15m', interval=60, count_default_zero='true') >= 0.2",
            options={"thresholds": {"critical": 0.2, "critical_recovery": 0.0},
                     "threshold_windows": {"trigger_window": "last_15m", "recovery_window": "last_15m"}}))
        grouped = monitors.create_monitor(Monitor(
            name=f"Agent stuck {tag}", type=MonitorType.QUERY_ALERT,
            query="sum(last_5m):sum:pages.failed{env:demo} by {agent_id}.as_count() >= 1",
            message=f'{{{{#is_alert}}}}Stuck. @workflow-{handle}(agent_id="{{{{agent_id.name}}}}"){{{{/is_alert}}}}',
            options={"thresholds": {"critical": 1}}))
        assert raw(server, "POST", "/sandbox/evaluate")[0] == 200
        failed = raw(server, "POST", f"/api/v2/workflows/{workflow_id}/instances",
                     {"meta": {"payload": {"agent_id": "a2", "project_id": ""}}})  # createCase needs a project
        assert failed[0] == 200, failed
        opened = cases.search_cases(filter=f"project:{project_id}").data
        assert len(opened) == 1, opened
        case = opened[0]
        cases.comment_case(case.id, CaseCommentRequest(data=CaseComment(
            type=CaseResourceType.CASE, attributes=CaseCommentAttributes(comment=f"Looking into it. {HOSTILE}"))))
    dashboard_id, dashboard_url = _dashboard(server, title)
    return Seeded(anomaly_id=int(anomaly.id), grouped_id=int(grouped.id), dashboard_id=dashboard_id,
                  dashboard_url=dashboard_url, workflow_id=workflow_id, case_key=str(case.attributes.key),
                  case_id=str(case.id), workflow_name=workflow_name, dashboard_title=title)


@contextlib.contextmanager
def seeded_sandbox(folder: Path) -> Iterator[tuple[SandboxServer, Seeded]]:
    """A sandbox of its own holding the run (the session sandbox refuses points older than an hour)."""
    server = start_sandbox(folder, late_data=LATE_DATA, evaluation_quiet_seconds=0.2)
    try:
        yield server, seed(server)
    finally:
        server.stop()


def page_urls(server: SandboxServer, seeded: Seeded) -> dict[str, str]:
    """Each page's link as the kit writes it (links.page_url with the sandbox's API key)."""
    key = server.config.api_key
    return {"anomaly monitor": page_url(server.url, "monitor", seeded.anomaly_id, api_key=key),
            "grouped monitor": page_url(server.url, "monitor", seeded.grouped_id, api_key=key),
            "dashboard": page_url(server.url, "dashboard", seeded.dashboard_id, api_key=key,
                                  shown_path=seeded.dashboard_url),
            "workflow": page_url(server.url, "workflow", seeded.workflow_id, api_key=key),
            "case": page_url(server.url, "case", seeded.case_key, api_key=key)}
