"""Dashboard lists: the backend on its own, then v1 lists and v2 items through the official client."""

from __future__ import annotations

from typing import Any

import pytest
from datadog_api_client import ApiClient
from datadog_api_client.exceptions import NotFoundException
from datadog_api_client.v1.api.dashboard_lists_api import DashboardListsApi as ListsV1
from datadog_api_client.v1.api.dashboards_api import DashboardsApi
from datadog_api_client.v1.model.dashboard import Dashboard
from datadog_api_client.v1.model.dashboard_layout_type import DashboardLayoutType
from datadog_api_client.v1.model.dashboard_list import DashboardList
from datadog_api_client.v2.api.dashboard_lists_api import DashboardListsApi
from datadog_api_client.v2.model.dashboard_list_add_items_request import DashboardListAddItemsRequest
from datadog_api_client.v2.model.dashboard_list_delete_items_request import DashboardListDeleteItemsRequest
from datadog_api_client.v2.model.dashboard_list_item_request import DashboardListItemRequest
from datadog_api_client.v2.model.dashboard_list_update_items_request import DashboardListUpdateItemsRequest
from datadog_api_client.v2.model.dashboard_type import DashboardType

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.dashboards.backend import Dashboards
from autonomic_lib.sandbox.server import SandboxServer

from tests.conftest import raw, unique
from tests.sandbox.dashboards.test_backend import dashboards  # noqa: F401  (the backend fixture)

TIMEBOARD = {"title": "ops", "layout_type": "ordered", "widgets": []}
SCREENBOARD = {"title": "wall", "layout_type": "free", "widgets": []}


def item(dashboard: dict[str, Any], kind: str | None = None) -> dict[str, str]:
    return {"id": dashboard["id"], "type": kind or ("custom_timeboard" if dashboard["layout_type"] == "ordered"
                                                    else "custom_screenboard")}


def test_a_list_holds_its_dashboards_and_forgets_deleted_ones(dashboards: Dashboards) -> None:  # noqa: F811
    ops, wall = dashboards.create_dashboard(body=TIMEBOARD), dashboards.create_dashboard(body=SCREENBOARD)
    created = dashboards.create_list(body={"name": "Demo"})
    list_id = str(created["id"])
    assert (created["dashboard_count"], created["type"]) == (0, "manual_dashboard_list")
    added = dashboards.change_items(list_id, body={"dashboards": [item(ops), item(wall), item(ops)]}, how="add")
    assert added == [item(ops), item(wall)]
    assert [(i["id"], i["type"], i["title"]) for i in dashboards.list_items(list_id)] == [
        (ops["id"], "custom_timeboard", "ops"), (wall["id"], "custom_screenboard", "wall")]
    dashboards.delete_dashboard(wall["id"])
    assert dashboards.get_list(list_id)["dashboard_count"] == 1
    assert dashboards.change_items(list_id, body={"dashboards": [item(ops)]}, how="delete") == [item(ops)]
    assert dashboards.list_items(list_id) == []
    assert dashboards.rename_list(list_id, body={"name": "Renamed"})["name"] == "Renamed"
    assert dashboards.delete_list(list_id) == created["id"]
    with pytest.raises(IntakeError) as exc:
        dashboards.get_list(list_id)
    assert exc.value.status == 404


def test_replacing_the_items_keeps_only_those_given(dashboards: Dashboards) -> None:  # noqa: F811
    a, b = dashboards.create_dashboard(body=TIMEBOARD), dashboards.create_dashboard(body=TIMEBOARD)
    list_id = str(dashboards.create_list(body={"name": "L"})["id"])
    dashboards.change_items(list_id, body={"dashboards": [item(a)]}, how="add")
    assert dashboards.change_items(list_id, body={"dashboards": [item(b)]}, how="update") == [item(b)]
    assert [i["id"] for i in dashboards.list_items(list_id)] == [b["id"]]


