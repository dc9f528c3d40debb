"""The connection layer: a lock held too long is a SourceError naming the file; the public names resolve."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import batchmap.sources.sqlite as embedded
from batchmap.errors import SourceError
from batchmap.sources.sqlite.database import Database


def test_a_lock_held_past_the_busy_timeout_is_a_source_error(tmp_path: Path) -> None:
    path = str(tmp_path / "locked.db")
    db = Database(path, busy_timeout_s=0.05)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(SourceError, match=r"locked\.db: database is locked"), db.write():
            pass
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with db.write() as conn:  # usable again once the other writer is gone
        conn.execute("SELECT 1")
    db.close()


def test_the_public_names_resolve_and_are_sorted() -> None:
    assert embedded.__all__ == sorted(embedded.__all__)
    for name in embedded.__all__:
        assert getattr(embedded, name) is not None, name


def test_a_closed_database_refuses_work_instead_of_starting_a_thread(tmp_path: Path) -> None:
    import asyncio
    import threading

    db = Database(str(tmp_path / "closed.db"))
    asyncio.run(db.run(db.conn.execute, "SELECT 1"))
    db.close()
    before = threading.active_count()
    with pytest.raises(RuntimeError, match=r"closed\.db: the database is closed"):
        asyncio.run(db.run(db.conn.execute, "SELECT 1"))
    assert threading.active_count() == before
    with pytest.raises(RuntimeError, match="the database is closed"):
        db.change_counter()
