"""Recognise a batch event, check every record carries what AWS promises, hand out views.

``scan_event`` is the gate. It checks the event's shape, then every record
(``batchmap.records.envelope``), in bulk. ``strict`` (``parse_event``) checks
each record's whole envelope (source, identifier, ordering key, payload type)
and raises a ``batchmap.errors.EventError`` for the first malformed record,
naming the record and the field. Otherwise (``process_batch``,
``read_partial_response``) it checks only that every record has its
identifier: one that has none fails the call before any record runs, since it
could not be reported. Everything else is checked where it is read: the views
raise ``RecordError`` naming the field, which fails the record that read it.
Neither check depends on the concurrency, so neither does the verdict.
"""

from __future__ import annotations

from batchmap.errors import EventError, RecordError, UnknownEventSourceError
from batchmap.records._describe import clip, got
from batchmap.records.dynamodb import DynamoDBRecord
from batchmap.records.envelope import IDENTIFIER, fifo_groups, identifier_problem, is_offset, problems, unidentified
from batchmap.records.kafka import KafkaRecord
from batchmap.records.kinesis import KinesisRecord
from batchmap.records.shapes import EVENT_SOURCES, KAFKA_EVENT_SOURCES
from batchmap.records.sqs import SQSRecord
from batchmap.records.value import Value, set_field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from batchmap.records.record import Record
    from batchmap.records.wire import ItemIdentifier, SourceKind

VIEW_OF_KIND: dict[str, type[Record]] = {
    "sqs": SQSRecord,
    "kinesis": KinesisRecord,
    "dynamodb": DynamoDBRecord,
    "kafka": KafkaRecord,
}


class Scan:
    """What ``scan_event`` found: the source, the record dicts in order, their view class.

    ``partitions`` (Kafka only) holds each record's ``topic-partition``;
    ``is_fifo`` says whether an SQS batch came from a FIFO queue.
    """

    __slots__ = ("event_source", "is_fifo", "kind", "partitions", "records", "view")

    kind: SourceKind
    partitions: list[str] | None

    def __init__(self, kind: SourceKind, event_source: str, records: list[dict[str, Any]],
                 *, is_fifo: bool = False, partitions: list[str] | None = None) -> None:
        self.kind = kind
        self.event_source = event_source
        self.records = records
        self.view = VIEW_OF_KIND[kind]
        self.is_fifo = is_fifo
        self.partitions = partitions

    def identifier(self, position: int) -> ItemIdentifier:
        """The ``itemIdentifier`` of the record at ``position``; ``RecordError`` if it has none."""
        raw = self.records[position]
        try:
            value = IDENTIFIER[self.kind](raw)
        except (LookupError, TypeError):
            value = None
        if self.kind == "kafka" and is_offset(value):
            assert self.partitions is not None
            return {"partition": self.partitions[position], "offset": value}
        if self.kind != "kafka" and type(value) is str and value:
            return value
        raise identifier_problem(self.kind, raw, position)

    def groups(self) -> list[str | None]:
        """Each record's FIFO ``MessageGroupId`` (SQS FIFO batches); ``None`` for a malformed record."""
        return fifo_groups(self.records)

    def check(self, *, strict: bool) -> None:
        """Raise for the first malformed record (``strict``), or the first without an identifier."""
        if strict:
            found = problems(self.kind, self.records, fifo=self.is_fifo, partitions=self.partitions)
            problem = next(iter(found.values()), None)
        else:
            problem = unidentified(self.kind, self.records, fifo=self.is_fifo, partitions=self.partitions)
        if problem is not None:
            raise problem


