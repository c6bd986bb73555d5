"""v2 events without HTTP: the body check, both ids of one event, and the search over the one events stream."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.logs.backend import Logs
from autonomic_lib.sandbox.logs.events_v2 import event_fields, event_json, event_key, event_uid, uid_key
from autonomic_lib.sandbox.storage.database import open_database
from autonomic_lib.sandbox.storage.documents import DocumentStore

T0 = 1_767_225_600  # 2026-01-01 00:00 UTC

CHANGE: dict[str, Any] = {"data": {"type": "event", "attributes": {
    "title": "flag updated", "message": "rollout to 50%", "category": "change", "tags": ["env:demo"],
    "host": "web-1", "aggregation_key": "flag-1", "integration_id": "custom-events",
    "attributes": {"changed_resource": {"name": "fallback", "type": "feature_flag"},
                   "author": {"name": "me@example.com", "type": "user"},
                   "impacted_resources": [{"name": "payments", "type": "service"}],
                   "new_value": {"percentage": "50%"}, "prev_value": {"percentage": "10%"}}}}}
ALERT: dict[str, Any] = {"data": {"type": "event", "attributes": {
    "title": "refiner gave up", "category": "alert", "attributes": {
        "status": "error", "priority": "2", "links": [{"category": "runbook", "url": "https://example.com/rb"}]}}}}


@pytest.fixture
def logs() -> Logs:
    return Logs(DocumentStore(open_database(None)), clock=lambda: float(T0))


def with_attrs(body: dict[str, Any], **attrs: Any) -> dict[str, Any]:
    body = copy.deepcopy(body)
    body["data"]["attributes"].update(attrs)
    return body


def test_a_change_event_is_stored_as_a_v1_info_event_keeping_its_category_attributes(logs: Logs) -> None:
    event = logs.add_event(**event_fields(CHANGE, T0))
    assert (event["title"], event["text"], event["alert_type"], event["host"]) == (
        "flag updated", "rollout to 50%", "info", "web-1")
    assert event["v2"]["category"] == "change" and event["date_happened"] == T0
    shown = event_json(logs.get_event(event["id"]))
    inner = shown["attributes"]["attributes"]
    assert inner["changed_resource"] == {"name": "fallback", "type": "feature_flag"}
    assert inner["evt"] == {"id": str(event["id"]), "uid": shown["id"], "integration_id": "custom-events"}
    assert (inner["hostname"], inner["aggregation_key"], shown["attributes"]["message"]) == (
        "web-1", "flag-1", "rollout to 50%")


def test_an_alert_events_status_is_its_v1_alert_type(logs: Logs) -> None:
    assert event_fields(ALERT, T0)["alert_type"] == "error"
    assert event_fields(with_attrs(ALERT, attributes={"status": "ok"}), T0)["alert_type"] == "success"


def test_the_uid_encodes_the_time_and_v1_id_and_finds_the_event(logs: Logs) -> None:
    event = logs.add_event(title="t", text="x", date_happened=T0 - 5, tags=[])
    uid = event_uid(event)
    assert uid_key(uid) == event_key(event) == (T0 - 5, event["id"])
    assert logs.event_by_uid(uid) == event
    forged = event_uid({**event, "date_happened": T0})  # the right v1 id at another time
    assert logs.event_by_uid(forged) is None and logs.event_by_uid("not-a-uid!") is None
    assert uid_key(str(event["id"])) is None


@pytest.mark.parametrize(("body", "named"), [
    ({"data": {"type": "events", "attributes": {}}}, "data.type"),
    (with_attrs(CHANGE, title=""), "data.attributes.title"),
    (with_attrs(CHANGE, title="x" * 501), "data.attributes.title"),
    (with_attrs(CHANGE, category="deploy"), "data.attributes.category"),
    (with_attrs(CHANGE, attributes={}), "changed_resource"),
    (with_attrs(ALERT, attributes={"status": "critical"}), "status"),
    (with_attrs(ALERT, attributes={"status": "ok", "links": [{"category": "x", "url": "u"}] }), "links[0]"),
    (with_attrs(CHANGE, message="m" * 4001), "data.attributes.message"),
    (with_attrs(CHANGE, tags=["t"] * 101), "data.attributes.tags"),
    (with_attrs(CHANGE, timestamp="yesterday"), "data.attributes.timestamp"),
    (with_attrs(CHANGE, timestamp="2025-12-30T00:00:00Z"), "18 hours"),
    (with_attrs(CHANGE, integration_id="jenkins"), "integration_id"),
    (with_attrs(CHANGE, host=7), "data.attributes.host"),
])
def test_a_bad_body_is_a_400_naming_the_field(body: dict[str, Any], named: str) -> None:
    with pytest.raises(IntakeError) as exc:
        event_fields(body, T0)
    assert exc.value.status == 400 and named in str(exc.value)


def test_a_timestamp_sets_when_the_event_happened() -> None:
    fields = event_fields(with_attrs(CHANGE, timestamp="2025-12-31T23:00:00.250Z"), T0)
    assert fields["date_happened"] == T0 - 3600


def test_the_search_sees_v1_and_v2_events_by_text_tag_and_attribute_and_pages(logs: Logs) -> None:
    v1 = logs.add_event(title="Deployed chatbot v2", text="accepted fix", date_happened=T0 - 60, tags=["env:demo"],
                        source_type_name="autonomic")
    v2 = logs.add_event(**event_fields(CHANGE, T0))
    alert = logs.add_event(**event_fields(ALERT, T0))
    search = lambda query, **kw: [e["id"] for e in logs.search_events(  # noqa: E731
        query=query, start_ms=(T0 - 900) * 1000, end_ms=T0 * 1000, newest_first=False, limit=10, **kw)[0]]
    assert search(None) == [v1["id"], v2["id"], alert["id"]]
    assert search("deployed") == [v1["id"]] and search("source:autonomic") == [v1["id"]]
    assert search("env:demo") == [v1["id"], v2["id"]] and search("status:error") == [alert["id"]]
    assert search("@changed_resource.name:fallback") == [v2["id"]]
    page, more = logs.search_events(query=None, start_ms=0, end_ms=T0 * 1000, newest_first=True, limit=2)
    assert [e["id"] for e in page] == [alert["id"], v2["id"]] and more
    rest, more = logs.search_events(query=None, start_ms=0, end_ms=T0 * 1000, newest_first=True, limit=2,
                                    after=event_key(page[-1]))
    assert [e["id"] for e in rest] == [v1["id"]] and not more
