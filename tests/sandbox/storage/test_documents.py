"""The sandbox's JSON document store: CRUD, time-ranged listing, ids never reused, durability."""

from __future__ import annotations

from pathlib import Path

import pytest

from autonomic_lib.sandbox.storage.database import open_database
from autonomic_lib.sandbox.storage.documents import DocumentStore


def test_put_get_replace_delete() -> None:
    docs = DocumentStore(open_database(None))
    docs.put("monitor", 1, {"name": "a"})
    docs.put("monitor", 1, {"name": "b"})
    docs.put("dashboard", 1, {"title": "c"})
    assert docs.get("monitor", "1") == {"name": "b"} and docs.get("dashboard", 1) == {"title": "c"}
    assert docs.count("monitor") == 1
    assert docs.delete("monitor", 1) is True and docs.delete("monitor", 1) is False
    assert docs.get("monitor", 1) is None


def test_list_by_time_range_and_order() -> None:
    docs = DocumentStore(open_database(None))
    docs.put_many("log", [(f"l{t}", t, {"t": t}) for t in (30, 10, 20)])
    assert [d["t"] for d in docs.list("log")] == [30, 10, 20]  # write order
    assert [d["t"] for d in docs.list("log", since=10, until=30)] == [10, 20]
    assert [d["t"] for d in docs.list("log", since=0, newest_first=True, limit=2)] == [30, 20]


def test_list_in_buckets_reads_only_the_buckets_asked_in_one_query() -> None:
    docs = DocumentStore(open_database(None))
    docs.put_many("span", [(f"s{t}", t, {"t": t}) for t in (5, 9, 10, 25, 30, 39, 40, 1000)])
    docs.put("log", "x", {"t": 31}, ts=31)  # another kind in a bucket asked for
    assert [d["t"] for d in docs.list_in_buckets("span", [30, 0, 30], 10)] == [5, 9, 30, 39]
    assert [d["t"] for d in docs.list_in_buckets("span", [1000], 10)] == [1000]
    assert docs.list_in_buckets("span", [], 10) == [] and docs.list_in_buckets("span", [50], 10) == []


def test_ids_are_never_reused_and_everything_survives_a_restart(tmp_path: Path) -> None:
    db = open_database(tmp_path / "s.duckdb")
    docs = DocumentStore(db)
    assert [docs.next_id("monitor"), docs.next_id("monitor"), docs.next_id("case")] == [1, 2, 1]
    docs.put("monitor", 2, {"id": 2})
    docs.delete("monitor", 2)
    docs.put("workflow", "w", {"name": "x"})
    db.close()
    again = DocumentStore(open_database(tmp_path / "s.duckdb"))
    assert again.next_id("monitor") == 3
    assert again.get("workflow", "w") == {"name": "x"} and again.get("monitor", 2) is None


def test_a_failed_batch_writes_nothing() -> None:
    docs = DocumentStore(open_database(None))
    with pytest.raises(TypeError):
        docs.put_many("event", [(1, 1, {"ok": True}), (2, 2, {"bad": object()})])
    assert docs.count("event") == 0
