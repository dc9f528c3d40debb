"""Kafka source (Amazon MSK and self-managed Apache Kafka), through confluent-kafka (extra ``kafka``).

``open_source("kafka://127.0.0.1:9092/orders?group=orders-fn", SourceOptions())``
or an MSK cluster ARN with ``SourceOptions(extra={"bootstrap_servers": ...,
"topics": ...})``: see ``docs/sources-kafka.md``.
"""

from __future__ import annotations

from batchmap.sources._broker import import_client
from batchmap.sources.kafka._checkpoints import KafkaCheckpointStore
from batchmap.sources.kafka._destination import KafkaTopicDestination
from batchmap.sources.kafka._records import kafka_record
from batchmap.sources.kafka._settings import KafkaSettings, parse_settings
from batchmap.sources.kafka._source import KafkaSource
from batchmap.sources.registry import SourceOptions

__all__ = [
    "KafkaCheckpointStore",
    "KafkaSettings",
    "KafkaSource",
    "KafkaTopicDestination",
    "kafka_record",
    "open_source",
    "parse_settings",
]


async def open_source(uri: str, options: SourceOptions) -> KafkaSource:
    """A ``KafkaSource`` for a ``kafka://`` URI or an MSK ARN; nothing connects until it is used."""
    settings = parse_settings(uri, options)
    client = import_client("confluent_kafka", "kafka")
    return KafkaSource(settings, client)
