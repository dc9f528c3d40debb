"""Every queue source declares its traits, and a declared visibility extension is really there."""

from __future__ import annotations

import inspect

import pytest

from batchmap.sources.aws.sqs import SqsQueue
from batchmap.sources.base import MessageMover, QueueTraits, VisibilityExtender
from batchmap.sources.nats import NatsSource
from batchmap.sources.postgres import PostgresSource
from batchmap.sources.rabbitmq import RabbitMQSource
from batchmap.sources.redis_streams import RedisStreamsSource
from batchmap.sources.sqlite import SqliteQueue

QUEUE_SOURCES = (SqsQueue, SqliteQueue, PostgresSource, RedisStreamsSource, NatsSource, RabbitMQSource)


@pytest.mark.parametrize("source", QUEUE_SOURCES, ids=lambda c: c.__name__)
def test_a_queue_source_declares_what_it_can_do(source: type) -> None:
    traits = source.traits
    assert isinstance(traits, QueueTraits)
    method = getattr(source, "extend_visibility", None)
    assert traits.extends_visibility == (method is not None), "traits and methods must agree"
    if method is not None:
        wanted = inspect.signature(VisibilityExtender.extend_visibility)
        assert inspect.iscoroutinefunction(method)
        assert list(inspect.signature(method).parameters) == list(wanted.parameters)


@pytest.mark.parametrize("source", QUEUE_SOURCES, ids=lambda c: c.__name__)
def test_a_declared_message_mover_has_the_mover_methods(source: type) -> None:
    for name in ("origins", "move"):
        method = getattr(source, name, None)
        assert source.traits.moves_messages == (method is not None), "traits and methods must agree"
        if method is not None:
            wanted = inspect.signature(getattr(MessageMover, name))
            assert inspect.iscoroutinefunction(method)
            assert list(inspect.signature(method).parameters) == list(wanted.parameters)


def test_the_defaults_live_in_one_place() -> None:
    assert QueueTraits() == QueueTraits(extends_visibility=False, moves_messages=False)
