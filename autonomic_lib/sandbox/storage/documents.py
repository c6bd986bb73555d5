"""JSON documents of the sandbox (dashboards, monitors, workflows, cases, logs, events) in its DuckDB file.

Each kind of resource is a collection of JSON bodies keyed by id, with an optional timestamp for
time-ranged listing (logs, events). Writes of several documents are atomic, like the metric store's.
"""

from __future__ import annotations

import builtins

from typing import Any, Iterable

import orjson
import pandas as pd

from autonomic_lib.sandbox.storage.database import Database, transaction

Rows = list[tuple[Any, ...]]  # named outside the class: its `list` method shadows the builtin in annotations


class DocumentStore:
    """Durable JSON documents by kind and id.

    Usage::

        docs = DocumentStore(database)
        docs.put("monitor", "42", {"id": 42, "name": "..."})
        docs.get("monitor", "42")
        docs.list("log", since=t0, until=t1)   # by the documents' timestamps
    """

    def __init__(self, database: Database):
        self._db = database
        database.con.execute(
            "CREATE TABLE IF NOT EXISTS documents (kind VARCHAR NOT NULL, id VARCHAR NOT NULL, ts BIGINT, "
            "body VARCHAR NOT NULL, seq BIGINT NOT NULL, PRIMARY KEY (kind, id))")
        database.con.execute("CREATE TABLE IF NOT EXISTS counters (kind VARCHAR PRIMARY KEY, value BIGINT NOT NULL)")
        row = database.con.execute("SELECT coalesce(max(seq), 0) FROM documents").fetchone()
        self._seq = int(row[0]) if row else 0

    def put(self, kind: str, doc_id: str | int, body: dict[str, Any], *, ts: int | None = None) -> None:
        """Create or replace one document."""
        self.put_many(kind, [(doc_id, ts, body)])

    def put_many(self, kind: str, items: Iterable[tuple[str | int, int | None, dict[str, Any]]]) -> int:
        """Create or replace documents in one transaction; returns how many were written.

        Rows go in as one frame: DuckDB's executemany is row by row (seconds per thousand logs).
        """
        encoded = [(str(doc_id), ts, orjson.dumps(body).decode()) for doc_id, ts, body in items]
        if not encoded:
            return 0
        latest = {doc_id: (doc_id, ts, body) for doc_id, ts, body in encoded}  # the last write of an id wins
        with self._db.write_lock:
            frame = pd.DataFrame(list(latest.values()), columns=["id", "ts", "body"])
            frame.insert(0, "kind", kind)
            frame["ts"] = frame["ts"].astype("Int64")
            frame["seq"] = range(self._seq + 1, self._seq + 1 + len(frame))
            with transaction(self._db.con) as con:
                con.register("incoming_documents", frame)
                con.execute("INSERT OR REPLACE INTO documents SELECT kind, id, ts, body, seq FROM incoming_documents")
                con.unregister("incoming_documents")
            self._seq += len(frame)
        return len(encoded)

    def get(self, kind: str, doc_id: str | int) -> dict[str, Any] | None:
        """The document, or None when there is none."""
        row = self._read("SELECT body FROM documents WHERE kind = ? AND id = ?", [kind, str(doc_id)])
        return orjson.loads(row[0][0]) if row else None

    def delete(self, kind: str, doc_id: str | int) -> bool:
        """Remove a document; False when it did not exist."""
        with self._db.write_lock:
            deleted = self._db.con.execute("DELETE FROM documents WHERE kind = ? AND id = ? RETURNING id",
                                           [kind, str(doc_id)]).fetchall()
        return bool(deleted)

    def delete_kind(self, kind: str) -> int:
        """Remove every document of a kind (a new run forgets the last one's); how many there were."""
        with self._db.write_lock:
            deleted = self._db.con.execute("DELETE FROM documents WHERE kind = ? RETURNING id", [kind]).fetchall()
        return len(deleted)

    def list(self, kind: str, *, since: int | None = None, until: int | None = None,
             limit: int | None = None, newest_first: bool = False) -> list[dict[str, Any]]:
        """Documents of a kind in write order (or by timestamp when a time range is given)."""
        sql = "SELECT body FROM documents WHERE kind = ?"
        params: list[Any] = [kind]
        if since is not None:
            sql += " AND ts >= ?"
            params.append(since)
        if until is not None:
            sql += " AND ts < ?"
            params.append(until)
        order = "ts" if since is not None or until is not None else "seq"
        sql += f" ORDER BY {order} {'DESC' if newest_first else 'ASC'}, seq"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [orjson.loads(body) for (body,) in self._read(sql, params)]

    def list_in_buckets(self, kind: str, buckets: Iterable[int], width: int) -> builtins.list[dict[str, Any]]:
        """Documents of a kind whose timestamp falls in one of the `width`-long buckets starting at `buckets`.

        One query however many buckets: a request touching a thousand scattered buckets made a thousand reads.
        """
        starts = sorted(set(buckets))
        if not starts:
            return []
        sql = ("SELECT body FROM documents WHERE kind = ? AND ts >= ? AND ts < ? "
               "AND ts - ts % ? IN (SELECT unnest(?::BIGINT[])) ORDER BY ts, seq")
        return [orjson.loads(body) for (body,) in self._read(sql, [kind, starts[0], starts[-1] + width, width, starts])]

    def buckets(self, kind: str, width: int) -> set[int]:
        """The starts of the `width`-long buckets holding at least one document of a kind."""
        return {int(b) for (b,) in self._read("SELECT DISTINCT ts - ts % ? FROM documents WHERE kind = ?",
                                               [width, kind])}

    def count(self, kind: str) -> int:
        """How many documents of a kind exist."""
        return int(self._read("SELECT count(*) FROM documents WHERE kind = ?", [kind])[0][0])

    def next_id(self, kind: str) -> int:
        """A new id for `kind`, never reused, even across restarts."""
        with self._db.write_lock:
            row = self._db.con.execute(
                "INSERT INTO counters VALUES (?, 1) ON CONFLICT (kind) DO UPDATE SET value = counters.value + 1 "
                "RETURNING value", [kind]).fetchone()
        assert row is not None  # RETURNING always yields the row
        return int(row[0])

    def _read(self, sql: str, params: Any) -> Rows:
        cur = self._db.con.cursor()
        try:
            return cur.execute(sql, params).fetchall()
        finally:
            cur.close()
