"""The official client's v2 EventsApi against a real sandbox, type checking on: post, list, search, get; and v1
and v2 seeing one stream of events."""

from __future__ import annotations

import pytest
from datadog_api_client import ApiClient
from datadog_api_client.exceptions import NotFoundException
from datadog_api_client.v1.api.events_api import EventsApi as EventsApiV1
from datadog_api_client.v1.model.event_create_request import EventCreateRequest as V1EventCreateRequest
from datadog_api_client.v2.api.events_api import EventsApi
from datadog_api_client.v2.model.alert_event_custom_attributes import AlertEventCustomAttributes
from datadog_api_client.v2.model.alert_event_custom_attributes_status import AlertEventCustomAttributesStatus
from datadog_api_client.v2.model.change_event_custom_attributes import ChangeEventCustomAttributes
from datadog_api_client.v2.model.change_event_custom_attributes_author import ChangeEventCustomAttributesAuthor
from datadog_api_client.v2.model.change_event_custom_attributes_author_type import ChangeEventCustomAttributesAuthorType
from datadog_api_client.v2.model.change_event_custom_attributes_changed_resource import (
    ChangeEventCustomAttributesChangedResource,
)
from datadog_api_client.v2.model.change_event_custom_attributes_changed_resource_type import (
    ChangeEventCustomAttributesChangedResourceType,
)
from datadog_api_client.v2.model.change_event_custom_attributes_impacted_resources_items import (
    ChangeEventCustomAttributesImpactedResourcesItems,
)
from datadog_api_client.v2.model.change_event_custom_attributes_impacted_resources_items_type import (
    ChangeEventCustomAttributesImpactedResourcesItemsType,
)
from datadog_api_client.v2.model.event_category import EventCategory
from datadog_api_client.v2.model.event_create_request import EventCreateRequest
from datadog_api_client.v2.model.event_create_request_payload import EventCreateRequestPayload
from datadog_api_client.v2.model.event_create_request_type import EventCreateRequestType
from datadog_api_client.v2.model.event_payload import EventPayload
from datadog_api_client.v2.model.event_payload_integration_id import EventPayloadIntegrationId
from datadog_api_client.v2.model.events_list_request import EventsListRequest
from datadog_api_client.v2.model.events_query_filter import EventsQueryFilter
from datadog_api_client.v2.model.events_query_options import EventsQueryOptions
from datadog_api_client.v2.model.events_request_page import EventsRequestPage
from datadog_api_client.v2.model.events_sort import EventsSort

from autonomic_lib.sandbox.server import SandboxServer

from tests.conftest import raw, unique

pytestmark = pytest.mark.api


def change_event(tag: str) -> EventCreateRequestPayload:
    """The shape of the client's example CreateEvent.py (a feature-flag change event), tagged for this test."""
    return EventCreateRequestPayload(data=EventCreateRequest(type=EventCreateRequestType.EVENT, attributes=EventPayload(
        aggregation_key="aggregation_key_123", category=EventCategory.CHANGE,
        integration_id=EventPayloadIntegrationId.CUSTOM_EVENTS, host="test-host",
        message="payment_processed feature flag has been enabled", tags=["env:api_client_test", tag],
        title="payment_processed feature flag updated",
        attributes=ChangeEventCustomAttributes(
            author=ChangeEventCustomAttributesAuthor(name="example@datadog.com",
                                                     type=ChangeEventCustomAttributesAuthorType.USER),
            change_metadata={"resource_link": "datadog.com/feature/fallback_payments_test"},
            changed_resource=ChangeEventCustomAttributesChangedResource(
                name="fallback_payments_test", type=ChangeEventCustomAttributesChangedResourceType.FEATURE_FLAG),
            impacted_resources=[ChangeEventCustomAttributesImpactedResourcesItems(
                name="payments_api", type=ChangeEventCustomAttributesImpactedResourcesItemsType.SERVICE)],
            new_value={"enabled": True, "percentage": "50%"}, prev_value={"enabled": True, "percentage": "10%"}))))


