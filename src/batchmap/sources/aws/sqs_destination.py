"""An SQS queue as an on-failure destination: one message per discarded batch, the record as its body.

As on AWS, the record carries the batch's metadata only (no ``payload``): the
records are read again from the stream (``batchmap replay``). AWS accepts
standard queues only and counts a send to a FIFO queue as a delivery failure;
batchmap refuses a FIFO queue when the mapping starts instead, so the mistake
shows before anything is consumed.
"""

from __future__ import annotations

import json
from typing import Any

from batchmap.errors import ConfigError
from batchmap.sources.aws.sqs import SqsQueue, open_source
from batchmap.sources.registry import SourceOptions

PARAMETER = "DestinationConfig.OnFailure.Destination"


class SqsDestination:
    """Sends each on-failure record as one message (compact JSON) to a standard queue."""

    wants_payload = False

    def __init__(self, uri: str, queue: SqsQueue) -> None:
        self.uri = uri
        self.queue = queue

    async def send(self, record: dict[str, Any]) -> None:
        """SendMessage; a throttled or unreachable SQS raises a transient error the engine waits out."""
        await self.queue.send([json.dumps(record, separators=(",", ":"))])

    async def close(self) -> None:
        await self.queue.close()


async def open_destination(uri: str, options: SourceOptions) -> SqsDestination:
    """The standard queue ``arn:aws:sqs:REGION:ACCOUNT:NAME`` names; a missing queue or a FIFO one stops the run."""
    queue = await open_source(uri, options)
    if queue.fifo:
        await queue.close()
        raise ConfigError(PARAMETER, uri, "a standard queue: SQS on-failure destinations cannot be FIFO queues")
    return SqsDestination(uri, queue)
