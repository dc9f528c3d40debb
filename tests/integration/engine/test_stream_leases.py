"""Two engines on one stream share its shards through leases: one owner per shard, nothing twice."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import engine_handlers as h
import pytest

from batchmap.config import EventSourceMapping
from batchmap.config.function import FunctionConfig
from batchmap.engine import stream_runner
from batchmap.engine.leases import ShardLeases
from batchmap.engine.service import Engine
from batchmap.errors import LeaseLostError
from batchmap.sources.sqlite import admin
from batchmap.sources.sqlite.checkpoints import SqliteCheckpointStore


def test_two_engines_split_the_shards_and_process_every_record_once(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/s.db?stream=shared"
    admin.create_stream(uri, 4)
    for key in range(40):
        admin.send(uri, [json.dumps({"k": key, "i": i}) for i in range(5)], partition_key=f"key-{key}")
    mapping = EventSourceMapping(source=uri, function=FunctionConfig("engine_handlers:slow_tracking", timeout_s=2),
                                 starting_position="TRIM_HORIZON", batch_size=10, uuid="shared")

    async def both() -> None:
        # a 3 s lease (renewed every second): until_idle waits a lease TTL for the shards the other engine holds
        first, second = (Engine([mapping], invoker="inprocess", shard_lease_s=3.0) for _ in range(2))
        await asyncio.wait_for(asyncio.gather(first.run(until_idle=True), second.run(until_idle=True)), 60)

    asyncio.run(both())
    seen = Counter((d["k"], d["i"]) for d in h.stream_data())
    assert len(seen) == 200 and max(seen.values()) == 1


def test_a_lease_held_by_a_live_engine_cannot_be_taken_and_stale_checkpoints_are_refused(tmp_path: Path) -> None:
    store = SqliteCheckpointStore(str(tmp_path / "leases.db"))

    async def scenario() -> None:
        a = ShardLeases(store, "m", owner="engine-a", ttl_s=0.3)
        b = ShardLeases(store, "m", owner="engine-b", ttl_s=0.3)
        assert await a.acquire("shard-1")
        assert not await b.acquire("shard-1")
        await a.put_checkpoint("shard-1", "100")
        await asyncio.sleep(0.4)  # engine-a died: its lease expires
        assert await b.acquire("shard-1")
        try:
            await a.put_checkpoint("shard-1", "200")
        except LeaseLostError:
            pass
        else:
            raise AssertionError("a stale owner must not move the checkpoint")
        assert await a.renew() == ["shard-1"]
        assert await store.get("m", "shard-1") == "100"

    asyncio.run(scenario())


async def shards_by_engine(store: SqliteCheckpointStore, mapping_id: str) -> Counter[str]:
    """How many shard leases each engine holds (membership leases left out)."""
    owners = await store.owners(mapping_id)
    return Counter(owner for shard, owner in owners.items() if not shard.startswith("member:"))


def test_a_second_engine_gets_its_fair_share_of_the_shards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Shed shards are taken at the next renewal: the takeover delay is the lease's, not the shard discovery's
    (made far longer than the test here, so only a renewal can hand them over)."""
    monkeypatch.setattr(stream_runner, "DISCOVERY_INTERVAL_S", 600.0)
    uri = f"sqlite:///{tmp_path}/s.db?stream=balanced"
    admin.create_stream(uri, 4)
    mapping = EventSourceMapping(source=uri, function=FunctionConfig("engine_handlers:record", timeout_s=2),
                                 starting_position="LATEST", uuid="balanced")
    store = SqliteCheckpointStore(uri)
    # a 3 s lease: renewals, at which the first engine sheds and the second takes what was shed, come every second
    first, second = (Engine([mapping], invoker="inprocess", shard_lease_s=3.0) for _ in range(2))

    async def scenario() -> tuple[Counter[str], Counter[str]]:
        running_first = asyncio.create_task(first.run())
        alone: Counter[str] = Counter()
        for _ in range(100):  # it takes the shards one lease at a time, at its first discovery
            await asyncio.sleep(0.05)
            alone = await shards_by_engine(store, "balanced")
            if sum(alone.values()) == 4:
                break
        running_second = asyncio.create_task(second.run())
        split: Counter[str] = Counter()
        for _ in range(100):  # the first engine sheds at its next renewal; the second takes over
            await asyncio.sleep(0.2)
            split = await shards_by_engine(store, "balanced")
            if sorted(split.values()) == [2, 2]:
                break
        first.stop()
        second.stop()
        await asyncio.gather(running_first, running_second)
        return alone, split

    alone, split = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert sorted(alone.values()) == [4]  # one engine alone holds every shard
    assert sorted(split.values()) == [2, 2]
