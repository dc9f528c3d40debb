"""FIFO queues: order per message group, one group never in two receives at once, deduplication."""

from __future__ import annotations

import asyncio
import hashlib
import json

import pytest

from batchmap.clock import FakeClock
from batchmap.errors import ConfigError
from batchmap.sources.sqlite import SqliteQueue, parse_attributes


def open_fifo(db_file: str, clock: FakeClock, name: str = "orders.fifo", **attributes: str) -> SqliteQueue:
    attrs = parse_attributes(attributes, queue_name=name) if attributes else None
    return SqliteQueue(f"sqlite:///{db_file}?queue={name}", attributes=attrs, clock=clock)


def bodies(deliveries: list) -> list[str]:  # type: ignore[type-arg]
    return [d.record["body"] for d in deliveries]


def test_fifo_records_carry_group_dedup_and_sequence_number(db_file: str, clock: FakeClock) -> None:
    queue = open_fifo(db_file, clock)
    assert queue.fifo and queue.arn.endswith(":orders.fifo")

    async def scenario() -> None:
        await queue.send(["a"], message_group_id="g1", deduplication_id="d1")
        await queue.send(["b"], message_group_id="g2", deduplication_id="d2")
        first, second = await queue.receive(10, 0)
        assert list(first.record["attributes"]) == [
            "ApproximateReceiveCount", "SentTimestamp", "SequenceNumber", "MessageGroupId", "SenderId",
            "MessageDeduplicationId", "ApproximateFirstReceiveTimestamp"]
        assert first.record["attributes"]["MessageGroupId"] == "g1"
        assert first.record["attributes"]["MessageDeduplicationId"] == "d1"
        seq1, seq2 = (d.record["attributes"]["SequenceNumber"] for d in (first, second))
        assert len(seq1) == len(seq2) == 20 and seq1 < seq2 and int(seq1) < int(seq2)
        assert (first.key, second.key) == ("g1", "g2")
        assert first.size == len(json.dumps(first.record, separators=(",", ":")))
        await queue.close()

    asyncio.run(scenario())


def test_a_group_in_flight_delivers_nothing_more_until_settled(db_file: str, clock: FakeClock) -> None:
    queue = open_fifo(db_file, clock, ContentBasedDeduplication="true")

    async def scenario() -> None:
        for body, group in [("a1", "A"), ("b1", "B"), ("a2", "A"), ("a3", "A"), ("b2", "B")]:
            await queue.send([body], message_group_id=group)
        first = await queue.receive(2, 0)
        assert bodies(first) == ["a1", "b1"]
        assert await queue.receive(10, 0) == []  # both groups have a message in flight
        await queue.delete(first[1:])  # settle B only
        assert bodies(await queue.receive(10, 0)) == ["b2"]
        await queue.delete(first[:1])
        assert bodies(await queue.receive(10, 0)) == ["a2", "a3"]
        await queue.close()

    asyncio.run(scenario())


def test_a_released_message_comes_back_first_in_its_group(db_file: str, clock: FakeClock) -> None:
    queue = open_fifo(db_file, clock, ContentBasedDeduplication="true", VisibilityTimeout="2")

    async def scenario() -> None:
        await queue.send(["1", "2", "3"], message_group_id="G")
        got = await queue.receive(10, 0)
        assert bodies(got) == ["1", "2", "3"]
        await queue.delete(got[:1])
        await queue.release(got[1:2], 0)
        assert await queue.receive(10, 0) == []  # "3" still in flight blocks the group
        clock.advance(2)
        again = await queue.receive(10, 0)
        assert bodies(again) == ["2", "3"]
        assert [d.receive_count for d in again] == [2, 2]
        await queue.close()

    asyncio.run(scenario())


def test_deduplication_within_five_minutes(db_file: str, clock: FakeClock) -> None:
    queue = open_fifo(db_file, clock)

    async def scenario() -> None:
        [first] = await queue.send(["x"], message_group_id="g", deduplication_id="same")
        clock.advance(299)
        [duplicate] = await queue.send(["y"], message_group_id="g", deduplication_id="same")
        assert duplicate == first
        assert (await queue.backlog()).visible == 1
        clock.advance(1)
        [later] = await queue.send(["z"], message_group_id="g", deduplication_id="same")
        assert later != first
        assert bodies(await queue.receive(10, 0)) == ["x", "z"]
        await queue.close()

    asyncio.run(scenario())


def test_content_based_deduplication_uses_the_body_sha256(db_file: str, clock: FakeClock) -> None:
    queue = open_fifo(db_file, clock, ContentBasedDeduplication="true")

    async def scenario() -> None:
        ids = await queue.send(["same", "same", "other"], message_group_id="g")
        assert ids[0] == ids[1] != ids[2]
        got = await queue.receive(10, 0)
        assert bodies(got) == ["same", "other"]
        assert got[0].record["attributes"]["MessageDeduplicationId"] == hashlib.sha256(b"same").hexdigest()
        await queue.close()

    asyncio.run(scenario())


def test_deduplication_scope_message_group(db_file: str, clock: FakeClock) -> None:
    queue = open_fifo(db_file, clock, DeduplicationScope="messageGroup",
                      FifoThroughputLimit="perMessageGroupId")

    async def scenario() -> None:
        a = await queue.send(["x"], message_group_id="g1", deduplication_id="d")
        b = await queue.send(["x"], message_group_id="g2", deduplication_id="d")
        c = await queue.send(["x"], message_group_id="g1", deduplication_id="d")
        assert a != b and a == c
        await queue.close()

    asyncio.run(scenario())


def test_fifo_send_errors(db_file: str, clock: FakeClock) -> None:
    queue = open_fifo(db_file, clock)

    async def scenario() -> None:
        with pytest.raises(ConfigError, match="MessageGroupId"):
            await queue.send(["x"], deduplication_id="d")
        with pytest.raises(ConfigError, match="ContentBasedDeduplication off"):
            await queue.send(["x"], message_group_id="g")
        with pytest.raises(ConfigError, match="per-message delays"):
            await queue.send(["x"], message_group_id="g", deduplication_id="d", delay_s=5)
        with pytest.raises(ConfigError, match="one id names one message"):
            await queue.send(["x", "y"], message_group_id="g", deduplication_id="d")
        assert (await queue.backlog()).total == 0
        await queue.close()

    asyncio.run(scenario())


def test_fifo_redrive_unblocks_the_group(db_file: str, clock: FakeClock) -> None:
    dlq = open_fifo(db_file, clock, name="orders-dlq.fifo")
    queue = open_fifo(db_file, clock, ContentBasedDeduplication="true", VisibilityTimeout="1",
                      RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 1}))

    async def scenario() -> None:
        await queue.send(["poison", "next"], message_group_id="G")
        got = await queue.receive(1, 0)
        assert bodies(got) == ["poison"]
        clock.advance(1)
        assert bodies(await queue.receive(10, 0)) == ["next"]
        [dead] = await dlq.receive(10, 0)
        assert dead.record["body"] == "poison"
        assert dead.record["attributes"]["MessageGroupId"] == "G"
        await queue.close()
        await dlq.close()

    asyncio.run(scenario())
