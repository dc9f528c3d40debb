"""What the ``batchmap`` commands do with an embedded queue or stream: create, send, inspect, purge.

Plain synchronous functions taking a source URI, so a command line (or a
script, or a test) can call them without an event loop. ``create_*`` take what
``aws sqs create-queue`` / ``aws kinesis create-stream`` take; ``send`` creates
a queue or stream named in the URI on first use, as every opener does, while
``inspect``, ``purge`` and ``set_queue_attributes`` never create anything, and
``inspect`` reads the file without writing to it (``inspection``). A file that is
not a usable database is a ``ConfigError`` naming it; a failed change leaves the
file as it was (every change is one transaction).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from batchmap.clock import Clock, SystemClock
from batchmap.errors import ConfigError, SourceError
from batchmap.sources.bodies import Body, as_text
from batchmap.sources.sqlite.attributes import parse_attributes
from batchmap.sources.sqlite.database import Database
from batchmap.sources.sqlite.inspection import QueueInfo, ShardInfo, StreamInfo, describe, require
from batchmap.sources.sqlite.queue_records import OutgoingMessage
from batchmap.sources.sqlite.queue_store import QueueStore
from batchmap.sources.sqlite.queue_table import update_attributes
from batchmap.sources.sqlite.stream_store import StreamStore, outgoing_records
from batchmap.sources.sqlite.uri import SqliteUri, parse_uri

__all__ = ["QueueInfo", "ShardInfo", "StreamInfo", "create_queue", "create_stream", "inspect", "purge", "require",
           "send", "set_queue_attributes"]


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
    require(where)
    with _database(where, create=False) as db:
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


def send(uri: str, bodies: Sequence[Body], *, partition_key: str | None = None,
         message_group_id: str | None = None, deduplication_id: str | None = None,
         delay_s: int | None = None, clock: Clock | None = None) -> list[str]:
    """Send bodies in one transaction: message ids for a queue, sequence numbers for a stream.

    A stream stores each body exactly (bytes as given, text as UTF-8); records without a
    partition key get a random one each (spread over shards). A queue takes text (bytes
    only when UTF-8). Nothing is sent when any body or setting is refused.
    """
    where = parse_uri(uri)
    now_ms = (clock or SystemClock()).wall_ms()
    if where.kind == "queue":
        if partition_key is not None:
            raise ConfigError("--partition-key", partition_key, "only for streams")
        texts = [as_text(body, f"MessageBody (message {index})") for index, body in enumerate(bodies, 1)]
        messages = [OutgoingMessage(body, message_group_id, deduplication_id, delay_s) for body in texts]
        with _database(where, create=True) as db:
            store = QueueStore(db, where.name, now_ms=now_ms)
            return [result.message_id for result in store.send(messages, now_ms)]
    for name, value in (("--message-group-id", message_group_id),
                        ("--message-deduplication-id", deduplication_id), ("--delay-seconds", delay_s)):
        if value is not None:
            raise ConfigError(name, value, "only for queues; streams take --partition-key")
    records = outgoing_records(bodies, partition_key)
    with _database(where, create=True) as db:
        stream = StreamStore(db, where.name, now_ms=now_ms)
        return [result.sequence_number for result in stream.put(records, now_ms)]


def inspect(uri: str, *, clock: Clock | None = None) -> QueueInfo | StreamInfo:
    """Depth by state and attributes of a queue, or shards and record counts of a stream; read-only."""
    return describe(parse_uri(uri), (clock or SystemClock()).wall_ms())


def purge(uri: str, *, clock: Clock | None = None) -> int:
    """PurgeQueue, or drop every record of a stream; returns how many were deleted."""
    where = parse_uri(uri)
    now_ms = (clock or SystemClock()).wall_ms()
    require(where)
    with _database(where, create=False) as db:
        if where.kind == "queue":
            return QueueStore(db, where.name, now_ms=now_ms).purge()
        return StreamStore(db, where.name, now_ms=now_ms).purge()


@contextmanager
def _database(where: SqliteUri, *, create: bool) -> Iterator[Database]:
    """The file, open for changes; ``create`` allows a new file, in a folder that must exist."""
    folder = os.path.dirname(where.path)
    if not os.path.isdir(folder):
        raise ConfigError("--source", where.uri(), f"a database file in an existing folder ({folder} is not one)")
    if not create and not os.path.exists(where.path):
        raise ConfigError("--source", where.uri(), f"no database file at {where.path}")
    try:
        db = Database(where.path, where.synchronous)
        try:
            yield db
        finally:
            db.close()
    except SourceError as exc:  # a damaged file, or one that is not a database: no waiting cures it
        if exc.transient:
            raise
        raise ConfigError("--source", where.uri(), f"a usable batchmap database: {exc}") from exc


def _expect(uri: str, kind: str) -> SqliteUri:
    where = parse_uri(uri)
    if where.kind != kind:
        raise ConfigError("--source", uri, f"a {kind} URI (?{kind}=NAME)")
    return where


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
