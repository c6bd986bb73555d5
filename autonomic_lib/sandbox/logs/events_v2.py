"""Events as the v2 API takes and shows them: one stream with v1's, each event under both its ids.

Sources: the client 2.62.0's models (`EventCreateRequestPayload`, `EventPayload`, `ChangeEventCustomAttributes`,
`AlertEventCustomAttributes`; `EventCreateResponsePayload`; `EventsListRequest`, `EventsListResponse`,
`EventResponse`, `EventAttributes`; `V2EventResponse`) and its recorded cassettes (`test_post_an_event_returns_ok_
response`: 202, `{"data": {"attributes": {"attributes": {"evt": {"id", "uid"}}}, "id": "_", "type": "event"},
"links": {"self"}}`; `test_search_events_returns_ok_response_with_pagination`: `meta.page.after`, `links.next`, an
empty last page `{"data": []}`).

A v2 event is stored as a v1 event (logs/backend.py's `add_event`): `message` is v1's `text`, its category's
status is v1's `alert_type`, and what only v2 has (category, integration, the category's attributes) is kept
under "v2". So `GET /api/v1/events` lists an event posted to v2, and the v2 reads list one posted to v1 or written
by a monitor. Its v2 id (`uid`) encodes its time and v1 id, as Datadog's opaque ids do, so a cursor is a uid.
Sandbox choice: events keep v1's second precision (`date_happened`), so a v2 timestamp's milliseconds are dropped.
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import Any

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.http.params import iso_time, shorten
from autonomic_lib.sandbox.logs.search import LogView

EventKey = tuple[int, int]  # (date_happened in epoch s, v1 id): the order of events
CATEGORIES = ("change", "alert")
ALERT_STATUSES = {"error": "error", "warn": "warning", "ok": "success"}  # v2 alert status -> v1 alert_type
ALERT_PRIORITIES = ("1", "2", "3", "4", "5")
LINK_CATEGORIES = ("runbook", "documentation", "dashboard", "resource")
# EventPayload's documented bounds (its model's validations)
MAX_TITLE, MAX_MESSAGE, MAX_HOST, MAX_AGGREGATION_KEY, MAX_TAGS, MAX_LINKS, MAX_NAME = 500, 4000, 255, 100, 100, 20, 128
MAX_PAST_S = 18 * 3600  # "Limited to values no older than 18 hours"
_V1_FIELDS = ("host", "aggregation_key", "source_type_name", "priority")


def event_uid(event: dict[str, Any]) -> str:
    """The event's v2 id: a version byte, its time (ms) and its v1 id, base64url like Datadog's ids."""
    raw = b"\x02" + (event["date_happened"] * 1000).to_bytes(8, "big", signed=True) + int(event["id"]).to_bytes(8, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def uid_key(uid: str) -> EventKey | None:
    """The (time, v1 id) a uid encodes; None when `uid` is not one of this sandbox's."""
    try:
        raw = base64.b64decode(uid + "=" * (-len(uid) % 4), altchars=b"-_", validate=True)
    except ValueError:
        return None
    if len(raw) != 17 or raw[0] != 2:
        return None
    return int.from_bytes(raw[1:9], "big", signed=True) // 1000, int.from_bytes(raw[9:], "big")


def event_key(event: dict[str, Any]) -> EventKey:
    return event["date_happened"], int(event["id"])


# ------------------------------------------------------------------------------------------ intake
def event_fields(body: Any, now: int) -> dict[str, Any]:
    """The `add_event` keywords of a POST /api/v2/events body; a 400 naming the field otherwise.

    Checks what 2.62.0's models require and bound: data.type "event"; title (1-500); category change or alert with
    its attributes (change: changed_resource {name, type}; alert: status warn/error/ok, priority "1"-"5", at most
    20 links); message (1-4000), host (1-255), aggregation_key (1-100), at most 100 tags, integration_id
    custom-events, timestamp ISO 8601 and no older than 18 hours.
    """
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or data.get("type") != "event":
        raise IntakeError(400, 'data.type must be "event" (the body is an EventCreateRequestPayload)')
    attrs = data.get("attributes")
    if not isinstance(attrs, dict):
        raise IntakeError(400, "data.attributes is required and must be an object")
    title = _text(attrs, "title", MAX_TITLE, required=True)
    category = attrs.get("category")
    if category not in CATEGORIES:
        raise IntakeError(400, f"data.attributes.category must be one of {', '.join(CATEGORIES)}, got "
                               f"{shorten(category)}")
    custom = attrs.get("attributes")
    if not isinstance(custom, dict):
        raise IntakeError(400, "data.attributes.attributes is required and must be an object (the category's "
                               "attributes)")
    alert_type = _check_change(custom) if category == "change" else _check_alert(custom)
    tags = attrs.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags) or len(tags) > MAX_TAGS:
        raise IntakeError(400, f"data.attributes.tags must be an array of at most {MAX_TAGS} strings")
    if attrs.get("integration_id", "custom-events") != "custom-events":
        raise IntakeError(400, "data.attributes.integration_id must be custom-events")
    fields: dict[str, Any] = {
        "date_happened": _timestamp(attrs.get("timestamp"), now), "title": title,
        "text": _text(attrs, "message", MAX_MESSAGE) or "", "tags": tags, "priority": "normal",
        "alert_type": alert_type,
        "v2": {"category": category, "integration_id": "custom-events", "attributes": custom}}
    for name, bound in (("host", MAX_HOST), ("aggregation_key", MAX_AGGREGATION_KEY)):
        if (value := _text(attrs, name, bound)) is not None:
            fields[name] = value
    return fields


