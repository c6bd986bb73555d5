"""Run the official `datadog-api-client` example scripts, unmodified, against a fresh sandbox and count passes.

A measurement, not a test: it always exits 0. Usage::

    .venv/bin/python tools/client_examples.py /work/dd-examples [--area monitors] [--json out.json]

The examples folder mirrors the client repository's `examples/v1/<area>/*.py` and `examples/v2/<area>/*.py`
(fetched separately: they are Datadog's code and are not part of this repository). Each example runs in its own
Python process. The examples build `Configuration()` with no host, so a `sitecustomize.py` written to a temporary
folder on PYTHONPATH points every new Configuration at the sandbox; the keys travel in DD_API_KEY / DD_APP_KEY,
which the client reads itself. The objects an example expects to exist (`environ["MONITOR_ID"]`, `CASE_ID`, ...)
are created fresh for each example through the client, with request bodies modeled on the client's own BDD
fixtures (tests/v2/features/given.json; the monitor is the examples' own log alert), so one example deleting its
monitor does not break the next one. Where the sandbox has no product behind a fixture (roles, users), a fixed id
stands in; where only real Datadog has one (Synthetics, SLOs, powerpacks, case types), the example fails naming it.

Examples written for a newer client than the installed one (an import, API method or unstable-operation name the
installed client lacks) are not run: they are counted as skipped, with the reason.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from datadog_api_client import ApiClient, Configuration
from datadog_api_client.model_utils import ModelNormal
from datadog_api_client.version import __version__ as CLIENT_VERSION
from datadog_api_client.v1.api.dashboard_lists_api import DashboardListsApi
from datadog_api_client.v1.api.dashboards_api import DashboardsApi
from datadog_api_client.v1.api.monitors_api import MonitorsApi
from datadog_api_client.v1.model.dashboard import Dashboard
from datadog_api_client.v1.model.dashboard_layout_type import DashboardLayoutType
from datadog_api_client.v1.model.dashboard_list import DashboardList
from datadog_api_client.v1.model.monitor import Monitor
from datadog_api_client.v1.model.monitor_type import MonitorType
from datadog_api_client.v1.model.note_widget_definition import NoteWidgetDefinition
from datadog_api_client.v1.model.note_widget_definition_type import NoteWidgetDefinitionType
from datadog_api_client.v1.model.timeseries_widget_definition import TimeseriesWidgetDefinition
from datadog_api_client.v1.model.timeseries_widget_definition_type import TimeseriesWidgetDefinitionType
from datadog_api_client.v1.model.timeseries_widget_request import TimeseriesWidgetRequest
from datadog_api_client.v1.model.widget import Widget
from datadog_api_client.v1.model.widget_layout import WidgetLayout
from datadog_api_client.v2.api.case_management_api import CaseManagementApi
from datadog_api_client.v2.api.downtimes_api import DowntimesApi
from datadog_api_client.v2.api.metrics_api import MetricsApi
from datadog_api_client.v2.api.workflow_automation_api import WorkflowAutomationApi
from datadog_api_client.v2.model.case_comment import CaseComment
from datadog_api_client.v2.model.case_comment_attributes import CaseCommentAttributes
from datadog_api_client.v2.model.case_comment_request import CaseCommentRequest
from datadog_api_client.v2.model.case_create import CaseCreate
from datadog_api_client.v2.model.case_create_attributes import CaseCreateAttributes
from datadog_api_client.v2.model.case_create_relationships import CaseCreateRelationships
from datadog_api_client.v2.model.case_create_request import CaseCreateRequest
from datadog_api_client.v2.model.case_priority import CasePriority
from datadog_api_client.v2.model.case_resource_type import CaseResourceType
from datadog_api_client.v2.model.create_workflow_request import CreateWorkflowRequest
from datadog_api_client.v2.model.downtime_create_request import DowntimeCreateRequest
from datadog_api_client.v2.model.downtime_create_request_attributes import DowntimeCreateRequestAttributes
from datadog_api_client.v2.model.downtime_create_request_data import DowntimeCreateRequestData
from datadog_api_client.v2.model.downtime_monitor_identifier_tags import DowntimeMonitorIdentifierTags
from datadog_api_client.v2.model.downtime_resource_type import DowntimeResourceType
from datadog_api_client.v2.model.downtime_schedule_one_time_create_update_request import (
    DowntimeScheduleOneTimeCreateUpdateRequest,
)
from datadog_api_client.v2.model.metric_tag_configuration_create_attributes import (
    MetricTagConfigurationCreateAttributes,
)
from datadog_api_client.v2.model.metric_tag_configuration_create_data import MetricTagConfigurationCreateData
from datadog_api_client.v2.model.metric_tag_configuration_create_request import MetricTagConfigurationCreateRequest
from datadog_api_client.v2.model.metric_tag_configuration_metric_types import MetricTagConfigurationMetricTypes
from datadog_api_client.v2.model.metric_tag_configuration_type import MetricTagConfigurationType
from datadog_api_client.v2.model.project_create import ProjectCreate
from datadog_api_client.v2.model.project_create_attributes import ProjectCreateAttributes
from datadog_api_client.v2.model.project_create_request import ProjectCreateRequest
from datadog_api_client.v2.model.project_relationship import ProjectRelationship
from datadog_api_client.v2.model.project_relationship_data import ProjectRelationshipData
from datadog_api_client.v2.model.project_resource_type import ProjectResourceType
from datadog_api_client.v2.model.spec import Spec
from datadog_api_client.v2.model.step import Step
from datadog_api_client.v2.model.workflow_data import WorkflowData
from datadog_api_client.v2.model.workflow_data_attributes import WorkflowDataAttributes
from datadog_api_client.v2.model.workflow_data_type import WorkflowDataType
from datadog_api_client.v2.model.workflow_trigger_wrapper import WorkflowTriggerWrapper

from autonomic_lib.sandbox.config import SandboxConfig
from autonomic_lib.sandbox.server import SandboxServer, generate_keys

HOST_VARIABLE = "AUTONOMIC_EXAMPLES_HOST"
PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"

# Written next to nothing but itself: every Configuration() built without a host talks to the sandbox.
SITECUSTOMIZE = textwrap.dedent(f'''\
    """Points the official client at the sandbox (tools/client_examples.py writes this file).

    Also: an example written when an operation was still unstable turns its flag on; where the installed client
    has made it stable, setting the flag would raise KeyError before any request, so such a flag is ignored.
    """
    import os

    from datadog_api_client import configuration as _configuration

    _original_init = _configuration.Configuration.__init__
    _original_set = _configuration._UnstableOperations.__setitem__


    def _init(self, *args, **kwargs):
        _original_init(self, *args, **kwargs)
        if not args and kwargs.get("host") is None and os.environ.get("{HOST_VARIABLE}"):
            self.host = os.environ["{HOST_VARIABLE}"]


    def _set(self, key, value):
        if key in self:
            _original_set(self, key, value)


    _configuration.Configuration.__init__ = _init
    _configuration._UnstableOperations.__setitem__ = _set
    ''')

# Values the sandbox has no product for: the examples only pass these ids along as references (roles, users),
# and a bearer token rides next to the API keys the runner sets, which are what the sandbox checks.
SYNTHETIC_VALUES = {
    "ROLE_DATA_ID": "2a4d6b8c-0e1f-4a3b-9c5d-7e8f9a0b1c2d",
    "USER_DATA_ID": "3b5e7c9d-1f20-4b4c-8d6e-8f9a0b1c2d3e",
    "DD_BEARER_TOKEN": "sandbox-takes-api-and-application-keys",
}


@dataclass
class Example:
    version: str  # "v1" | "v2"
    area: str     # the examples' folder name, e.g. "monitors", "case-management"
    path: Path

    @property
    def key(self) -> str:
        return f"{self.version}/{self.area}"

    @property
    def name(self) -> str:
        return self.path.stem


@dataclass
class Outcome:
    name: str
    status: str
    error: str = ""
    env: list[str] = field(default_factory=list)
    cause: str = ""  # for a failure or skip: one of CAUSES, a first guess for the reader


# The first-guess causes (`cause` of an Outcome), most specific first; FAILURES.md groups by them.
ROUTE_MISSING = "sandbox route missing"
SANDBOX_REFUSES = "sandbox refuses the request (shape, grammar or bound)"
SANDBOX_ERROR = "sandbox error (5xx)"
PLACEHOLDER = "example uses a placeholder or real-org id"
DATADOG_ONLY_CAUSE = "needs something only real Datadog has"
FIXTURE_GAP = "fixture missing in the runner"
CLIENT_SIDE = "fails in the client before or after the request"
RESPONSE_SHAPE = "the client cannot read the sandbox's response (shape wrong)"
VERSION = "written for another client version"
TIMEOUT = "timed out"


# ---------------------------------------------------------------------------------------------------------- discovery

def discover(root: Path, areas: Iterable[str]) -> list[Example]:
    """Every `<root>/v1|v2/<area>/*.py`, filtered by area name ("monitors" or "v1/monitors")."""
    wanted = set(areas)
    found: list[Example] = []
    for version in ("v1", "v2"):
        for folder in sorted((root / version).glob("*")) if (root / version).is_dir() else []:
            if not folder.is_dir():
                continue
            if wanted and folder.name not in wanted and f"{version}/{folder.name}" not in wanted:
                continue
            found.extend(Example(version, folder.name, path) for path in sorted(folder.glob("*.py")))
    return found


# ------------------------------------------------------------------------------------- is it written for this client?

def _unstable_operations() -> set[str]:
    values = Configuration().unstable_operations.values  # "v2.query_scalar_data" -> False
    return {name.split(".", 1)[1] for name in values}


UNSTABLE = _unstable_operations()


def newer_than_client(source: str) -> str | None:
    """Why the installed client cannot run this example: an import, API method or enum value it lacks."""
    tree = ast.parse(source)
    imported: dict[str, object] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("datadog_api_client"):
            try:
                module = importlib.import_module(node.module)
            except ImportError:
                return f"module {node.module} is not in datadog-api-client {CLIENT_VERSION}"
            for alias in node.names:
                if not hasattr(module, alias.name):
                    return f"{node.module}.{alias.name} is not in datadog-api-client {CLIENT_VERSION}"
                imported[alias.asname or alias.name] = getattr(module, alias.name)
    apis = {name: cls for name, cls in imported.items() if name.endswith("Api")}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not isinstance(node.value, ast.Name):
            continue
        owner, attr = node.value.id, node.attr
        if owner == "api_instance" and apis and not any(hasattr(cls, attr) for cls in apis.values()):
            return f"{'/'.join(apis)}.{attr} is not in datadog-api-client {CLIENT_VERSION}"
        if owner in imported and attr.isupper() and not hasattr(imported[owner], attr):
            return f"{owner}.{attr} is not in datadog-api-client {CLIENT_VERSION}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in imported:
            missing = _missing_arguments(imported[node.func.id], node)
            if missing:
                return (f"{node.func.id}() requires {', '.join(missing)} in datadog-api-client {CLIENT_VERSION}, "
                        "which the example does not pass")
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "api_instance"):
            method = next((getattr(cls, node.func.attr) for cls in apis.values() if hasattr(cls, node.func.attr)), None)
            accepted = set(inspect.signature(method).parameters) if method else set()
            unknown = [k.arg for k in node.keywords if k.arg and accepted and k.arg not in accepted]
            if unknown:
                return f"{node.func.attr}() takes no {', '.join(unknown)} in datadog-api-client {CLIENT_VERSION}"
    return None


def _missing_arguments(model: object, call: ast.Call) -> list[str]:
    """Required constructor arguments of a client model that this call does not pass."""
    if not isinstance(model, type) or not issubclass(model, ModelNormal):
        return []
    required = [name for name, parameter in inspect.signature(model.__init__).parameters.items()
                if name != "self_" and parameter.default is inspect.Parameter.empty
                and parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)]
    passed = {keyword.arg for keyword in call.keywords}
    return [name for name in required[len(call.args):] if name not in passed]


def stale_unstable_flags(source: str) -> list[str]:
    """Unstable-operation flags the example sets that the installed client no longer (or never) had."""
    return [node.slice.value for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute)
            and node.value.attr == "unstable_operations" and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str) and node.slice.value not in UNSTABLE]


ENV_NAME = re.compile(r'environ\["([A-Z0-9_]+)"\]')


def env_names(source: str) -> list[str]:
    return list(dict.fromkeys(ENV_NAME.findall(source)))


# ----------------------------------------------------------------------------------------------------------- fixtures

class FixtureError(Exception):
    """A fixture an example reads could not be created in the sandbox."""


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _monitor(client: ApiClient, env: dict[str, str]) -> dict[str, str]:
    # The examples' own fixture ("there is a valid monitor") is this log alert; see v1/monitors/CreateMonitor.py.
    name = _unique("Example-Monitor")
    created = MonitorsApi(client).create_monitor(body=Monitor(
        name=name, type=MonitorType.LOG_ALERT,
        query='logs("service:foo AND type:error").index("main").rollup("count").by("source").last("5m") > 2',
        message="some message Notify: @hipchat-channel", tags=["test:examplemonitor", "env:ci"], priority=3))
    return {"MONITOR_ID": str(created.id), "MONITOR_NAME": name}


def _downtime(client: ApiClient, env: dict[str, str]) -> dict[str, str]:
    created = DowntimesApi(client).create_downtime(body=DowntimeCreateRequest(data=DowntimeCreateRequestData(
        attributes=DowntimeCreateRequestAttributes(
            message="test message", monitor_identifier=DowntimeMonitorIdentifierTags(monitor_tags=["cat:hat"]),
            scope=f"test:{uuid.uuid4().hex[:12]}", schedule=DowntimeScheduleOneTimeCreateUpdateRequest(start=None)),
        type=DowntimeResourceType.DOWNTIME)))
    return {"DOWNTIME_V2_DATA_ID": str(created.data.id)}


PROJECT = "case project"  # a context key, never an environment variable of an example
# Datadog's built-in STANDARD case type (2.62.0 creates cases by type_id; the BDD fixture still says "STANDARD").
STANDARD_CASE_TYPE_ID = "00000000-0000-0000-0000-000000000001"


def case_project(client: ApiClient) -> str:
    """The project the case fixtures are filed in. The BDD fixture names a project that already exists in
    Datadog's test org (d4bbe1af-...); the runner creates its own once per run."""
    created = CaseManagementApi(client).create_project(body=ProjectCreateRequest(data=ProjectCreate(
        attributes=ProjectCreateAttributes(key="EXAMPLES", name="Client examples"),
        type=ProjectResourceType.PROJECT)))
    return str(created.data.id)


