"""One DuckDB file per sandbox, shared by every store in it (metrics, documents), with one write lock.

The file and its folder are owner-only (private.py): they hold everything sent to the sandbox.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import duckdb

from autonomic_lib.sandbox.storage.private import owner_only_umask, private_dir, private_file


@dataclass
class Database:
    """An open DuckDB connection and the lock that serialises writers (readers use their own cursors)."""

    con: duckdb.DuckDBPyConnection
    path: Path | None
    write_lock: threading.Lock = field(default_factory=threading.Lock)

    def close(self) -> None:
        """Checkpoint (so a restart replays no WAL) and close."""
        with self.write_lock:
            if self.path is not None:
                self.con.execute("CHECKPOINT")
            self.con.close()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All statements in the block commit together or not at all (the caller holds the write lock)."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def open_database(path: Path | None, *, memory_limit: str = "256MB", threads: int = 2) -> Database:
    """Open (or create) the database at `path`, owner-only in a 0700 folder; None keeps everything in memory (tests).

    DuckDB creates the .wal on the first write, after this returns: whoever writes first (the stores, setting up
    their tables) does so under `owner_only_umask()` too, as the server does.
    """
    if path is not None:
        private_dir(path.parent)
        for existing in (path, path.with_name(path.name + ".wal")):
            private_file(existing)
    with owner_only_umask():
        con = duckdb.connect(str(path) if path else ":memory:")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET threads = {int(threads)}")
    con.execute("SET preserve_insertion_order = false")
    return Database(con, path)
