"""Metric metadata (v1) and the v2 metric reads through the official client, type checking on."""

from __future__ import annotations

import pytest
from datadog_api_client import ApiClient
from datadog_api_client.exceptions import NotFoundException
from datadog_api_client.v1.api.metrics_api import MetricsApi as MetricsApiV1
from datadog_api_client.v1.model.metric_metadata import MetricMetadata
from datadog_api_client.v2.api.metrics_api import MetricsApi
from datadog_api_client.v2.model.metric_resource import MetricResource
from datadog_api_client.v2.model.metric_tag_configuration_metric_type_category import (
    MetricTagConfigurationMetricTypeCategory,
)

from autonomic_lib.catalog import load_catalog
from autonomic_lib.sandbox.server import SandboxServer

from tests.conftest import errors_of, raw
from tests.sandbox.metrics.test_routes import COUNT, series, submit, unique

pytestmark = pytest.mark.api


def test_get_metric_metadata_returns_the_catalogue_row(api_client: ApiClient) -> None:
    spec = load_catalog().metrics["autonomic.agent.latency.avg"]
    meta = MetricsApiV1(api_client).get_metric_metadata(metric_name=spec.name)
    assert (meta.type, meta.description, meta.short_name, meta.integration) == (
        spec.type, spec.description, spec.short_name, "autonomic_ai")
    assert meta.get("unit") == spec.unit


def test_the_examples_edit_stores_the_metadata_and_queries_show_the_new_unit(api_client: ApiClient,
                                                                             now: int) -> None:
    metric = unique("meta")
    submit(api_client, series(metric, [(now - 30, 5.0)], ["env:demo"], kind=COUNT))
    api = MetricsApiV1(api_client)
    # the body of the client's example UpdateMetricMetadata.py
    edited = api.update_metric_metadata(metric_name=metric, body=MetricMetadata(per_unit="second", type="count",
                                                                                unit="byte"))
    assert (edited.type, edited.unit, edited.per_unit) == ("count", "byte", "second")
    assert api.get_metric_metadata(metric_name=metric).to_dict() == edited.to_dict()
    api.update_metric_metadata(metric_name=metric, body=MetricMetadata(description="bytes sent"))
    again = api.get_metric_metadata(metric_name=metric)
    assert (again.description, again.unit) == ("bytes sent", "byte")
    (queried,) = api.query_metrics(_from=now - 60, to=now, query=f"sum:{metric}{{*}}").series
    assert queried.unit[0].name == "byte" and queried.unit[1].name == "second"


def test_an_unknown_metric_is_a_404_for_its_metadata(api_client: ApiClient) -> None:
    api = MetricsApiV1(api_client)
    with pytest.raises(NotFoundException):
        api.get_metric_metadata(metric_name="test.never.sent")
    with pytest.raises(NotFoundException):
        api.update_metric_metadata(metric_name="test.never.sent", body=MetricMetadata(unit="byte"))


@pytest.mark.parametrize(("body", "named"), [({"unit": "parsec"}, "'unit'"), ({"statsd_interval": -1},
                                                                               "'statsd_interval'")])
def test_a_bad_metadata_edit_is_a_400_naming_the_field(session_sandbox: SandboxServer, body, named: str) -> None:
    status, answer = raw(session_sandbox, "PUT", "/api/v1/metrics/autonomic.agent.cost", body)
    assert status == 400 and named in answer["errors"][0]


def test_the_v2_list_holds_active_metrics_filtered_and_paged(api_client: ApiClient, now: int) -> None:
    prefix = unique("listed")
    names = [f"{prefix}.{i}" for i in range(5)]
    submit(api_client, *(series(n, [(now - 30, 1.0)], [f"env:{'prod' if i % 2 else 'dev'}"])
                         for i, n in enumerate(names)))
    api = MetricsApi(api_client)
    listed = [m.id for m in api.list_tag_configurations(filter_tags="env:prod").data]
    assert [n for n in listed if n.startswith(prefix)] == names[1::2]
    assert {str(m.type) for m in api.list_tag_configurations(window_seconds=600).data} == {"metrics"}
    paged = [m.id for m in api.list_tag_configurations_with_pagination(page_size=2) if m.id.startswith(prefix)]
    assert paged == names
    first = api.list_tag_configurations(page_size=2)
    assert first.meta.pagination.limit == 2 and first.meta.pagination.next_cursor
    assert api.list_tag_configurations(filter_configured=True).data == []
    kinds = api.list_tag_configurations(filter_metric_type=MetricTagConfigurationMetricTypeCategory.DISTRIBUTION)
    assert [m.id for m in kinds.data if m.id.startswith(prefix)] == []


