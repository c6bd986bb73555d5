"""Downtimes v2 through the official client against the session sandbox (type checks on)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from datadog_api_client import ApiClient
from datadog_api_client.exceptions import ApiException, NotFoundException
from datadog_api_client.v1.api.monitors_api import MonitorsApi
from datadog_api_client.v1.model.monitor import Monitor
from datadog_api_client.v1.model.monitor_type import MonitorType
from datadog_api_client.v2.api.downtimes_api import DowntimesApi
from datadog_api_client.v2.model.downtime_create_request import DowntimeCreateRequest
from datadog_api_client.v2.model.downtime_create_request_attributes import DowntimeCreateRequestAttributes
from datadog_api_client.v2.model.downtime_create_request_data import DowntimeCreateRequestData
from datadog_api_client.v2.model.downtime_monitor_identifier_id import DowntimeMonitorIdentifierId
from datadog_api_client.v2.model.downtime_monitor_identifier_tags import DowntimeMonitorIdentifierTags
from datadog_api_client.v2.model.downtime_notify_end_state_actions import DowntimeNotifyEndStateActions
from datadog_api_client.v2.model.downtime_notify_end_state_types import DowntimeNotifyEndStateTypes
from datadog_api_client.v2.model.downtime_resource_type import DowntimeResourceType
from datadog_api_client.v2.model.downtime_schedule_one_time_create_update_request import (
    DowntimeScheduleOneTimeCreateUpdateRequest,
)
from datadog_api_client.v2.model.downtime_schedule_recurrence_create_update_request import (
    DowntimeScheduleRecurrenceCreateUpdateRequest,
)
from datadog_api_client.v2.model.downtime_schedule_recurrences_create_request import (
    DowntimeScheduleRecurrencesCreateRequest,
)
from datadog_api_client.v2.model.downtime_status import DowntimeStatus
from datadog_api_client.v2.model.downtime_update_request import DowntimeUpdateRequest
from datadog_api_client.v2.model.downtime_update_request_attributes import DowntimeUpdateRequestAttributes
from datadog_api_client.v2.model.downtime_update_request_data import DowntimeUpdateRequestData

from autonomic_lib.sandbox.server import SandboxServer
from tests.conftest import errors_of, raw, unique

pytestmark = pytest.mark.api


def create_body(attributes: DowntimeCreateRequestAttributes) -> DowntimeCreateRequest:
    return DowntimeCreateRequest(data=DowntimeCreateRequestData(attributes=attributes,
                                                                type=DowntimeResourceType.DOWNTIME))


def test_the_examples_create_body_gets_datadogs_recorded_defaults(api_client: ApiClient) -> None:
    """The body of the client's CreateDowntime example: tags identifier, scope, a one-time schedule without start."""
    api = DowntimesApi(api_client)
    created = api.create_downtime(body=create_body(DowntimeCreateRequestAttributes(
        message="dark forest", monitor_identifier=DowntimeMonitorIdentifierTags(monitor_tags=["cat:hat"]),
        scope="test:exampledowntime", schedule=DowntimeScheduleOneTimeCreateUpdateRequest(start=None))))

    attrs = created.data.attributes
    assert created.data.type == DowntimeResourceType.DOWNTIME and len(created.data.id) == 36
    assert attrs.status == DowntimeStatus.ACTIVE and attrs.canceled is None and attrs.display_timezone == "UTC"
    assert attrs.notify_end_states == [DowntimeNotifyEndStateTypes.ALERT, DowntimeNotifyEndStateTypes.NO_DATA,
                                       DowntimeNotifyEndStateTypes.WARN]
    assert attrs.notify_end_types == [DowntimeNotifyEndStateActions.EXPIRED]
    assert attrs.mute_first_recovery_notification is False and attrs.schedule.end is None
    assert abs((attrs.schedule.start - datetime.now(UTC)).total_seconds()) < 600
    assert created.data.relationships.monitor.data is None


