"""Looking at an embedded file without changing it: ``inspect``, and the checks before ``run`` consumes.

The file is opened read-only (a ``file:...?mode=ro`` URI), so nothing can be
created or written: no schema, no queue, no retention sweep. When no other
connection has the file open (no ``-wal`` file beside it) it is also opened
``immutable``, which keeps SQLite from leaving ``-wal``/``-shm`` files behind,
as a read-only connection cannot delete them; a writer that starts during those
few milliseconds could only make the counts stale. Counts leave out what a
sweep would delete (messages and records past their retention period).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from batchmap.errors import ConfigError
from batchmap.sources.sqlite.attributes import parse_attributes
from batchmap.sources.sqlite.queue_tenants import TenantCounts, tenant_counts
from batchmap.sources.sqlite.shards import format_sequence
from batchmap.sources.sqlite.stream_store import load_shards
from batchmap.sources.sqlite.uri import SqliteUri, queue_name_from_arn, stream_arn


@dataclass(frozen=True, slots=True)
class QueueInfo:
    """A queue's depth by state and its attributes (as ``get-queue-attributes`` shows them).

    On a standard queue with grouped messages (a fair queue): how many tenants
    (``message_groups``), how many of them AWS's concurrency rule calls noisy,
    and the ``LISTED_TENANTS`` largest backlogs with their counts.
    """

    uri: str
    arn: str
    name: str
    fifo: bool
    visible: int
    in_flight: int
    delayed: int
    dead_lettered: int
    attributes: dict[str, str]
    message_groups: int = 0
    noisy_groups: int = 0
    groups: tuple[TenantCounts, ...] = ()

    @property
    def total(self) -> int:
        return self.visible + self.in_flight + self.delayed


LISTED_TENANTS = 20
"""How many tenants ``inspect`` lists (the largest backlogs); it counts them all."""


@dataclass(frozen=True, slots=True)
class ShardInfo:
    """One shard: its hash-key range, lineage, and the retained records in it."""

    shard_id: str
    parent_ids: tuple[str, ...]
    closed: bool
    starting_hash_key: str
    ending_hash_key: str
    records: int
    first_sequence_number: str | None
    last_sequence_number: str | None


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """A stream's shards and retention."""

    uri: str
    arn: str
    name: str
    retention_hours: int
    shards: tuple[ShardInfo, ...]

    @property
    def records(self) -> int:
        return sum(shard.records for shard in self.shards)


_QUEUE_COUNTS = (
    "SELECT COALESCE(SUM(visible_ms <= :now), 0), COALESCE(SUM(visible_ms > :now AND receive_count > 0), 0), "
    "COALESCE(SUM(visible_ms > :now AND receive_count = 0), 0) FROM messages "
    "WHERE queue_id = :queue AND enqueued_ms > :cutoff"
)


def describe(where: SqliteUri, now_ms: int) -> QueueInfo | StreamInfo:
    """The queue or stream ``where`` names, read without changing the file; a ``ConfigError`` if it is not there."""
    with read_only(where) as conn:
        if where.kind == "queue":
            return _queue(conn, where, now_ms)
        return _stream(conn, where, now_ms)


def require(where: SqliteUri) -> None:
    """Fail, naming the queue or stream and listing what the file holds, unless it exists.

    Cheap whatever the backlog: one lookup by name, no counting.
    """
    table = "queues" if where.kind == "queue" else "streams"
    with read_only(where) as conn:
        _find(conn, where, f"SELECT id FROM {table} WHERE name = ?")


