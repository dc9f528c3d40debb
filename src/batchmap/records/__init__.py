"""Typed, read-only views of the records Lambda delivers, and the wire shapes around them.

Standard library only. Names load on first use, so ``import batchmap.records``
costs almost nothing in a cold start::

    from batchmap.records import parse_event
    batch = parse_event(event)            # RecordBatch: .kind, .is_fifo, iterable of records
    for record in batch:
        record.id, record.key, record.json(), record.size, record.raw
"""

from __future__ import annotations

from batchmap.lazy import lazy_exports

TYPE_CHECKING = False
if TYPE_CHECKING:
    from batchmap.records.attribute_value import decode_item, decode_value, encode_item, encode_value
    from batchmap.records.build import (
        build_event,
        dynamodb_record,
        kafka_event,
        kafka_record,
        kinesis_record,
        records_event,
        sqs_record,
    )
    from batchmap.records.dynamodb import DynamoDBRecord
    from batchmap.records.event import RecordBatch, parse_event
    from batchmap.records.kafka import KafkaRecord
    from batchmap.records.kinesis import KinesisRecord
    from batchmap.records.record import Record
    from batchmap.records.response import PartialResponse, batch_response, read_partial_response, read_response
    from batchmap.records.shapes import kafka_item_id
    from batchmap.records.sqs import SQSRecord
    from batchmap.records.wire import (
        AttributeValue,
        BatchEvent,
        BatchItemFailure,
        DynamoDBEvent,
        DynamoDBRecordDict,
        ItemIdentifier,
        KafkaEvent,
        KafkaItemIdentifier,
        KafkaRecordDict,
        KinesisEvent,
        KinesisRecordDict,
        PartialBatchResponse,
        SourceKind,
        SQSEvent,
        SQSRecordDict,
    )

_HOME = {
    "Record": "record", "SQSRecord": "sqs", "KinesisRecord": "kinesis", "DynamoDBRecord": "dynamodb",
    "KafkaRecord": "kafka", "RecordBatch": "event", "parse_event": "event",
    "PartialResponse": "response", "batch_response": "response", "read_partial_response": "response",
    "read_response": "response", "kafka_item_id": "shapes",
    "decode_item": "attribute_value", "decode_value": "attribute_value",
    "encode_item": "attribute_value", "encode_value": "attribute_value",
    "build_event": "build", "records_event": "build", "kafka_event": "build", "sqs_record": "build",
    "kinesis_record": "build", "dynamodb_record": "build", "kafka_record": "build",
    "AttributeValue": "wire", "BatchEvent": "wire", "BatchItemFailure": "wire", "DynamoDBEvent": "wire",
    "DynamoDBRecordDict": "wire", "ItemIdentifier": "wire", "KafkaEvent": "wire",
    "KafkaItemIdentifier": "wire", "KafkaRecordDict": "wire", "KinesisEvent": "wire",
    "KinesisRecordDict": "wire", "PartialBatchResponse": "wire", "SourceKind": "wire", "SQSEvent": "wire",
    "SQSRecordDict": "wire",
}

__all__ = [
    "AttributeValue", "BatchEvent", "BatchItemFailure", "DynamoDBEvent", "DynamoDBRecord",
    "DynamoDBRecordDict", "ItemIdentifier", "KafkaEvent", "KafkaItemIdentifier", "KafkaRecord",
    "KafkaRecordDict", "KinesisEvent", "KinesisRecord", "KinesisRecordDict", "PartialBatchResponse",
    "PartialResponse", "Record", "RecordBatch", "SQSEvent", "SQSRecord", "SQSRecordDict",
    "SourceKind", "batch_response", "build_event", "decode_item", "decode_value", "dynamodb_record",
    "encode_item", "encode_value", "kafka_event", "kafka_item_id", "kafka_record", "kinesis_record",
    "parse_event", "read_partial_response", "read_response", "records_event", "sqs_record",
]

__getattr__, __dir__ = lazy_exports(globals(), _HOME, __all__)
