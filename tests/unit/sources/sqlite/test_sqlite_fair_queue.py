"""Fair queues on the embedded standard queue: ``MessageGroupId`` names a tenant and tenants take turns.

Through ``SqliteQueue`` on a real file; the expected orders follow batchmap's rule
(docs/embedded-source.md, "Fair queues"): a message's turn is its tenant's messages
in flight plus its place in its tenant's line, lowest first, oldest on a tie.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3

import pytest

from batchmap.clock import FakeClock
from batchmap.errors import ConfigError
from batchmap.sources.base import Delivery
from batchmap.sources.sqlite import SqliteQueue, inspect, parse_attributes
from batchmap.sources.sqlite.inspection import QueueInfo


def open_queue(db_file: str, clock: FakeClock, name: str = "tenants", **attributes: str) -> SqliteQueue:
    attrs = parse_attributes(attributes, queue_name=name) if attributes else None
    return SqliteQueue(f"sqlite:///{db_file}?queue={name}", attributes=attrs, clock=clock)


def bodies(deliveries: list[Delivery]) -> list[str]:
    return [d.record["body"] for d in deliveries]


async def send_tenant(queue: SqliteQueue, group: str | None, count: int, prefix: str | None = None) -> None:
    await queue.send([f"{prefix or group}{i}" for i in range(count)], message_group_id=group)


def test_tenants_take_turns_oldest_first_on_a_tie(db_file: str, clock: FakeClock) -> None:
    queue = open_queue(db_file, clock)

    async def scenario() -> None:
        await send_tenant(queue, "noisy", 50, "n")
        for group in "abc":
            await send_tenant(queue, group, 3)
        first = await queue.receive(10, 0)
        # Turn 1: the oldest of each tenant; turn 2: the second of each; then the third, oldest tenant first.
        assert bodies(first) == ["n0", "n1", "n2", "a0", "a1", "a2", "b0", "b1", "c0", "c1"]  # in queue order
        assert [d.record["attributes"]["MessageGroupId"] for d in first].count("noisy") == 3
        # noisy holds 3 in flight, b and c hold 2: b2 and c2 (turn 3) come before noisy's next (turn 4).
        second = await queue.receive(3, 0)
        assert bodies(second) == ["n3", "b2", "c2"]
        await queue.close()

    asyncio.run(scenario())


def test_a_tenant_holding_messages_in_flight_waits_for_the_others(db_file: str, clock: FakeClock) -> None:
    queue = open_queue(db_file, clock)

    async def scenario() -> None:
        await send_tenant(queue, "noisy", 100, "n")
        held = await queue.receive(10, 0)  # noisy alone: it gets the whole receive
        assert bodies(held) == [f"n{i}" for i in range(10)]
        clock.advance(0.001)
        await send_tenant(queue, "quiet", 10, "q")
        assert bodies(await queue.receive(10, 0)) == [f"q{i}" for i in range(10)]
        await queue.delete(held)  # noisy's in-flight messages are done: its turns come back
        assert bodies(await queue.receive(2, 0)) == ["n10", "n11"]
        await queue.close()

    asyncio.run(scenario())


def test_a_noisy_tenant_is_never_starved_by_a_stream_of_new_tenants(db_file: str, clock: FakeClock) -> None:
    """Every receive is filled by fresh tenants (turn 1 each), yet the noisy tenant's oldest message, also
    turn 1 once its in-flight messages are done, is older than all of them: one noisy message per receive."""
    queue = open_queue(db_file, clock)

    async def scenario() -> None:
        await send_tenant(queue, "noisy", 30, "n")
        served: list[str] = []
        for round_ in range(30):
            clock.advance(0.001)
            for fresh in range(10):
                await queue.send([f"t{round_}.{fresh}"], message_group_id=f"t{round_}.{fresh}")
            got = await queue.receive(10, 0)
            served += [b for b in bodies(got) if b.startswith("n")]
            assert len(got) == 10
            await queue.delete(got)
        assert served == [f"n{i}" for i in range(30)]
        backlog = await queue.backlog()
        assert backlog.visible == 30 * 10 - 30 * 9  # the fresh tenants' messages not yet served, none lost
        await queue.close()

    asyncio.run(scenario())


def test_every_message_is_delivered_under_random_traffic(db_file: str, clock: FakeClock) -> None:
    """Random sends, receives, deletes, releases and expiring visibility, mostly from one big tenant: every
    message is delivered, and once sends stop the queue drains to empty."""
    queue = open_queue(db_file, clock, VisibilityTimeout="2")
    rng = random.Random(13)
    groups = ["big", "mid", "a", "b", "c", None]

    async def scenario() -> None:
        sent: set[str] = set()
        delivered: set[str] = set()
        held: list[Delivery] = []
        for step in range(300):
            clock.advance(rng.choice((0.0, 0.01, 0.5)))
            if step < 200:
                group = rng.choices(groups, weights=(8, 3, 1, 1, 1, 1))[0]
                count = rng.randint(1, 6 if group == "big" else 2)
                batch = [f"{group}-{step}-{i}" for i in range(count)]
                await queue.send(batch, message_group_id=group)
                sent.update(batch)
            got = await queue.receive(rng.randint(1, 10), 0)
            delivered.update(bodies(got))
            held += got
            rng.shuffle(held)
            done, held = held[: len(held) // 2], held[len(held) // 2:]
            if rng.random() < 0.8:
                await queue.delete(done)  # a stale handle (visibility ran out) deletes nothing, as SQS
            else:
                await queue.release(done, 0)
        for _ in range(200):
            clock.advance(2)
            got = await queue.receive(10, 0)
            await queue.delete(got)
            delivered.update(bodies(got))
            if (await queue.backlog()).total == 0:
                break
        assert (await queue.backlog()).total == 0
        assert len(sent) > 300 and delivered == sent
        await queue.close()

    asyncio.run(scenario())


def test_a_message_without_a_group_competes_once_among_the_oldest(db_file: str, clock: FakeClock) -> None:
    queue = open_queue(db_file, clock)

    async def scenario() -> None:
        await queue.send(["p0", "p1"])
        await send_tenant(queue, "noisy", 5, "n")
        await queue.send(["p2"])
        # Each message without a group is its own tenant (turn 1), as in AWS...
        assert bodies(await queue.receive(3, 0)) == ["p0", "p1", "n0"]
        # ...batchmap's rule: seen once it is among the `limit` oldest visible messages (here n1, n2 are).
        assert bodies(await queue.receive(2, 0)) == ["n1", "n2"]
        assert bodies(await queue.receive(3, 0)) == ["n3", "n4", "p2"]
        await queue.close()

    asyncio.run(scenario())


def test_a_queue_without_groups_keeps_send_order(db_file: str, clock: FakeClock) -> None:
    queue = open_queue(db_file, clock)

    async def scenario() -> None:
        await queue.send([f"m{i}" for i in range(25)])
        got = await queue.receive(10, 0) + await queue.receive(10, 0)
        assert bodies(got) == [f"m{i}" for i in range(20)]
        await queue.close()

    asyncio.run(scenario())
    info = inspect(f"sqlite:///{db_file}?queue=tenants", clock=clock)
    assert isinstance(info, QueueInfo) and info.visible == 5
    assert (info.message_groups, info.noisy_groups, info.groups) == (0, 0, ())


def test_a_fifo_queue_keeps_strict_group_order_and_lists_no_tenants(db_file: str, clock: FakeClock) -> None:
    queue = open_queue(db_file, clock, "jobs.fifo", ContentBasedDeduplication="true")

    async def scenario() -> None:
        await send_tenant(queue, "noisy", 5, "n")
        await send_tenant(queue, "quiet", 2, "q")
        # Send order, a group blocked while it has a message in flight: no turns on a FIFO queue.
        assert bodies(await queue.receive(6, 0)) == ["n0", "n1", "n2", "n3", "n4", "q0"]
        assert await queue.receive(6, 0) == []
        await queue.close()

    asyncio.run(scenario())
    info = inspect(f"sqlite:///{db_file}?queue=jobs.fifo", clock=clock)
    assert isinstance(info, QueueInfo) and info.in_flight == 6 and info.groups == ()


def test_inspect_counts_each_tenant_and_the_noisy_ones(db_file: str, clock: FakeClock) -> None:
    queue = open_queue(db_file, clock)
    uri = f"sqlite:///{db_file}?queue=tenants"

    async def scenario() -> None:
        await send_tenant(queue, "noisy", 200, "n")
        await send_tenant(queue, "quiet", 5, "q")
        await queue.send(["plain"])
        await queue.receive(10, 0)  # alone with turns, noisy holds most of the first ten
        noisy_held = await queue.receive(10, 0) + await queue.receive(10, 0) + await queue.receive(10, 0)
        assert len(noisy_held) == 30
        await queue.close()

    asyncio.run(scenario())
    info = inspect(uri, clock=clock)
    assert isinstance(info, QueueInfo)
    assert info.message_groups == 2 and info.noisy_groups == 1
    noisy, quiet = info.groups
    assert (noisy.group, noisy.visible + noisy.in_flight, noisy.delayed, noisy.noisy) == ("noisy", 200, 0, True)
    assert noisy.in_flight >= 30
    assert (quiet.group, quiet.visible, quiet.in_flight, quiet.noisy) == ("quiet", 0, 5, False)
    assert info.visible + info.in_flight == 206  # the message without a group is counted, in no tenant


def test_a_file_from_before_fair_queues_gets_the_index_and_takes_turns(db_file: str, clock: FakeClock) -> None:
    queue = open_queue(db_file, clock)
    asyncio.run(send_tenant(queue, "noisy", 5, "n"))
    asyncio.run(send_tenant(queue, "quiet", 1, "q"))
    asyncio.run(queue.close())
    with sqlite3.connect(db_file) as conn:  # as schema 2 left it: no tenants' index
        conn.execute("DROP INDEX messages_tenant")
        conn.execute("PRAGMA user_version = 2")
    queue = open_queue(db_file, clock)

    async def scenario() -> None:
        assert bodies(await queue.receive(2, 0)) == ["n0", "q0"]
        await queue.close()

    asyncio.run(scenario())
    with sqlite3.connect(db_file) as conn:
        assert conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'messages_tenant'").fetchone() == (1,)


def test_a_bad_message_group_is_refused_naming_it_and_nothing_is_sent(db_file: str, clock: FakeClock) -> None:
    queue = open_queue(db_file, clock)

    async def scenario() -> None:
        for bad in ("", "acme corp", "x" * 129, "caf\u00e9"):
            with pytest.raises(ConfigError, match="MessageGroupId") as refused:
                await queue.send(["a", "b"], message_group_id=bad)
            assert repr(bad)[1:-1][:40] in str(refused.value)
        await queue.send(["ok"], message_group_id="x" * 128)
        assert (await queue.backlog()).visible == 1
        await queue.close()

    asyncio.run(scenario())
