"""Workflow runs are bounded: a step's inputs and output, a run's recorded size, their nesting; past a bound the
step fails and the instance shows FAILED with the reason, at once.

The probe: echo steps each repeating the previous output twice doubled it per step (22 steps: a 33 MB instance).
"""

from __future__ import annotations

import itertools
from typing import Any

import orjson
import pytest
from datadog_api_client import ApiClient
from datadog_api_client.v2.api.workflow_automation_api import WorkflowAutomationApi
from datadog_api_client.v2.model.workflow_instance_create_request import WorkflowInstanceCreateRequest

from autonomic_lib.sandbox.automation.backend import Automation
from autonomic_lib.sandbox.automation.runner import MAX_RUN_SIZE, MAX_STEP_INPUT, MAX_STEP_OUTPUT, json_size
from autonomic_lib.sandbox.http.routing import MAX_JSON_DEPTH, Address
from autonomic_lib.sandbox.storage.database import open_database
from autonomic_lib.sandbox.storage.documents import DocumentStore
from tests.sandbox.automation.test_runner import create_workflow

T0 = 1_767_225_600.0
ECHO = "com.datadoghq.core.echo"


@pytest.fixture
def automation() -> Automation:
    ticks = itertools.count()
    return Automation(DocumentStore(open_database(None)), lambda: T0 + next(ticks), Address("http://sandbox.test"))


def chain(n: int, value: Any, first: Any = "ab") -> dict[str, Any]:
    """A published API-triggered workflow of echo steps S0..S<n>; step i echoes `value` with {p} -> S<i-1>."""
    def param(i: int) -> Any:
        text = orjson.dumps(value).decode().replace("{p}", f"S{i - 1}")
        return first if i == 0 else orjson.loads(text)
    steps = [{"name": f"S{i}", "actionId": ECHO, "parameters": [{"name": "value", "value": param(i)}],
              "outboundEdges": [{"nextStepName": f"S{i + 1}", "branchName": "main"}] if i < n else []}
             for i in range(n + 1)]
    return {"name": "chain", "published": True,
            "spec": {"triggers": [{"apiTrigger": {}, "startStepNames": ["S0"]}], "steps": steps}}


def run(automation: Automation, attributes: dict[str, Any], payload: dict[str, Any] | None = None
        ) -> dict[str, Any]:
    workflow = automation.create_workflow(attributes=attributes)
    doc = automation.start_instance(workflow["id"], payload=payload or {})
    return automation.get_instance(workflow["id"], doc["id"])["attributes"]


@pytest.mark.timeout(20)
def test_output_doubling_at_every_step_fails_the_instance_at_the_step_bound(automation: Automation) -> None:
    attrs = run(automation, chain(22, "{{ Steps.{p}.value }}{{ Steps.{p}.value }}"))
    assert attrs["instanceStatus"] == {"detailsKind": "FAILED", "displayName": "Failed"}
    failure = attrs["failure"]
    assert failure["stepName"] == "S19" and f"at most {MAX_STEP_INPUT}" in failure["reason"]
    assert "15 MB" in failure["reason"]  # Datadog's own, for comparison
    assert attrs["stepStateAssociations"][-1] == {"stepName": "S19", "stepState": "FAILED"}
    assert len(orjson.dumps(attrs)) < MAX_RUN_SIZE


@pytest.mark.timeout(20)
def test_shared_parts_doubling_is_measured_without_being_expanded(automation: Automation) -> None:
    """Each step lists the previous output twice by reference: memory grows by a step, the JSON doubles."""
    attrs = run(automation, chain(60, ["{{ Steps.{p}.value }}", "{{ Steps.{p}.value }}"], first="x" * 100))
    assert attrs["instanceStatus"]["detailsKind"] == "FAILED"
    assert "characters of JSON" in attrs["failure"]["reason"]


@pytest.mark.timeout(20)
def test_a_template_repeating_a_reference_stops_rendering_at_the_bound(automation: Automation) -> None:
    attrs = run(automation, chain(1, "{{ Steps.{p}.value }}" * 5000, first="y" * 1000))
    assert attrs["failure"]["stepName"] == "S1"
    assert f"render to more than {MAX_STEP_INPUT} characters" in attrs["failure"]["reason"]
    assert "inputs" not in attrs["steps"][-1]


@pytest.mark.timeout(20)
def test_nesting_that_grows_at_every_step_stops_at_the_depth_bound(automation: Automation) -> None:
    """Past 255 levels the instance could not even be stored (a 500): orjson writes no deeper."""
    attrs = run(automation, chain(300, ["{{ Steps.{p}.value }}"]))
    assert attrs["instanceStatus"]["detailsKind"] == "FAILED"
    assert f"more than {MAX_JSON_DEPTH} levels" in attrs["failure"]["reason"]


@pytest.mark.timeout(20)
def test_a_run_past_its_size_fails_at_the_step_that_passes_it(automation: Automation) -> None:
    big = "z" * (MAX_STEP_OUTPUT // 2 - 100)  # each step: an input and an output of about half the step bound
    attrs = run(automation, chain(10, "{{ Trigger.big }}", first="{{ Trigger.big }}"), payload={"big": big})
    failure = attrs["failure"]
    assert failure["stepName"] == "S4" and f"at most {MAX_RUN_SIZE} per run" in failure["reason"]
    assert [s["stepState"] for s in attrs["stepStateAssociations"]] == ["SUCCEEDED"] * 4 + ["FAILED"]
    assert "inputs" not in attrs["steps"][-1] and len(orjson.dumps(attrs)) < MAX_RUN_SIZE + 2 * len(big)


def test_a_run_within_its_bounds_succeeds(automation: Automation) -> None:
    attrs = run(automation, chain(8, "{{ Steps.{p}.value }}{{ Steps.{p}.value }}"))
    assert attrs["instanceStatus"]["detailsKind"] == "SUCCEEDED"
    assert attrs["steps"][-1]["outputs"] == {"value": "ab" * 256}


@pytest.mark.parametrize("value", ["", "é", 12, 1.5, True, None, [], {}, [1, "a", {"k": None}],
                                   {"a": [1, 2, {"b": "c"}], "d": ""}])
def test_json_size_counts_json_characters_escapes_aside(value: Any) -> None:
    assert json_size(value, 10_000, "output") == len(orjson.dumps(value).decode())


def test_the_client_sees_the_failed_instance_and_its_reason(api_client: ApiClient) -> None:
    api = WorkflowAutomationApi(api_client)
    workflow_id = create_workflow(api_client, chain(22, "{{ Steps.{p}.value }}{{ Steps.{p}.value }}"))
    created = api.create_workflow_instance(workflow_id, WorkflowInstanceCreateRequest())
    attrs = api.get_workflow_instance(workflow_id, created.data.id).data.attributes.to_dict()
    assert attrs["instanceStatus"]["detailsKind"] == "FAILED"
    assert "S19" in attrs["failure"]["reason"] and f"at most {MAX_STEP_INPUT}" in attrs["failure"]["reason"]
