"""Checkpoints and shard leases in the embedded database file."""

from __future__ import annotations

import asyncio

import pytest

from batchmap.clock import FakeClock
from batchmap.errors import ConfigError
from batchmap.sources.base import CheckpointStore, Position
from batchmap.sources.sqlite import Lease, SqliteCheckpointStore, SqliteStream


def test_checkpoints_survive_reopening_the_file(db_file: str, clock: FakeClock) -> None:
    async def scenario() -> None:
        store = SqliteCheckpointStore(db_file, clock=clock)
        assert isinstance(store, CheckpointStore)
        assert await store.get("mapping-1", "shardId-000000000000") is None
        await store.put("mapping-1", "shardId-000000000000", "00000000000000000007")
        await store.put("mapping-1", "shardId-000000000000", "00000000000000000009")
        await store.put("mapping-2", "shardId-000000000000", "00000000000000000003")
        await store.close()
        reopened = SqliteCheckpointStore(f"sqlite:///{db_file}?stream=events", clock=clock)
        assert await reopened.get("mapping-1", "shardId-000000000000") == "00000000000000000009"
        assert await reopened.checkpoints("mapping-2") == {"shardId-000000000000": "00000000000000000003"}
        with pytest.raises(ConfigError, match="sequence_number"):
            await reopened.put("mapping-1", "shardId-000000000000", "")
        await reopened.close()

    asyncio.run(scenario())


def test_checkpoints_live_beside_the_stream(db_file: str, clock: FakeClock) -> None:
    async def scenario() -> None:
        stream = SqliteStream(f"sqlite:///{db_file}?stream=events", clock=clock)
        await stream.send(["a", "b", "c"], partition_key="k")
        store = SqliteCheckpointStore(db_file, clock=clock)
        first = await stream.read("shardId-000000000000", Position("TRIM_HORIZON"), 2)
        await store.put("m", "shardId-000000000000", first.deliveries[-1].id)
        checkpoint = await store.get("m", "shardId-000000000000")
        resumed = await stream.read("shardId-000000000000", Position("AFTER_SEQUENCE_NUMBER", checkpoint), 10)
        assert [d.record["kinesis"]["data"] for d in resumed.deliveries] == ["Yw=="]
        await store.close()
        await stream.close()

    asyncio.run(scenario())


def test_leases_are_exclusive_until_they_expire(db_file: str, clock: FakeClock) -> None:
    async def scenario() -> None:
        one = SqliteCheckpointStore(db_file, clock=clock)
        two = SqliteCheckpointStore(db_file, clock=clock)
        assert await one.acquire("m", "s0", "worker-1", ttl_s=10)
        assert await one.acquire("m", "s0", "worker-1", ttl_s=10)  # re-acquiring our own lease is fine
        assert not await two.acquire("m", "s0", "worker-2", ttl_s=10)
        assert await two.acquire("m", "s1", "worker-2", ttl_s=10)
        clock.advance(5)
        assert await one.renew("m", "s0", "worker-1", ttl_s=10)
        clock.advance(9)
        assert not await two.acquire("m", "s0", "worker-2", ttl_s=10)  # renewed: still held
        clock.advance(1)
        assert await two.acquire("m", "s0", "worker-2", ttl_s=10)  # expired: taken over
        assert not await one.renew("m", "s0", "worker-1", ttl_s=10)  # the old owner learns it lost it
        assert not await one.release("m", "s0", "worker-1")
        taken_s1_at = clock.wall_ms() - 15_000
        assert await two.leases("m") == [Lease("m", "s0", "worker-2", clock.wall_ms() + 10_000),
                                         Lease("m", "s1", "worker-2", taken_s1_at + 10_000)]
        assert await two.release("m", "s0", "worker-2")
        assert await one.acquire("m", "s0", "worker-1", ttl_s=10)
        with pytest.raises(ConfigError, match="ttl_s"):
            await one.acquire("m", "s0", "worker-1", ttl_s=0)
        await one.close()
        await two.close()

    asyncio.run(scenario())
