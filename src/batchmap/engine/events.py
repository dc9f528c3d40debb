"""The event a function receives for a batch, in the exact shape Lambda sends."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from batchmap.records import kafka_event, records_event
from batchmap.sources.base import Delivery, RecordShape


def build_event(
    shape: RecordShape,
    items: Sequence[Delivery],
    extra: Mapping[str, Any] | None = None,
    kafka_meta: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``{"Records": [...]}`` for SQS, Kinesis and DynamoDB; Kafka's ``records`` map by topic-partition.

    ``extra`` adds top-level fields (tumbling windows: ``window``, ``state``,
    ``shardId``, ``isFinalInvokeForWindow``...); ``kafka_meta`` carries
    ``eventSource``, ``eventSourceArn`` and ``bootstrapServers`` for Kafka.
    """
    if shape == "kafka":
        meta = kafka_meta or {}
        event: dict[str, Any] = dict(kafka_event(
            [item.record for item in items],  # type: ignore[misc]
            event_source=meta.get("eventSource", "SelfManagedKafka"),
            event_source_arn=meta.get("eventSourceArn"),
            bootstrap_servers=meta.get("bootstrapServers", ""),
        ))
    else:
        event = records_event([item.record for item in items])
    if extra:
        event.update(extra)
    return event
