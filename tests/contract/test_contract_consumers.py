"""Contract, at the source: a consumer that goes away holding messages gives them back to the others."""

from __future__ import annotations

import asyncio

from contract_support import messages
from contract_target import Kit

from batchmap.sources.base import Delivery, QueueSource
from batchmap.sources.registry import open_source


async def _receive_all(source: QueueSource, n: int, wait_s: float) -> list[Delivery]:
    found: list[Delivery] = []
    while len(found) < n and (got := await source.receive(10, wait_s)):
        found += got
    return found


def test_a_consumer_that_dies_holding_messages_gives_them_back(queue_kit: Kit) -> None:
    """Held and never deleted: back to another consumer, by the broker's close or its visibility timeout."""
    target = queue_kit.create(visibility_timeout_s=1)
    target.send(messages(3))

    async def scenario() -> None:
        dying = await open_source(target.uri, target.options)
        assert isinstance(dying, QueueSource)
        held = await _receive_all(dying, 3, 2)
        await dying.close()  # never deletes: as if the process were killed
        survivor = await open_source(target.uri, target.options)
        assert isinstance(survivor, QueueSource)
        back = await _receive_all(survivor, 3, 3)
        assert sorted(d.id for d in back) == sorted(d.id for d in held) and len(held) == 3
        assert {d.receive_count for d in back} == {2}
        assert await survivor.delete(back) == 3
        await survivor.close()

    asyncio.run(asyncio.wait_for(scenario(), 60))
    assert target.backlog().total == 0