def test_get_update_cancel_and_list(api_client: ApiClient) -> None:
    api = DowntimesApi(api_client)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    created = api.create_downtime(body=create_body(DowntimeCreateRequestAttributes(
        monitor_identifier=DowntimeMonitorIdentifierTags(monitor_tags=["*"]), scope="env:demo AND role:auditor",
        schedule=DowntimeScheduleOneTimeCreateUpdateRequest(start=start, end=start + timedelta(hours=2)))))
    downtime_id = created.data.id
    assert created.data.attributes.status == DowntimeStatus.SCHEDULED
    assert created.data.attributes.schedule.start == start

    updated = api.update_downtime(downtime_id=downtime_id, body=DowntimeUpdateRequest(data=DowntimeUpdateRequestData(
        id=downtime_id, type=DowntimeResourceType.DOWNTIME,
        attributes=DowntimeUpdateRequestAttributes(message="light speed"))))
    assert updated.data.attributes.message == "light speed"
    assert updated.data.attributes.scope == "env:demo AND role:auditor"  # untouched fields stay

    fetched = api.get_downtime(downtime_id=downtime_id, include="created_by")
    assert fetched.data.attributes.message == "light speed" and fetched.included[0].type.value == "users"

    listed = api.list_downtimes()
    assert downtime_id in [d.id for d in listed.data] and listed.meta.page.total_filtered_count >= 1
    assert downtime_id not in [d.id for d in api.list_downtimes(current_only=True).data]

    api.cancel_downtime(downtime_id=downtime_id)
    api.cancel_downtime(downtime_id=downtime_id)  # recorded: a second cancel is 204 too
    again = api.get_downtime(downtime_id=downtime_id)
    assert again.data.attributes.status == DowntimeStatus.CANCELED and again.data.attributes.canceled is not None


def test_paging_walks_every_downtime(api_client: ApiClient) -> None:
    api = DowntimesApi(api_client)
    made = {api.create_downtime(body=create_body(DowntimeCreateRequestAttributes(
        monitor_identifier=DowntimeMonitorIdentifierTags(monitor_tags=[unique("page")]), scope="*"))).data.id
        for _ in range(3)}
    seen = [d.id for d in api.list_downtimes_with_pagination(page_limit=2)]
    assert made <= set(seen) and len(seen) == len(set(seen))


def test_a_recurring_schedule_shows_its_current_window(api_client: ApiClient) -> None:
    api = DowntimesApi(api_client)
    created = api.create_downtime(body=create_body(DowntimeCreateRequestAttributes(
        monitor_identifier=DowntimeMonitorIdentifierTags(monitor_tags=["*"]), scope="env:demo",
        schedule=DowntimeScheduleRecurrencesCreateRequest(timezone="Europe/Paris", recurrences=[
            DowntimeScheduleRecurrenceCreateUpdateRequest(duration="2h", rrule="FREQ=DAILY;INTERVAL=1",
                                                          start="2026-01-01T03:00:00")]))))
    schedule = created.data.attributes.schedule
    assert schedule.timezone == "Europe/Paris" and schedule.recurrences[0].rrule == "FREQ=DAILY;INTERVAL=1"
    window = schedule.current_downtime
    assert (window.end - window.start) == timedelta(hours=2)
    paris_hour = (window.start.timestamp() % 86400) / 3600
    assert paris_hour in (1.0, 2.0)  # 03:00 Paris is 02:00 UTC in winter, 01:00 in summer
    api.cancel_downtime(downtime_id=created.data.id)


@pytest.mark.parametrize(("attributes", "needle"), [
    ({"scope": "env:demo"}, "monitor_identifier"),
    ({"scope": "env:(", "monitor_identifier": {"monitor_id": 1}}, "scope"),
    ({"scope": "*", "monitor_identifier": {"monitor_id": 1}, "schedule": {"start": "2026-01-01T00:00:00+02:00"}},
     "UTC offset of zero"),
    ({"scope": "*", "monitor_identifier": {"monitor_id": 1},
      "schedule": {"recurrences": [{"duration": "1h", "rrule": "FREQ=MINUTELY"}]}}, "FREQ=MINUTELY"),
    ({"scope": "*", "monitor_identifier": {"monitor_id": 1},
      "schedule": {"recurrences": [{"duration": "1x", "rrule": "FREQ=DAILY"}]}}, "duration"),
    ({"scope": "*", "monitor_identifier": {"monitor_id": 1},
      "schedule": {"timezone": "Mars/Olympus", "recurrences": [{"duration": "1h", "rrule": "FREQ=DAILY"}]}},
     "timezone"),
    ({"scope": "*", "monitor_identifier": {"monitor_id": 1}, "notify_end_states": ["ok"]}, "notify_end_states"),
])
def test_bad_bodies_are_400s_naming_the_field(session_sandbox: SandboxServer, attributes: dict, needle: str) -> None:
    status, body = raw(session_sandbox, "POST", "/api/v2/downtime",
                       {"data": {"type": "downtime", "attributes": attributes}})
    assert status == 400 and needle in str(body["errors"]), body


def test_unknown_downtime_is_a_recorded_404(api_client: ApiClient) -> None:
    with pytest.raises(NotFoundException) as exc:
        DowntimesApi(api_client).cancel_downtime(downtime_id="00000000-0000-1234-0000-000000000000")
    assert errors_of(exc) == ["Downtime 00000000-0000-1234-0000-000000000000 not found"]


