"""The in-memory twin's own rules, on a ``FakeClock``: visibility timeouts, delays and redrive take no real time.

The contract suite (tests/contract, ``memory_queue`` and ``memory_stream`` kits) runs the
engine's behaviours on the twin; these check what the queue and stream do on their own, the
way the embedded source's unit tests do, with time moved by hand.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from batchmap.clock import FakeClock
from batchmap.errors import ConfigError, SettleError
from batchmap.sources import memory
from batchmap.sources.base import Position
from batchmap.sources.registry import open_source


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    fake = FakeClock(start=100.0)
    previous = memory.set_clock(fake)
    yield fake
    memory.set_clock(previous)
    memory.forget()


def run(coroutine: object) -> object:
    return asyncio.run(coroutine)  # type: ignore[arg-type]


async def queue(uri: str) -> memory.MemoryQueue:
    source = await open_source(uri)
    assert isinstance(source, memory.MemoryQueue)
    return source


def bodies(deliveries: list) -> list[str]:  # type: ignore[type-arg]
    return [d.record["body"] for d in deliveries]


def test_a_received_message_comes_back_after_the_visibility_timeout_with_its_count(clock: FakeClock) -> None:
    async def scenario() -> None:
        q = await queue("memory://vt?visibility_timeout=30")
        await q.send(["a", "b"])
        first = await q.receive(10, 0)
        assert bodies(first) == ["a", "b"]
        assert [d.record["attributes"]["ApproximateReceiveCount"] for d in first] == ["1", "1"]
        clock.advance(29.9)
        assert await q.receive(10, 0) == []
        assert (await q.backlog()).in_flight == 2
        clock.advance(0.1)
        again = await q.receive(10, 0)
        assert bodies(again) == ["a", "b"] and [d.receive_count for d in again] == [2, 2]
        assert await q.delete(first) == 0  # the first receive's handles died with the second receive
        assert await q.delete(again) == 2
        assert (await q.backlog()).total == 0

    run(scenario())


def test_a_message_past_max_receive_count_moves_to_the_dead_letter_queue(clock: FakeClock) -> None:
    async def scenario() -> None:
        q = await queue("memory://rd?visibility_timeout=1&max_receive_count=2")
        await q.send(["poison"])
        for count in (1, 2):
            [d] = await q.receive(1, 0)
            assert d.receive_count == count
            clock.advance(1)
        assert await q.receive(1, 0) == []  # the third receive moves it instead
        assert (await q.backlog()).dead_lettered == 1
        dlq = await queue("memory://rd-dlq")
        [dead] = await dlq.receive(10, 0)
        assert dead.record["body"] == "poison" and dead.receive_count == 3

    run(scenario())


def test_delays_and_releases_follow_the_clock(clock: FakeClock) -> None:
    async def scenario() -> None:
        q = await queue("memory://delays")
        await q.send(["later"], delay_s=5)
        backlog = await q.backlog()
        assert (backlog.visible, backlog.delayed) == (0, 1)
        clock.advance(5)
        [d] = await q.receive(1, 0)
        await q.release([d], 2)
        assert await q.receive(1, 0) == []
        clock.advance(2)
        assert bodies(await q.receive(1, 0)) == ["later"]

    run(scenario())


def test_extending_names_the_messages_no_longer_held(clock: FakeClock) -> None:
    async def scenario() -> None:
        q = await queue("memory://ext?visibility_timeout=10")
        await q.send(["a", "b"])
        held = await q.receive(10, 0)
        await q.delete(held[:1])
        with pytest.raises(SettleError) as caught:
            await q.extend_visibility(held, 60)
        assert held[0].id in str(caught.value) and held[1].id not in str(caught.value)
        clock.advance(30)
        assert await q.receive(10, 0) == []  # b was kept hidden for 60 s, not its 10
        clock.advance(30)
        assert bodies(await q.receive(10, 0)) == ["b"]

    run(scenario())


def test_a_fifo_group_stays_locked_while_a_message_of_it_is_in_flight(clock: FakeClock) -> None:
    async def scenario() -> None:
        q = await queue("memory://orders.fifo?visibility_timeout=5")
        await q.send(["a1", "a2"], message_group_id="a")
        await q.send(["b1"], message_group_id="b")
        assert await q.send(["a1"], message_group_id="a") != []  # a duplicate within 5 minutes: not stored
        first = await q.receive(1, 0)
        assert bodies(first) == ["a1"] and first[0].key == "a"
        assert bodies(await q.receive(10, 0)) == ["b1"]  # group a waits for a1
        await q.delete(first)
        assert bodies(await q.receive(10, 0)) == ["a2"]
        assert first[0].record["attributes"]["MessageGroupId"] == "a"

    run(scenario())


def test_a_long_poll_returns_when_a_message_is_sent_from_another_thread() -> None:
    async def scenario() -> None:
        q = await queue("memory://poll")
        poll = asyncio.create_task(q.receive(10, 30))
        await asyncio.sleep(0.05)
        assert not poll.done()
        await asyncio.to_thread(asyncio.run, q.send(["late"]))
        assert bodies(await asyncio.wait_for(poll, 5)) == ["late"]

    try:
        run(scenario())
    finally:
        memory.forget()


def test_records_have_the_embedded_queues_shape_and_size(clock: FakeClock) -> None:
    async def scenario() -> None:
        q = await queue("memory://shape")
        await q.send(["é"])
        [d] = await q.receive(1, 0)
        assert d.size == len(json.dumps(d.record, separators=(",", ":")))
        assert d.record["eventSourceARN"] == "arn:aws:sqs:local:000000000000:shape"
        assert d.arrival_ms == clock.wall_ms()

    run(scenario())


def test_a_stream_keeps_a_keys_order_on_one_shard_and_reads_from_each_position(clock: FakeClock) -> None:
    async def scenario() -> None:
        s = await open_source("memory-stream://events?shards=4")
        assert isinstance(s, memory.MemoryStream)
        numbers = await s.send(["1", "2", "3"], partition_key="k")
        shards = [shard.id for shard in await s.shards()]
        reads = {shard: await s.read(shard, Position("TRIM_HORIZON"), 10) for shard in shards}
        [(shard, read)] = [(shard, read) for shard, read in reads.items() if read.deliveries]
        assert [d.id for d in read.deliveries] == numbers
        assert read.deliveries[0].record["kinesis"]["partitionKey"] == "k"
        after = await s.read(shard, Position("AT_SEQUENCE_NUMBER", numbers[1]), 10)
        assert [d.id for d in after.deliveries] == numbers[1:]
        latest = await s.read(shard, Position("LATEST"), 10)
        assert latest.deliveries == []
        await s.send(["4"], partition_key="k")
        assert len((await s.read(shard, latest.next_position, 10)).deliveries) == 1

    run(scenario())


@pytest.mark.parametrize(("uri", "field"), [
    ("memory://q?visibility_timeout=-1", "visibility_timeout"),
    ("memory://q?max_receive_count=0", "max_receive_count"),
    ("memory://q?dead_letter_queue=d", "dead_letter_queue"),
    ("memory://q.fifo?max_receive_count=2&dead_letter_queue=plain", "dead_letter_queue"),
    ("memory://q?colour=red", "--source"),
    ("memory-stream://s?shards=0", "shards"),
])
def test_a_bad_uri_names_the_setting(uri: str, field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        run(open_source(uri))
    assert caught.value.parameter == field


def test_a_name_keeps_the_settings_it_was_first_opened_with() -> None:
    try:
        run(open_source("memory://fixed?visibility_timeout=5"))
        run(open_source("memory://fixed"))  # no settings: the queue's own
        with pytest.raises(ConfigError, match="visibility_timeout_s=5"):
            run(open_source("memory://fixed?visibility_timeout=6"))
    finally:
        memory.forget()


def test_a_stream_keeps_its_checkpoints_and_forgets_them_with_it() -> None:
    async def scenario() -> tuple[str | None, str | None]:
        s = await open_source("memory-stream://cp")
        assert isinstance(s, memory.MemoryStream) and s.traits.native_checkpoints
        await s.checkpoint_store().put("m1", "shardId-000000000000", "00000000000000000007")
        again = await open_source("memory-stream://cp")
        assert isinstance(again, memory.MemoryStream)
        kept = await again.checkpoint_store().get("m1", "shardId-000000000000")
        memory.forget("cp")
        fresh = await open_source("memory-stream://cp")
        assert isinstance(fresh, memory.MemoryStream)
        return kept, await fresh.checkpoint_store().get("m1", "shardId-000000000000")

    try:
        assert run(scenario()) == ("00000000000000000007", None)
    finally:
        memory.forget()