def _case(client: ApiClient, env: dict[str, str]) -> dict[str, str]:
    cases = CaseManagementApi(client)
    if PROJECT not in env:
        raise FixtureError("fixture CASE_ID: the runner could not create a case project")
    created = cases.create_case(body=CaseCreateRequest(data=CaseCreate(
        attributes=CaseCreateAttributes(title=_unique("My new case"), type_id=STANDARD_CASE_TYPE_ID,
                                        priority=CasePriority.P4),
        relationships=CaseCreateRelationships(project=ProjectRelationship(data=ProjectRelationshipData(
            id=env[PROJECT], type=ProjectResourceType.PROJECT))),
        type=CaseResourceType.CASE)))
    return {"CASE_ID": str(created.data.id)}


def _comment(client: ApiClient, env: dict[str, str]) -> dict[str, str]:
    timeline = CaseManagementApi(client).comment_case(case_id=env["CASE_ID"], body=CaseCommentRequest(
        data=CaseComment(attributes=CaseCommentAttributes(comment="Hello World !"), type=CaseResourceType.CASE)))
    return {"COMMENT_ID": str(timeline.data[0].id)}


def _workflow(client: ApiClient, env: dict[str, str]) -> dict[str, str]:
    created = WorkflowAutomationApi(client).create_workflow(body=CreateWorkflowRequest(data=WorkflowData(
        attributes=WorkflowDataAttributes(name=_unique("Cassette Workflow x-given"), spec=Spec(
            triggers=[WorkflowTriggerWrapper(start_step_names=["No_op"], workflow_trigger={})],
            steps=[Step(name="No_op", action_id="com.datadoghq.core.noop")])),
        type=WorkflowDataType.WORKFLOWS)))
    return {"WORKFLOW_DATA_ID": str(created.data.id)}


