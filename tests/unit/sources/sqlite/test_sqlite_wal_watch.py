"""The WAL watch: a write to the ``-wal`` file by any connection wakes the long polls listening to it."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator

import pytest

from batchmap.sources.sqlite.wal_watch import WalWatch


@pytest.fixture
def wal(db_file: str) -> Iterator[tuple[WalWatch, sqlite3.Connection]]:
    """A watch on ``db_file``'s WAL, and a connection in WAL mode that writes to it."""
    watch = WalWatch.open(db_file)
    if watch is None:
        pytest.skip("no inotify on this platform: the long poll polls")
    writer = sqlite3.connect(db_file, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE t (x)")
    yield watch, writer
    watch.close()
    writer.close()


def test_a_new_listener_does_not_swallow_the_wake_up_of_one_already_waiting(
    wal: tuple[WalWatch, sqlite3.Connection],
) -> None:
    """A WAL write, then a second long poll listens before the loop has read the event: listening reads the
    pending events (the new poll's own check of the change counter covers them). The poll already waiting was
    left to its 0.1 s quiet check; the event is its wake-up too."""
    watch, writer = wal

    async def scenario() -> tuple[bool, bool]:
        loop = asyncio.get_running_loop()
        first, second = loop.create_future(), loop.create_future()
        assert watch.listen(first)
        writer.execute("INSERT INTO t VALUES (1)")  # the event is pending: the loop has not run since
        assert watch.listen(second)
        await asyncio.sleep(0.05)
        done = first.done(), second.done()
        watch.forget(first)
        watch.forget(second)
        return done

    assert asyncio.run(scenario()) == (True, False)


def test_a_write_wakes_every_listener(wal: tuple[WalWatch, sqlite3.Connection]) -> None:
    watch, writer = wal

    async def scenario() -> list[bool]:
        loop = asyncio.get_running_loop()
        rungs = [loop.create_future() for _ in range(3)]
        assert all(watch.listen(rung) for rung in rungs)
        await asyncio.sleep(0)
        writer.execute("INSERT INTO t VALUES (1)")
        await asyncio.wait_for(asyncio.gather(*rungs), 1.0)
        return [rung.done() for rung in rungs]

    assert asyncio.run(scenario()) == [True, True, True]
