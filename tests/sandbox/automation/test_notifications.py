"""Monitor notifications: message rendering as Datadog documents it, @-handle parsing, events, @case, listing."""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
import pytest
import urllib3
from datadog_api_client import ApiClient
from datadog_api_client.v2.api.case_management_api import CaseManagementApi

from autonomic_lib.sandbox.automation.notifications import (
    Handle,
    MessageContext,
    notifies,
    on_transition,
    parse_handles,
    render,
)
from autonomic_lib.sandbox.monitors.evaluator import Transition
from autonomic_lib.sandbox.server import SandboxServer
from tests.sandbox.automation.test_case_routes import make_project

TAGS = {"agent_id": "a1", "failure_reason": "eval_rejected", "role": "db_cassandra", "dot.key": "five"}
VARIABLES = {"value": "2", "threshold": "1", "warn_threshold": "0.5", "ok_threshold": "0.8", "comparator": ">="}


def transition(monitor_id: int, group: str, group_tags: tuple[str, ...], previous: str, current: str, at: float,
               value: float | None, threshold: float | None) -> Transition:
    """A transition as the evaluator reports it (its window does not matter to notifications)."""
    return Transition(monitor_id, group, group_tags, previous, current, int(at), value, threshold, 0, 0)


def ctx(previous: str, current: str, priority: int | None = 1) -> MessageContext:
    return MessageContext(previous, current, dict(TAGS), dict(VARIABLES), priority)


@pytest.mark.parametrize("message,previous,current,expected", [
    ("{{value}} > {{threshold}} (warn {{warn_threshold}}, ok {{ok_threshold}}, {{comparator}})", "OK", "Alert",
     "2 > 1 (warn 0.5, ok 0.8, >=)"),
    ("agent {{agent_id.name}} / {{ failure_reason.name }} / {{[dot.key].name}}", "OK", "Alert",
     "agent a1 / eval_rejected / five"),
    ("{{#is_alert}}A{{/is_alert}}{{^is_alert}}not A{{/is_alert}}", "OK", "Alert", "A"),
    ("{{#is_alert}}A{{/is_alert}}{{^is_alert}}not A{{/is_alert}}", "Alert", "OK", "not A"),
    ("{{#is_warning}}W{{/is_warning}}", "OK", "Warn", "W"),
    ("{{#is_warning}}W{{/is_warning}}", "OK", "Alert", ""),
    ("{{#is_no_data}}ND{{/is_no_data}}", "OK", "No Data", "ND"),
    ("{{#is_recovery}}R{{/is_recovery}}", "Alert", "OK", "R"),
    ("{{#is_recovery}}R{{/is_recovery}}", "Warn", "OK", "R"),
    ("{{#is_recovery}}R{{/is_recovery}}", "No Data", "OK", "R"),
    ("{{#is_recovery}}R{{/is_recovery}}", "OK", "Alert", ""),
    ("{{#is_recovery}}R{{/is_recovery}}", "Alert", "Warn", ""),  # Alert -> Warn is not a recovery
    ("{{#is_alert_recovery}}AR{{/is_alert_recovery}}{{#is_warning_recovery}}WR{{/is_warning_recovery}}",
     "Alert", "OK", "AR"),
    ("{{#is_alert_recovery}}AR{{/is_alert_recovery}}{{#is_warning_recovery}}WR{{/is_warning_recovery}}",
     "Warn", "OK", "WR"),
    ("{{#is_alert_to_warning}}down{{/is_alert_to_warning}}", "Alert", "Warn", "down"),
    ("{{#is_no_data_recovery}}back{{/is_no_data_recovery}}", "No Data", "OK", "back"),
    ("{{#is_renotify}}again{{/is_renotify}}", "OK", "Alert", ""),
    ("{{#is_priority 'P1'}}urgent{{/is_priority}}", "OK", "Alert", "urgent"),
    ('{{#is_match "role.name" "db"}}db team{{/is_match}}', "OK", "Alert", "db team"),
    ('{{#is_match "role.name" "web" "cassandra"}}either{{/is_match}}', "OK", "Alert", "either"),
    ('{{#is_match "role.name" "web"}}web{{else}}not web{{/is_match}}', "OK", "Alert", "not web"),
    ('{{^is_match "role.name" "web"}}not web{{/is_match}}', "OK", "Alert", "not web"),
    ('{{#is_exact_match "agent_id.name" "a1"}}exact{{/is_exact_match}}', "OK", "Alert", "exact"),
    ('{{#is_exact_match "agent_id.name" "a"}}exact{{/is_exact_match}}', "OK", "Alert", ""),
    ("{{#is_alert}}{{#is_match \"role.name\" \"db\"}}nested {{agent_id.name}}{{/is_match}}{{/is_alert}}", "OK",
     "Alert", "nested a1"),
    ("a{{!-- hidden --}}b{{! also hidden }}c", "OK", "Alert", "abc"),
    ("{{{{raw}}}}{{ value }}{{{{/raw}}}} is {{value}}", "OK", "Alert", "{{ value }} is 2"),
    ("{{{value}}}", "OK", "Alert", "2"),
])
def test_message_rendering(message: str, previous: str, current: str, expected: str) -> None:
    assert render(message, ctx(previous, current)) == expected