def _text(attrs: dict[str, Any], name: str, bound: int, *, required: bool = False) -> str | None:
    value = attrs.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= bound:
        raise IntakeError(400, f"data.attributes.{name} must be a string of 1 to {bound} characters, got "
                               f"{shorten(value)}")
    return value


def _named(value: Any, where: str) -> None:
    if not isinstance(value, dict) or not isinstance(value.get("type"), str) or not isinstance(value.get("name"), str) \
            or not 1 <= len(value["name"]) <= MAX_NAME:
        raise IntakeError(400, f"{where} must be an object with a string type and a name of 1 to {MAX_NAME} "
                               "characters")


def _check_change(custom: dict[str, Any]) -> str:
    """A change event's attributes (ChangeEventCustomAttributes); v1 shows it as an info event."""
    where = "data.attributes.attributes"
    _named(custom.get("changed_resource"), f"{where}.changed_resource")
    if "author" in custom:
        _named(custom["author"], f"{where}.author")
    impacted = custom.get("impacted_resources", [])
    if not isinstance(impacted, list) or len(impacted) > 100:
        raise IntakeError(400, f"{where}.impacted_resources must be an array of at most 100 resources")
    for i, item in enumerate(impacted):
        _named(item, f"{where}.impacted_resources[{i}]")
    for name in ("change_metadata", "new_value", "prev_value"):
        if name in custom and not isinstance(custom[name], dict):
            raise IntakeError(400, f"{where}.{name} must be an object")
    return "info"


def _check_alert(custom: dict[str, Any]) -> str:
    """An alert event's attributes (AlertEventCustomAttributes); its status is v1's alert_type."""
    where = "data.attributes.attributes"
    status = custom.get("status")
    if not isinstance(status, str) or status not in ALERT_STATUSES:
        raise IntakeError(400, f"{where}.status must be one of {', '.join(ALERT_STATUSES)}, got {shorten(status)}")
    if custom.get("priority") not in (None, *ALERT_PRIORITIES):
        raise IntakeError(400, f"{where}.priority must be one of {', '.join(ALERT_PRIORITIES)}")
    links = custom.get("links", [])
    if not isinstance(links, list) or len(links) > MAX_LINKS:
        raise IntakeError(400, f"{where}.links must be an array of at most {MAX_LINKS} links")
    for i, link in enumerate(links):
        if not isinstance(link, dict) or link.get("category") not in LINK_CATEGORIES \
                or not isinstance(link.get("url"), str) or not 1 <= len(link["url"]) <= 2048:
            raise IntakeError(400, f"{where}.links[{i}] needs a category ({', '.join(LINK_CATEGORIES)}) and a url of "
                                   "1 to 2048 characters")
    if "custom" in custom and not isinstance(custom["custom"], dict):
        raise IntakeError(400, f"{where}.custom must be an object")
    return ALERT_STATUSES[status]


def _timestamp(value: Any, now: int) -> int:
    if value is None:
        return now
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise IntakeError(400, f"data.attributes.timestamp must be ISO 8601 (2017-01-15T01:30:15.010000Z), got "
                               f"{shorten(value)}")
    seconds = int((moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp())
    if seconds < now - MAX_PAST_S:
        raise IntakeError(400, "data.attributes.timestamp is more than 18 hours in the past")
    if seconds > now + 7200:  # sandbox choice: Datadog documents no future bound; v2's own intake window is 2 h
        raise IntakeError(400, "data.attributes.timestamp is more than 2 hours in the future")
    return seconds


# ------------------------------------------------------------------------------------------ rendering
def _status(event: dict[str, Any]) -> str:
    v2 = event.get("v2") or {}
    if v2.get("category") == "alert":
        return str(v2["attributes"]["status"])
    alert_type = str(event.get("alert_type") or "info")
    return alert_type if alert_type != "success" else "ok"


def event_attributes(event: dict[str, Any]) -> dict[str, Any]:
    """The inner `attributes` of an event read back (EventAttributes; a v2 event's category attributes too)."""
    v2 = event.get("v2") or {}
    inner: dict[str, Any] = {**v2.get("attributes", {}), "title": event["title"],
                             "timestamp": event["date_happened"] * 1000, "status": _status(event),
                             "evt": {"id": str(event["id"]), "uid": event_uid(event)}}
    if v2:
        inner["evt"]["integration_id"] = v2["integration_id"]
    for name in _V1_FIELDS:
        if event.get(name) is not None:
            inner["hostname" if name == "host" else name] = event[name]
    return inner


def event_json(event: dict[str, Any]) -> dict[str, Any]:
    """One event of a v2 list, search or get (EventResponse, V2Event)."""
    return {"id": event_uid(event), "type": "event", "attributes": {
        "attributes": event_attributes(event), "message": event["text"], "tags": event["tags"],
        "timestamp": iso_time(event["date_happened"], zulu=True)}}


def created_json(event: dict[str, Any], link: str) -> dict[str, Any]:
    """EventCreateResponsePayload, as recorded (`"id": "_"`); `link` opens the event's page."""
    return {"data": {"id": "_", "type": "event", "attributes": {"attributes": {"evt": {
        "id": str(event["id"]), "uid": event_uid(event)}}}}, "links": {"self": link}}


def search_view(event: dict[str, Any]) -> LogView:
    """The event as the log search matcher sees it: free text over title and message, its tags plus host and
    source, `status`, and `@` attributes over its (category) attributes."""
    tags = list(event.get("tags") or [])
    if event.get("host"):
        tags.append(f"host:{str(event['host']).lower()}")
    if event.get("source_type_name"):
        tags.append(f"source:{str(event['source_type_name']).lower()}")
    return LogView({"message": f"{event['title']}\n{event['text']}", "status": _status(event), "tags": tags,
                    "attributes": event_attributes(event)})
