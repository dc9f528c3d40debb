"""The Kinesis wire shape of the embedded stream's records (reference §9.3).

``Delivery.size`` is, as for the queue, the record's length as compact JSON
with ASCII escapes, summed from its parts rather than serialised.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from batchmap.sources.base import Delivery
from batchmap.sources.sqlite.shards import format_sequence
from batchmap.sources.sqlite.uri import ACCOUNT, REGION

INVOKE_IDENTITY_ARN = f"arn:aws:iam::{ACCOUNT}:role/lambda-role"
"""What ``invokeIdentityArn`` says: there is no IAM role locally, so a fixed, obviously local one."""

StoredRecord = tuple[int, str, bytes, int]
"""seq, partition_key, data, arrival_ms."""

_quote: Callable[[str], str] = json.encoder.encode_basestring_ascii
_FIXED_SIZE = len(
    '{"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":,"sequenceNumber":"","data":"",'
    '"approximateArrivalTimestamp":},"eventSource":"aws:kinesis","eventVersion":"1.0","eventID":":",'
    '"eventName":"aws:kinesis:record","invokeIdentityArn":,"awsRegion":"local","eventSourceARN":}'
)


@dataclass(frozen=True, slots=True)
class PutResult:
    """What PutRecord answers: the shard the record went to and its sequence number."""

    shard_id: str
    sequence_number: str


def deliveries(rows: list[StoredRecord], shard_id: str, arn: str) -> list[Delivery]:
    """Kinesis-shaped Deliveries for stored rows of one shard, in sequence order."""
    fixed = _FIXED_SIZE + len(_quote(arn)) + len(_quote(INVOKE_IDENTITY_ARN)) + len(shard_id)
    out = []
    for seq, partition_key, data, arrival_ms in rows:
        sequence = format_sequence(seq)
        encoded = base64.b64encode(data).decode("ascii")
        arrival_s = arrival_ms / 1000
        record: dict[str, Any] = {
            "kinesis": {
                "kinesisSchemaVersion": "1.0", "partitionKey": partition_key, "sequenceNumber": sequence,
                "data": encoded, "approximateArrivalTimestamp": arrival_s,
            },
            "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": f"{shard_id}:{sequence}",
            "eventName": "aws:kinesis:record", "invokeIdentityArn": INVOKE_IDENTITY_ARN,
            "awsRegion": REGION, "eventSourceARN": arn,
        }
        size = fixed + len(_quote(partition_key)) + 2 * len(sequence) + len(encoded) + len(repr(arrival_s))
        # Positional arguments: several times faster than keywords for a frozen slotted dataclass.
        out.append(Delivery(record, sequence, partition_key, shard_id, size, arrival_ms, 1, sequence))
    return out
