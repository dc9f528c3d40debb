"""Waiting for a commit to a database file by anyone: the woken wait of the queue's long poll and the stream's reads.

A commit in this process rings the file's doorbell (``doorbell.py``), and a
write to the WAL by any process wakes the WAL watch (``wal_watch.py``):
between those, a quiet wait only checks the change counter every
``QUIET_CHECK_S``. A wake-up the counter does not show yet (the WAL is written
before the commit is visible: with ``synchronous=FULL`` an fsync comes between)
polls every ``POLL_MIN_S`` for ``COMMIT_EXPECTED_S``, then ever less often up to
``POLL_MAX_S``, and then goes quiet again. Without a WAL watch (not Linux) the wait keeps
checking every ``POLL_MAX_S``.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from batchmap.clock import Clock
from batchmap.sources.sqlite.database import Database
from batchmap.sources.sqlite.wal_watch import WalWatch

POLL_MIN_S = 0.001
POLL_MAX_S = 0.008
"""Check interval bounds while a commit is expected (or where the WAL cannot be watched)."""
QUIET_CHECK_S = 0.1
"""With the WAL watched, how often a quiet wait still reads the change counter (a safety net)."""
COMMIT_EXPECTED_S = 0.012
"""After a wake-up, how long the commit is expected to follow its WAL write (an fsync on a busy disk): the
counter is read every ``POLL_MIN_S`` until then (a read costs microseconds); doubling from the first read
saw commits that came 3.5 ms after their write only at 7 ms."""


class CommitWait:
    """Waits on one ``Database``'s file; the WAL watch is opened at the first wait and closed by ``close``."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._watch: WalWatch | Literal[False] | None = False  # False: not opened yet

    async def wait(self, seen: int, deadline: float, wake_ms: int | None = None) -> bool:
        """Wait for the change counter to move from ``seen`` (true), or until ``deadline`` (false).

        ``deadline`` is on the clock's ``now``; ``wake_ms`` (wall clock), when
        given, also ends the wait with true: a hidden message comes visible then.
        """
        pause = POLL_MAX_S
        woke = -COMMIT_EXPECTED_S  # when the last wake-up came
        while True:
            rung = self.db.bell.listen()
            watch = self._wal_watch()
            watched = watch is not None and watch.listen(rung)
            try:
                if self.db.change_counter() != seen:  # committed before we listened
                    return True
                while True:
                    wall = self.clock.wall_ms()
                    if wake_ms is not None and wall >= wake_ms:
                        return True
                    now = self.clock.now()
                    if now >= deadline:
                        return False
                    limit = deadline - now if wake_ms is None else min(deadline - now, (wake_ms - wall) / 1000)
                    quiet = watched and pause >= POLL_MAX_S
                    if await self._until(rung, min(QUIET_CHECK_S if quiet else pause, limit)):
                        pause, woke = POLL_MIN_S, self.clock.now()
                        break  # listen again, then read the counter
                    expected = self.clock.now() - woke < COMMIT_EXPECTED_S
                    pause = POLL_MIN_S if expected else min(pause * 2, POLL_MAX_S)
                    if self.db.change_counter() != seen:  # microseconds, never waits for a transaction: inline
                        return True
            finally:
                self.db.bell.forget(rung)
                if watch is not None:
                    watch.forget(rung)

    async def _until(self, rung: asyncio.Future[None], timeout_s: float) -> bool:
        """Whether ``rung`` came within ``timeout_s`` (on the clock's time)."""
        if rung.done():
            return True
        sleeping = asyncio.ensure_future(self.clock.sleep(timeout_s))
        try:
            await asyncio.wait((rung, sleeping), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeping.cancel()
        return rung.done()

    def _wal_watch(self) -> WalWatch | None:
        """The WAL watch, opened at the first wait (a queue or stream opened to write needs no descriptor)."""
        if self._watch is False:
            self._watch = WalWatch.open(self.db.path)
        return self._watch

    def close(self) -> None:
        """Close the WAL watch, if a wait opened one."""
        if self._watch:
            self._watch.close()
        self._watch = None
