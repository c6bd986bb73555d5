"""Dashboard lists: v1's manual lists (`/api/v1/dashboard/lists/manual`) and v2's items in them.

Shapes from the client 2.62.0's models (v1 `DashboardList`, `DashboardListListResponse`,
`DashboardListDeleteResponse`; v2 `DashboardListItems`, `DashboardListItem`, `DashboardListItemRequest`,
`DashboardListAdd/Delete/UpdateItemsRequest` and their responses) and the recorded cassette
`test_add_custom_timeboard_dashboard_to_an_existing_dashboard_list_returns_ok_response` (a list's
`type: manual_dashboard_list`, `dashboards: null`; an added item `{"id", "type"}`).

A list keeps its items as `{id, type}`; a dashboard deleted since is left out of what the list shows and counts.
The sandbox's dashboards are custom ones: an ordered layout is a `custom_timeboard`, a free one a
`custom_screenboard`; an item naming another type, or a dashboard the sandbox does not have, is refused (nothing of
the request is applied).
"""

from __future__ import annotations

from typing import Any

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.http.params import shorten

DASHBOARD_TYPES = ("custom_timeboard", "custom_screenboard", "integration_screenboard", "integration_timeboard",
                   "host_timeboard")
MAX_NAME = 200  # sandbox bound (Datadog documents none)
MAX_ITEMS = 1000  # sandbox bound on the dashboards of one request


def dashboard_type(dashboard: dict[str, Any]) -> str:
    return "custom_timeboard" if dashboard.get("layout_type") == "ordered" else "custom_screenboard"


def checked_name(body: Any) -> str:
    """The `name` of a v1 DashboardList body (the other fields are read-only); a 400 naming it otherwise."""
    if not isinstance(body, dict):
        raise IntakeError(400, "The request body must be a DashboardList object")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise IntakeError(400, f"'name' is required: a non-empty string of at most {MAX_NAME} characters, got "
                               f"{shorten(name)}")
    return name


def checked_items(body: Any) -> list[dict[str, str]]:
    """The `dashboards` of a v2 items request, each `{id, type}`, duplicates dropped; a 400 naming the item."""
    if not isinstance(body, dict):
        raise IntakeError(400, "The request body must be an object with 'dashboards'")
    items = body.get("dashboards", [])
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        raise IntakeError(400, f"'dashboards' must be an array of at most {MAX_ITEMS} dashboards")
    seen: dict[str, dict[str, str]] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) \
                or not isinstance(item.get("type"), str) or item["type"] not in DASHBOARD_TYPES:
            raise IntakeError(400, f"dashboards[{i}] must have a string 'id' and a 'type' among "
                                   f"{', '.join(DASHBOARD_TYPES)}")
        seen.setdefault(item["id"], {"id": item["id"], "type": item["type"]})
    return list(seen.values())


def list_json(doc: dict[str, Any], count: int, author: dict[str, Any]) -> dict[str, Any]:
    """A v1 DashboardList as recorded."""
    return {"id": doc["id"], "name": doc["name"], "type": "manual_dashboard_list", "is_favorite": False,
            "dashboard_count": count, "dashboards": None, "created": doc["created"], "modified": doc["modified"],
            "author": {"handle": author["handle"], "name": author["name"]}}


def item_json(dashboard: dict[str, Any], author: dict[str, Any]) -> dict[str, Any]:
    """A v2 DashboardListItem: the dashboard as a list shows it."""
    return {"id": dashboard["id"], "type": dashboard_type(dashboard), "title": dashboard["title"],
            "url": dashboard["url"], "created": dashboard["created_at"], "modified": dashboard["modified_at"],
            "is_read_only": bool(dashboard.get("is_read_only")), "is_favorite": False, "is_shared": False,
            "popularity": 0, "icon": None, "integration_id": None, "tags": dashboard.get("tags") or None,
            "author": {"handle": author["handle"], "name": author["name"]}}
