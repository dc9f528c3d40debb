"""StartingPosition for a group with no committed offset: TRIM_HORIZON, LATEST, AT_TIMESTAMP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import kafka_handlers
import pytest
from kafka_support import produce, record_values, run, run_until_idle, source_uri, values, wait_for

from batchmap.config import EventSourceMapping
from batchmap.engine.service import Engine


@pytest.fixture(autouse=True)
def clean_handlers() -> Iterator[None]:
    kafka_handlers.reset()
    yield
    kafka_handlers.reset()


def test_trim_horizon_reads_from_the_oldest_record(
    kafka_broker: str, new_topic: Callable[..., str], group: str
) -> None:
    topic = new_topic()
    produce(kafka_broker, topic, values(3, "old-"))
    run(lambda: run_until_idle(EventSourceMapping(
        source=source_uri(kafka_broker, topic, group), function="kafka_handlers:record",
        starting_position="TRIM_HORIZON", maximum_batching_window_in_seconds=0)))
    assert record_values(kafka_handlers.EVENTS["record"]) == ["old-0", "old-1", "old-2"]


def test_latest_skips_what_was_there_and_reads_what_comes(
    kafka_broker: str, new_topic: Callable[..., str], group: str
) -> None:
    """New records are sent until one arrives: none of the old ones may, and the new ones come in order."""
    topic = new_topic()
    produce(kafka_broker, topic, values(3, "old-"))
    mapping = EventSourceMapping(
        source=source_uri(kafka_broker, topic, group), function="kafka_handlers:record",
        starting_position="LATEST", maximum_batching_window_in_seconds=0,
    )

    async def scenario() -> int:
        engine = Engine([mapping], invoker="inprocess")
        task = asyncio.create_task(engine.run())
        sent = 0
        deadline = time.monotonic() + 30
        while not kafka_handlers.EVENTS["record"] and time.monotonic() < deadline:
            await asyncio.to_thread(produce, kafka_broker, topic, [(None, f"new-{sent}".encode())])
            sent += 1
            await asyncio.sleep(0.2)
        await wait_for(lambda: len(record_values(kafka_handlers.EVENTS["record"])) >= 1, what="a new record")
        engine.stop()
        await task
        return sent

    sent = run(scenario)
    got = record_values(kafka_handlers.EVENTS["record"])
    assert got, "no record reached the function"
    assert not [v for v in got if v.startswith("old-")]
    first = int(got[0].removeprefix("new-"))
    assert got == [f"new-{i}" for i in range(first, first + len(got))]
    assert first + len(got) <= sent


def test_at_timestamp_starts_at_the_first_record_at_or_after_it(
    kafka_broker: str, new_topic: Callable[..., str], group: str
) -> None:
    """Records get the broker's clock as timestamps: Tansu looks timestamps up by when it stored them."""
    topic = new_topic(partitions=2)
    for partition in (0, 1):
        produce(kafka_broker, topic, values(2, f"before-p{partition}-"), partition=partition)
    time.sleep(0.3)
    start = time.time()
    time.sleep(0.3)
    for partition in (0, 1):
        produce(kafka_broker, topic, values(2, f"after-p{partition}-"), partition=partition)

    run(lambda: run_until_idle(EventSourceMapping(
        source=source_uri(kafka_broker, topic, group), function="kafka_handlers:record",
        starting_position="AT_TIMESTAMP", starting_position_timestamp=start, maximum_batching_window_in_seconds=0)))

    assert sorted(record_values(kafka_handlers.EVENTS["record"])) == [
        "after-p0-0", "after-p0-1", "after-p1-0", "after-p1-1"]
