"""The ``queues`` table: create a queue on first use, or load it and its dead-letter queue.

Creating with attributes that differ from an existing queue's is an error, as
SQS's ``QueueAlreadyExists``; opening by URI alone takes whatever is stored.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from batchmap.errors import ConfigError
from batchmap.sources.sqlite.attributes import QueueAttributes, parse_attributes
from batchmap.sources.sqlite.database import Database
from batchmap.sources.sqlite.uri import queue_arn, queue_name_from_arn


@dataclass(frozen=True, slots=True)
class QueueRow:
    """A queue as stored: its row id, name, ARN, attributes and dead-letter queue row id."""

    id: int
    name: str
    arn: str
    attributes: QueueAttributes
    dlq_id: int | None


def load_queue(db: Database, name: str, attributes: QueueAttributes | None, *, now_ms: int,
               create_with: QueueAttributes) -> QueueRow:
    """The queue ``name``, created with ``attributes`` (or ``create_with``) if it does not exist yet."""
    with db.write() as conn:
        found = conn.execute("SELECT id, attributes FROM queues WHERE name = ?", (name,)).fetchone()
        if found is None:
            attrs = attributes or create_with
            dlq_id = _dead_letter_queue(conn, name, attrs)
            queue_id = conn.execute(
                "INSERT INTO queues (name, fifo, attributes, created_ms) VALUES (?, ?, ?, ?)",
                (name, int(attrs.fifo), json.dumps(attrs.to_dict()), now_ms),
            ).lastrowid
            assert queue_id is not None
            return QueueRow(queue_id, name, queue_arn(name), attrs, dlq_id)
        stored = parse_attributes(json.loads(found[1]), queue_name=name)
        if attributes is not None and attributes != stored:
            _raise_already_exists(name, attributes, stored)
        return QueueRow(found[0], name, queue_arn(name), stored, _dead_letter_queue(conn, name, stored))


def update_attributes(db: Database, name: str, changes: dict[str, str]) -> QueueAttributes:
    """SetQueueAttributes: merge ``changes`` into the stored attributes (FifoQueue cannot change)."""
    if "FifoQueue" in changes:
        raise ConfigError("FifoQueue", changes["FifoQueue"], "set only when the queue is created")
    with db.write() as conn:
        found = conn.execute("SELECT attributes FROM queues WHERE name = ?", (name,)).fetchone()
        if found is None:
            raise ConfigError("QueueName", name, "an existing queue in this database file")
        merged = {**json.loads(found[0]), **changes}
        if changes.get("RedrivePolicy") == "":
            merged.pop("RedrivePolicy")
        attrs = parse_attributes(merged, queue_name=name)
        _dead_letter_queue(conn, name, attrs)
        conn.execute("UPDATE queues SET attributes = ? WHERE name = ?", (json.dumps(attrs.to_dict()), name))
    return attrs


def queue_names(db: Database) -> list[str]:
    """Every queue in the file, by name."""
    with db.read() as conn:
        return [row[0] for row in conn.execute("SELECT name FROM queues ORDER BY name")]


def _dead_letter_queue(conn: sqlite3.Connection, name: str, attrs: QueueAttributes) -> int | None:
    if attrs.redrive is None:
        return None
    arn = attrs.redrive.dead_letter_target_arn
    dlq_name = queue_name_from_arn(arn)
    if dlq_name == name:
        raise ConfigError("RedrivePolicy.deadLetterTargetArn", arn, "a queue other than the source queue")
    row = conn.execute("SELECT id, fifo FROM queues WHERE name = ?", (dlq_name,)).fetchone()
    if row is None:
        raise ConfigError("RedrivePolicy.deadLetterTargetArn", arn,
                          "an existing queue in the same database file (create the dead-letter queue first)")
    if bool(row[1]) != attrs.fifo:
        kind = "FIFO" if attrs.fifo else "standard"
        raise ConfigError("RedrivePolicy.deadLetterTargetArn", arn, f"a {kind} queue, like the source queue")
    return int(row[0])


def _raise_already_exists(name: str, wanted: QueueAttributes, stored: QueueAttributes) -> None:
    want, have = wanted.to_dict(), stored.to_dict()
    for key in sorted(set(want) | set(have)):
        if want.get(key) != have.get(key):
            raise ConfigError(key, want.get(key),
                              f"queue {name} already exists with {key}={have.get(key)!r} "
                              "(QueueAlreadyExists)")
