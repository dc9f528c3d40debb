"""Reading again the records an on-failure invocation record names, while the stream still holds them.

When a stream batch is discarded, Lambda (and batchmap) send the on-failure
destination a record that names the batch instead of carrying it:
``KinesisBatchInfo`` / ``DDBStreamBatchInfo`` with the shard and the first and
last sequence numbers. ``batch_range`` reads that; ``read_range`` reads the
records back from the stream from the first sequence number to the last and
says which part, if any, the stream no longer holds (trimmed past its
retention period). Sequence numbers are decimal strings, compared as numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from batchmap.errors import ConfigError
from batchmap.sources.base import Delivery, Position, StreamSource

BATCH_INFO_KEYS = ("KinesisBatchInfo", "DDBStreamBatchInfo")
READ_SIZE = 1000


@dataclass(frozen=True, slots=True)
class BatchRange:
    """The records one on-failure record names: a shard and an inclusive range of sequence numbers."""

    stream_arn: str
    shard_id: str
    start: str
    end: str
    batch_size: int | None


@dataclass(frozen=True, slots=True)
class RangeRead:
    """What reading a range found: the records still there, and what is missing (``None``: nothing)."""

    deliveries: list[Delivery]
    missing: str | None


def batch_range(record: Any, where: str) -> BatchRange:
    """The range an on-failure record names; anything else is a ``ConfigError`` naming ``where``."""
    if not isinstance(record, dict):
        raise ConfigError("--record", where, "an on-failure record: a JSON object")
    if "KafkaBatchInfo" in record:
        raise ConfigError("--record", where, "a Kinesis or DynamoDB Streams record (KinesisBatchInfo or "
                                             "DDBStreamBatchInfo): Kafka records are not replayed yet")
    info = next((record[key] for key in BATCH_INFO_KEYS if isinstance(record.get(key), dict)), None)
    if info is None:
        raise ConfigError("--record", where, "an on-failure record with KinesisBatchInfo or DDBStreamBatchInfo")
    fields = {}
    for name in ("streamArn", "shardId", "startSequenceNumber", "endSequenceNumber"):
        value = info.get(name)
        if not isinstance(value, str) or not value:
            raise ConfigError(f"--record ({name})", value, f"a non-empty string in {where}")
        fields[name] = value
    for name in ("startSequenceNumber", "endSequenceNumber"):
        if not fields[name].isdigit():
            raise ConfigError(f"--record ({name})", fields[name], f"a sequence number (decimal digits) in {where}")
    if int(fields["startSequenceNumber"]) > int(fields["endSequenceNumber"]):
        raise ConfigError("--record (endSequenceNumber)", fields["endSequenceNumber"],
                          f"at least startSequenceNumber {fields['startSequenceNumber']} in {where}")
    size = info.get("batchSize")
    return BatchRange(fields["streamArn"], fields["shardId"], fields["startSequenceNumber"],
                      fields["endSequenceNumber"], size if isinstance(size, int) else None)


async def read_range(stream: StreamSource, wanted: BatchRange) -> RangeRead:
    """The records of ``wanted`` still in ``stream``, in order, and a sentence on any part that is gone."""
    shards = {shard.id for shard in await stream.shards()}
    if wanted.shard_id not in shards:
        return RangeRead([], f"shard {wanted.shard_id} is no longer in the stream: the whole range is gone")
    start, end = int(wanted.start), int(wanted.end)
    position = Position("AT_SEQUENCE_NUMBER", wanted.start)
    found: list[Delivery] = []
    while True:
        read = await stream.read(wanted.shard_id, position, READ_SIZE)
        found += [d for d in read.deliveries if start <= int(d.id) <= end]
        last = int(read.deliveries[-1].id) if read.deliveries else None
        if not read.deliveries or read.shard_ended or (last is not None and last >= end):
            break
        position = read.next_position
    return RangeRead(found, _missing(found, wanted))


def _missing(found: list[Delivery], wanted: BatchRange) -> str | None:
    if not found:
        return (f"the stream holds none of {wanted.start} to {wanted.end} of {wanted.shard_id} (past its "
                "retention period, or never written there): nothing to replay")
    gaps = []
    if int(found[0].id) > int(wanted.start):
        gaps.append(f"{wanted.start} up to {found[0].id} (past the stream's retention period)")
    if int(found[-1].id) < int(wanted.end):
        gaps.append(f"after {found[-1].id} up to {wanted.end}")
    if not gaps:
        return None
    return f"the stream no longer holds part of {wanted.shard_id}: " + "; ".join(gaps)
