"""Which sequence number a shard can be checkpointed at, when batches finish out of order.

With ``ParallelizationFactor`` > 1 several batches of one shard are in flight
at once and can finish in any order; the checkpoint may only move past a
record once every record before it is done. ``Progress`` keeps the records of
a shard in read order and yields the highest fully-done prefix.
"""

from __future__ import annotations

from collections import deque


class Progress:
    """Read order and completion of one shard's records."""

    def __init__(self) -> None:
        self._order: deque[str] = deque()
        self._done: set[str] = set()
        self._checkpoint: str | None = None

    def __len__(self) -> int:
        """Records read and not yet behind the checkpoint."""
        return len(self._order)

    def read(self, sequence_number: str) -> None:
        """A record was read (in shard order)."""
        self._order.append(sequence_number)

    def done(self, sequence_number: str) -> None:
        """A record is finished: processed, filtered out or discarded."""
        self._done.add(sequence_number)

    def advance(self) -> str | None:
        """The new checkpoint if it moved, else ``None``."""
        moved = False
        while self._order and self._order[0] in self._done:
            self._checkpoint = self._order.popleft()
            self._done.discard(self._checkpoint)
            moved = True
        return self._checkpoint if moved else None

    @property
    def checkpoint(self) -> str | None:
        """The last sequence number with everything up to it done."""
        return self._checkpoint
