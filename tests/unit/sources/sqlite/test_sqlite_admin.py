"""The library behind the create / send / inspect / purge commands, and the registry's opener."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from batchmap.clock import FakeClock
from batchmap.engine.destinations import open_destination
from batchmap.errors import ConfigError, SourceError
from batchmap.sources.registry import open_source
from batchmap.sources.sqlite import (
    QueueInfo,
    SqliteQueue,
    SqliteQueueDestination,
    SqliteStream,
    StreamInfo,
    arn_of,
    create_queue,
    create_stream,
    inspect,
    purge,
    send,
    set_queue_attributes,
)


def test_create_queue_is_idempotent_and_rejects_different_attributes(db_file: str) -> None:
    uri = f"sqlite:///{db_file}?queue=jobs"
    info = create_queue(uri, {"VisibilityTimeout": "5"})
    assert isinstance(info, QueueInfo)
    assert info.arn == arn_of(uri) == "arn:aws:sqs:local:000000000000:jobs"
    assert info.attributes["VisibilityTimeout"] == "5" and info.total == 0
    assert create_queue(uri, {"VisibilityTimeout": "5"}) == info
    with pytest.raises(ConfigError, match="VisibilityTimeout"):
        create_queue(uri, {"VisibilityTimeout": "6"})
    with pytest.raises(ConfigError, match="a queue URI"):
        create_queue(f"sqlite:///{db_file}?stream=jobs")


def test_send_inspect_purge_a_queue_with_a_dead_letter_queue(db_file: str, clock: FakeClock) -> None:
    dlq = f"sqlite:///{db_file}?queue=jobs-dlq"
    uri = f"sqlite:///{db_file}?queue=jobs"
    create_queue(dlq)
    policy = json.dumps({"deadLetterTargetArn": arn_of(dlq), "maxReceiveCount": 1})
    create_queue(uri, {"VisibilityTimeout": "1", "RedrivePolicy": policy})
    ids = send(uri, ["a", "b", "c"], clock=clock)
    send(uri, ["later"], delay_s=60, clock=clock)
    assert len(set(ids)) == 3

    async def take_one() -> None:
        queue = SqliteQueue(uri, clock=clock)
        assert len(await queue.receive(1, 0)) == 1
        clock.advance(1)
        assert len(await queue.receive(3, 0)) == 2  # the first one went to the DLQ on this receive
        await queue.close()

    asyncio.run(take_one())
    info = inspect(uri, clock=clock)
    assert isinstance(info, QueueInfo)
    assert (info.visible, info.in_flight, info.delayed, info.dead_lettered) == (0, 2, 1, 1)
    assert json.loads(info.attributes["RedrivePolicy"])["maxReceiveCount"] == 1
    assert purge(uri) == 3
    assert inspect(uri, clock=clock).total == 0  # type: ignore[union-attr]
    info = set_queue_attributes(uri, {"VisibilityTimeout": "9", "RedrivePolicy": ""}, clock=clock)
    assert info.attributes["VisibilityTimeout"] == "9" and "RedrivePolicy" not in info.attributes


def test_send_to_a_fifo_queue_through_the_library(db_file: str) -> None:
    uri = f"sqlite:///{db_file}?queue=orders.fifo"
    create_queue(uri, {"FifoQueue": "true", "ContentBasedDeduplication": "true"})
    first = send(uri, ["x", "y"], message_group_id="g")
    assert send(uri, ["x"], message_group_id="g") == first[:1]
    with pytest.raises(ConfigError, match="MessageGroupId"):
        send(uri, ["z"])
    with pytest.raises(ConfigError, match="only for streams"):
        send(uri, ["z"], partition_key="k")


def test_create_send_inspect_purge_a_stream(db_file: str) -> None:
    uri = f"sqlite:///{db_file}?stream=clicks"
    info = create_stream(uri, shard_count=2, retention_hours=48)
    assert isinstance(info, StreamInfo)
    assert info.arn == "arn:aws:kinesis:local:000000000000:stream/clicks" and info.retention_hours == 48
    assert [(s.starting_hash_key, s.ending_hash_key) for s in info.shards] == [
        ("0", str(2**127 - 1)), (str(2**127), str(2**128 - 1))]
    assert create_stream(uri, shard_count=2, retention_hours=48) == info
    sequences = send(uri, ["a", "b", "c"], partition_key="same")
    send(uri, [f"r{i}" for i in range(20)])
    info = inspect(uri)  # type: ignore[assignment]
    assert isinstance(info, StreamInfo)
    assert info.records == 23 and all(s.records > 0 for s in info.shards)
    holding = [s for s in info.shards if s.first_sequence_number is not None
               and s.first_sequence_number <= sequences[0] <= (s.last_sequence_number or "")]
    assert len(holding) == 1
    with pytest.raises(ConfigError, match="only for queues"):
        send(uri, ["x"], message_group_id="g")
    assert purge(uri) == 23
    assert inspect(uri).records == 0  # type: ignore[union-attr]


def test_inspect_and_purge_never_create(db_file: str, tmp_path: object) -> None:
    with pytest.raises(ConfigError, match="no database file"):
        inspect(f"sqlite:///{db_file}?queue=nothing")
    create_queue(f"sqlite:///{db_file}?queue=exists")
    with pytest.raises(ConfigError, match="no queue named 'nothing'"):
        purge(f"sqlite:///{db_file}?queue=nothing")
    with pytest.raises(ConfigError, match="no stream named 'exists'"):
        inspect(f"sqlite:///{db_file}?stream=exists")


def test_registry_opens_queues_and_streams(db_file: str) -> None:
    async def scenario() -> None:
        queue = await open_source(f"sqlite:///{db_file}?queue=q")
        stream = await open_source(f"sqlite:///{db_file}?stream=s")
        assert isinstance(queue, SqliteQueue) and queue.attributes.visibility_timeout_s == 30
        assert isinstance(stream, SqliteStream)
        assert [s.id for s in await stream.shards()] == ["shardId-000000000000"]
        await queue.close()
        await stream.close()

    asyncio.run(scenario())


def test_destination_sends_on_failure_records_as_json_bodies(db_file: str) -> None:
    record = {"requestContext": {"condition": "RetryAttemptsExhausted"}, "version": "1.0"}

    async def scenario() -> None:
        for name in ("failures", "failures.fifo"):
            destination = await SqliteQueueDestination.open(f"sqlite:///{db_file}?queue={name}")
            await destination.send(record)
            await destination.send({**record, "version": "2"})
            queue = await SqliteQueue.open(f"sqlite:///{db_file}?queue={name}")
            got = await queue.receive(10, 0)
            assert [json.loads(d.record["body"]) for d in got] == [record, {**record, "version": "2"}]
            await queue.close()
            await destination.close()
        with pytest.raises(ConfigError, match="embedded queue URI"):
            await SqliteQueueDestination.open(f"sqlite:///{db_file}?stream=s")
        through_registry = await open_destination(f"sqlite:///{db_file}?queue=failures")
        await through_registry.send(record)
        backlog = await through_registry.queue.backlog()
        assert (backlog.visible, backlog.in_flight) == (1, 2)
        await through_registry.close()

    asyncio.run(scenario())


def test_unusable_files_are_source_errors_naming_the_path(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database file at all" * 100)
    with pytest.raises(SourceError, match=r"garbage\.db"):
        SqliteQueue(f"sqlite:///{garbage}?queue=q")
    missing = tmp_path / "no-such-folder" / "x.db"
    with pytest.raises(SourceError, match="no-such-folder"):
        SqliteStream(f"sqlite:///{missing}?stream=s")
