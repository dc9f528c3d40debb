"""The JSON shapes Lambda sends and expects, as ``TypedDict``s (reference §9).

These exist for type checkers and for code that builds or reads events by
hand; at run time every shape is a plain ``dict``. This module imports
``typing``, so the toolkit's hot path never imports it: ``batchmap.records``
loads it only when one of these names is asked for.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

# ---------------------------------------------------------------- SQS (§9.1, §9.2)


class SQSMessageAttribute(TypedDict, total=False):
    """One user message attribute; binary values are base64 strings."""

    stringValue: str
    binaryValue: str
    stringListValues: list[str]
    binaryListValues: list[str]
    dataType: str


class SQSRecordDict(TypedDict):
    """One SQS message as Lambda delivers it (standard or FIFO)."""

    messageId: str
    receiptHandle: str
    body: str
    attributes: dict[str, str]
    messageAttributes: dict[str, SQSMessageAttribute]
    md5OfBody: str
    eventSource: Literal["aws:sqs"]
    eventSourceARN: str
    awsRegion: str
    md5OfMessageAttributes: NotRequired[str]


class SQSEvent(TypedDict):
    """``{"Records": [...]}`` for an SQS event source mapping."""

    Records: list[SQSRecordDict]


# ---------------------------------------------------------------- Kinesis (§9.3)


class KinesisData(TypedDict):
    """The ``kinesis`` member of a Kinesis record; ``data`` is base64."""

    kinesisSchemaVersion: str
    partitionKey: str
    sequenceNumber: str
    data: str
    approximateArrivalTimestamp: float


class KinesisRecordDict(TypedDict):
    """One Kinesis Data Streams record as Lambda delivers it."""

    kinesis: KinesisData
    eventSource: Literal["aws:kinesis"]
    eventVersion: str
    eventID: str
    eventName: str
    invokeIdentityArn: str
    awsRegion: str
    eventSourceARN: str


class KinesisEvent(TypedDict):
    """``{"Records": [...]}`` for a Kinesis event source mapping."""

    Records: list[KinesisRecordDict]


# ---------------------------------------------------------------- DynamoDB Streams (§9.4)

AttributeValue = dict[str, Any]
"""DynamoDB typed JSON for one value: ``{"S": "x"}``, ``{"N": "1"}``, ``{"M": {...}}``, ..."""


class StreamRecord(TypedDict, total=False):
    """The ``dynamodb`` member of a DynamoDB Streams record."""

    Keys: dict[str, AttributeValue]
    NewImage: dict[str, AttributeValue]
    OldImage: dict[str, AttributeValue]
    ApproximateCreationDateTime: float
    SequenceNumber: str
    SizeBytes: int
    StreamViewType: Literal["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"]


class DynamoDBRecordDict(TypedDict):
    """One DynamoDB Streams record as Lambda delivers it."""

    eventID: str
    eventName: Literal["INSERT", "MODIFY", "REMOVE"]
    eventVersion: str
    eventSource: Literal["aws:dynamodb"]
    awsRegion: str
    dynamodb: StreamRecord
    eventSourceARN: str
    userIdentity: NotRequired[dict[str, str]]


class DynamoDBEvent(TypedDict):
    """``{"Records": [...]}`` for a DynamoDB Streams event source mapping."""

    Records: list[DynamoDBRecordDict]


# ---------------------------------------------------------------- Kafka (§9.5)


class KafkaSchemaMetadata(TypedDict):
    """What a mapping with a schema registry adds to a record: the format and schema of its key or value."""

    dataFormat: Literal["AVRO", "PROTOBUF", "JSON"]
    schemaId: str


class KafkaRecordDict(TypedDict):
    """One Kafka record; ``key`` and ``value`` are base64, headers are byte lists."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    timestampType: Literal["CREATE_TIME", "LOG_APPEND_TIME"]
    key: NotRequired[str | None]
    value: str | None
    headers: list[dict[str, list[int]]]
    keySchemaMetadata: NotRequired[KafkaSchemaMetadata]
    valueSchemaMetadata: NotRequired[KafkaSchemaMetadata]


class KafkaEvent(TypedDict):
    """An MSK (``aws:kafka``) or self-managed (``SelfManagedKafka``) Kafka event."""

    eventSource: Literal["aws:kafka", "SelfManagedKafka"]
    eventSourceArn: NotRequired[str]
    bootstrapServers: str
    records: dict[str, list[KafkaRecordDict]]


# ---------------------------------------------------------------- partial batch response (§9.7)


class KafkaItemIdentifier(TypedDict):
    """Kafka's ``itemIdentifier``: the ``topic-partition`` and the record's offset."""

    partition: str
    offset: int


ItemIdentifier = str | KafkaItemIdentifier
"""``messageId`` (SQS), sequence number (Kinesis, DynamoDB) or ``KafkaItemIdentifier``."""


class BatchItemFailure(TypedDict):
    """One entry of ``batchItemFailures``."""

    itemIdentifier: ItemIdentifier


class PartialBatchResponse(TypedDict):
    """What a function returns with ``ReportBatchItemFailures``: the records to retry."""

    batchItemFailures: list[BatchItemFailure]


BatchEvent = SQSEvent | KinesisEvent | DynamoDBEvent | KafkaEvent
"""Any event a batch event source mapping sends."""

# ---------------------------------------------------------------- the names of the shapes

SourceKind = Literal["sqs", "kinesis", "dynamodb", "kafka"]
"""The four record shapes; their rules are ``batchmap.records.shapes``."""

MappingKind = Literal["sqs", "sqs-fifo", "kinesis", "dynamodb", "kafka"]
"""A shape with SQS FIFO told apart (``batchmap.records.shapes.MAPPING_KINDS``)."""

WindowStart = Literal["on_ready", "on_first_record"]
"""Where a shape's batching window clock starts (``batchmap.records.shapes.Shape.window_start``)."""
