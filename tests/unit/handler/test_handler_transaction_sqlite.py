"""The per-batch transaction helper on sqlite3 (standard library, so it runs everywhere)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batchmap.handler import ConnectionCache, run_batch_in_transaction
from batchmap.records import records_event, sqs_record


@pytest.fixture
def path(tmp_path: Path) -> Iterator[Path]:
    db = tmp_path / "t.db"
    with sqlite3.connect(db) as setup:
        setup.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
    yield db


def rows(path: Path) -> list[int]:
    with sqlite3.connect(path) as reader:
        return [row[0] for row in reader.execute("SELECT id FROM t ORDER BY id")]


def batch(*ids: int) -> dict[str, Any]:
    return records_event([sqs_record(json.dumps({"id": i}), message_id=f"m{n}") for n, i in enumerate(ids)])


def test_savepoints_duplicates_and_one_commit(path: Path) -> None:
    conn = sqlite3.connect(path)

    def handle(record: Any, cursor: Any) -> None:
        item = record.json()["id"]
        cursor.execute("INSERT INTO t VALUES (?, ?)", (item, "x"))
        if item == 3:
            raise ValueError("bad")

    result = run_batch_in_transaction(batch(1, 2, 3, 2, 4), handle, conn)
    assert [r["itemIdentifier"] for r in result.response["batchItemFailures"]] == ["m2"]
    assert rows(path) == [1, 2, 4] and not conn.in_transaction
    conn.close()


def test_a_closed_connection_aborts_the_batch(path: Path) -> None:
    conn = sqlite3.connect(path)

    def handle(record: Any, cursor: Any) -> None:
        cursor.execute("INSERT INTO t VALUES (?, ?)", (record.json()["id"], "x"))
        if record.json()["id"] == 2:
            conn.close()

    result = run_batch_in_transaction(batch(1, 2, 3), handle, conn)
    assert len(result.response["batchItemFailures"]) == 3 and result.all_failed
    assert rows(path) == []
    assert {r.reason for r in result.results if r.status == "skipped"} == {"aborted"}


def test_connection_cache_reconnects_after_close(path: Path) -> None:
    cache: ConnectionCache[sqlite3.Connection] = ConnectionCache(lambda: sqlite3.connect(path))
    first = cache.get()
    assert cache.get() is first and cache.connects == 1
    cache.close()
    assert cache.get() is not first and cache.connects == 2
