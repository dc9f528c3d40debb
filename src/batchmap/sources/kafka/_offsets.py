"""Reading a partition's records from one offset to another, outside any consumer group (``batchmap replay``).

A Kafka on-failure record names each partition's first and last offset. This
reads them back with a consumer that is assigned the partition directly: it
joins no group and commits nothing, so the mapping's own group and its
committed offsets are left exactly as they were. Offsets need not be
contiguous (compaction, transaction markers), so only the ends are checked:
what the partition no longer holds before its first offset (retention), or
does not hold yet after its last.
"""

from __future__ import annotations

import logging
import time
import uuid
from types import ModuleType
from typing import Any

from batchmap.errors import BrokerError, ConfigError
from batchmap.sources.kafka._errors import kafka_error
from batchmap.sources.kafka._records import kafka_record
from batchmap.sources.kafka._settings import KafkaSettings
from batchmap.sources.stream_ranges import OffsetRead

TIMEOUT_S = 30.0
"""How long reading one range may wait on the broker before it is an error."""
POLL_S = 0.5


def read_offsets(settings: KafkaSettings, client: ModuleType, topic: str, partition: int,
                 first: int, last: int) -> OffsetRead:
    """The records of ``topic``/``partition`` with offsets ``first`` to ``last`` that the broker still holds."""
    config = {
        "client.id": "batchmap-replay", **settings.client_config,
        "bootstrap.servers": settings.bootstrap_servers,
        "group.id": f"batchmap-replay-{uuid.uuid4().hex[:12]}",  # never joined: assign() only, no commits
        "enable.auto.commit": False, "enable.auto.offset.store": False, "enable.partition.eof": True,
        "logger": logging.getLogger("batchmap.sources.kafka.client"),
    }
    try:
        consumer = client.Consumer(config)
    except client.KafkaException as exc:
        raise ConfigError("Kafka client settings", settings.client_config, str(exc)) from exc
    try:
        wanted = client.TopicPartition(topic, partition)
        try:
            low, high = consumer.get_watermark_offsets(wanted, timeout=TIMEOUT_S)
        except client.KafkaException as exc:
            raise kafka_error("ListOffsets", exc, f"{topic}-{partition}") from exc
        start = max(first, low)
        if start > last or start >= high:  # nothing to read: past the end (a seek there would be out of range)
            return OffsetRead([], low, high)
        consumer.assign([client.TopicPartition(topic, partition, start)])
        return OffsetRead(_consume(consumer, client, topic, partition, start, last), low, high)
    finally:
        consumer.close()


def _consume(
    consumer: Any, client: ModuleType, topic: str, partition: int, start: int, last: int
) -> list[dict[str, Any]]:
    """Poll until the record at ``last``, or the end of the partition, has come.

    The end is librdkafka's end-of-partition event rather than the high watermark asked
    for beforehand: some brokers (Tansu) report a watermark short of a batch they hold.
    """
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        message = consumer.poll(POLL_S)
        if message is None:
            continue
        error = message.error()
        if error is not None:
            if error.code() == client.KafkaError._PARTITION_EOF:
                return found
            raise kafka_error("Fetch", client.KafkaException(error), f"{topic}-{partition}")
        offset = message.offset()
        if offset > last:
            return found
        if offset >= start:
            found.append(kafka_record(message))
        if offset == last:
            return found
    raise BrokerError("Fetch", "_TIMED_OUT", f"{topic}-{partition}: offsets up to {last} did not come within "
                      f"{TIMEOUT_S:.0f}s", transient=True)
