"""Offsets on a real broker: committed only after success, resumed after a restart, order per partition."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Callable, Iterator

import kafka_handlers
import pytest
from kafka_support import (
    as_json,
    committed,
    produce,
    record_values,
    run,
    run_until_idle,
    source_uri,
    values,
    wait_for,
)

from batchmap.config import EventSourceMapping
from batchmap.engine.service import Engine
from batchmap.filters import FilterCriteria


@pytest.fixture(autouse=True)
def clean_handlers() -> Iterator[None]:
    kafka_handlers.reset()
    yield
    kafka_handlers.reset()


def mapping(uri: str, function: str, **settings: object) -> EventSourceMapping:
    """From TRIM_HORIZON, and without a batching window unless given: these tests are about offsets, and each
    run would wait out Kafka's default 0.5 s window for a batch that is all there already."""
    settings.setdefault("maximum_batching_window_in_seconds", 0)
    return EventSourceMapping(source=uri, function=f"kafka_handlers:{function}",
                              starting_position=str(settings.pop("starting_position", "TRIM_HORIZON")),
                              **settings)  # type: ignore[arg-type]


def test_a_failing_function_commits_nothing_and_a_restart_reads_it_all_again(
    kafka_broker: str, new_topic: Callable[..., str], group: str
) -> None:
    topic = new_topic()
    produce(kafka_broker, topic, values(5))
    uri = source_uri(kafka_broker, topic, group)

    async def failing_then_stopped() -> None:
        failing = mapping(uri, "fail_all", batch_size=10, maximum_batching_window_in_seconds=0.5)  # gathers all five
        engine = Engine([failing], invoker="inprocess")
        task = asyncio.create_task(engine.run())
        await wait_for(lambda: len(kafka_handlers.EVENTS["fail_all"]) >= 3, what="three failed attempts")
        engine.stop()
        await task

    run(failing_then_stopped)
    attempts = kafka_handlers.EVENTS["fail_all"]
    assert all(record_values([event]) == [f"m{i}" for i in range(5)] for event in attempts)  # the same batch
    assert committed(kafka_broker, group, topic, 1) == {}

    run(lambda: run_until_idle(mapping(uri, "record", batch_size=10)))
    assert record_values(kafka_handlers.EVENTS["record"]) == [f"m{i}" for i in range(5)]
    assert committed(kafka_broker, group, topic, 1) == {0: 5}


def test_a_restart_resumes_after_the_committed_offset(
    kafka_broker: str, new_topic: Callable[..., str], group: str
) -> None:
    topic = new_topic()
    uri = source_uri(kafka_broker, topic, group)
    produce(kafka_broker, topic, values(3, "first-"))
    run(lambda: run_until_idle(mapping(uri, "record")))
    assert committed(kafka_broker, group, topic, 1) == {0: 3}

    produce(kafka_broker, topic, values(2, "second-"))
    kafka_handlers.reset()
    # LATEST would skip everything here: a group with committed offsets ignores StartingPosition, as on AWS.
    run(lambda: run_until_idle(mapping(uri, "record", starting_position="LATEST")))
    assert record_values(kafka_handlers.EVENTS["record"]) == ["second-0", "second-1"]
    assert committed(kafka_broker, group, topic, 1) == {0: 5}


def test_each_partition_is_processed_in_order_and_each_key_keeps_its_order(
    kafka_broker: str, new_topic: Callable[..., str], group: str
) -> None:
    topic = new_topic(partitions=3)
    sent: dict[str, list[str]] = defaultdict(list)
    for i in range(45):
        key = f"k{i % 5}"
        sent[key].append(f"{key}-{i}")
        produce(kafka_broker, topic, [(key.encode(), f"{key}-{i}".encode())])

    run(lambda: run_until_idle(mapping(source_uri(kafka_broker, topic, group), "record", batch_size=4,
                                       maximum_batching_window_in_seconds=0)))

    by_partition: dict[str, list[int]] = defaultdict(list)
    by_key: dict[str, list[str]] = defaultdict(list)
    for event in kafka_handlers.EVENTS["record"]:
        for partition, records in event["records"].items():
            assert 1 <= len(records) <= 4
            by_partition[partition].extend(r["offset"] for r in records)
    for value in record_values(kafka_handlers.EVENTS["record"]):
        by_key[value.split("-")[0]].append(value)
    assert all(offsets == list(range(len(offsets))) for offsets in by_partition.values())
    assert sum(len(offsets) for offsets in by_partition.values()) == 45
    assert dict(by_key) == dict(sent)
    assert sum(committed(kafka_broker, group, topic, 3).values()) == 45


def test_filtering_on_value_sends_matches_and_commits_past_everything(
    kafka_broker: str, new_topic: Callable[..., str], group: str
) -> None:
    topic = new_topic()
    messages = [{"kind": "keep", "n": 0}, {"kind": "drop", "n": 1}, {"kind": "keep", "n": 2}]
    produce(kafka_broker, topic, [(None, as_json(m)) for m in messages] + [(None, b"not json"), (b"k", b"x")])
    criteria = FilterCriteria.of({"value": {"kind": ["keep"]}})

    report = run(lambda: run_until_idle(mapping(source_uri(kafka_broker, topic, group), "record",
                                                filter_criteria=criteria)))

    got = record_values(kafka_handlers.EVENTS["record"])
    # A value that is not JSON cannot be matched against a JSON pattern: as on AWS only metadata
    # filters apply to it, and this pattern has none, so it reaches the function.
    assert got == [json.dumps(messages[0]), json.dumps(messages[2]), "not json", "x"]
    assert report.total("FilteredOutEventCount") == 1
    assert committed(kafka_broker, group, topic, 1) == {0: 5}


def test_filtering_on_key(kafka_broker: str, new_topic: Callable[..., str], group: str) -> None:
    topic = new_topic()
    produce(kafka_broker, topic, [(b"eu-1", b"a"), (b"us-1", b"b"), (None, b"c"), (b"eu-2", b"d")])
    criteria = FilterCriteria.of({"key": [{"prefix": "eu-"}]})

    run(lambda: run_until_idle(mapping(source_uri(kafka_broker, topic, group), "record",
                                       filter_criteria=criteria)))

    assert record_values(kafka_handlers.EVENTS["record"]) == ["a", "d"]
    assert committed(kafka_broker, group, topic, 1) == {0: 4}
