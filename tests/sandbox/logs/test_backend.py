"""The logs backend on its own (no HTTP): log ingest and search order, paging and filters; the events stream."""

from __future__ import annotations

from typing import Any

import pytest

from autonomic_lib.sandbox.logs import backend as logs_backend
from autonomic_lib.sandbox.logs.backend import Logs, log_id, log_key
from autonomic_lib.sandbox.storage.database import open_database
from autonomic_lib.sandbox.storage.documents import DocumentStore

T0 = 1_767_225_600  # 2026-01-01 00:00 UTC
T0_MS = T0 * 1000


@pytest.fixture
def logs() -> Logs:
    return Logs(DocumentStore(open_database(None)), clock=lambda: float(T0))


def a_log(ms: int, message: str, **extra: Any) -> dict[str, Any]:
    """A log as the intake normalises it: its time in epoch ms as "k"."""
    return {"k": ms, "message": message, "status": "info", "tags": [], "attributes": {}, **extra}


def messages(page: logs_backend.LogPage) -> list[str]:
    return [doc["message"] for doc in page.logs]


def happened(events: list[dict[str, Any]]) -> list[str]:
    return [event["title"] for event in events]


# ------------------------------------------------------------------------------------------ logs
def test_ingest_gives_each_log_an_id_that_decodes_to_its_time_batch_and_position(logs: Logs) -> None:
    first = logs.ingest([a_log(T0_MS, "a"), a_log(T0_MS - 5, "b")])
    second = logs.ingest([a_log(T0_MS, "c")])
    assert [log_key(i) for i in first + second] == [(T0_MS, 1, 0), (T0_MS - 5, 1, 1), (T0_MS, 2, 0)]
    assert log_id(log_key(first[0])) == first[0]
    stored = logs.search(start_ms=T0_MS - 10, end_ms=T0_MS, limit=10).logs
    assert {doc["id"] for doc in stored} == set(first + second)


def test_ingesting_nothing_stores_nothing_and_spends_no_batch(logs: Logs) -> None:
    assert logs.ingest([]) == []
    assert [log_key(i)[1] for i in logs.ingest([a_log(T0_MS, "a")])] == [1]


def test_search_is_newest_first_by_default_with_same_millisecond_logs_in_reverse_arrival(logs: Logs) -> None:
    logs.ingest([a_log(T0_MS - 2000, "old"), a_log(T0_MS, "first")])
    logs.ingest([a_log(T0_MS, "second"), a_log(T0_MS - 1000, "middle")])
    assert messages(logs.search(start_ms=0, end_ms=T0_MS, limit=10)) == ["second", "first", "middle", "old"]
    assert messages(logs.search(start_ms=0, end_ms=T0_MS, newest_first=False, limit=10)) == [
        "old", "middle", "first", "second"]


def test_search_time_range_includes_both_ends(logs: Logs) -> None:
    logs.ingest([a_log(T0_MS - 1, "before"), a_log(T0_MS, "start"), a_log(T0_MS + 500, "end"),
                 a_log(T0_MS + 501, "after")])
    assert messages(logs.search(start_ms=T0_MS, end_ms=T0_MS + 500, newest_first=False, limit=10)) == ["start", "end"]


def test_search_filters_with_the_log_query_syntax(logs: Logs) -> None:
    logs.ingest([a_log(T0_MS, "Checkout failed", service="web", tags=["service:web"]),
                 a_log(T0_MS, "checkout ok", service="api", tags=["service:api"])])
    assert messages(logs.search(query="service:web", start_ms=0, end_ms=T0_MS, limit=10)) == ["Checkout failed"]
    assert messages(logs.search(query="checkout -failed", start_ms=0, end_ms=T0_MS, limit=10)) == ["checkout ok"]