def _dashboard_list(client: ApiClient, env: dict[str, str]) -> dict[str, str]:
    created = DashboardListsApi(client).create_dashboard_list(body=DashboardList(name=_unique("Example-list")))
    return {"DASHBOARD_LIST_ID": str(created.id)}


def _dashboard(client: ApiClient, env: dict[str, str]) -> dict[str, str]:
    created = DashboardsApi(client).create_dashboard(body=Dashboard(
        title=_unique("Example-dashboard"), layout_type=DashboardLayoutType.ORDERED,
        widgets=[Widget(definition=TimeseriesWidgetDefinition(
            type=TimeseriesWidgetDefinitionType.TIMESERIES,
            requests=[TimeseriesWidgetRequest(q="avg:system.cpu.user{*}")]))]))
    return {"DASHBOARD_ID": str(created.id)}


def _screenboard(client: ApiClient, env: dict[str, str]) -> dict[str, str]:
    created = DashboardsApi(client).create_dashboard(body=Dashboard(
        title=_unique("Example-screenboard"), layout_type=DashboardLayoutType.FREE,
        widgets=[Widget(definition=NoteWidgetDefinition(type=NoteWidgetDefinitionType.NOTE, content="test"),
                        layout=WidgetLayout(x=0, y=0, width=24, height=6))]))
    return {"SCREENBOARD_DASHBOARD_ID": str(created.id)}


