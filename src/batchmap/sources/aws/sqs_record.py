"""SQS API messages to the records Lambda puts in ``event["Records"]`` (reference §9.1, §9.2).

The SQS API and Lambda spell the same data differently: ``MessageAttributes``
with ``StringValue``/``BinaryValue`` (bytes, as boto3 decodes them) become
``messageAttributes`` with ``stringValue``/``binaryValue`` (base64) and always
both list fields. Real Lambda events also carry ``md5OfMessageAttributes``
(``null`` when the message has none), so ours do too. Pure functions, so the
shape is tested without a queue.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from batchmap.sources.base import Delivery


def _b64(value: bytes | str) -> str:
    raw = value.encode("utf-8") if isinstance(value, str) else value
    return base64.b64encode(raw).decode("ascii")


def lambda_message_attribute(api: Mapping[str, Any]) -> dict[str, Any]:
    """One attribute in Lambda's spelling: stringValue or binaryValue, both lists, dataType."""
    attribute: dict[str, Any] = {}
    if "StringValue" in api:
        attribute["stringValue"] = api["StringValue"]
    if "BinaryValue" in api:
        attribute["binaryValue"] = _b64(api["BinaryValue"])
    attribute["stringListValues"] = list(api.get("StringListValues", []))
    attribute["binaryListValues"] = [_b64(item) for item in api.get("BinaryListValues", [])]
    attribute["dataType"] = api["DataType"]
    return attribute


def sqs_record(message: Mapping[str, Any], *, arn: str, region: str) -> dict[str, Any]:
    """The Lambda SQS record for one ReceiveMessage result, keys in Lambda's order."""
    attributes = message.get("MessageAttributes") or {}
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": {name: str(value) for name, value in (message.get("Attributes") or {}).items()},
        "messageAttributes": {name: lambda_message_attribute(value) for name, value in attributes.items()},
        "md5OfMessageAttributes": message.get("MD5OfMessageAttributes"),
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": region,
    }


def sqs_delivery(message: Mapping[str, Any], *, arn: str, region: str, fifo: bool) -> Delivery:
    """A ``Delivery`` for one message: keyed by its message group on a FIFO queue."""
    record = sqs_record(message, arn=arn, region=region)
    system = record["attributes"]
    return Delivery(
        record=record,
        id=record["messageId"],
        key=system.get("MessageGroupId") if fifo else None,
        shard="",
        size=len(json.dumps(record, separators=(",", ":"))),
        arrival_ms=int(system.get("SentTimestamp", "0")),
        receive_count=int(system.get("ApproximateReceiveCount", "1")),
        handle=record["receiptHandle"],
    )
