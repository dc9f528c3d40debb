"""Kafka events through the engine against a real broker: the exact shape of reference §9.5."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator

import kafka_handlers
import pytest
from kafka_support import produce, run, run_until_idle, source_uri, values

from batchmap.config import EventSourceMapping
from batchmap.engine.service import Engine
from batchmap.sources.registry import SourceOptions

RECORD_KEYS = ["topic", "partition", "offset", "timestamp", "timestampType", "key", "value", "headers"]
STAMP = 1_700_000_000_123
MSK_ARN = "arn:aws:kafka:us-east-1:123456789012:cluster/demo-cluster/751d2973-a626-431c-9d4e-d7975eb44dd7-2"


@pytest.fixture(autouse=True)
def clean_handlers() -> Iterator[None]:
    kafka_handlers.reset()
    yield
    kafka_handlers.reset()


def test_self_managed_event_has_lambdas_shape_one_partition_per_batch(
    kafka_broker: str, new_topic: Callable[..., str], group: str
) -> None:
    topic = new_topic(partitions=2)
    produce(kafka_broker, topic, [(b"user-1", b"Hello, this is a test.")], partition=0,
            headers=[("headerKey", b"headerValue"), ("empty", b"")], timestamp_ms=STAMP)
    produce(kafka_broker, topic, [(None, b'{"n": 1}')], partition=0, timestamp_ms=STAMP + 1)
    produce(kafka_broker, topic, values(3, "p1-"), partition=1, timestamp_ms=STAMP + 2)

    report = run(lambda: run_until_idle(EventSourceMapping(
        source=source_uri(kafka_broker, topic, group), function="kafka_handlers:record", batch_size=10,
        starting_position="TRIM_HORIZON")))

    events = kafka_handlers.EVENTS["record"]
    assert report.total("PolledEventCount") == 5
    assert report.total("CommittedEventCount") == 5  # offsets committed only after success, all of them
    assert all(list(event) == ["eventSource", "bootstrapServers", "records"] for event in events)
    assert {event["eventSource"] for event in events} == {"SelfManagedKafka"}
    assert {event["bootstrapServers"] for event in events} == {kafka_broker}
    by_partition = {key: rs for event in events for key, rs in event["records"].items()}
    assert all(len(event["records"]) == 1 for event in events)  # our batches hold one partition
    assert sorted(by_partition) == [f"{topic}-0", f"{topic}-1"]
    first, second = by_partition[f"{topic}-0"]
    assert list(first) == RECORD_KEYS
    assert first == {
        "topic": topic, "partition": 0, "offset": 0, "timestamp": STAMP, "timestampType": "CREATE_TIME",
        "key": base64.b64encode(b"user-1").decode(), "value": "SGVsbG8sIHRoaXMgaXMgYSB0ZXN0Lg==",
        "headers": [{"headerKey": [104, 101, 97, 100, 101, 114, 86, 97, 108, 117, 101]}, {"empty": []}],
    }
    assert "key" not in second  # a message without a key has no "key", as Lambda sends it
    assert (second["offset"], base64.b64decode(second["value"]), second["headers"]) == (1, b'{"n": 1}', [])
    assert [r["offset"] for r in by_partition[f"{topic}-1"]] == [0, 1, 2]
    assert [base64.b64decode(r["value"]) for r in by_partition[f"{topic}-1"]] == [b"p1-0", b"p1-1", b"p1-2"]


def test_msk_arn_event_says_aws_kafka_with_its_arn(
    kafka_broker: str, new_topic: Callable[..., str], group: str
) -> None:
    topic = new_topic()
    produce(kafka_broker, topic, values(2))
    options = SourceOptions(extra={
        "bootstrap_servers": kafka_broker, "topics": [topic], "consumer_group_id": group,
        "client_config": {"session.timeout.ms": 1000, "heartbeat.interval.ms": 200, "fetch.wait.max.ms": 100},
    })
    mapping = EventSourceMapping(source=MSK_ARN, function="kafka_handlers:record",
                                 starting_position="TRIM_HORIZON")

    run(lambda: Engine([mapping], invoker="inprocess", source_options=options).run(until_idle=True))

    [event] = kafka_handlers.EVENTS["record"]
    assert list(event) == ["eventSource", "eventSourceArn", "bootstrapServers", "records"]
    assert (event["eventSource"], event["eventSourceArn"], event["bootstrapServers"]) == (
        "aws:kafka", MSK_ARN, kafka_broker)
    assert [r["offset"] for r in event["records"][f"{topic}-0"]] == [0, 1]


@pytest.mark.slow
def test_window_opens_at_the_first_record(
    kafka_broker: str, new_topic: Callable[..., str], group: str
) -> None:
    """Kafka's window starts when a record arrives, not when the previous invocation ended (§1).

    After a warm-up batch, one record comes 1.5 s later and another 2.5 s
    later. With a 2 s window opened at the first record both share a batch;
    a window opened when the warm-up finished would have sent the first alone.
    Batches hold two records, so a full one goes at once: the warm-up does not
    wait out a window, nor the shared batch the rest of its window.
    """
    import asyncio
    import time

    from kafka_support import record_values, wait_for

    topic = new_topic()
    mapping = EventSourceMapping(
        source=source_uri(kafka_broker, topic, group), function="kafka_handlers:record",
        batch_size=2, maximum_batching_window_in_seconds=2, starting_position="TRIM_HORIZON",
    )

    async def scenario() -> None:
        engine = Engine([mapping], invoker="inprocess")
        task = asyncio.create_task(engine.run())
        await asyncio.to_thread(produce, kafka_broker, topic, [(None, b"warm-up-0"), (None, b"warm-up-1")])
        await wait_for(lambda: len(kafka_handlers.EVENTS["record"]) == 1, what="the warm-up batch")
        ready = kafka_handlers.DONE_AT["record"][0]
        await asyncio.sleep(max(0.0, ready + 1.5 - time.monotonic()))
        await asyncio.to_thread(produce, kafka_broker, topic, [(None, b"first")])
        await asyncio.sleep(max(0.0, ready + 2.5 - time.monotonic()))
        await asyncio.to_thread(produce, kafka_broker, topic, [(None, b"second")])
        await wait_for(lambda: len(record_values(kafka_handlers.EVENTS["record"])) == 4, what="both records")
        engine.stop()
        await task

    run(scenario)
    events = kafka_handlers.EVENTS["record"]
    assert [record_values([e]) for e in events] == [["warm-up-0", "warm-up-1"], ["first", "second"]]
