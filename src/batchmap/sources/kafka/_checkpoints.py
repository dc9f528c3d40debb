"""Checkpoints of a Kafka mapping are the consumer group's committed offsets.

The engine checkpoints the last record of a partition that is done (its id,
``topic-N:offset``); Kafka's committed offset is the next one to read, so
``put`` commits offset + 1 and ``get`` answers with committed - 1. The group is
the namespace: ``mapping_id`` is not needed (AWS gives each mapping its own
group). A commit is made only while this member owns the partition (or is
handing it over in a rebalance); after that the new owner's commits count.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from batchmap.errors import BrokerError, SourceError
from batchmap.records.shapes import kafka_item_id
from batchmap.sources.kafka._consumer import GroupConsumer
from batchmap.sources.kafka._records import offset_of

log = logging.getLogger("batchmap.sources.kafka")

COMMIT_ATTEMPTS = 5
COMMIT_RETRY_S = 0.2


class KafkaCheckpointStore:
    """``CheckpointStore`` over the group's committed offsets."""

    def __init__(self, consumer: Callable[[], GroupConsumer]) -> None:
        self._consumer = consumer

    async def get(self, mapping_id: str, shard_id: str) -> str | None:
        """The group's last done record of ``shard_id`` (``topic-N:-1`` if committed at 0), or ``None``."""
        consumer = self._consumer()
        committed = await consumer.call(lambda c: consumer.committed_offset(c, shard_id))
        return None if committed is None else kafka_item_id(shard_id, committed - 1)

    async def put(self, mapping_id: str, shard_id: str, sequence_number: str) -> None:
        """Commit ``offset + 1`` of the record ``sequence_number`` names, synchronously.

        A commit refused during a rebalance is tried again at once a few times; one
        that still fails transiently raises, so the engine keeps the checkpoint and
        tries again after a pause (records are processed again at worst, never lost).
        """
        next_offset = offset_of(shard_id, sequence_number) + 1
        consumer = self._consumer()
        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            try:
                done = await consumer.call(lambda c: consumer.commit(c, shard_id, next_offset))
            except BrokerError as exc:  # the broker refused or could not be reached
                if exc.transient and attempt < COMMIT_ATTEMPTS:
                    await asyncio.sleep(COMMIT_RETRY_S * attempt)
                    continue
                raise
            except SourceError as exc:  # the consumer is closed: the next owner reads from the last commit
                log.warning("%s: offset %d of %s not committed: %s", consumer.settings.arn, next_offset,
                            shard_id, exc)
                return
            if not done:
                log.debug("%s: %s is no longer ours: offset %d left to its new owner",
                          consumer.settings.arn, shard_id, next_offset)
            return
