"""Contract: batches close at BatchSize, and the batching window gathers records that arrive over time."""

from __future__ import annotations

import asyncio
from typing import Any

import contract_handlers as h
from contract_support import engine_for, mapping, messages, wait_until
from contract_target import Kit

from batchmap.config import ScalingConfig

LANES = 2
"""Queues: concurrent batches (ScalingConfig.MaximumConcurrency); each lane builds a batch of its own."""
WINDOW_S = 1.0
"""The batching window: the late messages are sent 0.1 s apart (each send takes milliseconds), so they arrive
well inside it; every run waits it out once, for the batch of late ones."""


def test_batches_close_at_the_batch_size_and_the_window_gathers_later_records(any_kit: Kit) -> None:
    target = any_kit.create()
    target.send(messages(10, "early"))
    settings: dict[str, Any] = {"batch_size": 5, "maximum_batching_window_in_seconds": WINDOW_S}
    if target.kind == "queue":
        settings["scaling_config"] = ScalingConfig(maximum_concurrency=LANES)

    async def scenario() -> None:
        engine = engine_for(target, mapping(target, "ok", **settings))
        run = asyncio.create_task(engine.run())
        await wait_until(lambda: len(h.processed()) == 10, "the first ten messages")
        for i in range(3):  # one at a time, well inside one window
            await asyncio.to_thread(target.send, [{"id": f"late{i}"}])
            await asyncio.sleep(0.1)
        await wait_until(lambda: len(h.processed()) == 13, "the three late messages")
        engine.stop()
        await asyncio.wait_for(run, 30)

    asyncio.run(asyncio.wait_for(scenario(), 90))
    assert set(h.processed().values()) == {1}
    early = [len(c.ids) for c in h.CALLS if c.ids[0].startswith("early")]
    late = [len(c.ids) for c in h.CALLS if c.ids[0].startswith("late")]
    assert max(early) == 5 and sum(early) == 10, early  # full batches, and never more than BatchSize
    if target.kind == "stream":
        assert early == [5, 5], early  # one shard, one slot: every batch closes at BatchSize
        assert late == [3], late  # the window held the batch open for the later records
    else:
        assert len(late) < 3, late  # without the window each late message would go alone
