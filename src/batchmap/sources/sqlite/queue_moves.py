"""Moving messages out of an embedded dead-letter queue: where each came from, and the move itself.

A receive that dead-letters a message records the queue it came from
(``messages.dead_letter_source``), so a move can send each message back to its
own queue, as SQS's redrive does. A message dead-lettered by a version that did
not record it is traced through the redrive policies instead: when exactly one
queue in the file names this queue as its ``deadLetterTargetArn``, that one.

A move is one ``UPDATE`` of the rows themselves in one transaction: a message
is in one queue or the other, never both and never neither.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Sequence

from batchmap.errors import ConfigError
from batchmap.sources.sqlite.database import Database
from batchmap.sources.sqlite.queue_records import parse_handle
from batchmap.sources.sqlite.queue_table import QueueRow
from batchmap.sources.sqlite.uri import SqliteUri, parse_uri

_MOVE = ("UPDATE messages SET queue_id = :dest, receive_count = 0, first_receive_ms = NULL, receipt = NULL, "
         "dead_letter_source = NULL, visible_ms = :now, "
         "enqueued_ms = CASE WHEN :fifo THEN :now ELSE enqueued_ms END "
         "WHERE queue_id = :dlq AND receipt = :token AND seq IN (SELECT value FROM json_each(:seqs))")
"""The receive count starts again; a standard message keeps its retention clock, a FIFO one restarts it
(the rule SQS applies when it dead-letters)."""


def origins(db: Database, dlq: QueueRow, where: SqliteUri, handles: Sequence[str]) -> list[str | None]:
    """For each receipt handle, the URI of the queue that dead-lettered its message, if known."""
    seqs = [parse_handle(handle)[0] for handle in handles]
    with db.read() as conn:
        found = dict(conn.execute(
            "SELECT m.seq, q.name FROM messages AS m JOIN queues AS q ON q.id = m.dead_letter_source "
            "WHERE m.seq IN (SELECT value FROM json_each(?))", (json.dumps(seqs),)).fetchall())
        fallback = _only_source(conn, dlq.arn)
    return [_queue_uri(where, found.get(seq) or fallback) for seq in seqs]


def _only_source(conn: sqlite3.Connection, dlq_arn: str) -> str | None:
    """The one queue whose redrive policy targets ``dlq_arn``, or ``None`` when none or several do."""
    names = []
    for name, attributes in conn.execute("SELECT name, attributes FROM queues"):
        policy = json.loads(attributes).get("RedrivePolicy")
        if policy and json.loads(policy).get("deadLetterTargetArn") == dlq_arn:
            names.append(name)
    return names[0] if len(names) == 1 else None


def _queue_uri(where: SqliteUri, name: str | None) -> str | None:
    return None if name is None else SqliteUri(where.path, "queue", name, where.synchronous,
                                              where.busy_timeout_s).uri()


def move(db: Database, dlq: QueueRow, where: SqliteUri, handles: Sequence[str], destination: str,
         now_ms: int) -> int:
    """Move the messages still held under ``handles`` to the queue ``destination`` (same file), at once."""
    target = _destination(db, dlq, where, destination)
    by_token: dict[str, list[int]] = {}
    for handle in handles:
        seq, token = parse_handle(handle)
        by_token.setdefault(token, []).append(seq)
    moved = 0
    with db.write() as conn:
        for token, seqs in by_token.items():
            moved += conn.execute(_MOVE, {"dest": target, "now": now_ms, "fifo": dlq.attributes.fifo,
                                          "dlq": dlq.id, "token": token, "seqs": json.dumps(seqs)}).rowcount
    return moved


def _destination(db: Database, dlq: QueueRow, where: SqliteUri, destination: str) -> int:
    """The row id of the destination queue, which must be another queue of the same kind in the same file."""
    target = parse_uri(destination)
    if target.kind != "queue" or os.path.realpath(target.path) != os.path.realpath(where.path):
        raise ConfigError("--destination-arn", destination,
                          f"a queue in the same database file as the source ({where.path})")
    if target.name == dlq.name:
        raise ConfigError("--destination-arn", destination, "a queue other than the source queue")
    with db.read() as conn:
        row = conn.execute("SELECT id, fifo FROM queues WHERE name = ?", (target.name,)).fetchone()
    if row is None:
        raise ConfigError("--destination-arn", destination, f"an existing queue in {where.path}")
    if bool(row[1]) != dlq.attributes.fifo:
        kind = "FIFO" if dlq.attributes.fifo else "standard"
        raise ConfigError("--destination-arn", destination, f"a {kind} queue, like the source queue")
    return int(row[0])
