"""AWS's Kafka-topic on-failure destination: ``kafka://<topic>`` on the source's own cluster.

As AWS does (reference §4.5): one message per failed record, its
``KafkaBatchInfo.batchSize`` 1 and the record itself in ``payload``; the
message key is the failed record's own key (so a keyed record lands in a
predictable partition), and no key lets the producer spread them. The topic
must differ from every topic the mapping reads.
"""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from batchmap.errors import BrokerError, ConfigError, DestinationError
from batchmap.sources.kafka._producer import KafkaProducer
from batchmap.sources.kafka._records import decode_b64
from batchmap.sources.kafka._settings import KafkaSettings, topic_list

PARAMETER = "DestinationConfig.OnFailure.Destination"


class KafkaTopicDestination:
    """Sends each on-failure record as one JSON message, keyed by the failed record's key."""

    wants_payload = False
    one_record_per_message = True
    """The engine sends one on-failure record per failed record (each carrying it in ``payload``)."""

    def __init__(self, uri: str, topic: str, producer: KafkaProducer) -> None:
        self.uri = uri
        self.topic = topic
        self._producer = producer

    async def send(self, record: dict[str, Any]) -> None:
        """Produce ``record`` and wait for the broker's acknowledgement; ``DestinationError`` if refused."""
        try:
            value = json.dumps(record, separators=(",", ":"), allow_nan=False).encode("utf-8")
            key = failed_record_key(record)
        except (TypeError, ValueError) as exc:
            raise DestinationError(self.uri, f"record cannot be sent: {exc}") from exc
        try:
            await self._producer.send(self.topic, [(key, value, ())])
        except BrokerError as exc:
            raise DestinationError(self.uri, str(exc)) from exc

    async def close(self) -> None:
        await self._producer.close()


def failed_record_key(record: dict[str, Any]) -> bytes | None:
    """The key of the one record an on-failure record carries in ``payload`` (``None`` if it has none)."""
    payload = record.get("payload")
    if not isinstance(payload, dict):
        return None
    records = payload.get("records")
    if not isinstance(records, dict):
        return None
    carried = [r for rs in records.values() if isinstance(rs, list) for r in rs if isinstance(r, dict)]
    if len(carried) != 1 or not isinstance(carried[0].get("key"), str):
        return None
    return decode_b64(carried[0]["key"], "payload record key")


async def open_topic_destination(
    uri: str, settings: KafkaSettings, client: ModuleType
) -> KafkaTopicDestination | None:
    """The destination for ``kafka://<topic>``; ``None`` for any other scheme (not ours to open)."""
    parts = urlsplit(uri)
    if parts.scheme != "kafka":
        return None
    if parts.path.strip("/") or parts.query or parts.fragment or ":" in parts.netloc or "," in parts.netloc:
        raise ConfigError(PARAMETER, uri, "kafka://<topic>: a topic on the source's own cluster (as AWS)")
    topic = topic_list(parts.netloc, PARAMETER)[0]
    if topic in settings.topics:
        raise ConfigError(PARAMETER, uri, "a topic other than the ones the mapping reads")
    return KafkaTopicDestination(uri, topic, KafkaProducer(settings, client))
