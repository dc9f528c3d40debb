"""The embedded source: an SQS-like queue and a Kinesis-like stream in one SQLite file.

Needs nothing but the standard library and works on a fresh machine; several
processes may produce and consume on one file at once. See docs/embedded-source.md.
"""

from __future__ import annotations

from batchmap.lazy import lazy_exports
from batchmap.sources.sqlite.uri import SqliteUri, parse_uri, queue_arn, stream_arn

TYPE_CHECKING = False
if TYPE_CHECKING:
    from batchmap.sources.registry import SourceOptions
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

_HOME = {
    **dict.fromkeys(("QueueInfo", "ShardInfo", "StreamInfo", "create_queue", "create_stream", "inspect", "purge",
                     "send", "set_queue_attributes"), "admin"),
    **dict.fromkeys(("QueueAttributes", "RedrivePolicy", "parse_attributes"), "attributes"),
    **dict.fromkeys(("Lease", "SqliteCheckpointStore"), "checkpoints"),
    **dict.fromkeys(("OutgoingMessage", "SendResult"), "queue_records"),
    "SqliteQueueDestination": "destination",
    "SqliteQueue": "queue",
    "hash_key": "shards",
    "SqliteStream": "stream",
    "PutResult": "stream_records",
    "OutgoingRecord": "stream_store",
}
"""Where each name loads from on first use: a queue's run never imports the stream source or the admin commands."""
__getattr__, __dir__ = lazy_exports(globals(), _HOME, __all__)


def arn_of(uri: str) -> str:
    """The ``eventSourceARN`` of the queue or stream a URI names."""
    return parse_uri(uri).arn


async def open_source(uri: str, options: SourceOptions | None = None) -> SqliteQueue | SqliteStream:
    """The registry's opener: the queue or stream the URI names, created on first use with AWS defaults."""
    where = parse_uri(uri)
    if where.kind == "queue":
        from batchmap.sources.sqlite.queue import SqliteQueue

        return await SqliteQueue.open(where)
    from batchmap.sources.sqlite.stream import SqliteStream

    return await SqliteStream.open(where)


async def open_destination(uri: str, options: SourceOptions | None = None) -> SqliteQueueDestination:
    """The destination registry's opener: an embedded queue receiving on-failure records."""
    from batchmap.sources.sqlite.destination import SqliteQueueDestination

    return await SqliteQueueDestination.open(uri)
