"""Recognise a batch event, check its records carry what AWS promises, hand out views.

``scan_event`` is the gate. By default it checks every record: the identifier
a partial batch response must echo back, and the fields ordering depends on,
raising a ``batchmap.errors.EventError`` that names the record and the field.
The handler calls it with ``check_records=False``: then only the event's
shape and its first record are checked up front, and a record's fields are
checked when they are first needed (``Scan.identifier`` when the record is
reported, its group or key when ordering needs it). A clean 10,000-record batch
then costs no pass over record contents that the user's handler would not make
anyway, and a record that cannot be identified still fails loudly.
"""

from __future__ import annotations

from batchmap.errors import EventError, RecordError, UnknownEventSourceError
from batchmap.records._value import Value, _set
from batchmap.records.dynamodb import DynamoDBRecord
from batchmap.records.kafka import KafkaRecord
from batchmap.records.kinesis import KinesisRecord
from batchmap.records.sqs import SQSRecord

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from batchmap.records.record import Record
    from batchmap.records.wire import ItemIdentifier, SourceKind

KAFKA_SOURCES = ("aws:kafka", "SelfManagedKafka", "aws:SelfManagedKafka")
"""``eventSource`` values of Kafka events (MSK, self-managed; the last is seen in third-party samples)."""

_KIND_OF_SOURCE: dict[object, SourceKind] = {
    "aws:sqs": "sqs",
    "aws:kinesis": "kinesis",
    "aws:dynamodb": "dynamodb",
}
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
        if self.kind == "kafka":
            offset = raw.get("offset") if isinstance(raw, dict) else None
            if type(offset) is not int:
                raise _bad(position, "offset", f"not an integer ({offset!r}); it is the itemIdentifier")
            assert self.partitions is not None
            return {"partition": self.partitions[position], "offset": offset}
        try:
            identifier = self.view(raw).id
        except (KeyError, TypeError, AttributeError):
            identifier = None
        if type(identifier) is not str or not identifier:
            field = _ID_FIELD[self.kind]
            raise _bad(position, field, f"missing or empty ({identifier!r}); it is the itemIdentifier")
        return identifier

    def groups(self) -> list[str]:
        """Each record's FIFO ``MessageGroupId`` (SQS FIFO batches); ``RecordError`` if one has none."""
        groups: list[str] = []
        for position, raw in enumerate(self.records):
            try:
                group = raw["attributes"]["MessageGroupId"]
            except (KeyError, TypeError):
                group = None
            if type(group) is not str or not group:
                raise _bad(position, "attributes.MessageGroupId", f"missing in a FIFO batch ({group!r})")
            groups.append(group)
        return groups


def scan_event(event: object, *, check_records: bool = True) -> Scan:
    """Check ``event`` is a batch event Lambda could have sent; raise ``EventError`` if not.

    ``check_records=False`` checks the event and its first record only (see the module docstring).
    """
    if not isinstance(event, dict):
        raise EventError(f"event: expected a JSON object, got {type(event).__name__}")
    records = event.get("Records")
    if records is not None:
        return _scan_records(records, check_records)
    source = event.get("eventSource")
    if source in KAFKA_SOURCES:
        return _scan_kafka(event, source, check_records)
    if source is not None:
        raise UnknownEventSourceError(source)
    raise EventError("event: not a batch event: it has neither 'Records' (SQS, Kinesis, DynamoDB Streams) "
                     "nor a Kafka 'eventSource' with 'records'")


def _scan_records(records: object, check_records: bool) -> Scan:
    if not isinstance(records, list):
        raise EventError(f"Records: expected a list, got {type(records).__name__}")
    if not records:
        raise EventError("Records: empty; a batch event holds at least one record")
    first = records[0]
    source = first.get("eventSource") if isinstance(first, dict) else None
    kind = _KIND_OF_SOURCE.get(source)
    if kind is None:
        if not isinstance(first, dict):
            raise RecordError(f"expected an object, got {type(first).__name__}", index=0)
        raise UnknownEventSourceError(source, where="Records[0].eventSource")
    checked = records if check_records else records[:1]
    if kind == "sqs":
        return Scan(kind, "aws:sqs", records, is_fifo=_check_sqs(checked))
    _check_stream(checked, kind)
    return Scan(kind, f"aws:{kind}", records)


def _bad(index: int, field: str, message: str) -> RecordError:
    return RecordError(f"{field}: {message}", index=index, field=field)


