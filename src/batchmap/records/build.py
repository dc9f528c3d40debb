"""Build records and events in exactly the shape Lambda delivers (reference §9).

The engine, the sources and the tests all need AWS-shaped dicts; building them
here keeps one definition of each field. Record builders fill every field AWS
sends, with AWS's formats (string attributes, epoch-ms strings, base64 data).
"""

from __future__ import annotations

import binascii

from batchmap.records.attribute_value import encode_item
from batchmap.records.shapes import KINDS, topic_partition

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from typing import Any, Literal

    from batchmap.records.wire import (
        DynamoDBRecordDict,
        KafkaEvent,
        KafkaRecordDict,
        KafkaSchemaMetadata,
        KinesisRecordDict,
        SourceKind,
        SQSMessageAttribute,
        SQSRecordDict,
    )

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"


def _b64(data: bytes | str) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return binascii.b2a_base64(raw, newline=False).decode("ascii")


def _now_ms() -> int:
    import time

    return time.time_ns() // 1_000_000


def _uuid() -> str:
    import uuid

    return str(uuid.uuid4())


def records_event(records: Iterable[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """``{"Records": [...]}``: the event of SQS, Kinesis and DynamoDB Streams mappings."""
    return {"Records": list(records)}


def kafka_event(records: Iterable[KafkaRecordDict], *, event_source: str = "aws:kafka",
                event_source_arn: str | None = None, bootstrap_servers: str = "") -> KafkaEvent:
    """A Kafka event: records grouped under ``"<topic>-<partition>"`` keys, order kept.

    ``event_source`` is ``aws:kafka`` (MSK, with ``eventSourceArn``) or
    ``SelfManagedKafka`` (no ARN).
    """
    grouped: dict[str, list[KafkaRecordDict]] = {}
    for record in records:
        grouped.setdefault(topic_partition(record["topic"], record["partition"]), []).append(record)
    event: dict[str, Any] = {"eventSource": event_source}
    if event_source_arn is not None:
        event["eventSourceArn"] = event_source_arn
    event["bootstrapServers"] = bootstrap_servers
    event["records"] = grouped
    result: KafkaEvent = event  # type: ignore[assignment]
    return result


def build_event(kind: SourceKind, records: Sequence[Mapping[str, Any]], **kafka: Any) -> dict[str, Any]:
    """The event for ``kind`` (``sqs``, ``kinesis``, ``dynamodb``, ``kafka``) holding ``records``.

    Keyword arguments go to ``kafka_event`` and are refused for the other kinds.
    The one builder of events: the engine builds every batch's event here too.
    """
    if kind == "kafka":
        return dict(kafka_event(records, **kafka))  # type: ignore[arg-type]
    if kind not in KINDS:
        from batchmap.errors import ConfigError

        raise ConfigError("kind", kind, "one of 'sqs', 'kinesis', 'dynamodb', 'kafka'")
    if kafka:
        from batchmap.errors import ConfigError

        name = next(iter(kafka))
        raise ConfigError(name, kafka[name], f"only Kafka events take it, not {kind}")
    return records_event(records)


_EVENT_ARGUMENTS = {"eventSource": "event_source", "eventSourceArn": "event_source_arn",
                    "bootstrapServers": "bootstrap_servers"}


def event_arguments(kind: str, meta: Mapping[str, Any] | None) -> dict[str, Any]:
    """``build_event``'s keyword arguments from an event's top-level fields, in AWS's names.

    Only Kafka events have such fields (``eventSource``, ``eventSourceArn``,
    ``bootstrapServers``); without them a Kafka event reads as self-managed.
    """
    if kind != "kafka":
        return {}
    given = meta or {}
    arguments: dict[str, Any] = {"event_source": "SelfManagedKafka", "event_source_arn": None,
                                 "bootstrap_servers": ""}
    arguments.update((_EVENT_ARGUMENTS[key], value) for key, value in given.items() if key in _EVENT_ARGUMENTS)
    return arguments


def sqs_record(body: str, *, message_id: str | None = None, queue_arn: str | None = None,
               region: str = DEFAULT_REGION, receive_count: int = 1, sent_timestamp_ms: int | None = None,
               message_group_id: str | None = None, deduplication_id: str | None = None,
               sequence_number: str | None = None,
               message_attributes: dict[str, SQSMessageAttribute] | None = None,
               receipt_handle: str | None = None, sender_id: str = "AIDAIENQZJOLO23YVJ4VO") -> SQSRecordDict:
    """One SQS message; FIFO fields are added when ``message_group_id`` is given."""
    import hashlib

    sent = sent_timestamp_ms if sent_timestamp_ms is not None else _now_ms()
    attributes = {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": str(sent),
                  "SenderId": sender_id, "ApproximateFirstReceiveTimestamp": str(sent)}
    if message_group_id is not None:
        attributes["SequenceNumber"] = sequence_number or str(sent * 1000)
        attributes["MessageGroupId"] = message_group_id
        attributes["MessageDeduplicationId"] = deduplication_id or hashlib.sha256(body.encode()).hexdigest()
    default_queue = "queue.fifo" if message_group_id is not None else "queue"
    return {
        "messageId": message_id or _uuid(),
        "receiptHandle": receipt_handle or _b64(_uuid()),
        "body": body,
        "attributes": attributes,
        "messageAttributes": message_attributes or {},
        "md5OfBody": hashlib.md5(body.encode("utf-8"), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn or f"arn:aws:sqs:{region}:{DEFAULT_ACCOUNT}:{default_queue}",
        "awsRegion": region,
    }


def kinesis_record(data: bytes | str, *, partition_key: str, sequence_number: str,
                   shard_id: str = "shardId-000000000000", stream_arn: str | None = None,
                   region: str = DEFAULT_REGION, arrival_timestamp: float | None = None) -> KinesisRecordDict:
    """One Kinesis record; ``data`` is base64-encoded for you."""
    arrival = arrival_timestamp if arrival_timestamp is not None else _now_ms() / 1000
    return {
        "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": partition_key,
                    "sequenceNumber": sequence_number, "data": _b64(data),
                    "approximateArrivalTimestamp": arrival},
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{sequence_number}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/lambda-role",
        "awsRegion": region,
        "eventSourceARN": stream_arn or f"arn:aws:kinesis:{region}:{DEFAULT_ACCOUNT}:stream/stream",
    }


_VIEW_TYPE_IMAGES = {"KEYS_ONLY": (False, False), "NEW_IMAGE": (True, False),
                     "OLD_IMAGE": (False, True), "NEW_AND_OLD_IMAGES": (True, True)}


def dynamodb_record(event_name: Literal["INSERT", "MODIFY", "REMOVE"], keys: Mapping[str, Any], *,
                    sequence_number: str, new_image: Mapping[str, Any] | None = None,
                    old_image: Mapping[str, Any] | None = None,
                    view_type: Literal["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"]
                    = "NEW_AND_OLD_IMAGES", stream_arn: str | None = None, region: str = DEFAULT_REGION,
                    created_at: int | None = None, event_id: str | None = None) -> DynamoDBRecordDict:
    """One DynamoDB Streams record from plain-Python keys and images (encoded to typed JSON).

    Images are kept only where ``view_type`` (``StreamViewType``) includes them.
    """
    import json

    with_new, with_old = _VIEW_TYPE_IMAGES[view_type]
    stream: dict[str, Any] = {"ApproximateCreationDateTime": created_at or _now_ms() // 1000,
                              "Keys": encode_item(keys, field="keys")}
    if with_new and new_image is not None:
        stream["NewImage"] = encode_item(new_image, field="new_image")
    if with_old and old_image is not None:
        stream["OldImage"] = encode_item(old_image, field="old_image")
    stream["SequenceNumber"] = sequence_number
    images = {k: v for k, v in stream.items() if k in ("Keys", "NewImage", "OldImage")}
    stream["SizeBytes"] = len(json.dumps(images))
    stream["StreamViewType"] = view_type
    arn = stream_arn or (f"arn:aws:dynamodb:{region}:{DEFAULT_ACCOUNT}:"
                         "table/table/stream/2024-01-01T00:00:00.000")
    record: dict[str, Any] = {"eventID": event_id or _uuid().replace("-", ""), "eventName": event_name,
                              "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": region,
                              "dynamodb": stream, "eventSourceARN": arn}
    result: DynamoDBRecordDict = record  # type: ignore[assignment]
    return result


def kafka_record(topic: str, partition: int, offset: int, value: bytes | str | None, *,
                 key: bytes | str | None = None, headers: Iterable[tuple[str, bytes | str]] = (),
                 timestamp_ms: int | None = None,
                 timestamp_type: Literal["CREATE_TIME", "LOG_APPEND_TIME"] = "CREATE_TIME",
                 key_schema_metadata: KafkaSchemaMetadata | None = None,
                 value_schema_metadata: KafkaSchemaMetadata | None = None) -> KafkaRecordDict:
    """One Kafka record; ``key``/``value`` are base64-encoded and headers become byte lists.

    ``key_schema_metadata``/``value_schema_metadata`` (``{"dataFormat": "AVRO", "schemaId": "7"}``)
    are what a mapping with a schema registry adds.
    """
    record: dict[str, Any] = {"topic": topic, "partition": partition, "offset": offset,
                              "timestamp": timestamp_ms if timestamp_ms is not None else _now_ms(),
                              "timestampType": timestamp_type}
    if key is not None:
        record["key"] = _b64(key)
    record["value"] = None if value is None else _b64(value)
    record["headers"] = [{name: list(data.encode() if isinstance(data, str) else data)}
                         for name, data in headers]
    if key_schema_metadata is not None:
        record["keySchemaMetadata"] = dict(key_schema_metadata)
    if value_schema_metadata is not None:
        record["valueSchemaMetadata"] = dict(value_schema_metadata)
    result: KafkaRecordDict = record  # type: ignore[assignment]
    return result
