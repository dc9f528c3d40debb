"""Kafka (Amazon MSK or self-managed) as a ``StreamSource``: partitions are shards, the group keeps offsets.

The engine reads each assigned partition as it reads a Kinesis shard: from its
checkpoint, which here is the consumer group's committed offset, or from the
mapping's StartingPosition when the group has none (TRIM_HORIZON, LATEST,
AT_TIMESTAMP), exactly when AWS applies it. Offsets are committed only through
``checkpoint_store()``, i.e. after the records before them succeeded (or were
filtered out or sent to the on-failure destination).

Where we differ from AWS: a batch holds records of one partition (AWS may mix
partitions in one event), so partitions are processed in parallel, each in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from batchmap.clock import Clock, SystemClock
from batchmap.errors import BrokerError, ConfigError
from batchmap.records import SourceKind
from batchmap.sources.base import Destination, Position, Shard, SourceTraits, StreamRead
from batchmap.sources.bodies import Body, all_data
from batchmap.sources.kafka._checkpoints import KafkaCheckpointStore
from batchmap.sources.kafka._consumer import GroupConsumer
from batchmap.sources.kafka._offsets import read_offsets
from batchmap.sources.kafka._partition import Partition
from batchmap.sources.kafka._producer import KafkaProducer
from batchmap.sources.kafka._records import delivery, offset_of
from batchmap.sources.kafka._settings import KafkaSettings
from batchmap.sources.stream_ranges import OffsetRead

log = logging.getLogger("batchmap.sources.kafka")

JOIN_TIMEOUT_S = 30.0
"""How long the first ``shards()`` waits for the group to assign partitions."""
READ_WAIT_S = 0.5
"""How long an empty read waits for a message, the end of the partition or a revocation."""
SEEK_RETRY_S = 0.05
SEEK_TIMEOUT_S = 30.0


class KafkaSource:
    """The topics of one mapping, read as a member of its consumer group; also a ``Producer``."""

    shape: SourceKind = "kafka"
    traits = SourceTraits(native_checkpoints=True, shards_change=True, own_destinations=True, event_metadata=True)
    """The group's committed offsets are the checkpoints, whatever store the engine was given; a rebalance
    changes the shards; ``kafka://`` destinations are topics on this cluster; events carry the cluster."""

    def __init__(self, settings: KafkaSettings, client: ModuleType, clock: Clock | None = None) -> None:
        self.settings = settings
        self.arn = settings.arn
        self.topics = settings.topics
        self.event_meta: dict[str, str] = settings.event_meta
        self.clock = clock or SystemClock()
        self._ck = client
        self.consumer = GroupConsumer(settings, client)
        self.shards_changed = self.consumer.changed
        """Set when a rebalance assigned or revoked partitions: the engine asks ``shards()`` again at once."""
        self._producer: KafkaProducer | None = None
        self._expected: dict[str, Position] = {}
        """Where each partition's next read continues without a seek."""

    def __repr__(self) -> str:
        return f"KafkaSource({self.arn!r}, group={self.settings.group_id!r})"

    async def shards(self) -> list[Shard]:
        """The partitions assigned to this member now (the first call joins the group and waits for it).

        If the consumer stopped on an error (a missing topic, a fatal broker
        error), that error is raised once and the next call joins afresh.
        """
        if self.consumer.error is not None:
            failed, self.consumer = self.consumer, GroupConsumer(self.settings, self._ck)
            self.shards_changed = self.consumer.changed
            await failed.close()
            failed.check()
        self.consumer.start()
        if not await self.consumer.wait_assigned(JOIN_TIMEOUT_S):
            log.warning("%s: no partition assignment from group %s after %.0fs",
                        self.arn, self.settings.group_id, JOIN_TIMEOUT_S)
        self.consumer.check()
        return [Shard(p.key) for p in self.consumer.owned()]

    def assignment(self) -> list[str]:
        """The partitions (``topic-N``) this member owns right now, without waiting for a join."""
        return [p.key for p in self.consumer.owned()]

    async def read(self, shard_id: str, position: Position, max_records: int) -> StreamRead:
        """Up to ``max_records`` records of partition ``shard_id`` (``topic-N``), in offset order.

        ``revoked`` is set once a rebalance took the partition from this member.
        An empty read waits (at most ``READ_WAIT_S``) for a message or the
        fetcher's end-of-partition event. Its ``millis_behind_latest`` is 0 once
        the fetcher reached the end, else 1 (behind, by an unknown amount): a
        partition whose first fetch is still on its way never looks caught up.
        """
        self.consumer.check()
        self.consumer.check_passing()
        owned = self.consumer.get(shard_id)
        if owned is None:
            return StreamRead([], position, revoked=True)
        moved = not owned.positioned or position != self._expected.get(shard_id)
        if moved and not await self._seek(shard_id, position):
            return StreamRead([], position, revoked=True)
        taken = await self._take(owned, max_records)
        if owned.revoked and not taken:
            return StreamRead([], position, revoked=True)
        if not taken:
            return StreamRead([], position, millis_behind_latest=0 if owned.caught_up() else 1)
        now = self.clock.wall_ms()
        deliveries = [delivery(message, now) for message in taken]
        after = Position("AFTER_SEQUENCE_NUMBER", sequence_number=deliveries[-1].id)
        self._expected[shard_id] = after
        return StreamRead(deliveries, after)

    async def _take(self, owned: Partition, limit: int) -> list[Any]:
        """Buffered messages; when there are none, wait for one, the end of the partition or a revoke."""
        deadline = self.clock.now() + READ_WAIT_S
        while True:
            owned.wake.clear()
            taken = owned.take(limit)
            left = deadline - self.clock.now()
            if taken or owned.caught_up() or owned.revoked or left <= 0:
                return taken
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):
                    await owned.wake.wait()

    async def _seek(self, shard_id: str, position: Position) -> bool:
        """Point the partition at ``position``; False if it was revoked meanwhile.

        When the fetcher already began there (the group's committed offset, or
        the earliest offset for a group with none), nothing moves: a seek
        would throw away what was fetched and wait for a new fetch.
        """
        offset, timestamp_ms = start_offset(shard_id, position, self._ck)
        owned = self.consumer.get(shard_id)
        if owned is None:
            return False
        target = None if offset == self._ck.OFFSET_BEGINNING else offset
        if timestamp_ms is None and owned.fetching_from(target) and owned.start_at(target):
            self._expected[shard_id] = position
            return True
        waited = 0.0
        while True:
            result = await self.consumer.call(
                lambda c: self.consumer.seek(c, shard_id, offset, timestamp_ms)
            )
            if result != "not_ready":
                break
            if waited >= SEEK_TIMEOUT_S:
                raise BrokerError("Seek", "_STATE", f"{shard_id}: librdkafka refused to seek to {position} "
                                  f"for {SEEK_TIMEOUT_S:.0f}s")
            await asyncio.sleep(SEEK_RETRY_S)
            waited += SEEK_RETRY_S
        if result == "revoked":
            return False
        self._expected[shard_id] = position
        log.debug("%s: %s starts at %s", self.arn, shard_id, position)
        return True

    async def read_offsets(self, topic: str, partition: int, first: int, last: int) -> OffsetRead:
        """Records ``first`` to ``last`` of a partition, read outside the group (``batchmap replay``)."""
        return await asyncio.to_thread(read_offsets, self.settings, self._ck, topic, partition, first, last)

    def checkpoint_store(self) -> KafkaCheckpointStore:
        """Checkpoints as the group's committed offsets (``put`` commits offset + 1)."""
        return KafkaCheckpointStore(lambda: self.consumer)

    async def open_destination(self, uri: str) -> Destination | None:
        """An on-failure destination on this cluster: ``kafka://<topic>`` (AWS's Kafka topic destination)."""
        from batchmap.sources.kafka._destination import open_topic_destination

        return await open_topic_destination(uri, self.settings, self._ck)

    async def send(
        self,
        bodies: Sequence[Body],
        *,
        partition_key: str | None = None,
        message_group_id: str | None = None,
        deduplication_id: str | None = None,
        delay_s: int = 0,
    ) -> list[str]:
        """Produce the bodies (bytes as they are, text as UTF-8) keyed by ``partition_key``; returns
        ``topic-N:offset`` ids."""
        for name, value in (("--message-group-id", message_group_id),
                            ("--message-deduplication-id", deduplication_id)):
            if value is not None:
                raise ConfigError(name, value, "only for queues; Kafka takes --partition-key (the key)")
        if delay_s:
            raise ConfigError("--delay-seconds", delay_s, "only for queues")
        if len(self.topics) != 1:
            raise ConfigError("--source", self.arn, "exactly one topic to send to")
        if self._producer is None:
            self._producer = KafkaProducer(self.settings, self._ck)
        key = None if partition_key is None else partition_key.encode("utf-8")
        return await self._producer.send(self.topics[0], [(key, value, ()) for value in all_data(bodies)])

    async def close(self) -> None:
        """Leave the group (after the last commits) and flush the producer."""
        await self.consumer.close()
        if self._producer is not None:
            await self._producer.close()


def start_offset(shard_id: str, position: Position, client: Any) -> tuple[int, int | None]:
    """The offset (or logical offset) a position names, plus the timestamp for AT_TIMESTAMP (ms)."""
    kind = position.type
    if kind in ("AFTER_SEQUENCE_NUMBER", "AT_SEQUENCE_NUMBER"):
        offset = offset_of(shard_id, position.sequence_number)
        return (offset + 1 if kind == "AFTER_SEQUENCE_NUMBER" else offset), None
    if kind == "TRIM_HORIZON":
        return int(client.OFFSET_BEGINNING), None
    if kind == "LATEST":
        return int(client.OFFSET_END), None
    if position.timestamp is None:
        raise ConfigError("StartingPositionTimestamp", None, "required with StartingPosition AT_TIMESTAMP")
    return int(client.OFFSET_END), int(position.timestamp * 1000)
