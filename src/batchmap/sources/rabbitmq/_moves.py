"""Moving a dead-lettered RabbitMQ message: where it came from, and the copy that goes back.

RabbitMQ records each dead-lettering in the message's ``x-death`` header (the
newest first); its ``queue`` is the queue the message died in. The copy sent
back keeps the body, ``message_id``, timestamp and properties, and the headers
without the broker's dead-letter bookkeeping, so the queue counts its
deliveries from zero again.
"""

from __future__ import annotations

import json
from typing import Any

from batchmap.sources._broker import with_option
from batchmap.sources.base import Delivery

_BOOKKEEPING = ("x-death", "x-delivery-count", "x-first-death-", "x-last-death-")


def death_queue(uri: str, delivery: Delivery) -> str | None:
    """The URI of the queue named by the first ``x-death`` entry of a dead-lettered message, if it has one."""
    text = delivery.record["messageAttributes"].get("x-death", {}).get("stringValue")
    try:
        deaths = json.loads(text) if text else []
        name = deaths[0]["queue"] if deaths else None
    except (ValueError, KeyError, TypeError, IndexError):
        return None
    return with_option(uri, "queue", name) if isinstance(name, str) and name else None


def copy_of(aio_pika: Any, message: Any) -> Any:
    """A persistent copy of ``message`` to publish elsewhere, without the dead-letter headers."""
    headers = {k: v for k, v in (message.headers or {}).items() if not k.startswith(_BOOKKEEPING)}
    return aio_pika.Message(message.body, message_id=message.message_id, timestamp=message.timestamp,
                            headers=headers, content_type=message.content_type,
                            content_encoding=message.content_encoding, correlation_id=message.correlation_id,
                            type=message.type, app_id=message.app_id, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
