"""The automation backend without HTTP: workflow listing rules, instances, rate limits, notifications, case search."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.automation.backend import Automation
from autonomic_lib.sandbox.http.identity import SANDBOX_USER_UUID
from autonomic_lib.sandbox.http.routing import Address
from autonomic_lib.sandbox.storage.database import open_database
from autonomic_lib.sandbox.storage.documents import DocumentStore

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
NOOP = [{"name": "N", "actionId": "com.datadoghq.core.noop", "parameters": []}]


@pytest.fixture
def automation() -> Automation:
    """A backend over an in-memory store, its clock one second further at each reading (distinct timestamps)."""
    ticks = itertools.count()
    return Automation(DocumentStore(open_database(None)), lambda: T0 + next(ticks), Address("http://sandbox.test"))


def attributes(name: str, *, published: bool = True, tags: list[str] | None = None, handle: str | None = None,
               trigger: str = "apiTrigger", rate_limit: dict[str, Any] | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {"rateLimit": rate_limit} if rate_limit else {}
    spec: dict[str, Any] = {"triggers": [{trigger: config, "startStepNames": ["N"]}], "steps": NOOP}
    if handle:
        spec["handle"] = handle
    return {"name": name, "published": published, "tags": tags or [], "spec": spec}


def names(items: list[dict[str, Any]]) -> list[str]:
    return [w["attributes"]["name"] for w in items]


# ---------------------------------------------------------------------------------------------------- workflows
def test_list_workflows_hides_drafts_unless_asked_and_counts_before_and_after_filtering(
        automation: Automation) -> None:
    for name, published in (("live", True), ("draft", False), ("other", True)):
        automation.create_workflow(attributes=attributes(name, published=published))
    page = automation.list_workflows()
    assert names(page.items) == ["live", "other"] and (page.total, page.filtered) == (3, 2)
    assert names(automation.list_workflows(include_unpublished=True).items) == ["live", "draft", "other"]


@pytest.mark.parametrize("query, expected", [
    ("team:ops", ["Restart"]),  # key:value is a whole tag, any case
    ("TEAM:OPS", ["Restart"]),
    ("team:op", []),
    ("  restart ", ["Restart"]),  # other text: in the name ...
    ("page-me", ["Page"]),  # ... or the handle ...
    ("autonomic sandbox", ["Restart", "Page"]),  # ... or the owner's name (everyone's)
])
def test_list_workflows_query_matches_tags_names_handles_and_owner(automation: Automation, query: str,
                                                                   expected: list[str]) -> None:
    automation.create_workflow(attributes=attributes("Restart", tags=["team:ops"]))
    automation.create_workflow(attributes=attributes("Page", handle="page-me", trigger="monitorTrigger"))
    assert names(automation.list_workflows(query=query).items) == expected


def test_list_workflows_filters_by_trigger_kind(automation: Automation) -> None:
    automation.create_workflow(attributes=attributes("by api"))
    automation.create_workflow(attributes=attributes("by monitor", trigger="monitorTrigger"))
    assert names(automation.list_workflows(trigger_kinds=["monitor"]).items) == ["by monitor"]
    assert names(automation.list_workflows(trigger_kinds=["schedule", "api"]).items) == ["by api"]


def test_list_workflows_sorts_with_the_first_field_primary(automation: Automation) -> None:
    for name in ("b", "A", "c", "a"):
        automation.create_workflow(attributes=attributes(name))
    assert names(automation.list_workflows(sort=["name"]).items) == ["A", "a", "b", "c"]  # case-blind, stable
    assert names(automation.list_workflows(sort=["-name"]).items) == ["c", "b", "A", "a"]
    assert names(automation.list_workflows(sort=["name", "-createdAt"]).items) == ["a", "A", "b", "c"]


def test_list_workflows_refuses_an_unknown_sort_field_naming_the_known_ones(automation: Automation) -> None:
    with pytest.raises(IntakeError) as err:
        automation.list_workflows(sort=["name", "-popularity"])
    assert err.value.status == 400 and "'-popularity'" in str(err.value) and "lastExecutedAt" in str(err.value)


def test_list_workflows_pages_after_filtering(automation: Automation) -> None:
    for i in range(5):
        automation.create_workflow(attributes=attributes(f"w{i}", published=i != 2))
    pages = [automation.list_workflows(limit=2, page=n) for n in range(3)]
    assert [names(p.items) for p in pages] == [["w0", "w1"], ["w3", "w4"], []]
    assert {(p.total, p.filtered) for p in pages} == {(5, 4)}


def test_workflow_handles_stay_unique_but_an_update_keeps_its_own(automation: Automation) -> None:
    first = automation.create_workflow(attributes=attributes("first", handle="fix", trigger="monitorTrigger"))
    with pytest.raises(IntakeError, match=f"already the handle of workflow {first['id']}"):
        automation.create_workflow(attributes=attributes("second", handle="fix"))
    updated = automation.update_workflow(first["id"], changes={"description": "still mine"})
    assert updated["attributes"]["spec"]["handle"] == "fix"
    assert updated["attributes"]["updatedAt"] > updated["attributes"]["createdAt"]
    assert automation.workflow_by_handle("fix") == updated and automation.workflow_by_handle("nope") is None


def test_new_workflows_default_their_optional_attributes_and_belong_to_the_sandbox_user(
        automation: Automation) -> None:
    doc = automation.create_workflow(attributes={"name": "bare", "tags": ["z:1", "a:1"],
                                                 "spec": attributes("x")["spec"]})
    assert doc["attributes"]["description"] == "" and doc["attributes"]["published"] is False
    assert doc["attributes"]["tags"] == ["a:1", "z:1"]
    assert doc["relationships"]["owner"] == {"data": {"id": SANDBOX_USER_UUID, "type": "users"}}


def test_unknown_or_deleted_workflows_are_404(automation: Automation) -> None:
    doc = automation.create_workflow(attributes=attributes("gone"))
    automation.delete_workflow(doc["id"])
    for call in (lambda: automation.get_workflow(doc["id"]), lambda: automation.delete_workflow(doc["id"]),
                 lambda: automation.list_instances(doc["id"]),
                 lambda: automation.start_instance(doc["id"], payload={})):
        with pytest.raises(IntakeError) as err:
            call()
        assert err.value.status == 404 and str(err.value) == "workflow not found"


# ---------------------------------------------------------------------------------------------------- instances
def test_an_api_run_is_the_sandbox_users_at_the_sandbox_clock(automation: Automation) -> None:
    workflow = automation.create_workflow(attributes=attributes("run me"))
    instance = automation.start_instance(workflow["id"], payload={"x": 1})
    attrs = instance["attributes"]
    assert attrs["instanceStatus"]["detailsKind"] == "SUCCEEDED" and attrs["trigger"] == {"x": 1}
    assert attrs["source"]["api"]["actingUser"]["userUuid"] == SANDBOX_USER_UUID
    assert attrs["sourceForTemplating"]["initiator"]["id"] == SANDBOX_USER_UUID
    assert automation.get_instance(workflow["id"], instance["id"]) == instance


def test_list_instances_is_newest_first_paged_and_counts_outcomes(automation: Automation) -> None:
    workflow = automation.create_workflow(attributes=attributes("paged"))
    ids = [automation.start_instance(workflow["id"], payload={}, at=T0 + t)["id"] for t in (30, 10, 20)]
    first, second = (automation.list_instances(workflow["id"], page_size=2, page_number=n) for n in (0, 1))
    assert [i["id"] for i in first.items + second.items] == [ids[0], ids[2], ids[1]]
    assert first.total == second.total == 3 and first.outcomes == {"SUCCEEDED": 3}


def test_an_instance_of_another_workflow_is_404_and_a_finished_one_cannot_be_canceled(
        automation: Automation) -> None:
    mine, other = (automation.create_workflow(attributes=attributes(n)) for n in ("mine", "other"))
    instance = automation.start_instance(mine["id"], payload={})
    with pytest.raises(IntakeError, match="instance not found"):
        automation.get_instance(other["id"], instance["id"])
    with pytest.raises(IntakeError, match=r"already finished \(Succeeded\)") as err:
        automation.cancel_instance(mine["id"], instance["id"])
    assert err.value.status == 400


def test_rate_limit_counts_monitor_runs_in_the_trailing_window(automation: Automation) -> None:
    workflow = automation.create_workflow(attributes=attributes(
        "limited", trigger="monitorTrigger", rate_limit={"count": 2, "interval": "600s"}))
    source: dict[str, Any] = {"type": "monitor", "monitor": {"id": 1}}
    automation.start_instance(workflow["id"], payload={}, at=T0)  # API runs do not count
    for at in (T0 + 100, T0 + 200):
        assert automation.rate_limited(workflow["id"], at=at) is None
        automation.start_instance(workflow["id"], payload={}, kind="monitor", source=source, at=at)
    reason = automation.rate_limited(workflow["id"], at=T0 + 300)
    assert reason is not None and "allows 2 run(s) per 600s and 2 already ran" in reason
    assert automation.rate_limited(workflow["id"], at=T0 + 700) is None  # the first run left the window


# ---------------------------------------------------------------------------------------------------- notifications
def test_notifications_get_new_ids_first_and_filter_by_monitor(automation: Automation) -> None:
    for monitor_id in (7, 8, 7):
        automation.record_notification({"monitor_id": monitor_id, "title": f"m{monitor_id}"}, at=T0)
    listed = automation.list_notifications()
    assert [(n["id"], n["monitor_id"]) for n in listed] == [(1, 7), (2, 8), (3, 7)]
    assert list(listed[0]) == ["id", "monitor_id", "title"]
    assert [n["id"] for n in automation.list_notifications(monitor_id="7")] == [1, 3]
    assert automation.list_notifications(monitor_id=7) == automation.list_notifications(monitor_id="7")
    assert len(automation.list_notifications(monitor_id="")) == 3


# ---------------------------------------------------------------------------------------------------- cases
def open_cases(automation: Automation, titles_and_priorities: list[tuple[str, str]]) -> str:
    project = automation.cases.create_project(attributes={"key": "AUTO", "name": "Autonomic"})
    for i, (title, priority) in enumerate(titles_and_priorities):
        automation.cases.create_case(data={"type": "case", "attributes": {"title": title, "priority": priority,
                                                                           "type": "STANDARD"},
                                           "relationships": {"project": {"data": {"id": project["id"]}}}},
                                     now=T0 + i)
    return str(project["id"])


def test_case_search_pages_report_current_page_its_size_and_page_count(automation: Automation) -> None:
    open_cases(automation, [(f"case {i}", "P3") for i in range(5)])
    pages = [automation.cases.search(page_size=2, page_number=n) for n in (1, 2, 3, 4)]
    assert [[c["attributes"]["title"] for c in p["data"]] for p in pages] == [
        ["case 4", "case 3"], ["case 2", "case 1"], ["case 0"], []]  # newest first by default
    assert [p["meta"]["page"] for p in pages] == [{"current": n, "size": s, "total": 3}
                                                  for n, s in ((1, 2), (2, 2), (3, 1), (4, 0))]
    assert {p["meta"]["total_cases"] for p in pages} == {5}
    assert automation.cases.search(page_size=2, page_number=0)["meta"]["page"]["current"] == 1


@pytest.mark.parametrize("kwargs, message", [
    ({"page_size": 0}, "page[size]: must be between 1 and 100"),
    ({"page_size": 101}, "page[size]: must be between 1 and 100"),
    ({"sort_field": "title"}, "sort[field]: 'title' is not one of created_at, priority, status"),
])
def test_case_search_refuses_bad_paging_and_sorting(automation: Automation, kwargs: dict[str, Any],
                                                    message: str) -> None:
    with pytest.raises(IntakeError, match=message.replace("[", r"\[").replace("]", r"\]")):
        automation.cases.search(**kwargs)


def test_case_search_filters_and_sorts_by_priority(automation: Automation) -> None:
    project_id = open_cases(automation, [("disk full", "P2"), ("cpu hot", "P1"), ("disk slow", "P3")])
    by_priority = automation.cases.search(sort_field="priority", ascending=True)["data"]
    assert [c["attributes"]["key"] for c in by_priority] == ["AUTO-2", "AUTO-1", "AUTO-3"]
    assert [c["attributes"]["title"] for c in automation.cases.search(query="disk priority:p3")["data"]] == [
        "disk slow"]
    assert automation.cases.search(query=f"project:{project_id}")["meta"]["total_cases"] == 3
    assert automation.cases.search(query="project:OTHER")["data"] == []


def test_archived_cases_leave_the_search_until_asked_for(automation: Automation) -> None:
    open_cases(automation, [("old", "P4"), ("new", "P4")])
    automation.cases.update_case("AUTO-1", now=T0 + 10, archived=True)
    assert [c["attributes"]["title"] for c in automation.cases.search()["data"]] == ["new"]
    assert [c["attributes"]["title"] for c in automation.cases.search(query="archived:true")["data"]] == ["old"]


def test_comments_are_counted_and_form_the_timeline(automation: Automation) -> None:
    open_cases(automation, [("noisy", "P4")])
    cell = automation.cases.add_comment("AUTO-1", message="first", now=T0 + 5)
    assert cell["attributes"]["author"]["content"]["id"] == SANDBOX_USER_UUID
    assert automation.cases.get_case("AUTO-1")["attributes"]["comment_count"] == 1
    assert automation.cases.timeline("AUTO-1") == [cell]
    with pytest.raises(IntakeError, match="a comment needs text"):
        automation.cases.add_comment("AUTO-1", message=" ", now=T0)


def test_a_project_is_found_by_its_monitor_handle_in_any_case(automation: Automation) -> None:
    open_cases(automation, [])
    assert automation.cases.project_by_handle("AUTO") == automation.cases.list_projects()[0]
    assert automation.cases.project_by_handle("other") is None