def scan_event(event: object, *, strict: bool = True) -> Scan:
    """Check ``event`` is a batch event Lambda could have sent; raise ``EventError`` if not.

    ``strict=False`` checks only that every record has its identifier (see the module docstring).
    """
    if not isinstance(event, dict):
        raise EventError(f"event: expected a JSON object, got {got(event)}")
    records = event.get("Records")
    if records is not None:
        scan = _scan_records(records)
    else:
        source = event.get("eventSource")
        if type(source) is str and source in KAFKA_EVENT_SOURCES:
            scan = _scan_kafka(event, source)
        elif source is not None:
            raise UnknownEventSourceError(source)
        else:
            raise EventError("event: not a batch event: it has neither 'Records' (SQS, Kinesis, DynamoDB Streams) "
                             "nor a Kafka 'eventSource' with 'records'")
    scan.check(strict=strict)
    return scan


def _scan_records(records: object) -> Scan:
    if not isinstance(records, list):
        raise EventError(f"Records: expected a list, got {got(records)}")
    if not records:
        raise EventError("Records: empty; a batch event holds at least one record")
    first = records[0]
    if type(first) is not dict:
        raise RecordError(f"expected an object, got {got(first)}", index=0)
    source = first.get("eventSource")
    kind = EVENT_SOURCES.get(source) if type(source) is str else None
    if kind is None or kind == "kafka":  # a Kafka event has no "Records"
        raise UnknownEventSourceError(source, where="Records[0].eventSource")
    if kind == "sqs":
        return Scan(kind, "aws:sqs", records, is_fifo=_is_fifo(first))
    return Scan(kind, f"aws:{kind}", records)


def _is_fifo(first: dict[str, Any]) -> bool:
    """An SQS batch is from a FIFO queue when its first message has a group or its queue's ARN says so."""
    attributes = first.get("attributes")
    arn = first.get("eventSourceARN")
    return ((type(attributes) is dict and "MessageGroupId" in attributes)
            or (type(arn) is str and arn.endswith(".fifo")))


def _scan_kafka(event: dict[str, Any], source: str) -> Scan:
    by_partition = event.get("records")
    if not isinstance(by_partition, dict):
        raise EventError("records: a Kafka event maps 'topic-partition' to lists of records, "
                         f"got {got(by_partition)}")
    records: list[dict[str, Any]] = []
    partitions: list[str] = []
    for topic_partition, batch in by_partition.items():
        if type(topic_partition) is not str or not topic_partition:
            raise EventError(f"records: keys are 'topic-partition' strings, got {got(topic_partition)}")
        if not isinstance(batch, list):
            raise EventError(f"records[{clip(topic_partition)}]: expected a list, got {got(batch)}")
        records.extend(batch)
        partitions.extend([topic_partition] * len(batch))
    if not records:
        raise EventError("records: empty; a batch event holds at least one record")
    return Scan("kafka", source, records, partitions=partitions)


class RecordBatch(Value):
    """The records of one batch event, as views, with what kind of source sent them."""

    __slots__ = ("event_source", "is_fifo", "kind", "records")

    kind: SourceKind
    event_source: str
    is_fifo: bool
    records: tuple[Record, ...]

    def __init__(self, kind: SourceKind, event_source: str, records: tuple[Record, ...],
                 is_fifo: bool) -> None:
        set_field(self, "kind", kind)
        set_field(self, "event_source", event_source)
        set_field(self, "records", records)
        set_field(self, "is_fifo", is_fifo)

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)

    def __getitem__(self, index: int) -> Record:
        return self.records[index]

    def __repr__(self) -> str:
        return (f"RecordBatch(kind={self.kind!r}, event_source={self.event_source!r}, "
                f"records={len(self.records)})")


def parse_event(event: object) -> RecordBatch:
    """Recognise the source of ``event`` and return its records as typed views.

    Raises ``UnknownEventSourceError`` for an unknown ``eventSource``,
    ``RecordError`` (with ``.index`` and ``.field``) for the first malformed
    record, and ``EventError`` for anything else that is not a batch event.
    """
    scan = scan_event(event, strict=True)
    view = scan.view
    return RecordBatch(scan.kind, scan.event_source, tuple(view(raw) for raw in scan.records), scan.is_fifo)
