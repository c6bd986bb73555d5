"""The monitors backend on its own (no HTTP): CRUD, list filters and paging, evaluation records and transitions,
and the evaluator writing (and retracting) its monitor events through the logs backend."""

from __future__ import annotations

from typing import Any

import pytest

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.monitors.backend import Monitors
from autonomic_lib.sandbox.monitors.evaluator import Transition
from tests.sandbox.monitors.conftest import T0, Clock, body


def ids(docs: list[dict[str, Any]]) -> list[int]:
    return [doc["id"] for doc in docs]


def transition(monitor_id: int, at: int, group: str = "*", current: str = "Alert") -> Transition:
    return Transition(monitor_id, group, (group,) if group != "*" else (), "OK", current, at, 6.0, 5.0, at - 300, at)


# ------------------------------------------------------------------------------------------ definitions
def test_create_numbers_monitors_and_fills_what_the_api_shows(monitors: Monitors) -> None:
    first, second = monitors.create(body()), monitors.create(body(name="Other"))
    assert (first["id"], second["id"]) == (1, 2)
    assert first["overall_state"] == "No Data" and first["state"] == {"groups": {}}
    assert first["created_at"] == T0 * 1000
    assert first["created"] == first["modified"] == "2026-01-01T00:00:00.000000+00:00"
    assert first["type"] == "query alert" and first["options"]["notify_no_data"] is False  # defaults filled in
    assert monitors.get(1) == first and monitors.get(3) is None and monitors.count() == 2


def test_an_invalid_monitor_is_refused_and_nothing_is_stored(monitors: Monitors) -> None:
    with pytest.raises(IntakeError) as refused:
        monitors.create(body(type="log alert"))
    assert refused.value.status == 400 and monitors.count() == 0


def test_update_merges_a_partial_body_and_keeps_creation_and_evaluation_state(monitors: Monitors,
                                                                               clock: Clock) -> None:
    created = monitors.create(body(tags=["team:a"]))
    monitors.save_state(created, overall_state="Alert", groups={"*": {"status": "Alert"}}, changed_at=T0)
    clock.now += 60
    updated = monitors.update(created["id"], {"name": "Renamed"})
    assert updated is not None and updated == monitors.get(created["id"])
    assert (updated["name"], updated["tags"], updated["query"]) == ("Renamed", ["team:a"], created["query"])
    assert updated["created"] == created["created"] and updated["modified"] == "2026-01-01T00:01:00.000000+00:00"
    assert updated["overall_state"] == "Alert" and updated["state"]["groups"]["*"]["status"] == "Alert"


def test_update_of_a_missing_monitor_is_none_and_an_invalid_update_changes_nothing(monitors: Monitors) -> None:
    assert monitors.update(9, {"name": "x"}) is None
    created = monitors.create(body())
    with pytest.raises(IntakeError):
        monitors.update(created["id"], {"query": ""})
    assert monitors.get(created["id"]) == created


def test_delete_says_whether_there_was_a_monitor(monitors: Monitors) -> None:
    created = monitors.create(body())
    assert monitors.delete(created["id"]) is True and monitors.delete(created["id"]) is False
    assert monitors.get(created["id"]) is None and monitors.search() == []


# ------------------------------------------------------------------------------------------ search
@pytest.fixture
def five(monitors: Monitors) -> Monitors:
    """Monitors 1-5: odd ones scope env:demo and are tagged team:a, 4 is named "Disk full"."""
    for i in range(1, 6):
        scope = "env:demo" if i % 2 else "env:prod"
        monitors.create(body(f"avg(last_5m):avg:m.x{{{scope}}} > 5", name="Disk full" if i == 4 else f"Latency {i}",
                             tags=["team:a", f"n:{i}"] if i % 2 else [f"n:{i}"]))
    return monitors


def test_search_without_filters_lists_every_monitor_by_id(five: Monitors) -> None:
    assert ids(five.search()) == [1, 2, 3, 4, 5]


def test_search_filters_name_case_insensitively_and_monitor_tags_all_of(five: Monitors) -> None:
    assert ids(five.search(name="DISK")) == [4]
    assert ids(five.search(monitor_tags=["team:a"])) == [1, 3, 5]
    assert ids(five.search(monitor_tags=["team:a", "n:3"])) == [3]
    assert ids(five.search(monitor_tags=["Team:A"])) == []  # the monitor's own tags match exactly


def test_search_filters_scope_tags_of_the_query_case_insensitively_and_ids_above_an_offset(five: Monitors) -> None:
    assert ids(five.search(tags=["ENV:Demo"])) == [1, 3, 5]
    assert ids(five.search(tags=["env:demo", "env:prod"])) == []
    assert ids(five.search(id_offset=3)) == [4, 5]
    assert ids(five.search(tags=["env:demo"], id_offset=1, name="latency")) == [3, 5]


