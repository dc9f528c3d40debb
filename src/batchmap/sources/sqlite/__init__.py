"""The embedded source: an SQS-like queue and a Kinesis-like stream in one SQLite file.

Needs nothing but the standard library and works on a fresh machine; several
processes may produce and consume on one file at once. See docs/embedded-source.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from batchmap.sources.sqlite.admin import (
    QueueInfo,
    ShardInfo,
    StreamInfo,
    create_queue,
    create_stream,
    inspect,
    purge,
    send,
    set_queue_attributes,
)
from batchmap.sources.sqlite.attributes import QueueAttributes, RedrivePolicy, parse_attributes
from batchmap.sources.sqlite.checkpoints import Lease, SqliteCheckpointStore
from batchmap.sources.sqlite.destination import SqliteQueueDestination
from batchmap.sources.sqlite.queue import SqliteQueue
from batchmap.sources.sqlite.queue_records import OutgoingMessage, SendResult
from batchmap.sources.sqlite.shards import hash_key
from batchmap.sources.sqlite.stream import SqliteStream
from batchmap.sources.sqlite.stream_records import PutResult
from batchmap.sources.sqlite.stream_store import OutgoingRecord
from batchmap.sources.sqlite.uri import SqliteUri, parse_uri, queue_arn, stream_arn

if TYPE_CHECKING:
    from batchmap.sources.registry import SourceOptions

__all__ = [
    "Lease",
    "OutgoingMessage",
    "OutgoingRecord",
    "PutResult",
    "QueueAttributes",
    "QueueInfo",
    "RedrivePolicy",
    "SendResult",
    "ShardInfo",
    "SqliteCheckpointStore",
    "SqliteQueue",
    "SqliteQueueDestination",
    "SqliteStream",
    "SqliteUri",
    "StreamInfo",
    "arn_of",
    "create_queue",
    "create_stream",
    "hash_key",
    "inspect",
    "open_destination",
    "open_source",
    "parse_attributes",
    "parse_uri",
    "purge",
    "queue_arn",
    "send",
    "set_queue_attributes",
    "stream_arn",
]


def arn_of(uri: str) -> str:
    """The ``eventSourceARN`` of the queue or stream a URI names."""
    return parse_uri(uri).arn


async def open_source(uri: str, options: SourceOptions | None = None) -> SqliteQueue | SqliteStream:
    """The registry's opener: the queue or stream the URI names, created on first use with AWS defaults."""
    where = parse_uri(uri)
    if where.kind == "queue":
        return await SqliteQueue.open(where)
    return await SqliteStream.open(where)


async def open_destination(uri: str, options: SourceOptions | None = None) -> SqliteQueueDestination:
    """The destination registry's opener: an embedded queue receiving on-failure records."""
    return await SqliteQueueDestination.open(uri)
