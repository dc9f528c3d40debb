"""The embedded stream through its public API: shape, hashing, order, positions, retention, resharding."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json

import pytest

from batchmap.clock import FakeClock
from batchmap.errors import ConfigError
from batchmap.sources.base import Position, Producer, Shard, StreamSource
from batchmap.sources.sqlite import SqliteStream, hash_key

MAX = 2**128 - 1


def open_stream(db_file: str, clock: FakeClock, name: str = "events", **kwargs: int) -> SqliteStream:
    return SqliteStream(f"sqlite:///{db_file}?stream={name}", clock=clock, **kwargs)  # type: ignore[arg-type]


TRIM = Position("TRIM_HORIZON")


def test_records_are_exactly_kinesis_shaped(db_file: str, clock: FakeClock) -> None:
    stream = open_stream(db_file, clock)
    assert isinstance(stream, StreamSource) and isinstance(stream, Producer)

    async def scenario() -> None:
        [sequence] = await stream.send(['{"n": "caf\u00e9"}'], partition_key="user-\u00e9")
        read = await stream.read("shardId-000000000000", TRIM, 10)
        [delivery] = read.deliveries
        assert delivery.record == {
            "kinesis": {
                "kinesisSchemaVersion": "1.0", "partitionKey": "user-\u00e9", "sequenceNumber": sequence,
                "data": base64.b64encode('{"n": "caf\u00e9"}'.encode()).decode(),
                "approximateArrivalTimestamp": clock.wall_ms() / 1000,
            },
            "eventSource": "aws:kinesis", "eventVersion": "1.0",
            "eventID": f"shardId-000000000000:{sequence}", "eventName": "aws:kinesis:record",
            "invokeIdentityArn": "arn:aws:iam::000000000000:role/lambda-role", "awsRegion": "local",
            "eventSourceARN": "arn:aws:kinesis:local:000000000000:stream/events",
        }
        assert (delivery.id, delivery.key) == (sequence, "user-\u00e9")
        assert delivery.shard == "shardId-000000000000"
        assert delivery.arrival_ms == clock.wall_ms()
        assert delivery.size == len(json.dumps(delivery.record, separators=(",", ":")))
        await stream.close()

    asyncio.run(scenario())


def test_shards_own_even_hash_ranges_and_keys_hash_with_md5(db_file: str, clock: FakeClock) -> None:
    stream = open_stream(db_file, clock, shard_count=4)

    async def scenario() -> None:
        shards = await stream.shards()
        assert [s.id for s in shards] == [f"shardId-00000000000{i}" for i in range(4)]
        keys = [f"key-{i}" for i in range(200)]
        results = [await stream.put_record(b"x", key) for key in keys]
        for key, result in zip(keys, results, strict=True):
            expected = int.from_bytes(hashlib.md5(key.encode()).digest(), "big") * 4 // (MAX + 1)
            assert result.shard_id == f"shardId-00000000000{expected}"
            assert hash_key(key) == int(hashlib.md5(key.encode()).hexdigest(), 16)
        assert len({r.shard_id for r in results}) == 4
        low = await stream.put_record(b"x", "any", explicit_hash_key="0")
        high = await stream.put_record(b"x", "any", explicit_hash_key=str(MAX))
        assert (low.shard_id, high.shard_id) == ("shardId-000000000000", "shardId-000000000003")
        with pytest.raises(ConfigError, match="ExplicitHashKey"):
            await stream.put_record(b"x", "any", explicit_hash_key=str(MAX + 1))
        await stream.close()

    asyncio.run(scenario())


def test_order_per_key_and_increasing_fixed_width_sequence_numbers(db_file: str, clock: FakeClock) -> None:
    stream = open_stream(db_file, clock, shard_count=3)

    async def scenario() -> None:
        for i in range(60):
            await stream.send([f"{i}"], partition_key=f"k{i % 5}")
        seen: dict[str, list[int]] = {}
        for shard in await stream.shards():
            read = await stream.read(shard.id, TRIM, 1000)
            numbers = [d.id for d in read.deliveries]
            assert numbers == sorted(numbers) and len(set(map(len, numbers))) <= 1
            assert [int(n) for n in numbers] == sorted(int(n) for n in numbers)
            for d in read.deliveries:
                seen.setdefault(d.key or "", []).append(int(base64.b64decode(d.record["kinesis"]["data"])))
        assert seen == {f"k{k}": list(range(k, 60, 5)) for k in range(5)}
        await stream.close()

    asyncio.run(scenario())


def test_starting_positions(db_file: str, clock: FakeClock) -> None:
    stream = open_stream(db_file, clock)
    shard = "shardId-000000000000"

    async def scenario() -> None:
        first = await stream.send(["a", "b"], partition_key="k")
        clock.advance(10)
        since = clock.wall_ms() / 1000
        later = await stream.send(["c", "d"], partition_key="k")
        latest = await stream.read(shard, Position("LATEST"), 10)
        assert latest.deliveries == [] and latest.next_position.type == "AFTER_SEQUENCE_NUMBER"

        async def ids(position: Position) -> list[str]:
            return [d.id for d in (await stream.read(shard, position, 10)).deliveries]

        assert await ids(TRIM) == first + later
        assert await ids(Position("AT_TIMESTAMP", timestamp=since)) == later
        assert await ids(Position("AT_SEQUENCE_NUMBER", first[1])) == first[1:] + later
        assert await ids(Position("AFTER_SEQUENCE_NUMBER", first[1])) == later
        newest = await stream.send(["e"], partition_key="k")
        assert await ids(latest.next_position) == newest
        assert await ids(Position("AT_TIMESTAMP", timestamp=since + 3600)) == []
        with pytest.raises(ConfigError, match="StartingSequenceNumber"):
            await ids(Position("AT_SEQUENCE_NUMBER"))
        await stream.close()

    asyncio.run(scenario())


def test_reads_chain_and_report_how_far_behind(db_file: str, clock: FakeClock) -> None:
    stream = open_stream(db_file, clock)
    shard = "shardId-000000000000"

    async def scenario() -> None:
        sent = await stream.send([str(i) for i in range(5)], partition_key="k")
        clock.advance(4)
        first = await stream.read(shard, TRIM, 2)
        assert [d.id for d in first.deliveries] == sent[:2]
        assert first.next_position == Position("AFTER_SEQUENCE_NUMBER", sent[1])
        assert first.millis_behind_latest == 4000 and not first.shard_ended
        rest = await stream.read(shard, first.next_position, 10)
        assert [d.id for d in rest.deliveries] == sent[2:]
        assert rest.millis_behind_latest == 0
        empty = await stream.read(shard, rest.next_position, 10)
        assert empty.deliveries == [] and empty.next_position == rest.next_position
        await stream.close()

    asyncio.run(scenario())


def test_retention_trims_old_records(db_file: str, clock: FakeClock) -> None:
    stream = open_stream(db_file, clock, retention_hours=24)

    async def scenario() -> None:
        await stream.send(["old"], partition_key="k")
        clock.advance(12 * 3600)
        young = await stream.send(["young"], partition_key="k")
        clock.advance(12 * 3600)
        read = await stream.read("shardId-000000000000", TRIM, 10)
        assert [d.id for d in read.deliveries] == young
        assert await stream.trim() == 0  # the read already trimmed
        await stream.close()

    asyncio.run(scenario())


def test_split_merge_and_update_shard_count(db_file: str, clock: FakeClock) -> None:
    stream = open_stream(db_file, clock)

    async def scenario() -> None:
        before = await stream.send(["before"], partition_key="k")
        low, high = await stream.split_shard("shardId-000000000000", str(2**127))
        assert (low, high) == ("shardId-000000000001", "shardId-000000000002")
        assert await stream.shards() == [
            Shard("shardId-000000000000", (), closed=True),
            Shard(low, ("shardId-000000000000",)), Shard(high, ("shardId-000000000000",)),
        ]
        parent = await stream.read("shardId-000000000000", TRIM, 10)
        assert [d.id for d in parent.deliveries] == before and parent.shard_ended
        after = await stream.put_record(b"after", "k")
        assert after.shard_id == (low if hash_key("k") < 2**127 else high)
        assert int(after.sequence_number) > int(before[0])
        merged = await stream.merge_shards(low, high)
        assert (await stream.shards())[-1] == Shard(merged, (low, high))
        scaled = await stream.update_shard_count(2)
        shards = {s.id: s for s in await stream.shards()}
        assert [shards[s].parent_ids for s in scaled] == [(merged,), (merged,)]
        assert [s.id for s in shards.values() if not s.closed] == scaled
        with pytest.raises(ConfigError, match="open shard"):
            await stream.split_shard(low, str(2**126))
        with pytest.raises(ConfigError, match="touches"):
            await stream.merge_shards(scaled[0], scaled[0])
        await stream.close()

    asyncio.run(scenario())


def test_bad_input_names_field_and_value(db_file: str, clock: FakeClock) -> None:
    stream = open_stream(db_file, clock, shard_count=2)

    async def scenario() -> None:
        with pytest.raises(ConfigError, match="PartitionKey"):
            await stream.put_record(b"x", "k" * 257)
        with pytest.raises(ConfigError, match="1 MiB"):
            await stream.put_record(b"x" * 1_048_576, "k")
        with pytest.raises(ConfigError, match="ShardId"):
            await stream.read("shardId-000000000009", TRIM, 1)
        with pytest.raises(ConfigError, match="only for queues"):
            await stream.send(["x"], message_group_id="g")
        await stream.close()

    asyncio.run(scenario())
    with pytest.raises(ConfigError, match="RetentionPeriodHours"):
        open_stream(db_file, clock, name="other", retention_hours=23)
    with pytest.raises(ConfigError, match="ShardCount"):
        open_stream(db_file, clock, name="other", shard_count=0)
    with pytest.raises(ConfigError, match="already exists with 2 open shards"):
        open_stream(db_file, clock, shard_count=3)
    assert open_stream(db_file, clock).name == "events"


def test_a_reader_that_caught_up_waits_for_the_next_put(db_file: str) -> None:
    """``wait_for_change`` (the ``wakes_reads`` trait): false at the timeout when nothing was written,
    true once a put commits after the shard's last read."""
    from batchmap.sources.base import change_waiter

    stream = SqliteStream(f"sqlite:///{db_file}?stream=waits")
    assert change_waiter(stream) is stream

    async def scenario() -> None:
        [shard] = await stream.shards()
        assert (await stream.read(shard.id, TRIM, 10)).deliveries == []
        assert not await stream.wait_for_change(shard.id, 0.05)
        waiting = asyncio.create_task(stream.wait_for_change(shard.id, 3600))
        await asyncio.sleep(0.05)
        await stream.send(["late"], partition_key="k")
        assert await asyncio.wait_for(waiting, 60)
        assert len((await stream.read(shard.id, TRIM, 10)).deliveries) == 1
        await stream.close()

    asyncio.run(scenario())