def test_search_pages_after_filtering(five: Monitors) -> None:
    assert ids(five.search(page_size=2)) == [1, 2]
    assert ids(five.search(page=1, page_size=2)) == [3, 4]
    assert ids(five.search(page=2, page_size=2)) == [5]
    assert ids(five.search(page=3, page_size=2)) == []
    assert ids(five.search(monitor_tags=["team:a"], page=1, page_size=2)) == [5]


def test_search_with_a_page_but_no_size_pages_by_100(monitors: Monitors) -> None:
    for _ in range(101):
        monitors.create(body())
    assert len(monitors.search(page=0)) == 100 and ids(monitors.search(page=1)) == [101]


def test_search_refuses_pages_over_1000(five: Monitors) -> None:
    with pytest.raises(IntakeError, match="at most 1000"):
        five.search(page_size=1001)
    assert len(five.search(page_size=1000)) == 5


def test_expected_band_is_refused_for_a_monitor_that_is_not_an_anomaly_monitor(monitors: Monitors) -> None:
    created = monitors.create(body())
    with pytest.raises(IntakeError, match="not an anomaly monitor"):
        monitors.expected_band(created, start=T0, end=T0 + 600)


# ------------------------------------------------------------------------------------------ evaluation records
def test_save_state_moves_overall_state_modified_only_when_the_overall_state_changes(monitors: Monitors) -> None:
    created = monitors.create(body())
    monitors.save_state(created, overall_state="Alert", groups={}, changed_at=T0 + 60)
    alerted = monitors.get(created["id"])
    assert alerted is not None and alerted["overall_state_modified"] == "2026-01-01T00:01:00.000000+00:00"
    monitors.save_state(alerted, overall_state="Alert", groups={"*": {"status": "Alert"}}, changed_at=T0 + 120)
    again = monitors.get(created["id"])
    assert again is not None and again["overall_state_modified"] == "2026-01-01T00:01:00.000000+00:00"
    assert again["state"] == {"groups": {"*": {"status": "Alert"}}}


def test_history_is_one_monitors_transitions_in_time_order_by_group_and_half_open_range(monitors: Monitors) -> None:
    monitors.add_transitions([transition(1, T0 + 120, "a:1"), transition(1, T0, "a:2"), transition(2, T0 + 60)],
                             event_ids=[7, None, 8])
    rows = monitors.history(1)
    assert [(r["at"], r["group"], r["event_id"]) for r in rows] == [(T0, "a:2", None), (T0 + 120, "a:1", 7)]
    assert [r["at"] for r in monitors.history(1, group="a:1")] == [T0 + 120]
    assert [r["at"] for r in monitors.history(1, since=T0 + 1, until=T0 + 121)] == [T0 + 120]
    assert [r["at"] for r in monitors.history(1, since=T0, until=T0 + 120)] == [T0]
    assert [r["monitor_id"] for r in monitors.history(2)] == [2]


def test_a_removed_transition_leaves_the_history(monitors: Monitors) -> None:
    monitors.add_transitions([transition(1, T0), transition(1, T0 + 60, current="OK")], event_ids=[1, 2])
    assert monitors.remove_transition(1, at=T0, group="*") is True
    assert monitors.remove_transition(1, at=T0, group="*") is False
    assert [r["current"] for r in monitors.history(1)] == ["OK"]


def test_add_transitions_needs_one_event_id_per_transition(monitors: Monitors) -> None:
    with pytest.raises(ValueError):
        monitors.add_transitions([transition(1, T0)], event_ids=[])


def test_evaluation_status_joins_each_monitor_with_its_record(monitors: Monitors) -> None:
    first, second = monitors.create(body()), monitors.create(body(name="Other"))
    monitors.save_evaluation(first["id"], {"evaluated_until": T0, "error": None, "groups": {
        "*": {"status": "OK", "value": 1.0, "reason": "below", "first_seen": T0, "last_data": T0, "extra": 1}}})
    assert monitors.evaluation(first["id"]) is not None and monitors.evaluation(second["id"]) is None
    assert monitors.evaluation_status() == [
        {"monitor_id": 1, "name": "Latency high", "evaluated_until": T0, "overall_state": "No Data",
         "groups": {"*": {"status": "OK", "value": 1.0, "reason": "below", "first_seen": T0, "last_data": T0}},
         "error": None},
        {"monitor_id": 2, "name": "Other", "evaluated_until": None, "overall_state": "No Data", "groups": {},
         "error": None}]
