"""AWS-shaped records (reference §9) and a one-line way to ask whether a pattern matches."""

from __future__ import annotations

import base64
import json
from typing import Any

from batchmap.filters import FilterCriteria


def sqs_record(body: str, **extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
        "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1545082649183",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1545082649185",
        },
        "messageAttributes": {},
        "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:my-queue",
        "awsRegion": "us-east-2",
    }
    record.update(extra)
    return record


def b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64encode(raw).decode()


def kinesis_record(data: bytes | str, partition_key: str = "1") -> dict[str, Any]:
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key,
            "sequenceNumber": "49590338271490256608559692538361571095921575989136588898",
            "data": b64(data),
            "approximateArrivalTimestamp": 1545084650.987,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": "shardId-000000000006:49590338271490256608559692538361571095921575989136588898",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/lambda-role",
        "awsRegion": "us-east-2",
        "eventSourceARN": "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream",
    }


def dynamodb_record(event_name: str = "INSERT", **images: Any) -> dict[str, Any]:
    dynamodb: dict[str, Any] = {
        "Keys": {"Id": {"N": "101"}},
        "ApproximateCreationDateTime": 1428537600,
        "SequenceNumber": "4421584500000000017450439091",
        "SizeBytes": 26,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    dynamodb.update(images)
    return {
        "eventID": "c4ca4238a0b923820dcc509a6f75849b",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-central-1",
        "dynamodb": dynamodb,
        "eventSourceARN": "arn:aws:dynamodb:eu-central-1:123456789012:table/Example/stream/2015-06-27T00:48:05.899",
    }


def kafka_record(value: bytes | str | None, key: bytes | str | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "topic": "mytopic",
        "partition": 0,
        "offset": 15,
        "timestamp": 1545084650987,
        "timestampType": "CREATE_TIME",
        "headers": [{"headerKey": [104, 101, 97, 100, 101, 114, 86, 97, 108, 117, 101]}],
    }
    if value is not None:
        record["value"] = b64(value)
    if key is not None:
        record["key"] = b64(key)
    return record


def matches(pattern: dict[str, Any], event: Any) -> bool:
    """Whether ``pattern`` matches ``event`` sent as a JSON SQS body (the pattern goes under ``body``)."""
    return matches_text(pattern, json.dumps(event))


def matches_text(pattern: dict[str, Any], body: str) -> bool:
    """Like ``matches`` with the body's exact JSON text (to check how numbers are written)."""
    return FilterCriteria.of({"body": pattern}).for_shape("sqs").matches(sqs_record(body))
