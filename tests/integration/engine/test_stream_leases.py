"""Two engines on one stream share its shards through leases: one owner per shard, nothing twice."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import engine_handlers as h

from batchmap.config import EventSourceMapping
from batchmap.engine.invocation import FunctionConfig
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
        first, second = Engine([mapping], invoker="inprocess"), Engine([mapping], invoker="inprocess")
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
