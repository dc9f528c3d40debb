"""What the ``batchmap`` commands do with an embedded queue or stream: create, send, inspect, purge.

Plain synchronous functions taking a source URI, so a command line (or a
script, or a test) can call them without an event loop. ``create_*`` take what
``aws sqs create-queue`` / ``aws kinesis create-stream`` take; ``send`` creates
a queue or stream named in the URI on first use, as every opener does, while
``inspect`` and ``purge`` never create anything.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from batchmap.clock import Clock, SystemClock
from batchmap.errors import ConfigError
from batchmap.sources.sqlite.attributes import parse_attributes
from batchmap.sources.sqlite.database import Database
from batchmap.sources.sqlite.queue_records import OutgoingMessage
from batchmap.sources.sqlite.queue_store import QueueStore
from batchmap.sources.sqlite.queue_table import update_attributes
from batchmap.sources.sqlite.stream_store import OutgoingRecord, StreamStore
from batchmap.sources.sqlite.uri import SqliteUri, parse_uri


@dataclass(frozen=True, slots=True)
class QueueInfo:
    """A queue's depth by state and its attributes (as ``get-queue-attributes`` shows them)."""

    uri: str
    arn: str
    name: str
    fifo: bool
    visible: int
    in_flight: int
    delayed: int
    dead_lettered: int
    attributes: dict[str, str]

    @property
    def total(self) -> int:
        return self.visible + self.in_flight + self.delayed


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


def create_queue(uri: str, attributes: dict[str, str] | None = None, *,
                 clock: Clock | None = None) -> QueueInfo:
    """CreateQueue: idempotent with the same attributes; different ones are a ConfigError."""
    where = _expect(uri, "queue")
    attrs = parse_attributes(dict(attributes or {}), queue_name=where.name)
    now_ms = (clock or SystemClock()).wall_ms()
    with _database(where, create=True) as db:
        return _queue_info(where, QueueStore(db, where.name, attrs, now_ms=now_ms), now_ms)


def set_queue_attributes(uri: str, attributes: dict[str, str], *, clock: Clock | None = None) -> QueueInfo:
    """SetQueueAttributes on an existing queue (``RedrivePolicy=""`` removes the policy)."""
    where = _expect(uri, "queue")
    now_ms = (clock or SystemClock()).wall_ms()
    with _database(where, create=False) as db:
        _require(db, where)
        update_attributes(db, where.name, attributes)
        return _queue_info(where, QueueStore(db, where.name, now_ms=now_ms), now_ms)


def create_stream(uri: str, shard_count: int = 1, retention_hours: int = 24, *,
                  clock: Clock | None = None) -> StreamInfo:
    """CreateStream with ``shard_count`` even shards; idempotent when both settings match."""
    where = _expect(uri, "stream")
    with _database(where, create=True) as db:
        now_ms = (clock or SystemClock()).wall_ms()
        store = StreamStore(db, where.name, now_ms=now_ms, shard_count=shard_count,
                            retention_hours=retention_hours)
        return _stream_info(where, store)


def send(uri: str, bodies: Sequence[str], *, partition_key: str | None = None,
         message_group_id: str | None = None, deduplication_id: str | None = None,
         delay_s: int | None = None, clock: Clock | None = None) -> list[str]:
    """Send bodies in one transaction: message ids for a queue, sequence numbers for a stream.

    Stream records without a partition key get a random one each (spread over shards).
    """
    where = parse_uri(uri)
    now_ms = (clock or SystemClock()).wall_ms()
    with _database(where, create=True) as db:
        if where.kind == "queue":
            if partition_key is not None:
                raise ConfigError("--partition-key", partition_key, "only for streams")
            store = QueueStore(db, where.name, now_ms=now_ms)
            messages = [OutgoingMessage(body, message_group_id, deduplication_id, delay_s) for body in bodies]
            return [result.message_id for result in store.send(messages, now_ms)]
        for name, value in (("--message-group-id", message_group_id),
                            ("--message-deduplication-id", deduplication_id), ("--delay-seconds", delay_s or None)):
            if value is not None:
                raise ConfigError(name, value, "only for queues; streams take --partition-key")
        records = [OutgoingRecord(body.encode("utf-8"), partition_key or str(uuid.uuid4()))
                   for body in bodies]
        stream = StreamStore(db, where.name, now_ms=now_ms)
        return [result.sequence_number for result in stream.put(records, now_ms)]


def inspect(uri: str, *, clock: Clock | None = None) -> QueueInfo | StreamInfo:
    """Depth by state and attributes of a queue, or shards and record counts of a stream."""
    where = parse_uri(uri)
    now_ms = (clock or SystemClock()).wall_ms()
    with _database(where, create=False) as db:
        _require(db, where)
        if where.kind == "queue":
            return _queue_info(where, QueueStore(db, where.name, now_ms=now_ms), now_ms)
        return _stream_info(where, StreamStore(db, where.name, now_ms=now_ms))


def purge(uri: str, *, clock: Clock | None = None) -> int:
    """PurgeQueue, or drop every record of a stream; returns how many were deleted."""
    where = parse_uri(uri)
    now_ms = (clock or SystemClock()).wall_ms()
    with _database(where, create=False) as db:
        _require(db, where)
        if where.kind == "queue":
            return QueueStore(db, where.name, now_ms=now_ms).purge()
        return StreamStore(db, where.name, now_ms=now_ms).purge()


@contextmanager
def _database(where: SqliteUri, *, create: bool) -> Iterator[Database]:
    if not create and not os.path.exists(where.path):
        raise ConfigError("--source", where.uri(), f"no database file at {where.path}")
    db = Database(where.path, where.synchronous)
    try:
        yield db
    finally:
        db.close()


def _expect(uri: str, kind: str) -> SqliteUri:
    where = parse_uri(uri)
    if where.kind != kind:
        raise ConfigError("--source", uri, f"a {kind} URI (?{kind}=NAME)")
    return where


def _require(db: Database, where: SqliteUri) -> None:
    table = "queues" if where.kind == "queue" else "streams"
    with db.read() as conn:
        found = conn.execute(f"SELECT 1 FROM {table} WHERE name = ?", (where.name,)).fetchone()
    if found is None:
        raise ConfigError("--source", where.uri(), f"no {where.kind} named {where.name!r} in {where.path}")


def _queue_info(where: SqliteUri, store: QueueStore, now_ms: int) -> QueueInfo:
    backlog = store.backlog(now_ms)
    return QueueInfo(uri=where.uri(), arn=store.row.arn, name=where.name, fifo=store.attributes.fifo,
                     visible=backlog.visible, in_flight=backlog.in_flight, delayed=backlog.delayed,
                     dead_lettered=backlog.dead_lettered, attributes=store.attributes.to_dict())


def _stream_info(where: SqliteUri, store: StreamStore) -> StreamInfo:
    counts = store.counts()
    shards = tuple(
        ShardInfo(row.id, row.parent_ids, row.closed, str(row.range.start), str(row.range.end),
                  *counts[row.id])
        for row in store.shards()
    )
    return StreamInfo(uri=where.uri(), arn=store.arn, name=where.name, retention_hours=store.retention_hours,
                      shards=shards)