@pytest.mark.parametrize("newest_first", [True, False])
def test_pages_after_the_last_key_walk_every_match_once_and_say_when_more_remain(logs: Logs,
                                                                                 newest_first: bool) -> None:
    logs.ingest([a_log(T0_MS - 100 * (i % 4), f"m{i}") for i in range(10)])
    everything = messages(logs.search(start_ms=0, end_ms=T0_MS, newest_first=newest_first, limit=100))
    walked, after, pages = [], None, 0
    while True:
        page = logs.search(start_ms=0, end_ms=T0_MS, newest_first=newest_first, limit=3, after=after)
        walked += messages(page)
        pages += 1
        if not page.more:
            break
        after = tuple(page.logs[-1]["k"])
    assert walked == everything and len(everything) == 10 and pages == 4


def test_a_full_last_page_says_no_more(logs: Logs) -> None:
    logs.ingest([a_log(T0_MS, f"m{i}") for i in range(3)])
    assert logs.search(start_ms=0, end_ms=T0_MS, limit=3).more is False
    assert logs.search(start_ms=0, end_ms=T0_MS, limit=2).more is True


def test_log_key_refuses_ids_this_sandbox_did_not_make() -> None:
    with pytest.raises(ValueError):
        log_key("bm90LWFuLWlk")  # base64 of something else
    with pytest.raises(ValueError):
        log_key("***")


# ------------------------------------------------------------------------------------------ events
def test_add_event_numbers_events_and_keeps_the_fields_in_the_order_given(logs: Logs) -> None:
    first = logs.add_event(title="a", text="t", date_happened=T0, priority="low", tags=["x"])
    second = logs.add_event(title="b", text="t", date_happened=T0, tags=[], alert_type="info")
    assert (first["id"], second["id"]) == (1, 2)
    assert list(second) == ["id", "title", "text", "date_happened", "tags", "alert_type"]
    assert logs.get_event(1) == first and logs.get_event("2") == second


def test_get_event_is_none_for_unknown_ids_and_ids_written_with_leading_zeros(logs: Logs) -> None:
    logs.add_event(title="a", text="t", date_happened=T0, tags=[])
    assert logs.get_event(99) is None and logs.get_event("01") is None


def test_a_deleted_event_is_gone_from_get_and_list(logs: Logs) -> None:
    event = logs.add_event(title="a", text="t", date_happened=T0, tags=[])
    assert logs.delete_event(event["id"]) is True and logs.delete_event(event["id"]) is False
    assert logs.get_event(event["id"]) is None and logs.list_events(start=T0, end=T0) == []


def test_list_events_takes_whole_seconds_inclusive_newest_first_then_highest_id(logs: Logs) -> None:
    for title, at in (("before", T0 - 1), ("start", T0), ("tie-1", T0 + 60), ("tie-2", T0 + 60), ("end", T0 + 120),
                      ("after", T0 + 121)):
        logs.add_event(title=title, text="t", date_happened=at, tags=[])
    assert happened(logs.list_events(start=T0, end=T0 + 120)) == ["end", "tie-2", "tie-1", "start"]


def test_list_events_filters_priority_sources_and_tags(logs: Logs) -> None:
    logs.add_event(title="plain", text="t", date_happened=T0, tags=["Env:Demo"])  # no priority: normal
    logs.add_event(title="low", text="t", date_happened=T0, priority="low", tags=["env:demo", "team:a"])
    logs.add_event(title="monitor", text="t", date_happened=T0, priority="normal", source_type_name="Monitor",
                   tags=["env:demo"])
    assert happened(logs.list_events(start=T0, end=T0, priority="normal")) == ["monitor", "plain"]
    assert happened(logs.list_events(start=T0, end=T0, priority="low")) == ["low"]
    assert happened(logs.list_events(start=T0, end=T0, sources=["monitor", "other"])) == ["monitor"]
    assert happened(logs.list_events(start=T0, end=T0, tags=["ENV:demo"])) == ["monitor", "low", "plain"]
    assert happened(logs.list_events(start=T0, end=T0, tags=["env:demo", "team:a"])) == ["low"]


def test_list_events_pages_newest_first(logs: Logs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs_backend, "EVENTS_PER_PAGE", 2)
    for i in range(5):
        logs.add_event(title=f"e{i}", text="t", date_happened=T0 + i, tags=[])
    pages = [happened(logs.list_events(start=T0, end=T0 + 10, page=p)) for p in range(4)]
    assert pages == [["e4", "e3"], ["e2", "e1"], ["e0"], []]
