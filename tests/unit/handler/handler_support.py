"""Event builders and a Lambda-like context for the handler tests (imported by name: the folder is on sys.path)."""

from __future__ import annotations

import json
import time
from typing import Any

from batchmap.records import (
    dynamodb_record,
    kafka_event,
    kafka_record,
    kinesis_record,
    records_event,
    sqs_record,
)


def sqs_event(n: int, *, groups: list[str] | None = None, sizes: list[int] | None = None,
              payloads: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """``n`` SQS messages ``m0..``; FIFO when ``groups`` gives each message's group."""
    records = []
    for i in range(n):
        body = json.dumps(payloads[i] if payloads else {"i": i, "pad": "x" * (sizes[i] if sizes else 0)})
        records.append(sqs_record(body, message_id=f"m{i}", message_group_id=groups[i] if groups else None))
    return records_event(records)


def kinesis_event(keys: list[str]) -> dict[str, Any]:
    """One Kinesis record per key, sequence numbers ``1000 + position``."""
    return records_event([kinesis_record(json.dumps({"i": i}), partition_key=key, sequence_number=str(1000 + i))
                          for i, key in enumerate(keys)])


def dynamodb_event(keys: list[str]) -> dict[str, Any]:
    """One DynamoDB change per item key, sequence numbers ``2000 + position``."""
    return records_event([dynamodb_record("MODIFY", {"pk": key}, sequence_number=str(2000 + i),
                                          new_image={"pk": key, "i": i}) for i, key in enumerate(keys)])


def kafka_batch(partitions_and_keys: list[tuple[int, str | None]]) -> dict[str, Any]:
    """One Kafka record per ``(partition, key)`` of topic ``t``; offsets count up per partition."""
    next_offset: dict[int, int] = {}
    records = []
    for i, (partition, key) in enumerate(partitions_and_keys):
        offset = next_offset[partition] = next_offset.get(partition, 99) + 1
        records.append(kafka_record("t", partition, offset, json.dumps({"i": i}), key=key))
    return kafka_event(records)


def reported(response: dict[str, Any]) -> list[Any]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


class LambdaContext:
    """The members of Lambda's context object the toolkit reads, on the real monotonic clock."""

    def __init__(self, timeout_ms: float, memory_limit_in_mb: int = 10_240, function_name: str = "fn") -> None:
        self._deadline = time.monotonic() + timeout_ms / 1000
        self.memory_limit_in_mb = memory_limit_in_mb
        self.function_name = function_name
        self.aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))