def test_unknown_variables_render_empty_and_are_reported() -> None:
    context = ctx("OK", "Alert")
    assert render("[{{host.name}}][{{nope}}]{{#is_sunny}}x{{/is_sunny}}", context) == "[][]"
    assert set(context.unknown) == {"host.name", "nope", "#is_sunny"}


def test_kit_monitor_message_for_alert_and_recovery() -> None:
    import json
    from pathlib import Path
    definition = json.loads((Path(__file__).resolve().parents[3] / "assets/monitors/optimization_failure.json")
                            .read_text())["definition"]
    alert_text = render(definition["message"], ctx("OK", "Alert"))
    assert "Agent **a1** is stuck" in alert_text and "(2 optimization failure(s)" in alert_text
    assert 'agent_id="a1", failure_reason="eval_rejected")' in alert_text and "no optimization failure" not in alert_text
    recovery = render(definition["message"], ctx("Alert", "OK"))
    assert "@workflow" not in recovery and recovery.strip() == "Agent a1 has had no optimization failure for 5 minutes."


def test_handle_parsing() -> None:
    text = ('Hi @workflow-fix-it(agent_id="a1", n=3, ratio=0.5, flag=true, quoted="a, b (c)", single=\'x\') '
            "@workflow-plain @case-AUTO @oncall@example.com, @slack-ops-alerts @pagerduty-Service_1 "
            "not@handle @webhook-hook.")
    handles = parse_handles(text)
    assert [(h.kind, h.target) for h in handles] == [
        ("workflow", "fix-it"), ("workflow", "plain"), ("case", "AUTO"), ("email", "oncall@example.com"),
        ("slack", "ops-alerts"), ("pagerduty", "Service_1"), ("webhook", "hook")]
    assert handles[0].params == {"agent_id": "a1", "n": 3, "ratio": 0.5, "flag": True, "quoted": "a, b (c)",
                                 "single": "x"}
    assert handles[1].params == {} and handles[0].error is None


def test_bad_workflow_parameters_are_an_error_not_a_guess() -> None:
    (handle,) = parse_handles("@workflow-x(agent_id)")
    assert isinstance(handle, Handle) and handle.error and "cannot parse" in handle.error


def test_no_data_notifies_only_with_notify_no_data() -> None:
    plain: dict[str, Any] = {"options": {}}
    loud: dict[str, Any] = {"options": {"notify_no_data": True}}
    first_ok = transition(1, "*", (), "No Data", "OK", 0, 0.0, 1.0)
    assert not notifies(plain, first_ok) and notifies(loud, first_ok)
    assert notifies(plain, transition(1, "*", (), "OK", "Alert", 0, 2.0, 1.0))


def raw_get(server: SandboxServer, path: str) -> Any:
    headers = {"DD-API-KEY": server.config.api_key, "DD-APPLICATION-KEY": server.config.app_key}
    response = urllib3.request("GET", server.url + path, headers=headers, retries=False)
    assert response.status == 200, response.data
    return orjson.loads(response.data)


def test_notifications_are_recorded_and_listed_sandbox_only(session_sandbox: SandboxServer) -> None:
    monitor_id = 700_000 + uuid.uuid4().int % 100_000
    monitor = {"id": monitor_id, "name": "Latency high", "query": "avg(last_5m):avg:m{*} by {service} > 2",
               "message": "{{#is_alert}}{{service.name}} is slow ({{value}}) @slack-ops @dev@example.com{{/is_alert}}"
                          "{{#is_recovery}}{{service.name}} is fine{{/is_recovery}}",
               "tags": [], "options": {"thresholds": {"critical": 2}}, "priority": 2}
    now = int(time.time()) - 120
    for previous, current, at in (("OK", "Alert", now), ("Alert", "OK", now + 60), ("OK", "No Data", now + 120)):
        on_transition(session_sandbox.sandbox.automation, monitor,
                      transition(monitor_id, "service:api", ("service:api",), previous, current, at, 3.25, 2.0))
    listed = raw_get(session_sandbox, f"/sandbox/notifications?monitor_id={monitor_id}")
    assert listed["meta"]["sandbox_only"] is True and listed["meta"]["total"] == 2  # No Data: notify_no_data off
    first, second = listed["data"]
    assert first["title"] == "[Triggered on {service:api}] Latency high" and first["message"].startswith(
        "api is slow (3.25)")
    assert [h["kind"] for h in first["handles"]] == ["slack", "email"]
    assert all(h["status"] == "recorded" and h["delivered"] is False for h in first["handles"])
    assert second["title"] == "[Recovered on {service:api}] Latency high"
    assert second["message"] == "api is fine" and second["handles"] == []


