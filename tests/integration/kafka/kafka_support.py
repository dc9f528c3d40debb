"""Helpers for the Kafka tests: produce one message per request, read committed offsets, run engines."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

from confluent_kafka import Consumer, Producer, TopicPartition

from batchmap.config import EventSourceMapping
from batchmap.engine.service import Engine, RunReport

T = TypeVar("T")
GROUP_SETTINGS = "session.timeout.ms=1000&heartbeat.interval.ms=200&fetch.wait.max.ms=100"
"""Tansu answers a group join after about half the session timeout (a second at least), and holds a fetch at the
end of a partition for ``fetch.wait.max.ms``, after which the consumer learns it is caught up (what a drain waits
for; 500 ms by default): keep both short in tests."""
Message = tuple[bytes | None, bytes | None]


def source_uri(broker: str, topic: str, group: str, extra: str = "") -> str:
    return f"kafka://{broker}/{topic}?group={group}&{GROUP_SETTINGS}{extra}"


def produce(
    broker: str, topic: str, messages: Iterable[Message], *, partition: int | None = None,
    headers: Sequence[tuple[str, bytes]] | None = None, timestamp_ms: int | None = None,
) -> None:
    """One message per produce request (linger 0 and a flush each): Tansu's watermarks stay right."""
    producer = _producer(broker)
    for key, value in messages:
        kwargs: dict[str, Any] = {"key": key, "value": value}
        if partition is not None:
            kwargs["partition"] = partition
        if headers is not None:
            kwargs["headers"] = list(headers)
        if timestamp_ms is not None:
            kwargs["timestamp"] = timestamp_ms
        producer.produce(topic, **kwargs)
        assert producer.flush(10) == 0


_PRODUCERS: dict[str, Producer] = {}


def _producer(broker: str) -> Producer:
    if broker not in _PRODUCERS:
        _PRODUCERS[broker] = Producer({"bootstrap.servers": broker, "linger.ms": 0,
                                       "logger": logging.getLogger("tests.kafka.producer")})
    return _PRODUCERS[broker]


def values(n: int, prefix: str = "m", key: bytes | None = None) -> list[Message]:
    return [(key, f"{prefix}{i}".encode()) for i in range(n)]


def committed(broker: str, group: str, topic: str, partitions: int) -> dict[int, int]:
    """The group's committed offsets (next offset to read) per partition; absent when none."""
    consumer = Consumer({"bootstrap.servers": broker, "group.id": group, "enable.auto.commit": False,
                         "logger": logging.getLogger("tests.kafka.reader")})
    try:
        found = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
    finally:
        consumer.close()
    return {tp.partition: tp.offset for tp in found if tp.offset >= 0}


def consume_all(broker: str, topic: str, expected: int, timeout_s: float = 20.0) -> list[Any]:
    """Read ``expected`` messages of ``topic`` from the start, with a throwaway group."""
    consumer = Consumer({"bootstrap.servers": broker, "group.id": f"reader-{time.monotonic_ns()}",
                         "auto.offset.reset": "earliest", "session.timeout.ms": 2000,
                         "heartbeat.interval.ms": 300, "logger": logging.getLogger("tests.kafka.reader")})
    consumer.subscribe([topic])
    found: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(found) < expected and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                found.append(message)
    finally:
        consumer.close()
    return found


def run(scenario: Callable[[], Awaitable[T]], timeout_s: float = 90.0) -> T:
    return asyncio.run(asyncio.wait_for(scenario(), timeout_s))


async def run_until_idle(*mappings: EventSourceMapping) -> RunReport:
    return await Engine(list(mappings), invoker="inprocess").run(until_idle=True)


async def wait_for(condition: Callable[[], bool], timeout_s: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def decoded(record: dict[str, Any]) -> str:
    import base64

    return base64.b64decode(record["value"]).decode()


def record_values(events: Iterable[dict[str, Any]]) -> list[str]:
    return [decoded(r) for event in events for rs in event["records"].values() for r in rs]


def as_json(value: Any) -> bytes:
    return json.dumps(value).encode()
