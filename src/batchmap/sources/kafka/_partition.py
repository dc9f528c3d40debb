"""One assigned partition: fetched messages waiting for the engine, and how far it has got.

A ``Partition`` lives from an assignment to the revocation that ends it; a
partition assigned again later gets a fresh one. The poll thread appends
messages, the engine's reader takes them: every access to the buffer holds
``lock`` (shared by all partitions of one consumer). Offsets are Kafka's
"next offset" convention: ``handed_next`` is one past the last record handed
to the engine, ``committed_next`` one past the last record committed.

From the assignment on, the fetcher reads from the group's committed offset
(or the earliest one when there is none). When the engine's first read asks
for exactly that position, what was fetched meanwhile is kept (``start_at``);
any other position costs a seek (``moved_to``), which drops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from typing import Any

from batchmap.records.shapes import topic_partition

UNKNOWN = -1


class Partition:
    """A topic-partition this consumer owns now, with its bounded buffer of fetched messages."""

    def __init__(
        self, topic: str, partition: int, lock: threading.Lock, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.topic = topic
        self.partition = partition
        self.key = topic_partition(topic, partition)
        self.lock = lock
        self._loop = loop
        self.buffer: deque[Any] = deque()
        self.wake = asyncio.Event()
        self.positioned = False
        self.revoked = False
        self.paused_full = False
        self.eof = False
        self.eof_at = UNKNOWN
        self.committed_known = False
        self.committed: int | None = None
        self.next_offset = UNKNOWN
        self.handed_next = UNKNOWN
        self.committed_next = UNKNOWN

    def __repr__(self) -> str:
        return f"Partition({self.key}, buffered={len(self.buffer)}, handed_next={self.handed_next})"

    # -- poll thread -----------------------------------------------------------------------------------------

    def add(self, message: Any) -> bool:
        """Buffer a fetched message (caller holds ``lock``); stale ones, or any once revoked, are left out.

        Left-out messages stay uncommitted, so whoever reads the partition
        next reads them again.
        """
        if self.revoked:
            return False
        offset = message.offset()
        if self.next_offset != UNKNOWN and offset < self.next_offset:
            return False
        self.buffer.append(message)
        self.next_offset = offset + 1
        self.eof = False
        return True

    def reached_end(self, offset: int) -> bool:
        """The fetcher reached the end of the partition at ``offset`` (caller holds ``lock``)."""
        if self.next_offset != UNKNOWN and offset < self.next_offset:
            return False
        self.eof = True
        self.eof_at = offset
        return True

    def moved_to(self, offset: int) -> None:
        """A seek happened: forget what was buffered and expect ``offset`` (negative: a logical offset)."""
        with self.lock:
            self.buffer.clear()
            self.next_offset = offset if offset >= 0 else UNKNOWN
            self.eof = False
            self.eof_at = UNKNOWN
            self.positioned = True

    def fetching_from(self, offset: int | None) -> bool:
        """Whether the fetcher began where the engine starts: ``offset``, or the earliest (``None``)."""
        if not self.committed_known:
            return False
        return self.committed is None if offset is None else self.committed == offset

    def start_at(self, offset: int | None) -> bool:
        """Hand out records from ``offset`` (``None``: from where the fetcher began) without a seek.

        Buffered messages before ``offset`` are dropped. False when what was
        fetched does not start there: the caller seeks instead.
        """
        with self.lock:
            if offset is not None:
                while self.buffer and self.buffer[0].offset() < offset:
                    self.buffer.popleft()
                ahead = self.buffer[0].offset() if self.buffer else max(self.next_offset, self.eof_at)
                if ahead > offset:
                    return False
                self.next_offset = max(self.next_offset, offset)
                self.eof = self.eof and self.eof_at >= offset
            self.positioned = True
            return True

    def revoke(self) -> None:
        """This consumer no longer owns the partition: drop what the engine has not taken."""
        with self.lock:
            self.revoked = True
            self.buffer.clear()
        self.notify()

    def notify(self) -> None:
        """Wake the engine's reader (from any thread; a no-op once the event loop is gone)."""
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self.wake.set)

    def learned_committed(self, offset: int | None) -> None:
        """The group's committed offset, as read when the engine asked for its checkpoint."""
        self.committed = offset
        self.committed_known = True

    def settled(self) -> bool:
        """Every record handed to the engine is committed."""
        return self.handed_next == UNKNOWN or self.committed_next >= self.handed_next

    # -- engine (event loop) ---------------------------------------------------------------------------------

    def take(self, limit: int) -> list[Any]:
        """Up to ``limit`` buffered messages, oldest first."""
        with self.lock:
            count = min(limit, len(self.buffer))
            taken = [self.buffer.popleft() for _ in range(count)]
        if taken:
            self.handed_next = taken[-1].offset() + 1
        return taken

    def caught_up(self) -> bool:
        """Nothing buffered and the fetcher is at the end of the partition."""
        with self.lock:
            return not self.buffer and self.eof