def _check_sqs(records: list[Any]) -> bool:
    """Check SQS records; returns whether the batch is from a FIFO queue."""
    first_attributes = records[0].get("attributes")
    fifo = (isinstance(first_attributes, dict) and "MessageGroupId" in first_attributes) or str(
        records[0].get("eventSourceARN", "")).endswith(".fifo")
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise RecordError(f"expected an object, got {type(record).__name__}", index=i)
        if record.get("eventSource") != "aws:sqs":
            raise _bad(i, "eventSource", f"{record.get('eventSource')!r} in an aws:sqs batch")
        message_id = record.get("messageId")
        if type(message_id) is not str or not message_id:
            raise _bad(i, "messageId", f"missing or empty ({message_id!r}); it is the itemIdentifier")
        if type(record.get("body")) is not str:
            raise _bad(i, "body", f"expected a string, got {record.get('body')!r}")
        if fifo:
            attributes = record.get("attributes")
            group = attributes.get("MessageGroupId") if isinstance(attributes, dict) else None
            if type(group) is not str or not group:
                raise _bad(i, "attributes.MessageGroupId", f"missing in a FIFO batch ({group!r})")
    return fifo


_STREAM_FIELDS = {"kinesis": ("kinesis", "sequenceNumber"), "dynamodb": ("dynamodb", "SequenceNumber")}
_ID_FIELD = {"sqs": "messageId", "kinesis": "kinesis.sequenceNumber", "dynamodb": "dynamodb.SequenceNumber",
             "kafka": "offset"}


def _check_stream(records: list[Any], kind: SourceKind) -> None:
    member, seq_field = _STREAM_FIELDS[kind]
    source = f"aws:{kind}"
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise RecordError(f"expected an object, got {type(record).__name__}", index=i)
        if record.get("eventSource") != source:
            raise _bad(i, "eventSource", f"{record.get('eventSource')!r} in an {source} batch")
        inner = record.get(member)
        if not isinstance(inner, dict):
            raise _bad(i, member, f"missing or not an object ({inner!r})")
        sequence_number = inner.get(seq_field)
        if type(sequence_number) is not str or not sequence_number:
            raise _bad(i, f"{member}.{seq_field}",
                       f"missing or empty ({sequence_number!r}); it is the itemIdentifier")
        text = isinstance(inner.get("partitionKey"), str) and isinstance(inner.get("data"), str)
        if kind == "kinesis" and not text:
            raise _bad(i, "kinesis", "partitionKey and data must be strings")


def _scan_kafka(event: dict[str, Any], source: str, check_records: bool) -> Scan:
    by_partition = event.get("records")
    if not isinstance(by_partition, dict):
        raise EventError("records: a Kafka event maps 'topic-partition' to lists of records, "
                         f"got {by_partition!r}")
    records: list[dict[str, Any]] = []
    partitions: list[str] = []
    for topic_partition, batch in by_partition.items():
        if not isinstance(batch, list):
            raise EventError(f"records[{topic_partition!r}]: expected a list, got {type(batch).__name__}")
        if check_records:
            for n, record in enumerate(batch):
                _check_kafka(record, topic_partition, len(records) + n)
        records.extend(batch)
        partitions.extend([topic_partition] * len(batch))
    if not records:
        raise EventError("records: empty; a batch event holds at least one record")
    if not check_records:
        _check_kafka(records[0], partitions[0], 0)
    return Scan("kafka", source, records, partitions=partitions)


def _check_kafka(record: object, topic_partition: str, index: int) -> None:
    if not isinstance(record, dict):
        raise RecordError(f"expected an object, got {type(record).__name__}", index=index)
    topic, partition, offset = record.get("topic"), record.get("partition"), record.get("offset")
    if type(topic) is not str or not topic:
        raise _bad(index, "topic", f"missing or empty ({topic!r})")
    if type(partition) is not int or type(offset) is not int:
        raise _bad(index, "offset" if type(partition) is int else "partition",
                   f"partition and offset must be integers (got {partition!r}, {offset!r}); "
                   "they are the itemIdentifier")
    if f"{topic}-{partition}" != topic_partition:
        raise _bad(index, "partition", f"record of {topic}-{partition} listed under {topic_partition!r}")
    value = record.get("value")
    if value is not None and type(value) is not str:
        raise _bad(index, "value", f"expected base64 text or null, got {type(value).__name__}")


class RecordBatch(Value):
    """The records of one batch event, as views, with what kind of source sent them."""

    __slots__ = ("event_source", "is_fifo", "kind", "records")

    kind: SourceKind
    event_source: str
    is_fifo: bool
    records: tuple[Record, ...]

    def __init__(self, kind: SourceKind, event_source: str, records: tuple[Record, ...],
                 is_fifo: bool) -> None:
        _set(self, "kind", kind)
        _set(self, "event_source", event_source)
        _set(self, "records", records)
        _set(self, "is_fifo", is_fifo)

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
    ``RecordError`` (with ``.index`` and ``.field``) for a malformed record, and
    ``EventError`` for anything else that is not a batch event.
    """
    scan = scan_event(event)
    view = scan.view
    return RecordBatch(scan.kind, scan.event_source, tuple(view(raw) for raw in scan.records), scan.is_fifo)
