"""Reading again the records an on-failure invocation record names, while the stream still holds them.

When a stream batch is discarded, Lambda (and batchmap) send the on-failure
destination a record that names the batch instead of carrying it:
``KinesisBatchInfo`` / ``DDBStreamBatchInfo`` with the shard and the first and
last sequence numbers. ``batch_range`` reads that; ``read_range`` reads the
records back from the stream from the first sequence number to the last and
says which part, if any, the stream no longer holds (trimmed past its
retention period). Sequence numbers are decimal strings, compared as numbers.

A Kafka batch is named by ``KafkaBatchInfo``: per ``<topic>-<partition>`` the
first and last offset. ``kafka_batch`` reads that; ``read_kafka_batch`` reads
each partition's offsets back through a source that can (``OffsetReader``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from batchmap.errors import ConfigError
from batchmap.records.build import kafka_event
from batchmap.records.shapes import KAFKA_BATCH_INFO
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


@dataclass(frozen=True, slots=True)
class PartitionRange:
    """One ``recordsInfo`` entry: a partition and its inclusive range of offsets."""

    topic: str
    partition: int
    first: int
    last: int

    @property
    def key(self) -> str:
        return f"{self.topic}-{self.partition}"


@dataclass(frozen=True, slots=True)
class KafkaBatch:
    """What one Kafka on-failure record names: the cluster, the source's ARN (MSK) and each partition's range."""

    bootstrap_servers: str
    event_source_arn: str | None
    ranges: tuple[PartitionRange, ...]

    def event(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """The event the function got for ``records``: ``aws:kafka`` with the ARN, else ``SelfManagedKafka``."""
        source = "aws:kafka" if self.event_source_arn else "SelfManagedKafka"
        return dict(kafka_event(records, event_source=source, event_source_arn=self.event_source_arn,  # type: ignore[arg-type]
                                bootstrap_servers=self.bootstrap_servers))


@dataclass(frozen=True, slots=True)
class OffsetRead:
    """Records of one partition (Lambda's shape, offset order) and its watermarks: ``low`` is the first
    offset it still holds (older ones passed the retention period), ``high`` the next one to be written."""

    records: list[dict[str, Any]]
    low: int
    high: int


@runtime_checkable
class OffsetReader(Protocol):
    """A source that reads a partition's records by offset, outside its consumer group (Kafka)."""

    async def read_offsets(self, topic: str, partition: int, first: int, last: int) -> OffsetRead:
        """The records from offset ``first`` to ``last`` that the broker still holds."""
        ...


@dataclass(frozen=True, slots=True)
class KafkaRead:
    """What reading a Kafka batch found: its records in event order, and what is missing (``None``: nothing)."""

    records: list[dict[str, Any]]
    missing: str | None


def kafka_batch(record: dict[str, Any], where: str) -> KafkaBatch:
    """The partitions and offsets a ``KafkaBatchInfo`` names; anything else is a ``ConfigError`` naming ``where``."""
    info = record.get(KAFKA_BATCH_INFO)
    if not isinstance(info, dict):
        raise ConfigError("--record", where, "an on-failure record with KafkaBatchInfo")
    if "recordInfo" in info and "recordsInfo" not in info:
        raise ConfigError("--record (recordInfo)", where, "a record sent to SQS, SNS, S3 or a batchmap destination "
                                                          "(recordsInfo): a Kafka topic destination's message "
                                                          "already holds its record in payload")
    servers = info.get("bootstrapServers")
    if not isinstance(servers, str) or not servers:
        raise ConfigError("--record (bootstrapServers)", servers, f"the Kafka cluster's bootstrap servers in {where}")
    spans = info.get("recordsInfo")
    if not isinstance(spans, dict) or not spans:
        raise ConfigError("--record (recordsInfo)", spans, f"at least one '<topic>-<partition>' entry in {where}")
    arn = info.get("eventSourceArn")
    ranges = tuple(_partition_range(key, span, where) for key, span in spans.items())
    return KafkaBatch(servers, arn if isinstance(arn, str) and arn else None, ranges)


def _partition_range(key: str, span: Any, where: str) -> PartitionRange:
    topic, _, number = key.rpartition("-")
    if not topic or not number.isdigit():
        raise ConfigError("--record (recordsInfo)", key, f"'<topic>-<partition>' keys in {where}")
    if not isinstance(span, dict):
        raise ConfigError(f"--record (recordsInfo.{key})", span, f"an object with the offsets in {where}")
    offsets = []
    for name in ("firstRecordOffset", "lastRecordOffset"):
        value = span.get(name)
        text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
        if not text.isdigit():
            raise ConfigError(f"--record ({key}.{name})", value, f"an offset (a whole number >= 0) in {where}")
        offsets.append(int(text))
    if offsets[0] > offsets[1]:
        raise ConfigError(f"--record ({key}.lastRecordOffset)", span.get("lastRecordOffset"),
                          f"at least firstRecordOffset {offsets[0]} in {where}")
    return PartitionRange(topic, int(number), offsets[0], offsets[1])


async def read_kafka_batch(reader: OffsetReader, batch: KafkaBatch) -> KafkaRead:
    """Every partition's records of ``batch`` still on the broker, and a sentence on any part that is gone."""
    records: list[dict[str, Any]] = []
    missing: list[str] = []
    for span in batch.ranges:
        read = await reader.read_offsets(span.topic, span.partition, span.first, span.last)
        records += read.records
        if gap := _kafka_missing(span, read):
            missing.append(gap)
    return KafkaRead(records, "; ".join(missing) or None)


def _kafka_missing(span: PartitionRange, read: OffsetRead) -> str | None:
    if not read.records:
        return (f"the topic holds none of offsets {span.first} to {span.last} of {span.key} (past its "
                "retention period, or never written there): nothing to replay")
    gaps = []
    if read.low > span.first:
        gaps.append(f"offsets {span.first} up to {read.low} (past the topic's retention period)")
    end = int(read.records[-1]["offset"])
    if end < span.last:
        gaps.append(f"offsets {end + 1} to {span.last} (the partition ends at {end})")
    if not gaps:
        return None
    return f"the topic no longer holds part of {span.key}: " + "; ".join(gaps)
