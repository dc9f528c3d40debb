"""The embedded queue's group commit: concurrent receives and deletes share transactions, and still
each get exactly their own messages, counts and errors."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from batchmap.errors import ConfigError
from batchmap.sources.sqlite import SqliteQueue, admin
from batchmap.sources.sqlite.queue_store import QueueStore


@pytest.fixture
def transactions(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts the queue's transactions and the calls they carried (the queue's own statements run)."""
    seen: Counter[str] = Counter()
    original = QueueStore.settle_and_receive

    def counted(self: QueueStore, deletes: object, receives: object, *args: object, **kwargs: object) -> object:
        seen["transactions"] += 1
        seen["deletes"] += len(deletes)  # type: ignore[arg-type]
        seen["receives"] += len(receives)  # type: ignore[arg-type]
        return original(self, deletes, receives, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(QueueStore, "settle_and_receive", counted)
    return seen


def queue(tmp_path: Path, name: str = "q", **attributes: str) -> str:
    uri = f"sqlite:///{tmp_path}/group.db?queue={name}"
    admin.create_queue(uri, attributes)
    return uri


def test_concurrent_receives_share_a_transaction_and_never_share_a_message(
    tmp_path: Path, transactions: Counter[str]
) -> None:
    uri = queue(tmp_path)
    admin.send(uri, [json.dumps({"n": i}) for i in range(100)])

    async def scenario() -> list[list[int]]:
        source = await SqliteQueue.open(uri)
        got = await asyncio.gather(*(source.receive(10, 0) for _ in range(8)))
        deleted = await asyncio.gather(*(source.delete(batch) for batch in got))
        assert deleted == [len(batch) for batch in got]
        await source.close()
        return [[json.loads(d.record["body"])["n"] for d in batch] for batch in got]

    batches = asyncio.run(scenario())
    assert [len(batch) for batch in batches] == [10] * 8
    numbers = [n for batch in batches for n in batch]
    assert len(set(numbers)) == 80 and all(batch == sorted(batch) for batch in batches)
    assert transactions["receives"] == 8 and transactions["deletes"] == 8
    assert transactions["transactions"] == 2  # eight receives in one commit, eight deletes in the next
    backlog = admin.inspect(uri)
    assert (backlog.visible, backlog.in_flight) == (20, 0)


def test_a_delete_rides_the_next_receive_and_reports_its_own_count(
    tmp_path: Path, transactions: Counter[str]
) -> None:
    uri = queue(tmp_path)
    admin.send(uri, [json.dumps({"n": i}) for i in range(6)])

    async def scenario() -> None:
        source = await SqliteQueue.open(uri)
        first = await source.receive(3, 0)
        deleting = asyncio.ensure_future(source.delete(first))
        second = await source.receive(3, 0)
        assert await deleting == 3
        assert len(second) == 3 and not {d.id for d in first} & {d.id for d in second}
        assert await source.delete(second) == 3
        await source.close()

    asyncio.run(scenario())
    assert transactions["transactions"] == 3  # a receive; a delete and a receive together; a delete
    backlog = admin.inspect(uri)
    assert (backlog.visible, backlog.in_flight) == (0, 0)


def test_fifo_receives_in_one_transaction_never_hand_out_one_group_twice(tmp_path: Path) -> None:
    uri = queue(tmp_path, "orders.fifo", FifoQueue="true", ContentBasedDeduplication="true")
    for group in "abc":
        for i in range(4):
            admin.send(uri, [json.dumps({"g": group, "i": i})], message_group_id=group)

    async def scenario() -> list[list[tuple[str, int]]]:
        source = await SqliteQueue.open(uri)
        got = await asyncio.gather(*(source.receive(4, 0) for _ in range(5)))
        await source.close()
        return [[(json.loads(d.record["body"])["g"], json.loads(d.record["body"])["i"]) for d in batch]
                for batch in got]

    batches = asyncio.run(scenario())
    # One transaction: each receive skips the groups the receives before it took, as separate ones would.
    assert batches == [[(g, i) for i in range(4)] for g in "abc"] + [[], []]


def test_a_bad_call_fails_alone(tmp_path: Path) -> None:
    uri = queue(tmp_path)
    admin.send(uri, [json.dumps({"n": i}) for i in range(4)])

    async def scenario() -> None:
        source = await SqliteQueue.open(uri)
        got = await source.receive(4, 0)
        results = await asyncio.gather(source.delete(got), source.receive(0, 0), return_exceptions=True)
        assert results[0] == 4 and isinstance(results[1], ConfigError)
        bad = await asyncio.gather(source.delete([got[0]._replace(handle="nope")]), source.receive(1, 0),
                                   return_exceptions=True)
        assert isinstance(bad[0], ConfigError) and bad[1] == []
        await source.close()

    asyncio.run(scenario())


def test_a_receive_cancelled_while_it_waits_for_the_database_takes_nothing(tmp_path: Path) -> None:
    uri = queue(tmp_path)
    admin.send(uri, [json.dumps({"n": 1})])
    blocker = sqlite3.connect(tmp_path / "group.db", isolation_level=None)

    async def scenario() -> None:
        source = await SqliteQueue.open(uri)
        blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock: the database thread waits
        first = asyncio.ensure_future(source.receive(10, 0))
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(source.receive(10, 0))
        await asyncio.sleep(0)
        second.cancel()
        blocker.execute("ROLLBACK")
        with pytest.raises(asyncio.CancelledError):
            await second
        assert len(await first) == 1  # the message went to the receive still waiting
        backlog = await source.backlog()
        assert (backlog.visible, backlog.in_flight) == (0, 1)
        await source.close()

    asyncio.run(scenario())
    blocker.close()