def _metric_tag_configuration(client: ApiClient, env: dict[str, str]) -> dict[str, str]:
    name = f"ExampleMetric{uuid.uuid4().hex[:10]}"
    MetricsApi(client).create_tag_configuration(metric_name=name, body=MetricTagConfigurationCreateRequest(
        data=MetricTagConfigurationCreateData(
            attributes=MetricTagConfigurationCreateAttributes(
                tags=["app", "datacenter"], metric_type=MetricTagConfigurationMetricTypes.GAUGE),
            type=MetricTagConfigurationType.MANAGE_TAGS, id=name)))
    return {"METRIC_TAG_CONFIGURATION_DATA_ID": name}


Maker = Callable[[ApiClient, dict[str, str]], dict[str, str]]
FIXTURES: dict[str, Maker] = {
    "MONITOR_ID": _monitor, "MONITOR_NAME": _monitor,
    "DOWNTIME_V2_DATA_ID": _downtime,
    "CASE_ID": _case,
    "WORKFLOW_DATA_ID": _workflow,
    "DASHBOARD_LIST_ID": _dashboard_list,
    "DASHBOARD_ID": _dashboard,
    "SCREENBOARD_DASHBOARD_ID": _screenboard,
    "METRIC_TAG_CONFIGURATION_DATA_ID": _metric_tag_configuration,
}
DEPENDENT: dict[str, tuple[str, Maker]] = {
    "COMMENT_ID": ("CASE_ID", _comment),
}
# Fixtures only real Datadog has (no sandbox product stands behind them): the example cannot run here.
DATADOG_ONLY = {
    "SYNTHETICS_API_TEST_MONITOR_ID": "a Synthetics API test (no Synthetics in the sandbox)",
    "CASE_WITH_TYPE_ID": "a case of a custom case type (no case types API in the sandbox)",
    "CUSTOM_ATTRIBUTE_ATTRIBUTES_KEY": "a case custom attribute (no case types API in the sandbox)",
    "SLO_DATA_0_ID": "a service level objective (no SLO API in the sandbox)",
    "POWERPACK_DATA_ID": "a powerpack (no powerpack API in the sandbox)",
}


