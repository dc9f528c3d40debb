"""Contract, at the source: receiving, competing consumers, and a consumer that goes away holding messages.

The checks are ``tests/support/queue_checks.py``'s, run here on every queue kit instead of once per
broker file; a broker's own file keeps only what that broker alone does.
"""

from __future__ import annotations

import asyncio
import time

from contract_support import messages
from contract_target import Kit
from queue_checks import consumers_compete, receive_up_to_n_then_long_poll

from batchmap.sources.base import Delivery, QueueSource
from batchmap.sources.registry import open_source


async def _receive_all(source: QueueSource, n: int, wait_s: float) -> list[Delivery]:
    found: list[Delivery] = []
    while len(found) < n and (got := await source.receive(10, wait_s)):
        found += got
    return found


def test_a_consumer_that_dies_holding_messages_gives_them_back(queue_kit: Kit) -> None:
    """Held and never deleted: nothing for another consumer while the holder lives, then back to it, by the
    broker's close or its visibility timeout."""
    target = queue_kit.create(visibility_timeout_s=2)
    target.send(messages(3))

    async def scenario() -> None:
        dying = await open_source(target.uri, target.options)
        assert isinstance(dying, QueueSource)
        held_at = time.monotonic()
        held = await _receive_all(dying, 3, 2)
        survivor = await open_source(target.uri, target.options)
        assert isinstance(survivor, QueueSource)
        early = await survivor.receive(10, 0)
        if time.monotonic() - held_at < 1.5:  # still well within the visibility timeout (a stalled run is not)
            assert early == [], "a held message went to another consumer"
        await dying.close()  # never deletes: as if the process were killed
        back = early + await _receive_all(survivor, 3 - len(early), 3)
        assert sorted(d.id for d in back) == sorted(d.id for d in held) and len(held) == 3
        assert {d.receive_count for d in back} == {2}
        assert await survivor.delete(back) == 3
        await survivor.close()

    asyncio.run(asyncio.wait_for(scenario(), 60))
    assert target.backlog().total == 0


def test_receive_takes_up_to_n_and_a_long_poll_returns_when_a_message_arrives(queue_kit: Kit) -> None:
    """At most N per receive (in send order where the broker keeps one); a long poll ends when a message comes."""
    target = queue_kit.create()

    async def scenario() -> None:
        source = await open_source(target.uri, target.options)
        await receive_up_to_n_then_long_poll(source, ordered=queue_kit.receives_in_order)

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_two_consumers_compete_and_each_message_goes_to_exactly_one(queue_kit: Kit) -> None:
    target = queue_kit.create()
    uri = target.uri + queue_kit.competing_query

    async def scenario() -> None:
        a = await open_source(uri, target.options)
        b = await open_source(uri, target.options)
        await consumers_compete(a, b, wait_s=0.5, pause_s=0.01, delete=True)

    asyncio.run(asyncio.wait_for(scenario(), 60))
