"""Every queue source declares its traits, and a declared visibility extension is really there."""

from __future__ import annotations

import importlib
import inspect

import pytest

from batchmap.sources.base import MessageMover, QueueTraits, VisibilityExtender
from batchmap.sources.registry import OPENERS


def queue_classes() -> tuple[type, ...]:
    """Every queue class the source registry's modules export (SQS-shaped, with ``receive``), once each."""
    found: dict[str, type] = {}
    for target in OPENERS.values():
        module = importlib.import_module(target.partition(":")[0])
        for value in vars(module).values():
            if isinstance(value, type) and getattr(value, "shape", None) == "sqs" and hasattr(value, "receive"):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return tuple(found.values())


QUEUE_SOURCES = queue_classes()


def test_the_registry_yields_every_queue_source() -> None:
    names = {source.__name__ for source in QUEUE_SOURCES}
    assert {"SqsQueue", "SqliteQueue", "PostgresSource", "RedisStreamsSource", "NatsSource", "RabbitMQSource",
            "MemoryQueue"} <= names, names


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