def test_case_handle_opens_one_case_per_group_and_comments_after(session_sandbox: SandboxServer,
                                                                  api_client: ApiClient) -> None:
    api = CaseManagementApi(api_client)
    _, key = make_project(api)
    monitor_id = 800_000 + uuid.uuid4().int % 100_000
    monitor = {"id": monitor_id, "name": "Stuck agent", "query": "sum(last_5m):sum:m{*} by {agent_id} >= 1",
               "message": f"Agent {{{{agent_id.name}}}} @case-{key.lower()}", "tags": [], "priority": 1,
               "options": {"thresholds": {"critical": 1}}}
    now = time.time()
    group = ("agent_id:z9",)
    automation = session_sandbox.sandbox.automation
    first = on_transition(automation, monitor, transition(monitor_id, group[0], group, "OK", "Alert", now, 1.0, 1.0))
    second = on_transition(automation, monitor, transition(monitor_id, group[0], group, "Alert", "OK",
                                                           now + 60, 0.0, 1.0))
    assert first and second
    assert first["handles"][0]["status"] == "created" and second["handles"][0]["status"] == "commented"
    found = api.search_cases(filter=f"project:{key}").data
    assert len(found) == 1
    case = found[0].attributes
    assert case.attributes["agent_id"] == ["z9"] and case.attributes["monitor_id"] == [str(monitor_id)]
    assert str(case.priority) == "P1" and case.title == "[Triggered on {agent_id:z9}] Stuck agent"


# ------------------------------------------------------------------------------------------ hostile messages
@pytest.mark.timeout(10)
@pytest.mark.parametrize("message", [
    "{{" + " " * 3000,                      # froze the evaluator on every transition (3 s at 300 spaces)
    "{{ " * 5000,
    "{{#is_alert}}" * 2000,
    "{{{{raw}}}}" * 2000,
    "{{!--" * 5000,
], ids=["open-then-blanks", "many-opens", "unclosed-sections", "unclosed-raw", "unclosed-comments"])
def test_hostile_templates_render_in_bounded_time(message: str) -> None:
    out = render(message, MessageContext("OK", "Alert", {}, {}))
    assert len(out) <= len(message)


@pytest.mark.timeout(10)
def test_workflow_parameters_followed_by_blanks_parse_in_bounded_time() -> None:
    """`@workflow-x(a=` and 1500 blanks took 10.8 s."""
    (handle,) = parse_handles("@workflow-x(a=" + " " * 1500)
    assert handle.kind == "workflow" and handle.error is not None


def test_unquoted_parameter_values_lose_their_trailing_blanks() -> None:
    (handle,) = parse_handles('@workflow-fix(n = 3  , flag=true , name="a b" )')
    assert handle.params == {"n": 3, "flag": True, "name": "a b"} and handle.error is None


def test_a_rendered_message_is_cut_at_its_bound() -> None:
    from autonomic_lib.sandbox.automation.notifications import MAX_MESSAGE
    ctx = MessageContext("OK", "Alert", {"agent_id": "a" * 200}, {})
    out = render("{{agent_id.name}}" * 1000, ctx)
    assert len(out) == MAX_MESSAGE and f"message cut at {MAX_MESSAGE} characters" in ctx.unknown


def test_the_monitor_link_a_workflow_and_its_case_receive_opens_the_monitors_page() -> None:
    """Source.url (quoted in the Case the kit's workflow opens) once had no token, so the page answered 404."""
    from urllib.parse import parse_qs, urlsplit

    from autonomic_lib.links import token_ok
    from autonomic_lib.sandbox.automation.backend import Automation
    from autonomic_lib.sandbox.automation.notifications import monitor_source
    from autonomic_lib.sandbox.http.routing import Address
    from autonomic_lib.sandbox.monitors.evaluator import Transition
    from autonomic_lib.sandbox.storage.database import open_database
    from autonomic_lib.sandbox.storage.documents import DocumentStore

    key = "0" * 32
    automation = Automation(DocumentStore(open_database(None)), lambda: 0.0, Address("http://127.0.0.1:9", key))
    transition = Transition(7, "agent_id:a1", ("agent_id:a1",), "OK", "Alert", 60, 1.0, 0.5, 0, 60)
    url = urlsplit(monitor_source(automation, {"id": 7, "name": "m"}, transition, "")["url"])
    query = parse_qs(url.query)
    assert url.path == "/monitors/7" and query["group"] == ["agent_id:a1"]
    assert token_ok(key, "/monitors/7", query["token"][0])