def literal_ids(source: str) -> list[str]:
    """Ids the example writes as constants in its API call (`case_id="case_id"`, `event_id=9223372036854775807`)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "api_instance"):
            found += [f"{k.arg}={k.value.value!r}" for k in node.keywords
                      if k.arg and k.arg.endswith("_id") and isinstance(k.value, ast.Constant)]
    return found


HTTP_STATUS = re.compile(r"^(?:fixture \w+: )?\w+ (\d{3}): ")


def http_status(error: str) -> int | None:
    """The HTTP status in an error line made by error_of or describe (None: the failure was not an answer)."""
    match = HTTP_STATUS.match(error)
    return int(match.group(1)) if match else None


def cause_of(status: str, error: str, source: str) -> str:
    """A first guess at why an example did not pass, from its error line and source."""
    if status == SKIPPED:
        return VERSION
    if error.startswith("timed out"):
        return TIMEOUT
    fixture = error.startswith("fixture ")
    if fixture and "needs " in error.split(":", 1)[1][:8]:
        return DATADOG_ONLY_CAUSE
    if fixture and "does not know how" in error:
        return FIXTURE_GAP
    code = http_status(error)
    if code is None:
        return CLIENT_SIDE
    if code >= 500:
        return SANDBOX_ERROR
    if code in (404, 405) and ("'Not found'" in error or "Method not allowed" in error):
        return ROUTE_MISSING
    if code == 404 and not fixture and literal_ids(source):
        return PLACEHOLDER
    if code == 404:
        return ROUTE_MISSING if "not found" in error.lower() and not literal_ids(source) else PLACEHOLDER
    return SANDBOX_REFUSES


def make_fixtures(client: ApiClient, names: list[str], context: dict[str, str]) -> dict[str, str]:
    """Fresh objects for the variables an example reads; FixtureError names the one that could not be made.
    `context` holds what the run set up once (the case project)."""
    env = dict(context)
    for name in names:
        if name in env:
            continue
        if name in SYNTHETIC_VALUES:
            env[name] = SYNTHETIC_VALUES[name]
        elif name in DATADOG_ONLY:
            raise FixtureError(f"fixture {name}: needs {DATADOG_ONLY[name]}")
        elif name in FIXTURES:
            env.update(_call(name, lambda: FIXTURES[name](client, env)))
        elif name in DEPENDENT:
            parent, maker = DEPENDENT[name]
            if parent not in env:
                env.update(_call(parent, lambda: FIXTURES[parent](client, env)))
            env.update(_call(name, lambda: maker(client, env)))
        else:
            raise FixtureError(f"fixture {name}: the runner does not know how to create it")
    return {key: value for key, value in env.items() if key not in context}


def _call(name: str, make: Callable[[], dict[str, str]]) -> dict[str, str]:
    try:
        return make()
    except FixtureError:
        raise
    except Exception as exc:  # any refusal by the sandbox (or the client) is the measured fact
        raise FixtureError(f"fixture {name}: {first_line(describe(exc))}") from None


# ------------------------------------------------------------------------------------------------------------ running

def describe(exc: BaseException) -> str:
    status = getattr(exc, "status", None)
    body = getattr(exc, "body", None)
    if status is not None:
        return f"{type(exc).__name__} {status}: {_short(body)}"
    return f"{type(exc).__name__}: {exc}"


def _short(body: object) -> str:
    text = body.decode(errors="replace") if isinstance(body, bytes) else str(body)
    return " ".join(text.split())[:300]


EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt))(?::\s*(.*))?$")
API_STATUS = re.compile(r"^\((\d{3})\)$")


CLIENT_CHECKS = ("ApiTypeError", "ApiValueError", "ApiAttributeError", "TypeError", "AttributeError")


def failing_statement(stderr: str, path: Path) -> str:
    """The example's own line the traceback ends in ("" when the traceback has none)."""
    lines = stderr.strip().splitlines()
    frames = [i for i, line in enumerate(lines) if line.strip().startswith(f'File "{path}"')]
    return lines[frames[-1] + 1].strip() if frames and frames[-1] + 1 < len(lines) else ""


