"""A commit in this process wakes the long polls waiting on the same database file at once.

``Database.write`` rings the file's bell after every commit; a long poll that
waits on the file listens to it, so a message sent from the same process (the
queue's ``send``, the module's ``send``, another ``SqliteQueue`` on the file) is
noticed when its commit returns instead of at the next poll. Ringing with nobody
listening costs one attribute read, so busy writers do not pay for it.

A listener's future is resolved on its own event loop (``call_soon_threadsafe``):
commits run on database threads.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio


class Doorbell:
    """The long polls listening to one database file, and the bell its commits ring."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listening: list[asyncio.Future[None]] = []

    def listen(self) -> asyncio.Future[None]:
        """A future of the running loop, resolved by the next ring; ``forget`` it when done waiting."""
        import asyncio  # only a long poll listens: a send from a command runs no event loop

        rung: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        with self._lock:
            self._listening.append(rung)
        return rung

    def forget(self, rung: asyncio.Future[None]) -> None:
        """Stop listening with ``rung`` (rung or not)."""
        with self._lock, contextlib.suppress(ValueError):
            self._listening.remove(rung)

    def ring(self) -> None:
        """From any thread, after a commit: wake every listener."""
        if not self._listening:  # read without the lock: a listener that joins later checks the file itself
            return
        with self._lock:
            listening, self._listening = self._listening, []
        for rung in listening:
            with contextlib.suppress(RuntimeError):  # its loop is closed: nobody waits any more
                rung.get_loop().call_soon_threadsafe(_wake, rung)


def _wake(rung: asyncio.Future[None]) -> None:
    if not rung.done():
        rung.set_result(None)


_BELLS: dict[str, Doorbell] = {}
_BELLS_LOCK = threading.Lock()


def doorbell(path: str) -> Doorbell:
    """The process's bell for the database file at ``path`` (one per real path)."""
    key = path if path in ("", ":memory:") or path.startswith("file:") else os.path.realpath(path)
    with _BELLS_LOCK:
        bell = _BELLS.get(key)
        if bell is None:
            bell = _BELLS[key] = Doorbell()
    return bell
