"""The sliding window: which record starts next when one finishes.

Shared by the thread runner (called under a lock) and the asyncio runner
(called from the loop). Workers call ``step(done, error)`` when a record
finishes and get the next position to start; there are never more than
``limit`` records in flight, and a new one starts the moment one ends (no
waves). Records of a busy lane are parked behind it, in order, and released
one at a time as the lane frees; records of a stopped unit are never started;
after a halt (deadline, memory) nothing starts and every unstarted record is
marked with the reason.
"""

from __future__ import annotations

from collections import deque

from batchmap.errors import BatchAbortedError
from batchmap.handler.memory import relieve
from batchmap.handler.result import ABORTED, OK, STOPPED, UNPROCESSED

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Hashable

    from batchmap.handler.guard import Guard
    from batchmap.handler.ordering import Ordering
    from batchmap.handler.result import Skip


class Scheduler:
    """Hands out record positions under the concurrency limit, lanes and stop units."""

    __slots__ = ("_busy", "_guard", "_halted", "_lanes", "_n", "_next", "_outcomes", "_pressure", "_ready",
                 "_stopped", "_units", "_waiting", "active", "limit")

    def __init__(self, outcomes: list[object], ordering: Ordering, limit: int, guard: Guard | None) -> None:
        self._outcomes = outcomes
        self._n = len(outcomes)
        self._units = ordering.units
        self._lanes = ordering.lanes
        self._guard = guard
        self._pressure = 0
        self._halted: Skip | None = None
        self._next = 0
        self._ready: deque[int] = deque()
        self._waiting: dict[Hashable, deque[int]] = {}
        self._busy: set[Hashable] = set()
        self._stopped: set[Hashable] = set()
        self.limit = limit
        self.active = 0

    def step(self, done: int, error: BaseException | None) -> int:
        """Settle ``done`` (``-1`` for none) and return the next position to start, or ``-1``."""
        if done >= 0:
            self._settle(done, error)
        guard = self._guard
        if guard is not None and self._halted is None:
            reason = guard.check()
            if reason is not None:
                self._halt(reason)
            elif guard.pressure != self._pressure:
                self._pressure = guard.pressure
                self.limit = max(1, self.limit // 2)
                relieve(self._outcomes)
        if self._halted is not None or self.active >= self.limit:
            return -1
        position = self._pick()
        if position >= 0:
            self.active += 1
        return position

    def _settle(self, done: int, error: BaseException | None) -> None:
        self.active -= 1
        if error is None:
            self._outcomes[done] = OK
        else:
            self._outcomes[done] = error
            if isinstance(error, BatchAbortedError):
                self._halt(ABORTED)
            elif self._units is not None:
                self._stopped.add(self._units[done])
        if self._lanes is not None:
            self._release(self._lanes[done])

    def _release(self, lane: Hashable | None) -> None:
        if lane is None:
            return
        parked = self._waiting.get(lane)
        if parked:
            self._ready.append(parked.popleft())  # the lane stays busy for the parked record
        else:
            self._busy.discard(lane)

    def _pick(self) -> int:
        units, stopped, outcomes = self._units, self._stopped, self._outcomes
        while self._ready:
            position = self._ready.popleft()
            if units is not None and units[position] in stopped:
                outcomes[position] = STOPPED
                self._release(self._lanes[position] if self._lanes is not None else None)
                continue
            return position
        lanes, busy = self._lanes, self._busy
        while self._next < self._n:
            position = self._next
            self._next += 1
            if units is not None and units[position] in stopped:
                outcomes[position] = STOPPED
                continue
            if lanes is not None:
                lane = lanes[position]
                if lane is not None:
                    if lane in busy:
                        self._waiting.setdefault(lane, deque()).append(position)
                        continue
                    busy.add(lane)
            return position
        return -1

    def _halt(self, reason: Skip) -> None:
        self._halted = reason
        outcomes = self._outcomes
        for position in range(self._n):
            if outcomes[position] is UNPROCESSED:
                outcomes[position] = reason
        self._next = self._n
        self._ready.clear()
        self._waiting.clear()