def raised_before_the_call(stderr: str, path: Path) -> bool:
    """True when the client's own checks refused the example while it built its body, before any request:
    the example was written for another version of the client's models (the sandbox never saw it)."""
    statement = failing_statement(stderr, path)
    return (bool(statement) and "api_instance." not in statement and not statement.startswith(("print(", "for "))
            and error_of(stderr).split(" ", 1)[0].rstrip(":") in CLIENT_CHECKS)


def raised_reading_the_response(stderr: str, path: Path) -> bool:
    """True when the call returned but the client could not make sense of the response (printing or paging it
    walks the models the response was read into), or its deserializer refused the received data."""
    statement = failing_statement(stderr, path)
    reading = statement.startswith(("print(", "for ")) or "received_data" in stderr
    return reading and http_status(error_of(stderr)) is None


def first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def error_of(stderr: str) -> str:
    """The last exception of a traceback in one line; for an ApiException its status and response body."""
    lines = stderr.strip().splitlines()
    starts = [i for i, line in enumerate(lines) if EXCEPTION_LINE.match(line)]
    if not starts:
        return lines[-1][:300] if lines else "failed without output"
    match = EXCEPTION_LINE.match(lines[starts[-1]])
    assert match is not None
    name, message = match.group(1).rsplit(".", 1)[-1], (match.group(2) or "").strip()
    status = API_STATUS.match(message)
    if status:
        body = next((line.split(":", 1)[1] for line in lines[starts[-1]:] if line.startswith("HTTP response body:")),
                    "")
        return f"{name} {status.group(1)}: {_short(body)}"
    return f"{name}: {_short(message)}"