@pytest.mark.parametrize(("params", "named"), [
    ("filter[queried]=true", "filter[queried]"), ("include=metric_volumes", "'include'"),
    ("window[seconds]=0", "window[seconds]"), ("filter[configured]=yes", "filter[configured]"),
    ("filter[tags]=env:a}", "filter[tags]"), ("page[size]=10001", "page[size]"),
])
def test_what_the_v2_list_cannot_filter_on_is_a_400_naming_it(session_sandbox: SandboxServer, params: str,
                                                               named: str) -> None:
    status, answer = raw(session_sandbox, "GET", f"/api/v2/metrics?{params}")
    assert status == 400 and named in answer["errors"][0]


def test_all_tags_lists_the_metrics_tags_as_the_client_reads_them(api_client: ApiClient, now: int) -> None:
    metric = unique("tagged")
    submit(api_client, series(metric, [(now - 30, 1.0)], ["env:prod", "role:auditor"]),
           series(metric, [(now - 30, 1.0)], ["env:dev", "role:refiner"]))
    api = MetricsApi(api_client)
    data = api.list_tags_by_metric_name(metric_name=metric).data
    assert (data.id, data.type.value) == (metric, "metrics")
    assert data.attributes.tags == ["env:dev", "env:prod", "role:auditor", "role:refiner"]
    assert data.attributes.ingested_tags == data.attributes.tags
    narrowed = api.list_tags_by_metric_name(metric_name=metric, filter_tags="env:prod", filter_match="role",
                                            filter_include_tag_values=True)
    assert narrowed.data.attributes.tags == ["role:auditor"]
    keys = api.list_tags_by_metric_name(metric_name=metric, filter_include_tag_values=False, page_limit=1)
    assert keys.data.attributes.tags == ["env"]
    with pytest.raises(NotFoundException):
        api.list_tags_by_metric_name(metric_name="test.never.sent")


def test_tag_configurations_are_not_found_to_read_and_refused_to_write(api_client: ApiClient,
                                                                       session_sandbox: SandboxServer) -> None:
    with pytest.raises(NotFoundException) as exc:
        MetricsApi(api_client).list_tag_configuration_by_name(metric_name="autonomic.agent.cost")
    assert "Metrics Without Limits" in errors_of(exc)[0]
    status, answer = raw(session_sandbox, "DELETE", "/api/v2/metrics/autonomic.agent.cost/tags")
    assert status == 400 and "not supported by the sandbox" in answer["errors"][0]


def test_metadata_and_metric_reads_need_the_application_key(session_sandbox: SandboxServer) -> None:
    for path in ("/api/v1/metrics/autonomic.agent.cost", "/api/v2/metrics",
                 "/api/v2/metrics/autonomic.agent.cost/all-tags"):
        status, answer = raw(session_sandbox, "GET", path, app_key=False)
        assert status == 403 and answer == {"errors": ["Application key required"]}



def test_v1_active_metrics_and_search_list_names(api_client: ApiClient, now: int) -> None:
    prefix = unique("v1list")
    submit(api_client, series(f"{prefix}.a", [(now - 30, 1.0)], ["env:prod"], resources=[MetricResource(
        name="web-9", type="host")]), series(f"{prefix}.b", [(now - 30, 1.0)], ["env:dev"]))
    api = MetricsApiV1(api_client)
    active = api.list_active_metrics(_from=now - 120)
    assert [m for m in active.metrics if m.startswith(prefix)] == [f"{prefix}.a", f"{prefix}.b"]
    assert active._from == str(now - 120)
    assert [m for m in api.list_active_metrics(_from=now - 120, tag_filter="env:prod").metrics
            if m.startswith(prefix)] == [f"{prefix}.a"]
    assert [m for m in api.list_active_metrics(_from=now - 120, host="web-9").metrics] == [f"{prefix}.a"]
    assert api.list_active_metrics(_from=2**63 - 1).metrics == []  # the example's `from`: nothing is that recent
    with pytest.warns(DeprecationWarning, match="list_metrics is deprecated"):  # the client says so, Datadog serves it
        found = api.list_metrics(q=f"metrics:{prefix}").results.metrics
    assert found == [f"{prefix}.a", f"{prefix}.b"]