def alert_event(tag: str, title: str) -> EventCreateRequestPayload:
    return EventCreateRequestPayload(data=EventCreateRequest(type=EventCreateRequestType.EVENT, attributes=EventPayload(
        category=EventCategory.ALERT, title=title, tags=[tag],
        attributes=AlertEventCustomAttributes(status=AlertEventCustomAttributesStatus.ERROR))))


def test_a_posted_v2_event_is_read_back_by_v2_and_by_v1(api_client: ApiClient) -> None:
    tag = f"test:{unique('ev')}"
    api = EventsApi(api_client)
    created = api.create_event(body=change_event(tag))
    evt = created.data.attributes.attributes.evt
    assert created.data.type == "event" and evt.id.isdigit() and evt.uid
    fetched = api.get_event(event_id=evt.uid).data
    assert fetched.id == evt.uid and fetched.attributes.message == "payment_processed feature flag has been enabled"
    assert tag in fetched.attributes.tags
    v1 = EventsApiV1(api_client).get_event(int(evt.id)).event
    assert (v1.title, v1.alert_type.value, v1.host) == ("payment_processed feature flag updated", "info", "test-host")


def test_a_v1_event_is_listed_and_searched_by_v2(api_client: ApiClient) -> None:
    tag = f"test:{unique('ev1')}"
    posted = EventsApiV1(api_client).create_event(body=V1EventCreateRequest(title="Deployed chatbot", text="v2 live",
                                                                             tags=[tag]))
    listed = EventsApi(api_client).list_events(filter_query=tag, filter_from="now-5m", filter_to="now")
    (only,) = listed.data
    assert only.attributes.attributes.evt.id == str(posted.event.id)
    assert only.attributes.attributes.title == "Deployed chatbot" and only.attributes.message == "v2 live"


def test_search_pages_with_the_examples_body_and_the_pagination_helper(api_client: ApiClient) -> None:
    tag = f"test:{unique('page')}"
    api = EventsApi(api_client)
    titles = [f"refiner gave up {i}" for i in range(5)]
    for title in titles:
        api.create_event(body=alert_event(tag, title))
    body = EventsListRequest(filter=EventsQueryFilter(_from="now-15m", to="now", query=tag),
                             options=EventsQueryOptions(timezone="GMT"), page=EventsRequestPage(limit=2),
                             sort=EventsSort("timestamp"))
    first = api.search_events(body=body)
    assert len(first.data) == 2 and first.meta.page.after and "page%5Bcursor%5D" in first.links.next
    found = [e.attributes.attributes.title for e in api.search_events_with_pagination(body=body)]
    assert sorted(found) == titles
    assert [e.attributes.attributes.title for e in api.list_events(filter_query=f"{tag} status:error",
                                                                   page_limit=1000).data] == found


def test_an_unknown_event_id_is_a_404(api_client: ApiClient) -> None:
    with pytest.raises(NotFoundException):
        EventsApi(api_client).get_event(event_id="AZeF-nTCAABzkAgGXzYPtgAA")


@pytest.mark.parametrize(("body", "named"), [
    ({"data": {"type": "event", "attributes": {"title": "t", "category": "deploy", "attributes": {}}}}, "category"),
    ({"data": {"type": "event", "attributes": {"title": "t", "category": "alert", "attributes": {}}}}, "status"),
])
def test_a_bad_v2_event_is_a_400_naming_the_field_and_is_not_stored(session_sandbox: SandboxServer, body,
                                                                    named: str) -> None:
    before = session_sandbox.sandbox.documents.count("event")
    status, answer = raw(session_sandbox, "POST", "/api/v2/events", body)
    assert status == 400 and named in answer["errors"][0]
    assert session_sandbox.sandbox.documents.count("event") == before


@pytest.mark.parametrize(("path", "named"), [("/api/v2/events?page[limit]=1001", "page[limit]"),
                                             ("/api/v2/events?sort=newest", "sort"),
                                             ("/api/v2/events?page[cursor]=abc", "page.cursor"),
                                             ("/api/v2/events?filter[query]=a%20AND%20(", "Error parsing query")])
def test_bad_list_parameters_are_a_400(session_sandbox: SandboxServer, path: str, named: str) -> None:
    status, answer = raw(session_sandbox, "GET", path)
    assert status == 400 and named in answer["errors"][0]