class Runner:
    def __init__(self, server: SandboxServer, workdir: Path, timeout: float):
        self.server = server
        self.workdir = workdir
        self.timeout = timeout
        (workdir / "sitecustomize.py").write_text(SITECUSTOMIZE)
        self.context: dict[str, str] = {}
        with self.client() as client:
            try:
                self.context[PROJECT] = case_project(client)
            except Exception as exc:  # measured by the case examples themselves: they fail on their fixture
                print(f"note: no case project for the case fixtures: {first_line(describe(exc))}", file=sys.stderr)

    def client(self) -> ApiClient:
        return ApiClient(Configuration(host=self.server.url, api_key={
            "apiKeyAuth": self.server.config.api_key, "appKeyAuth": self.server.config.app_key}))

    def run(self, example: Example) -> Outcome:
        source = example.path.read_text()
        names = env_names(source)
        reason = newer_than_client(source)
        if reason:
            return Outcome(example.name, SKIPPED, reason, names, VERSION)
        stale = stale_unstable_flags(source)
        note = (f" [ran with its unstable flag {', '.join(stale)} ignored: not unstable in {CLIENT_VERSION}]"
                if stale else "")
        try:
            with self.client() as client:
                fixture_env = make_fixtures(client, names, self.context)
        except FixtureError as exc:
            return self.failed(example.name, str(exc) + note, names, source)
        env = {key: value for key, value in os.environ.items() if not key.startswith("DD_")}
        env.update(fixture_env)
        env.update({
            "PYTHONPATH": str(self.workdir), HOST_VARIABLE: self.server.url,
            "DD_API_KEY": self.server.config.api_key, "DD_APP_KEY": self.server.config.app_key,
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        try:
            done = subprocess.run([sys.executable, str(example.path)], cwd=self.workdir, env=env,
                                  capture_output=True, text=True, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            return self.failed(example.name, f"timed out after {self.timeout:.0f} s" + note, names, source)
        if done.returncode == 0:
            return Outcome(example.name, PASSED, note.strip(), names)
        error = self.scrub(error_of(done.stderr))
        if raised_before_the_call(done.stderr, example.path):
            return Outcome(example.name, SKIPPED, f"the client refuses the example's body: {error}", names, VERSION)
        if raised_reading_the_response(done.stderr, example.path):
            return Outcome(example.name, FAILED, f"{error} (reading the response)" + note, names, RESPONSE_SHAPE)
        return self.failed(example.name, error + note, names, source)

    @staticmethod
    def failed(name: str, error: str, names: list[str], source: str) -> Outcome:
        return Outcome(name, FAILED, error, names, cause_of(FAILED, error, source))

    def scrub(self, text: str) -> str:
        for key in (self.server.config.api_key, self.server.config.app_key):
            text = text.replace(key, "****")
        return text


# ----------------------------------------------------------------------------------------------------------- reporting

def summarize(examples: list[Example], outcomes: list[Outcome]) -> dict[str, Any]:
    areas: dict[str, dict[str, Any]] = {}
    for example, outcome in zip(examples, outcomes):
        area = areas.setdefault(example.key, {PASSED: 0, FAILED: 0, SKIPPED: 0, "examples": []})
        area[outcome.status] += 1
        area["examples"].append(asdict(outcome))
    totals = {status: sum(a[status] for a in areas.values()) for status in (PASSED, FAILED, SKIPPED)}
    return {"client_version": CLIENT_VERSION, "sandbox_commit": _commit(), "totals": totals,
            "areas": areas}


def _commit() -> str:
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}{'+dirty' if dirty else ''}" or "unknown"


def render(summary: dict[str, Any], verbose: bool = True) -> str:
    lines = [f"datadog-api-client {summary['client_version']} examples against the sandbox at "
             f"{summary['sandbox_commit']}", "",
             f"{'area':<28}{'passed':>8}{'failed':>8}{'skipped':>9}{'run':>6}"]
    for key, area in sorted(summary["areas"].items()):
        run = area[PASSED] + area[FAILED]
        lines.append(f"{key:<28}{area[PASSED]:>8}{area[FAILED]:>8}{area[SKIPPED]:>9}{run:>6}")
    totals = summary["totals"]
    lines.append(f"{'total':<28}{totals[PASSED]:>8}{totals[FAILED]:>8}{totals[SKIPPED]:>9}"
                 f"{totals[PASSED] + totals[FAILED]:>6}")
    if verbose:
        for key, area in sorted(summary["areas"].items()):
            failures = [e for e in area["examples"] if e["status"] != PASSED]
            if not failures:
                continue
            lines += ["", f"{key}:"]
            for example in failures:
                mark = "FAIL" if example["status"] == FAILED else "skip"
                lines.append(f"  {mark} {example['name']} [{example['cause']}]: {example['error']}")
    return "\n".join(lines)


def failures_markdown(summary: dict[str, Any]) -> str:
    """Every failing or skipped example, grouped by area then by first-guess cause (for FAILURES.md)."""
    totals = summary["totals"]
    lines = [f"# Client examples that do not pass on the sandbox ({summary['sandbox_commit']})", "",
             f"Generated by `tools/client_examples.py --failures` with datadog-api-client {summary['client_version']}:"
             f" {totals[PASSED]} passed, {totals[FAILED]} failed, {totals[SKIPPED]} skipped. The cause is the"
             " runner's first guess from the error line; read the error.", ""]
    for key, area in sorted(summary["areas"].items()):
        bad = [e for e in area["examples"] if e["status"] != PASSED]
        lines.append(f"## {key}: {area[PASSED]} passed, {area[FAILED]} failed, {area[SKIPPED]} skipped")
        by_cause: dict[str, list[dict[str, Any]]] = {}
        for example in bad:
            by_cause.setdefault(example["cause"], []).append(example)
        for cause, examples in sorted(by_cause.items()):
            lines += ["", f"### {cause} ({len(examples)})", ""]
            lines += [f"- `{e['name']}`: {e['error']}" for e in examples]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("examples", type=Path, help="folder holding v1/<area>/*.py and v2/<area>/*.py")
    parser.add_argument("--area", action="append", default=[],
                        help="only this area (folder name, or v1/<name>, v2/<name>); repeatable")
    parser.add_argument("--json", type=Path, help="also write the summary, every example's outcome, here")
    parser.add_argument("--failures", type=Path, help="also write every non-passing example, by cause, as markdown")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per example (default 60)")
    parser.add_argument("--jobs", type=int, default=2, help="examples run at once (default 2)")
    parser.add_argument("--quiet", action="store_true", help="the table only, not every failure")
    parser.add_argument("--label", help="what is measured, in place of this checkout's commit (e.g. a branch)")
    args = parser.parse_args(argv)

    examples = discover(args.examples, args.area)
    if not examples:
        print(f"no examples under {args.examples} (expected v1/<area>/*.py, v2/<area>/*.py)")
        return 0
    api_key, app_key = generate_keys()
    with tempfile.TemporaryDirectory(prefix="client-examples-") as tmp:
        server = SandboxServer(SandboxConfig(api_key=api_key, app_key=app_key)).start()
        try:
            runner = Runner(server, Path(tmp), args.timeout)
            with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
                outcomes = list(pool.map(runner.run, examples))
        finally:
            server.stop()
    summary = summarize(examples, outcomes)
    if args.label:
        summary["sandbox_commit"] = args.label
    print(render(summary, verbose=not args.quiet))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    if args.failures:
        args.failures.write_text(failures_markdown(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
