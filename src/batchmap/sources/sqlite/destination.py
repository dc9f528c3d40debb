"""An embedded queue as an on-failure destination: each record becomes one JSON message body."""

from __future__ import annotations

import json
import os
from typing import Any

from batchmap.clock import Clock
from batchmap.errors import ConfigError
from batchmap.sources.sqlite.queue import SqliteQueue
from batchmap.sources.sqlite.queue_records import OutgoingMessage, content_deduplication_id
from batchmap.sources.sqlite.uri import parse_uri


class SqliteQueueDestination:
    """A ``Destination`` that sends AWS's on-failure invocation records to an embedded queue.

    On a FIFO queue the records share one message group (``on-failure``) and are
    deduplicated by content, so they keep their order.
    """

    def __init__(self, queue: SqliteQueue) -> None:
        self.queue = queue
        self.uri = queue.uri

    @classmethod
    async def open(cls, uri: str, *, clock: Clock | None = None) -> SqliteQueueDestination:
        """Open (creating on first use) the queue a ``sqlite:///FILE?queue=NAME`` URI names."""
        where = parse_uri(uri)
        if where.kind != "queue":
            raise ConfigError("DestinationConfig.OnFailure.Destination", uri,
                              "an embedded queue URI (?queue=NAME)")
        folder = os.path.dirname(where.path)
        if not os.path.isdir(folder):
            raise ConfigError("DestinationConfig.OnFailure.Destination", uri,
                              f"a database file in an existing folder ({folder} is not one)")
        return cls(await SqliteQueue.open(uri, clock=clock))

    async def send(self, record: dict[str, Any]) -> None:
        """Deliver one on-failure record as a compact JSON body; raises if it cannot be stored."""
        body = json.dumps(record, separators=(",", ":"))
        if self.queue.fifo:
            message = OutgoingMessage(body, "on-failure", content_deduplication_id(body))
        else:
            message = OutgoingMessage(body)
        await self.queue.send_messages([message])

    async def close(self) -> None:
        await self.queue.close()
