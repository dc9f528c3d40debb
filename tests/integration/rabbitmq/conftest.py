"""RabbitMQ on 127.0.0.1:5672 (guest/guest): required under CI=true, skipped otherwise when missing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from services import require_port

PORT = 5672
URL = f"amqp://guest:guest@127.0.0.1:{PORT}/%2F"


@pytest.fixture(scope="session")
def rabbitmq_up() -> None:
    require_port("RabbitMQ", PORT)


@pytest.fixture
def queue(rabbitmq_up: None) -> Iterator[str]:
    """A unique queue name; the queue and its dead-letter queue are deleted afterwards."""
    import pika

    name = f"bm-test-{uuid.uuid4().hex[:12]}"
    yield name
    connection = pika.BlockingConnection(pika.URLParameters(URL))
    channel = connection.channel()
    for q in (name, f"{name}.dlq"):
        channel.queue_delete(q)
    connection.close()
