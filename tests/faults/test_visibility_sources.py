"""Every queue source keeps a held message hidden when asked, and names a receipt that died.

``extend_visibility`` is what the engine's visibility keeper calls; these tests
call it directly on each real broker, with 1 s visibility timeouts.
"""

from __future__ import annotations

import asyncio

import pytest
from contract_kits import (  # noqa: F401  (fixtures are found by name)
    QUEUES,
    Kit,
    Target,
    fresh_handlers,
    kit_for,
    messages,
    moto,
    nats_kit,
    postgres_kit,
    rabbitmq_kit,
    redis_kit,
    sqlite_queue_kit,
    sqs_kit,
)

from batchmap.errors import SettleError
from batchmap.sources.base import Delivery, QueueSource, QueueTraits, VisibilityExtender, visibility_extender
from batchmap.sources.registry import open_source

TIMEOUT_S = 1.0
"""The brokers' shortest visibility timeout (they refuse less than a second)."""
FRACTIONAL_TIMEOUT_S = {"memory-queue": 0.5}
"""Sources that take a shorter one: the in-memory queue keeps its timeouts in this process's clock."""
NAMES_DEAD_RECEIPTS = ("sqlite_queue", "sqs", "redis", "rabbitmq", "postgres")
"""JetStream extends a message's current delivery whatever the ack subject's delivery count: NATS cannot tell."""


async def _open(target: Target) -> tuple[QueueSource, VisibilityExtender]:
    source = await open_source(target.uri, target.options)
    assert isinstance(source, QueueSource) and isinstance(source.traits, QueueTraits)
    extender = visibility_extender(source)
    assert extender is not None, f"{source.arn} declares no visibility extension"
    return source, extender


@pytest.fixture(params=QUEUES)
def each_queue(request: pytest.FixtureRequest) -> Kit:
    """Every queue source in turn (the contract suite's kits)."""
    return kit_for(request)


def test_an_extended_message_stays_hidden_past_its_visibility_timeout(each_queue: Kit) -> None:
    timeout_s = FRACTIONAL_TIMEOUT_S.get(each_queue.name, TIMEOUT_S)
    target = each_queue.create(visibility_timeout_s=timeout_s)
    target.send(messages(1))

    async def scenario() -> None:
        holder, extender = await _open(target)
        other, _ = await _open(target)
        try:
            [held] = await holder.receive(1, 5)
            for check in range(1, 6):  # two and a half timeouts, looked for and extended at half the timeout
                await asyncio.sleep(timeout_s / 2)
                assert await other.receive(10, 0) == [], "an extended message was handed to another consumer"
                if check < 5:  # not after the last look: it comes back half a timeout after it, not a whole one
                    await extender.extend_visibility([held], timeout_s)
            await holder.close()  # no more extensions: it comes back to the other consumer
            again = await other.receive(10, 5 * timeout_s)
            assert [d.id for d in again] == [held.id]
            await other.delete(again)
        finally:
            await holder.close()
            await other.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))
    assert target.backlog().total == 0


@pytest.fixture(params=NAMES_DEAD_RECEIPTS)
def telling_kit(request: pytest.FixtureRequest) -> Kit:
    return kit_for(request)


def test_extending_a_deleted_message_names_it_and_extends_the_rest(telling_kit: Kit) -> None:
    target = telling_kit.create(visibility_timeout_s=TIMEOUT_S)
    target.send(messages(3))

    async def scenario() -> None:
        holder, extender = await _open(target)
        try:
            held = await holder.receive(3, 5)
            while len(held) < 3:
                held += await holder.receive(3 - len(held), 1)
            assert await holder.delete(held[:1]) == 1
            with pytest.raises(SettleError) as caught:
                await extender.extend_visibility(held, TIMEOUT_S)
            assert set(caught.value.failed) == {held[0].id}
            assert caught.value.settled == 2
            await asyncio.sleep(TIMEOUT_S * 0.8)
            await extender.extend_visibility(held[1:], TIMEOUT_S)  # still held: extended, nothing refused
            assert await holder.delete(held[1:]) == 2
        finally:
            await holder.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))
    assert target.backlog().total == 0


@pytest.fixture(params=("sqlite_queue", "redis", "postgres", "rabbitmq"))
def redelivering_kit(request: pytest.FixtureRequest) -> Kit:
    """Sources whose receipt dies when the message times out and is received again (SQS on moto accepts
    an older receipt for a message in flight again; NATS cannot tell)."""
    return kit_for(request)


def test_a_receipt_that_timed_out_cannot_be_extended(redelivering_kit: Kit) -> None:
    target = redelivering_kit.create(visibility_timeout_s=TIMEOUT_S)
    target.send(messages(1))

    async def scenario() -> None:
        holder, extender = await _open(target)
        try:
            [held] = await holder.receive(1, 5)
            again: list[Delivery] = []
            while not again:  # not extended: the timeout runs out, and it is received again with a new receipt
                again = await holder.receive(1, 2)
            assert [d.id for d in again] == [held.id]
            with pytest.raises(SettleError) as caught:
                await extender.extend_visibility([held], TIMEOUT_S)
            assert list(caught.value.failed) == [held.id]
            await holder.delete(again)
        finally:
            await holder.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))
    assert target.backlog().total == 0
