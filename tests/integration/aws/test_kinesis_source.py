"""The Kinesis source against a real moto server: record shape, iterator types, shard ends, resharding."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Callable

import pytest

from batchmap.errors import BrokerError, ConfigError
from batchmap.sources.aws import KinesisStream
from batchmap.sources.base import Delivery, Position, Producer, StreamSource
from batchmap.sources.registry import SourceOptions, open_source

from .conftest import ACCOUNT, REGION, Moto

KINESIS_RECORD_KEYS = [
    "kinesis", "eventSource", "eventVersion", "eventID", "eventName", "invokeIdentityArn", "awsRegion",
    "eventSourceARN",
]
TRIM_HORIZON = Position("TRIM_HORIZON")


def arn(name: str) -> str:
    return f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}"


def run_with(moto: Moto, name: str, shards: int, body: Callable[[KinesisStream], Awaitable[None]]) -> None:
    moto.client("kinesis").create_stream(StreamName=name, ShardCount=shards)

    async def main() -> None:
        stream = await open_source(arn(name), SourceOptions(endpoint_url=moto.url))
        assert isinstance(stream, KinesisStream)
        try:
            await body(stream)
        finally:
            await stream.close()

    asyncio.run(main())


async def read_all(stream: KinesisStream, shard_id: str, position: Position, limit: int = 100) -> list[Delivery]:
    """Follow next_position until a read comes back empty (or the shard ends)."""
    out: list[Delivery] = []
    for _ in range(100):
        read = await stream.read(shard_id, position, limit)
        out.extend(read.deliveries)
        position = read.next_position
        if not read.deliveries or read.shard_ended:
            return out
    raise AssertionError("the shard never stopped returning records")


def test_records_are_exactly_lambda_kinesis_records(moto: Moto) -> None:
    async def body(stream: KinesisStream) -> None:
        assert isinstance(stream, StreamSource) and isinstance(stream, Producer)
        before = time.time()
        sequence_numbers = await stream.send(["Hello, this is a test.", "second"], partition_key="user-1")
        [shard] = await stream.shards()
        read = await stream.read(shard.id, TRIM_HORIZON, 10)
        assert [d.id for d in read.deliveries] == sequence_numbers
        first = read.deliveries[0]
        record = first.record
        assert list(record) == KINESIS_RECORD_KEYS
        assert record["kinesis"] == {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": "user-1",
            "sequenceNumber": sequence_numbers[0],
            "data": base64.b64encode(b"Hello, this is a test.").decode(),
            "approximateArrivalTimestamp": record["kinesis"]["approximateArrivalTimestamp"],
        }
        arrival = record["kinesis"]["approximateArrivalTimestamp"]
        assert isinstance(arrival, float) and before - 60 < arrival < time.time() + 60  # epoch seconds, not ms
        assert record["eventID"] == f"{shard.id}:{sequence_numbers[0]}"
        assert (record["eventSource"], record["eventVersion"], record["eventName"]) == (
            "aws:kinesis", "1.0", "aws:kinesis:record")
        assert (record["awsRegion"], record["eventSourceARN"]) == (REGION, arn("clicks"))
        assert record["invokeIdentityArn"] == f"arn:aws:iam::{ACCOUNT}:role/batchmap"
        assert (first.key, first.shard) == ("user-1", shard.id)
        assert first.arrival_ms == round(arrival * 1000)
        assert first.size == len(json.dumps(record, separators=(",", ":")))
        assert read.millis_behind_latest is not None and read.millis_behind_latest >= 0
        assert not read.shard_ended
        assert read.next_position == Position("AFTER_SEQUENCE_NUMBER", sequence_number=sequence_numbers[1])

    run_with(moto, "clicks", 1, body)


def test_every_iterator_type(moto: Moto) -> None:
    async def body(stream: KinesisStream) -> None:
        [shard] = await stream.shards()
        early = await stream.send([f"early-{i}" for i in range(3)], partition_key="k")
        await asyncio.sleep(0.3)  # a gap in arrival times for AT_TIMESTAMP
        late = await stream.send([f"late-{i}" for i in range(3)], partition_key="k")
        everything = await read_all(stream, shard.id, TRIM_HORIZON)
        assert [d.id for d in everything] == early + late

        def bodies(deliveries: list[Delivery]) -> list[str]:
            return [base64.b64decode(d.record["kinesis"]["data"]).decode() for d in deliveries]

        at = await read_all(stream, shard.id, Position("AT_SEQUENCE_NUMBER", sequence_number=early[2]))
        assert bodies(at) == ["early-2", "late-0", "late-1", "late-2"]
        after = await read_all(stream, shard.id, Position("AFTER_SEQUENCE_NUMBER", sequence_number=early[2]))
        assert bodies(after) == ["late-0", "late-1", "late-2"]
        arrivals = [d.record["kinesis"]["approximateArrivalTimestamp"] for d in everything]
        between = (arrivals[2] + arrivals[3]) / 2
        assert bodies(await read_all(stream, shard.id, Position("AT_TIMESTAMP", timestamp=between))) == [
            "late-0", "late-1", "late-2"]
        assert len(await read_all(stream, shard.id, Position("AT_TIMESTAMP", timestamp=arrivals[0] - 60))) == 6
        latest = await stream.read(shard.id, Position("LATEST"), 100)
        assert latest.deliveries == [] and latest.next_position == Position("LATEST")
        newest = await stream.send(["newest"], partition_key="k")
        # Reading on from the LATEST read's next_position reuses its iterator: only what came after.
        again = await stream.read(shard.id, latest.next_position, 100)
        assert [d.id for d in again.deliveries] == newest

    run_with(moto, "positions", 1, body)


def test_reading_on_from_next_position_in_small_reads_sees_each_record_once(moto: Moto) -> None:
    async def body(stream: KinesisStream) -> None:
        sent = await stream.send([str(i) for i in range(25)], partition_key="same")
        shards = await stream.shards()
        read_back: list[str] = []
        for shard in shards:
            read_back.extend(d.id for d in await read_all(stream, shard.id, TRIM_HORIZON, limit=4))
        assert read_back == sent
        with pytest.raises(ConfigError, match="max_records"):
            await stream.read(shards[0].id, TRIM_HORIZON, 0)

    run_with(moto, "small-reads", 2, body)


def test_positions_missing_what_they_need_are_config_errors(moto: Moto) -> None:
    async def body(stream: KinesisStream) -> None:
        [shard] = await stream.shards()
        with pytest.raises(ConfigError, match="StartingPositionTimestamp"):
            await stream.read(shard.id, Position("AT_TIMESTAMP"), 10)
        with pytest.raises(ConfigError, match="sequence_number"):
            await stream.read(shard.id, Position("AFTER_SEQUENCE_NUMBER"), 10)

    run_with(moto, "checks", 1, body)


def test_resharding_lists_parents_before_children_and_parents_end(moto: Moto) -> None:
    async def body(stream: KinesisStream) -> None:
        before = await stream.shards()
        sent = await stream.send([f"r{i}" for i in range(12)])  # random partition keys: both shards
        client = moto.client("kinesis")
        await asyncio.to_thread(
            client.update_shard_count, StreamARN=stream.arn, TargetShardCount=4, ScalingType="UNIFORM_SCALING"
        )
        shards = await stream.shards()
        ids = [shard.id for shard in shards]
        parents = [shard for shard in shards if shard.closed]
        children = [shard for shard in shards if shard.parent_ids]
        assert {s.id for s in parents} == {s.id for s in before}
        assert len(children) == 4 and not any(child.closed for child in children)
        for child in children:
            assert all(ids.index(parent) < ids.index(child.id) for parent in child.parent_ids)
        # Each closed parent is read to its end, in order; then its children are readable.
        read_back: list[str] = []
        for parent in parents:
            position, reads = TRIM_HORIZON, 0
            while True:
                read = await stream.read(parent.id, position, 5)
                reads += 1
                read_back.extend(d.id for d in read.deliveries)
                position = read.next_position
                if read.shard_ended:
                    break
                assert reads < 20, f"{parent.id} never ended"
        assert sorted(read_back, key=int) == sorted(sent, key=int)
        for child in children:
            read = await stream.read(child.id, TRIM_HORIZON, 10)
            # moto keeps writing to the closed parent after a split, so children stay empty there.
            assert read.deliveries == [] and not read.shard_ended

    run_with(moto, "resharded", 2, body)


def test_a_closed_shard_ends_on_the_read_that_reaches_its_last_record(moto: Moto) -> None:
    async def body(stream: KinesisStream) -> None:
        sent = await stream.send([f"x{i}" for i in range(6)], partition_key="one-key")
        await asyncio.to_thread(
            moto.client("kinesis").update_shard_count,
            StreamARN=stream.arn, TargetShardCount=2, ScalingType="UNIFORM_SCALING",
        )
        parent = (await stream.shards())[0]
        assert parent.closed
        first = await stream.read(parent.id, TRIM_HORIZON, 4)
        assert [d.id for d in first.deliveries] == sent[:4] and not first.shard_ended
        last = await stream.read(parent.id, first.next_position, 4)
        assert [d.id for d in last.deliveries] == sent[4:] and last.shard_ended

    run_with(moto, "ending", 1, body)


def test_send_checks_kinesis_options_and_keeps_order(moto: Moto) -> None:
    async def body(stream: KinesisStream) -> None:
        with pytest.raises(ConfigError, match="MessageGroupId"):
            await stream.send(["x"], message_group_id="g")
        with pytest.raises(ConfigError, match="DelaySeconds"):
            await stream.send(["x"], delay_s=3)
        sent = await stream.send([f"m{i}" for i in range(600)], partition_key="p")  # two PutRecords calls
        [shard] = await stream.shards()
        assert [d.id for d in await read_all(stream, shard.id, TRIM_HORIZON, limit=1000)] == sent

    run_with(moto, "bulk", 1, body)


def test_opening_checks_the_arn_and_the_stream(moto: Moto) -> None:
    options = SourceOptions(endpoint_url=moto.url)

    async def body() -> None:
        with pytest.raises(ConfigError, match="EventSourceArn"):
            await open_source(f"arn:aws:kinesis:{REGION}:{ACCOUNT}:table/x", options)
        with pytest.raises(ConfigError, match="enhanced fan-out"):
            await open_source(arn("s/consumer/c:1"), options)
        with pytest.raises(ConfigError, match="invoke_identity_arn"):
            await open_source(arn("s"), SourceOptions(endpoint_url=moto.url, extra={"invoke_identity_arn": 5}))
        with pytest.raises(BrokerError, match="ResourceNotFound"):
            await open_source(arn("missing"), options)

    asyncio.run(body())
