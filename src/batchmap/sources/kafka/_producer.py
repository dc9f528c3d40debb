"""Producing to a Kafka topic: ``batchmap send`` and Kafka-topic on-failure destinations.

Each ``send`` produces its messages and flushes: it returns only once the
broker acknowledged every one (``acks=all`` by librdkafka's default), and a
message the broker refused raises ``BrokerError`` naming the error, so nothing
is reported sent that was not.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from batchmap.errors import BrokerError, ConfigError
from batchmap.records.shapes import kafka_item_id, topic_partition
from batchmap.sources.kafka._errors import kafka_error, transient_kafka
from batchmap.sources.kafka._settings import KafkaSettings

FLUSH_TIMEOUT_S = 30.0
OutgoingMessage = tuple[bytes | None, bytes, Sequence[tuple[str, bytes]]]
"""``(key, value, headers)`` of one message to produce."""


class KafkaProducer:
    """A producer on the source's cluster; sends are serialised so each flush covers only its own messages."""

    def __init__(self, settings: KafkaSettings, client: ModuleType) -> None:
        self.settings = settings
        self._ck = client
        config = {**settings.producer_config(), "logger": logging.getLogger("batchmap.sources.kafka.client")}
        try:
            self._producer = client.Producer(config)
        except client.KafkaException as exc:
            raise ConfigError("Kafka client settings", settings.client_config, str(exc)) from exc
        self._lock = threading.Lock()

    async def send(self, topic: str, messages: Sequence[OutgoingMessage]) -> list[str]:
        """Produce ``messages`` to ``topic``, wait for the broker; returns ``topic-N:offset`` ids in order."""
        if not messages:
            return []
        return await asyncio.to_thread(self._send, topic, messages)

    def _send(self, topic: str, messages: Sequence[OutgoingMessage]) -> list[str]:
        ids: list[str | None] = [None] * len(messages)
        errors: dict[int, Any] = {}

        def reporter(index: int) -> Any:
            def report(error: Any, message: Any) -> None:
                if error is not None:
                    errors[index] = error
                else:
                    ids[index] = kafka_item_id(topic_partition(message.topic(), message.partition()),
                                               message.offset())
            return report

        with self._lock:
            for index, (key, value, headers) in enumerate(messages):
                self._produce(topic, key, value, list(headers) or None, reporter(index))
            left = self._producer.flush(FLUSH_TIMEOUT_S)
        if left:
            raise BrokerError("Produce", "_MSG_TIMED_OUT",
                              f"{left} of {len(messages)} messages to {topic} not acknowledged "
                              f"in {FLUSH_TIMEOUT_S:.0f}s", transient=True)
        if errors:
            index, error = next(iter(sorted(errors.items())))
            raise BrokerError("Produce", error.name(),
                              f"{len(errors)} of {len(messages)} messages to {topic} refused; "
                              f"message {index}: {error.str()}", transient=transient_kafka(error))
        return [i for i in ids if i is not None]

    def _produce(self, topic: str, key: bytes | None, value: bytes, headers: Any, report: Any) -> None:
        while True:
            try:
                self._producer.produce(topic, value=value, key=key, headers=headers, on_delivery=report)
                return
            except BufferError:  # the local queue is full: let deliveries drain, then go on
                self._producer.poll(0.1)
            except self._ck.KafkaException as exc:
                raise kafka_error("Produce", exc, topic) from exc

    async def close(self) -> None:
        """Deliver whatever is still queued."""
        await asyncio.to_thread(self._producer.flush, FLUSH_TIMEOUT_S)