@pytest.mark.parametrize(("body", "status", "named"), [
    ({"dashboards": [{"id": "nop-nop-nop", "type": "custom_timeboard"}]}, 404, "nop-nop-nop"),
    ({"dashboards": [{"id": "x", "type": "notebook"}]}, 400, "dashboards[0]"),
    ({"dashboards": "all"}, 400, "'dashboards'"),
])
def test_a_bad_item_changes_nothing(dashboards: Dashboards, body: Any, status: int,  # noqa: F811
                                    named: str) -> None:
    ops = dashboards.create_dashboard(body=TIMEBOARD)
    list_id = str(dashboards.create_list(body={"name": "L"})["id"])
    dashboards.change_items(list_id, body={"dashboards": [item(ops)]}, how="add")
    for how in ("add", "update"):
        with pytest.raises(IntakeError) as exc:
            dashboards.change_items(list_id, body=body, how=how)
        assert exc.value.status == status and named in str(exc.value)
    wrong_type = {"dashboards": [item(ops, "custom_screenboard")]}
    with pytest.raises(IntakeError, match="dashboards\\[0\\].type"):
        dashboards.change_items(list_id, body=wrong_type, how="add")
    assert [i["id"] for i in dashboards.list_items(list_id)] == [ops["id"]]


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": 3}, [], {"name": "x" * 201}])
def test_a_list_needs_a_name(dashboards: Dashboards, body: Any) -> None:  # noqa: F811
    with pytest.raises(IntakeError, match="'name'|DashboardList object"):
        dashboards.create_list(body=body)


# ------------------------------------------------------------------------------------------ through the client
def test_lists_and_items_round_trip_through_the_client(api_client: ApiClient) -> None:
    dashboard = DashboardsApi(api_client).create_dashboard(body=Dashboard(
        title=unique("Listed"), widgets=[], layout_type=DashboardLayoutType.ORDERED))
    v1, v2 = ListsV1(api_client), DashboardListsApi(api_client)
    created = v1.create_dashboard_list(body=DashboardList(name=unique("List")))
    assert created.dashboard_count == 0 and created.type == "manual_dashboard_list"
    entry = DashboardListItemRequest(id=dashboard.id, type=DashboardType.CUSTOM_TIMEBOARD)
    added = v2.create_dashboard_list_items(created.id, body=DashboardListAddItemsRequest(dashboards=[entry]))
    assert [(d.id, d.type.value) for d in added.added_dashboards_to_list] == [(dashboard.id, "custom_timeboard")]
    items = v2.get_dashboard_list_items(created.id)
    assert items.total == 1 and items.dashboards[0].title == dashboard.title
    assert v1.get_dashboard_list(created.id).dashboard_count == 1
    assert created.id in [d.id for d in v1.list_dashboard_lists().dashboard_lists]
    replaced = v2.update_dashboard_list_items(created.id, body=DashboardListUpdateItemsRequest(dashboards=[]))
    assert replaced.dashboards == []
    v2.create_dashboard_list_items(created.id, body=DashboardListAddItemsRequest(dashboards=[entry]))
    deleted = v2.delete_dashboard_list_items(created.id, body=DashboardListDeleteItemsRequest(dashboards=[entry]))
    assert [d.id for d in deleted.deleted_dashboards_from_list] == [dashboard.id]
    assert v1.update_dashboard_list(created.id, body=DashboardList(name="renamed")).name == "renamed"
    assert v1.delete_dashboard_list(created.id).deleted_dashboard_list_id == created.id
    with pytest.raises(NotFoundException):
        v1.get_dashboard_list(created.id)
    with pytest.raises(NotFoundException):
        v2.get_dashboard_list_items(created.id)


def test_an_unknown_list_is_a_404_before_the_body_is_read(session_sandbox: SandboxServer) -> None:
    for method, path in (("PUT", "/api/v1/dashboard/lists/manual/999999"),
                         ("POST", "/api/v2/dashboard/lists/manual/999999/dashboards"),
                         ("GET", "/api/v1/dashboard/lists/manual/abc")):
        status, answer = raw(session_sandbox, method, path, None if method == "GET" else "not an object")
        assert status == 404 and "Dashboard list" in answer["errors"][0]
