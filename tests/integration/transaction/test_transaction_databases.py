"""One transaction per batch, a savepoint per record, on real PostgreSQL and MariaDB.

Every test asserts the rows the database holds afterwards, read over a second connection.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from transaction_support import Database

from batchmap.errors import ConfigError
from batchmap.handler import ConnectionCache, process_batch_in_transaction, run_batch_in_transaction
from batchmap.records import kinesis_record, records_event, sqs_record


def sqs_batch(*ids: int) -> dict[str, Any]:
    return records_event([sqs_record(json.dumps({"id": i}), message_id=f"m{n}") for n, i in enumerate(ids)])


def inserter(db: Database, *, fail: set[int] = frozenset(), then: Any = None) -> Any:  # type: ignore[assignment]
    def handle(record: Any, cursor: Any) -> None:
        item = record.json()["id"]
        if then is not None:
            then(item, cursor)
        cursor.execute(f"INSERT INTO {db.table} (id, body) VALUES (%s, %s)", (item, f"body-{item}"))
        if item in fail:
            raise ValueError(f"record {item} is bad after writing")

    return handle


def failures(response: Any) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def test_a_bad_record_is_rolled_back_alone_and_the_rest_commit(db: Database) -> None:
    conn = db.connect()
    try:
        response = process_batch_in_transaction(sqs_batch(1, 2, 3, 4), inserter(db, fail={3}), conn)
    finally:
        conn.close()
    assert failures(response) == ["m2"]
    assert db.rows() == [(1, "body-1"), (2, "body-2"), (4, "body-4")]


def test_duplicate_keys_count_as_already_processed(db: Database) -> None:
    db.execute(f"INSERT INTO {db.table} (id, body) VALUES (2, 'from an earlier delivery')")
    conn = db.connect()
    try:
        result = run_batch_in_transaction(sqs_batch(1, 2, 3, 3), inserter(db), conn)
    finally:
        conn.close()
    assert failures(result.response) == [] and result.succeeded == 4
    assert db.rows() == [(1, "body-1"), (2, "from an earlier delivery"), (3, "body-3")]


def test_nothing_is_visible_before_the_batch_commits(db: Database) -> None:
    seen_mid_batch: list[list[tuple[int, str]]] = []

    def peek(item: int, cursor: Any) -> None:
        if item == 3:
            seen_mid_batch.append(db.rows())

    conn = db.connect()
    try:
        process_batch_in_transaction(sqs_batch(1, 2, 3), inserter(db, then=peek), conn)
    finally:
        conn.close()
    assert seen_mid_batch == [[]]
    assert [i for i, _ in db.rows()] == [1, 2, 3]


def test_a_killed_connection_fails_the_whole_batch_then_reconnects(db: Database) -> None:
    cache: ConnectionCache[Any] = ConnectionCache(db.connect)
    first = cache.get()

    def kill_at_three(item: int, cursor: Any) -> None:
        if item == 3:
            db.kill(cursor.connection)

    response = process_batch_in_transaction(sqs_batch(1, 2, 3, 4), inserter(db, then=kill_at_three), first)
    assert failures(response) == ["m0", "m1", "m2", "m3"]  # records 1 and 2 ran, but were rolled back
    assert db.rows() == []

    second = cache.get()  # the next invocation: the dead connection is replaced
    assert second is not first and cache.connects == 2
    assert failures(process_batch_in_transaction(sqs_batch(1, 2, 3, 4), inserter(db), second)) == []
    assert [i for i, _ in db.rows()] == [1, 2, 3, 4]
    cache.close()


def test_the_connection_is_reused_across_warm_invocations(db: Database) -> None:
    cache: ConnectionCache[Any] = ConnectionCache(db.connect)
    backends = []
    for batch in (sqs_batch(1, 2), sqs_batch(3), sqs_batch(4, 5)):
        conn = cache.get()
        backends.append(db.backend_id(conn))
        assert failures(process_batch_in_transaction(batch, inserter(db), conn)) == []
    assert cache.connects == 1 and len(set(backends)) == 1
    assert [i for i, _ in db.rows()] == [1, 2, 3, 4, 5]
    cache.get().close()
    assert db.backend_id(cache.get()) not in backends and cache.connects == 2
    cache.close()


def test_stream_batches_stop_at_the_failure_inside_the_transaction(db: Database) -> None:
    event = records_event([kinesis_record(json.dumps({"id": i}), partition_key="p", sequence_number=str(100 + i))
                           for i in (1, 2, 3, 4)])
    conn = db.connect()
    try:
        response = process_batch_in_transaction(event, inserter(db, fail={2}), conn)
    finally:
        conn.close()
    assert failures(response) == ["102", "103", "104"]
    assert db.rows() == [(1, "body-1")]


def test_a_failed_commit_reports_every_record(postgres: Database) -> None:
    """A deferred unique constraint is checked at COMMIT: the commit fails, so the whole batch comes back."""
    table = postgres.table
    postgres.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_body UNIQUE (body) DEFERRABLE INITIALLY DEFERRED")

    def same_body(record: Any, cursor: Any) -> None:
        cursor.execute(f"INSERT INTO {table} (id, body) VALUES (%s, 'same')", (record.json()["id"],))

    conn = postgres.connect()
    try:
        response = process_batch_in_transaction(sqs_batch(1, 2), same_body, conn)
    finally:
        conn.close()
    assert failures(response) == ["m0", "m1"]
    assert postgres.rows() == []


def test_autocommit_connections_are_refused(postgres: Database) -> None:
    conn = postgres.connect()
    conn.autocommit = True
    try:
        with pytest.raises(ConfigError, match="autocommit"):
            process_batch_in_transaction(sqs_batch(1), inserter(postgres), conn)
    finally:
        conn.close()
    assert postgres.rows() == []
