"""After a wake-up the counter does not show yet, the wait reads it every millisecond while the commit is due."""

from __future__ import annotations

import asyncio

import pytest

from batchmap.clock import FakeClock
from batchmap.sources.sqlite import commit_wait
from batchmap.sources.sqlite.commit_wait import CommitWait
from batchmap.sources.sqlite.database import Database


class WakingClock(FakeClock):
    """A fake clock whose first sleep (the quiet wait) ends with the file's bell rung, as a write to the WAL
    by another process would: no commit follows. Every pause the wait takes is recorded, with when."""

    def __init__(self, db: Database) -> None:
        super().__init__()
        self.db = db
        self.pauses: list[tuple[float, float]] = []

    async def sleep(self, seconds: float) -> None:
        self.pauses.append((self.now(), seconds))
        if len(self.pauses) == 1:
            self.db.bell.ring()
            await asyncio.sleep(0.01)  # the ring reaches the listener through the loop
        await super().sleep(seconds)


@pytest.mark.parametrize("watched", [True, False], ids=["wal-watch", "no-watch"])
def test_a_wake_up_without_a_commit_is_followed_by_reads_every_millisecond_while_one_is_due(
    db_file: str, monkeypatch: pytest.MonkeyPatch, watched: bool
) -> None:
    from batchmap.sources.sqlite.wal_watch import WalWatch

    if not watched:
        monkeypatch.setattr(WalWatch, "open", classmethod(lambda cls, path: None))
    db = Database(db_file)
    clock = WakingClock(db)
    waiter = CommitWait(db, clock)

    async def scenario() -> bool:
        return await waiter.wait(db.change_counter(), deadline=0.5)

    assert asyncio.run(scenario()) is False  # no commit came: the wait ran to its deadline
    waiter.close()
    db.close()
    woke = clock.pauses[0][0]  # the ring ended the first pause before the fake clock moved
    after = [(at - woke, pause) for at, pause in clock.pauses[1:]]
    due = [pause for since, pause in after if since < commit_wait.COMMIT_EXPECTED_S]
    assert due and set(due) == {commit_wait.POLL_MIN_S}, after  # every millisecond while the commit is due
    later = [pause for since, pause in after if since >= commit_wait.COMMIT_EXPECTED_S]
    assert later[:2] == [0.002, 0.004], after  # then ever less often
    quiet = commit_wait.QUIET_CHECK_S if watched else commit_wait.POLL_MAX_S
    assert later[2:-1] and set(later[2:-1]) == {quiet}, after  # and quiet again (the deadline cuts the last)
