"""Every size of a submitted log is bounded: cut where Datadog cuts, a 400 naming the bound elsewhere, never a hang.

Each test reproduces a probe: a 1.1 MB `service` made the fitting loop spin forever (one core, and SIGTERM no longer
stopped the server); a 300-level attribute answered a 500.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from datadog_api_client import ApiClient

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.logs.routes import (
    MAX_ATTRIBUTES,
    MAX_KEY_CHARS,
    MAX_LEVELS,
    MAX_LOG_BYTES,
    MAX_RESERVED_CHARS,
    MAX_TAG_CHARS,
    MAX_TAGS,
    _normalize,
)
from autonomic_lib.sandbox.server import SandboxServer
from tests.sandbox.logs.test_routes import now_ms, raw, search, stored_logs, unique


def normalized(item: dict[str, Any], defaults: dict[str, str] | None = None) -> dict[str, Any]:
    return _normalize(item, "logs[0]", defaults or {}, now_ms())


def size(doc: dict[str, Any]) -> int:
    return len(orjson.dumps(doc))


def nested(levels: int) -> Any:
    """An attribute value nested `levels` levels below its key: `a.b[0]` style, objects and arrays alternating."""
    value: Any = "x"
    for i in range(levels):
        value = {"k": value} if i % 2 else [value]
    return value


# ------------------------------------------------------------------------------------------ cut, as Datadog does
@pytest.mark.timeout(10)
@pytest.mark.parametrize("field", ["service", "hostname", "ddsource"])
def test_a_huge_reserved_field_is_cut_at_once(field: str) -> None:
    """A 1.1 MB service never answered: `_fit` cut the message only, and looped forever on what was left."""
    doc = normalized({"message": "m", field: "S" * 1_100_000})
    assert doc[field] == "S" * MAX_RESERVED_CHARS and doc["message"] == "m"
    assert all(len(tag) <= MAX_TAG_CHARS for tag in doc["tags"]) and len(doc["tags"]) == 1


@pytest.mark.timeout(10)
def test_reserved_fields_from_query_parameters_are_cut_too() -> None:
    doc = normalized({"message": "m"}, {"service": "q" * 5000, "hostname": "h" * 5000})
    assert len(doc["service"]) == len(doc["hostname"]) == MAX_RESERVED_CHARS


@pytest.mark.timeout(10)
def test_the_longest_strings_are_cut_to_a_common_length_until_the_log_fits() -> None:
    doc = normalized({"message": "m" * 900_000, "service": "svc", "detail": {"stack": "s" * 700_000},
                      "short": "kept whole"})
    assert size(doc) <= MAX_LOG_BYTES
    assert doc["service"] == "svc" and doc["attributes"]["short"] == "kept whole"
    message, stack = doc["message"], doc["attributes"]["detail"]["stack"]
    assert message == "m" * len(message) and stack == "s" * len(stack)
    assert abs(len(message) - len(stack)) <= 1 and len(message) + len(stack) > MAX_LOG_BYTES - 1000


@pytest.mark.timeout(10)
def test_escapes_and_multibyte_characters_are_counted_as_json_bytes() -> None:
    doc = normalized({"message": "\x01" * 400_000 + "é" * 300_000, "quote": '"' * 300_000, "emoji": "😀" * 200_000})
    assert MAX_LOG_BYTES - 100 < size(doc) <= MAX_LOG_BYTES
    assert doc["message"].startswith("\x01") and doc["attributes"]["quote"].startswith('"')


@pytest.mark.timeout(10)
def test_bulk_that_is_not_strings_drops_the_largest_attributes_first() -> None:
    doc = normalized({"message": "keep me", "numbers": [1.5] * 400_000, "more": [2] * 200_000, "small": [3] * 10})
    assert size(doc) <= MAX_LOG_BYTES
    assert "numbers" not in doc["attributes"] and doc["attributes"]["small"] == [3] * 10
    assert doc["message"] == "keep me"


@pytest.mark.timeout(10)
def test_a_log_within_the_limit_is_left_alone() -> None:
    item = {"message": "x" * 500_000, "a": "y" * 500_000}
    doc = normalized(dict(item))
    assert doc["message"] == item["message"] and doc["attributes"]["a"] == item["a"]


def test_tags_are_cut_at_datadogs_200_characters() -> None:
    doc = normalized({"message": "m", "ddtags": "t:" + "x" * 500, "service": "s" * 300})
    assert sorted(len(tag) for tag in doc["tags"]) == [MAX_TAG_CHARS, MAX_TAG_CHARS]


# ------------------------------------------------------------------------------------------ refused, naming the bound
@pytest.mark.parametrize("item, named", [
    ({"k" * (MAX_KEY_CHARS + 1): 1}, "characters"),
    ({"a": {"k" * (MAX_KEY_CHARS + 1): 1}}, "at a"),
    ({"a": nested(MAX_LEVELS)}, "nested 10 levels"),
    ({"a": nested(300)}, "nested 10 levels"),  # a 500 before: orjson cannot write 255 levels
    ({f"k{i}": i for i in range(MAX_ATTRIBUTES + 1)}, f"more than {MAX_ATTRIBUTES} attributes"),
    ({"a": {f"k{i}": i for i in range(MAX_ATTRIBUTES)}}, f"more than {MAX_ATTRIBUTES} attributes"),
    ({"ddtags": ",".join(f"t{i}" for i in range(MAX_TAGS + 1))}, f"at most {MAX_TAGS} tags"),
])
def test_past_datadogs_documented_attribute_bounds_a_log_is_refused(item: dict[str, Any], named: str) -> None:
    with pytest.raises(IntakeError) as refused:
        normalized({"message": "m", **item})
    assert refused.value.status == 400 and named in str(refused.value) and "logs[0]" in str(refused.value)


@pytest.mark.parametrize("item", [
    {"k" * MAX_KEY_CHARS: 1},
    {"a": nested(MAX_LEVELS - 1)},
    {f"k{i}": i for i in range(MAX_ATTRIBUTES - 1)},  # and `message`
    {"items": [{"id": i, "name": str(i)} for i in range(5000)]},  # array items share their paths: 3 attributes
    {"ddtags": ",".join(f"t{i}" for i in range(MAX_TAGS))},
])
def test_up_to_the_bounds_a_log_is_taken(item: dict[str, Any]) -> None:
    normalized({"message": "m", **item})


# ------------------------------------------------------------------------------------------ through the intake
@pytest.mark.timeout(30)
def test_a_log_with_a_huge_service_is_accepted_cut_and_found(session_sandbox: SandboxServer,
                                                             api_client: ApiClient) -> None:
    run = unique("huge")
    body = orjson.dumps([{"message": "found", "service": "s" * 1_100_000, "ddtags": f"run:{run}"}])
    response = raw(session_sandbox, "POST", "/api/v2/logs", body)
    assert response.status == 202
    (only,) = search(api_client, f"run:{run}").data
    assert only.attributes.service == "s" * MAX_RESERVED_CHARS and only.attributes.message == "found"


def test_a_payload_with_one_log_nested_too_deep_is_refused_whole(session_sandbox: SandboxServer) -> None:
    before = stored_logs(session_sandbox)
    deep = '{"message": "m", "a": ' + "[" * 300 + "1" + "]" * 300 + "}"
    response = raw(session_sandbox, "POST", "/api/v2/logs", f'[{{"message": "fine"}}, {deep}]'.encode())
    assert response.status == 400 and "logs[1].a is nested 10 levels deep" in response.data.decode()
    assert stored_logs(session_sandbox) == before