@contextmanager
def read_only(where: SqliteUri) -> Iterator[sqlite3.Connection]:
    """A read-only connection to the file ``where`` names; a missing or unusable file is a ``ConfigError``."""
    if not os.path.isfile(where.path):
        raise ConfigError("--source", where.uri(), f"no database file at {where.path}")
    flags = "mode=ro" if os.path.exists(where.path + "-wal") else "mode=ro&immutable=1"
    try:
        conn = sqlite3.connect(f"file:{quote(where.path)}?{flags}", uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise _unusable(where, exc) from exc
    try:
        conn.execute("BEGIN")  # one snapshot for every statement
        yield conn
    except sqlite3.Error as exc:
        raise _unusable(where, exc) from exc
    finally:
        conn.close()


def _unusable(where: SqliteUri, exc: sqlite3.Error) -> ConfigError:
    return ConfigError("--source", where.uri(), f"a readable batchmap database: {where.path}: {exc}")


def _queue(conn: sqlite3.Connection, where: SqliteUri, now_ms: int) -> QueueInfo:
    row = _find(conn, where, "SELECT id, attributes FROM queues WHERE name = ?")
    attributes = parse_attributes(json.loads(row[1]), queue_name=where.name)
    cutoff = now_ms - attributes.message_retention_s * 1000
    visible, in_flight, delayed = conn.execute(
        _QUEUE_COUNTS, {"now": now_ms, "queue": row[0], "cutoff": cutoff}).fetchone()
    dead = 0
    if attributes.redrive is not None:
        dead = conn.execute(
            "SELECT COUNT(*) FROM messages WHERE queue_id = (SELECT id FROM queues WHERE name = ?)",
            (queue_name_from_arn(attributes.redrive.dead_letter_target_arn),)).fetchone()[0]
    tenants = [] if attributes.fifo else tenant_counts(conn, row[0], now_ms, cutoff, in_flight)
    return QueueInfo(uri=where.uri(), arn=where.arn, name=where.name, fifo=attributes.fifo, visible=visible,
                     in_flight=in_flight, delayed=delayed, dead_lettered=dead, attributes=attributes.to_dict(),
                     message_groups=len(tenants), noisy_groups=sum(t.noisy for t in tenants),
                     groups=tuple(tenants[:LISTED_TENANTS]))


def _stream(conn: sqlite3.Connection, where: SqliteUri, now_ms: int) -> StreamInfo:
    stream_id, hours = _find(conn, where, "SELECT id, retention_hours FROM streams WHERE name = ?")
    cutoff = now_ms - int(hours) * 3_600_000
    shards = []
    for shard in load_shards(conn, int(stream_id)):
        count, first, last = conn.execute(
            "SELECT COUNT(*), MIN(seq), MAX(seq) FROM records WHERE shard_row = ? AND arrival_ms > ?",
            (shard.row, cutoff)).fetchone()
        shards.append(ShardInfo(shard.id, shard.parent_ids, shard.closed, str(shard.range.start),
                                str(shard.range.end), count, _sequence(first), _sequence(last)))
    return StreamInfo(uri=where.uri(), arn=stream_arn(where.name), name=where.name, retention_hours=int(hours),
                      shards=tuple(shards))


def _find(conn: sqlite3.Connection, where: SqliteUri, sql: str) -> tuple[Any, ...]:
    if not _has_tables(conn):
        raise ConfigError("--source", where.uri(), f"a batchmap database; {where.path} holds no queues or streams")
    found = conn.execute(sql, (where.name,)).fetchone()
    if found is None:
        raise ConfigError("--source", where.uri(), f"no {where.kind} named {where.name!r} in {where.path}; "
                                                   f"{holdings(conn)}")
    return tuple(found)


def _has_tables(conn: sqlite3.Connection) -> bool:
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return {"queues", "streams", "messages", "records", "shards"} <= tables


def holdings(conn: sqlite3.Connection) -> str:
    """What a file holds, for an error about a name it does not: ``it holds queues a, b and streams s``."""
    queues = [row[0] for row in conn.execute("SELECT name FROM queues ORDER BY name")]
    streams = [row[0] for row in conn.execute("SELECT name FROM streams ORDER BY name")]
    if not queues and not streams:
        return "it holds no queue or stream yet (create-queue, create-stream or send creates one)"
    parts = [f"{kind} {', '.join(names)}" for kind, names in (("queues", queues), ("streams", streams)) if names]
    return f"it holds {' and '.join(parts)}"


def _sequence(seq: int | None) -> str | None:
    return None if seq is None else format_sequence(seq)
