"""The embedded source: an SQS-like queue and a Kinesis-like stream in one SQLite file.

Needs nothing but the standard library and works on a fresh machine; several
processes may produce and consume on one file at once. See docs/embedded-source.md.
"""

from __future__ import annotations

from batchmap.sources.sqlite.attributes import QueueAttributes, RedrivePolicy, parse_attributes
from batchmap.sources.sqlite.queue import SqliteQueue
from batchmap.sources.sqlite.queue_records import OutgoingMessage, SendResult
from batchmap.sources.sqlite.uri import SqliteUri, parse_uri, queue_arn, stream_arn

__all__ = [
    "OutgoingMessage",
    "QueueAttributes",
    "RedrivePolicy",
    "SendResult",
    "SqliteQueue",
    "SqliteUri",
    "parse_attributes",
    "parse_uri",
    "queue_arn",
    "stream_arn",
]