def test_a_monitor_shows_its_matching_downtimes(api_client: ApiClient) -> None:
    tag = unique("test").lower()
    monitor = MonitorsApi(api_client).create_monitor(body=Monitor(
        name=unique("muted"), type=MonitorType.METRIC_ALERT, query=f"avg(last_5m):avg:autonomic.latency{{{tag}}} > 2"))
    downtimes = DowntimesApi(api_client)
    created = downtimes.create_downtime(body=create_body(DowntimeCreateRequestAttributes(
        monitor_identifier=DowntimeMonitorIdentifierId(monitor_id=monitor.id), scope=tag)))

    shown = MonitorsApi(api_client).get_monitor(monitor_id=monitor.id, with_downtimes=True)
    assert [m.scope for m in shown.matching_downtimes] == [[tag]]
    matches = downtimes.list_monitor_downtimes(monitor_id=monitor.id)
    assert [m.id for m in matches.data] == [created.data.id] and matches.data[0].attributes.groups == ["*"]
    included = downtimes.get_downtime(downtime_id=created.data.id, include="monitor").included
    assert included[0].id == monitor.id and included[0].attributes.name == monitor.name

    downtimes.cancel_downtime(downtime_id=created.data.id)
    assert MonitorsApi(api_client).get_monitor(monitor_id=monitor.id, with_downtimes=True).matching_downtimes == []
    assert downtimes.list_monitor_downtimes(monitor_id=monitor.id).data == []


def test_the_examples_monitor_downtimes_of_an_unknown_monitor_are_none(api_client: ApiClient) -> None:
    """ListMonitorDowntimes asks for monitor 9223372036854775807 and expects "OK"."""
    answer = DowntimesApi(api_client).list_monitor_downtimes(monitor_id=9223372036854775807)
    assert answer.data == [] and answer.meta.page.total_filtered_count == 0
    assert list(DowntimesApi(api_client).list_monitor_downtimes_with_pagination(monitor_id=9223372036854775807)) == []


def test_a_bad_include_is_a_400(api_client: ApiClient) -> None:
    with pytest.raises(ApiException) as exc:
        DowntimesApi(api_client).list_downtimes(include="owner")
    assert exc.value.status == 400 and "include" in str(errors_of(exc))


def test_a_muted_monitor_alerts_through_the_api_without_a_notification(session_sandbox: SandboxServer,
                                                                     api_client: ApiClient) -> None:
    """End to end with the real client: the monitor goes to Alert and back (history, group state), the downtime
    silences both transitions, so no notification is recorded for the monitor."""
    import uuid

    from datadog_api_client.v2.api.metrics_api import MetricsApi
    from datadog_api_client.v2.model.metric_intake_type import MetricIntakeType
    from datadog_api_client.v2.model.metric_payload import MetricPayload
    from datadog_api_client.v2.model.metric_point import MetricPoint
    from datadog_api_client.v2.model.metric_series import MetricSeries

    metric = f"downtime.muted.m{uuid.uuid4().hex[:8]}"
    now = int(session_sandbox.sandbox.policy.clock()) // 60 * 60
    start = now - 30 * 60
    monitor, control = (MonitorsApi(api_client).create_monitor(body=Monitor(
        name=unique(name), type=MonitorType.METRIC_ALERT, message="high @webhook-nowhere",
        query=f"max(last_2m):max:{metric}{{env:demo}} > 5")) for name in ("muted", "control"))
    DowntimesApi(api_client).create_downtime(body=create_body(DowntimeCreateRequestAttributes(
        monitor_identifier=DowntimeMonitorIdentifierId(monitor_id=monitor.id), scope="env:demo",
        schedule=DowntimeScheduleOneTimeCreateUpdateRequest(start=datetime.fromtimestamp(start, UTC),
                                                            end=datetime.fromtimestamp(now + 3600, UTC)))))
    values = [1.0] * 10 + [9.0] * 5 + [1.0] * 15
    MetricsApi(api_client).submit_metrics(body=MetricPayload(series=[MetricSeries(
        metric=metric, type=MetricIntakeType.GAUGE, tags=["env:demo"],
        points=[MetricPoint(timestamp=start + 60 * i, value=v) for i, v in enumerate(values)])]))
    raw(session_sandbox, "POST", "/sandbox/evaluate")

    _, history = raw(session_sandbox, "GET", f"/sandbox/monitors/{monitor.id}/history")
    assert [(t["current"], t["silenced"].startswith("muted by downtime")) for t in history["transitions"]] == [
        ("Alert", True), ("OK", True)]
    _, muted = raw(session_sandbox, "GET", f"/sandbox/notifications?monitor_id={monitor.id}")
    _, notified = raw(session_sandbox, "GET", f"/sandbox/notifications?monitor_id={control.id}")
    assert muted["data"] == [] and [n["current"] for n in notified["data"]] == ["Alert", "OK"]
