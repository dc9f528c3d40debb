"""Reading sharded AWS streams (Kinesis, DynamoDB Streams): shard order, iterators, shard ends.

Both services work the same way: list shards, get an iterator for a position,
GetRecords with it, follow ``NextShardIterator``. ``ShardedStream`` does that
once; the two sources only say how to call their API and shape a record.

Iterators are cached per shard with the position they stand for, so reading
on from ``StreamRead.next_position`` costs one GetRecords call, not two
(GetShardIterator is limited to 5 calls per second per shard). Reading from
any other position (a rewind after a partial failure) asks for a new iterator.

A shard has ended when GetRecords returns no next iterator or lists child
shards. moto never ends a closed shard that way, so a shard ListShards shows
as closed also ends once its ``EndingSequenceNumber`` has been read, or when a
read of it comes back empty at the tip (a closed shard takes no new records).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from batchmap.errors import BrokerError, ConfigError
from batchmap.records import SourceKind
from batchmap.sources.aws.client import AwsClient
from batchmap.sources.base import Delivery, Position, Shard, SourceTraits, StreamRead

EXPIRED_ITERATOR = "ExpiredIteratorException"


@dataclass(frozen=True, slots=True)
class ShardInfo:
    """A shard as listed, with the last sequence number it will ever hold once closed."""

    shard: Shard
    ending_sequence_number: str | None = None


def shard_info(raw: dict[str, Any]) -> ShardInfo:
    """A ListShards / DescribeStream shard entry; closed means it has an EndingSequenceNumber."""
    parents = tuple(p for p in (raw.get("ParentShardId"), raw.get("AdjacentParentShardId")) if p)
    ending = raw.get("SequenceNumberRange", {}).get("EndingSequenceNumber")
    return ShardInfo(Shard(raw["ShardId"], parents, closed=ending is not None), ending)


def parents_first(infos: list[ShardInfo]) -> list[ShardInfo]:
    """Shards ordered so every parent comes before its children (ids ascending otherwise)."""
    listed = {info.shard.id for info in infos}
    placed: set[str] = set()
    ordered: list[ShardInfo] = []
    pending = sorted(infos, key=lambda info: info.shard.id)
    while pending:
        rest = []
        for info in pending:
            if all(parent in placed or parent not in listed for parent in info.shard.parent_ids):
                ordered.append(info)
                placed.add(info.shard.id)
            else:
                rest.append(info)
        if len(rest) == len(pending):  # a cycle cannot happen on AWS; never loop forever on bad data
            ordered.extend(rest)
            break
        pending = rest
    return ordered


def _seq_at_least(sequence_number: str, ending: str) -> bool:
    if sequence_number.isdigit() and ending.isdigit():
        return int(sequence_number) >= int(ending)
    return False


def check_position(position: Position, allowed: tuple[str, ...]) -> None:
    """A position must be one this stream supports and carry what its type needs."""
    if position.type not in allowed:
        raise ConfigError("StartingPosition", position.type, f"one of {', '.join(allowed)}")
    if position.type in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER") and not position.sequence_number:
        raise ConfigError("sequence_number", position.sequence_number, f"required with {position.type}")
    if position.type == "AT_TIMESTAMP" and position.timestamp is None:
        raise ConfigError("StartingPositionTimestamp", position.timestamp, "required with AT_TIMESTAMP")


class ShardedStream(ABC):
    """The shared read loop of Kinesis and DynamoDB Streams sources."""

    shape: SourceKind
    traits = SourceTraits()
    positions: tuple[str, ...]
    max_limit: int
    records_params: dict[str, str]
    """Extra GetRecords parameters (Kinesis names the stream, DynamoDB Streams cannot)."""

    def __init__(self, client: AwsClient, arn: str, region: str) -> None:
        self._client = client
        self.arn = arn
        self.region = region
        self.records_params = {}
        self._known: dict[str, ShardInfo] = {}
        self._iterators: dict[str, tuple[Position, str]] = {}

    @abstractmethod
    async def _list_shards(self) -> list[ShardInfo]:
        """Every shard of the stream, in any order."""

    @abstractmethod
    async def _get_iterator(self, shard_id: str, position: Position) -> str:
        """A fresh shard iterator for ``position``."""

    @abstractmethod
    def _delivery(self, raw: dict[str, Any], shard_id: str) -> Delivery:
        """One API record as a Delivery carrying the Lambda-shaped record."""

    async def shards(self) -> list[Shard]:
        """Every shard, parents before children; refreshes what is known about closed shards."""
        infos = parents_first(await self._list_shards())
        self._known = {info.shard.id: info for info in infos}
        return [info.shard for info in infos]

    async def read(self, shard_id: str, position: Position, max_records: int) -> StreamRead:
        """One GetRecords of up to ``max_records`` (capped at the service limit) from ``position``."""
        check_position(position, self.positions)
        if max_records < 1:
            raise ConfigError("max_records", max_records, "at least 1")
        response = await self._get_records(shard_id, position, min(max_records, self.max_limit))
        deliveries = [self._delivery(raw, shard_id) for raw in response.get("Records", [])]
        millis = response.get("MillisBehindLatest")
        next_position = (
            Position("AFTER_SEQUENCE_NUMBER", sequence_number=deliveries[-1].id) if deliveries else position
        )
        next_iterator = response.get("NextShardIterator")
        ended = (
            not next_iterator
            or bool(response.get("ChildShards"))
            or await self._closed_and_done(shard_id, deliveries, millis)
        )
        if ended or not next_iterator:
            self._iterators.pop(shard_id, None)
        else:
            self._iterators[shard_id] = (next_position, next_iterator)
        return StreamRead(deliveries, next_position, ended, None if millis is None else int(millis))

    async def _get_records(self, shard_id: str, position: Position, limit: int) -> dict[str, Any]:
        cached = self._iterators.get(shard_id)
        iterator = cached[1] if cached is not None and cached[0] == position else None
        if iterator is None:
            iterator = await self._get_iterator(shard_id, position)
        try:
            return await self._client.call("get_records", ShardIterator=iterator, Limit=limit, **self.records_params)
        except BrokerError as exc:
            if exc.code != EXPIRED_ITERATOR:
                raise
        # The cached iterator outlived its 5 minutes: ask again from the same position.
        self._iterators.pop(shard_id, None)
        iterator = await self._get_iterator(shard_id, position)
        return await self._client.call("get_records", ShardIterator=iterator, Limit=limit, **self.records_params)

    async def _closed_and_done(self, shard_id: str, deliveries: list[Delivery], millis: Any) -> bool:
        if shard_id not in self._known:
            await self.shards()
        info = self._known.get(shard_id)
        if info is None or info.ending_sequence_number is None:
            return False
        if deliveries:
            return _seq_at_least(deliveries[-1].id, info.ending_sequence_number)
        return millis is not None and int(millis) == 0

    async def close(self) -> None:
        """Release the client and its threads."""
        self._client.close()
