"""Checks made before each record starts: the Lambda deadline and the memory budget.

One ``time.monotonic()`` per record when either is active, and nothing at all
when neither is (``make_guard`` returns ``None``). The deadline is read from the
context once, at the start of the batch: remaining time falls at wall-clock
rate, so a monotonic deadline is exact and costs no call into the context.
"""

from __future__ import annotations

from time import monotonic

from batchmap.handler.result import DEADLINE, MEMORY

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from batchmap.handler.memory import MemoryBudget
    from batchmap.handler.result import Skip


PRESSURE_EVERY_S = 0.25
"""Memory above the soft threshold counts as a new signal at most this often (each one halves the
concurrency and relieves memory; the garbage collections are paced apart, in ``memory.relieve``)."""


class Guard:
    """Says when to stop starting records, and counts soft memory-pressure signals."""

    __slots__ = ("_hard", "_interval", "_next_check", "_next_signal", "_probe", "_soft", "deadline_at",
                 "pressure", "strained")

    _probe: Callable[[], int] | None

    def __init__(self, deadline_at: float, budget: MemoryBudget | None, limit: int | None) -> None:
        self.deadline_at = deadline_at
        self._next_signal = 0.0
        self.strained = False
        """Whether the last measurement was above the soft threshold."""
        self.pressure = 0
        """How many checks found memory above the soft threshold."""
        if budget is not None and limit is not None:
            self._probe = budget.probe
            self._soft = budget.soft * limit
            self._hard = budget.hard * limit
            self._interval = budget.check_interval_ms / 1000
            self._next_check = 0.0
        else:
            self._probe = None
            self._soft = self._hard = self._interval = self._next_check = float("inf")

    def check(self) -> Skip | None:
        """``DEADLINE`` or ``MEMORY`` when no more records may start, else ``None``."""
        now = monotonic()
        if now >= self.deadline_at:
            return DEADLINE
        if now >= self._next_check and self._probe is not None:
            self._next_check = now + self._interval
            used = self._probe()
            if used >= self._hard:
                return MEMORY
            self.strained = used >= self._soft
            if self.strained and now >= self._next_signal:
                self._next_signal = now + PRESSURE_EVERY_S
                self.pressure += 1
        return None


def make_guard(context: object, margin_ms: float | None, budget: MemoryBudget | None) -> Guard | None:
    """A guard for this invocation, or ``None`` when there is neither a deadline nor a budget."""
    if context is None and (budget is None or budget.limit_mb is None):
        return None
    deadline_at = float("inf")
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if margin_ms is not None and callable(remaining):
        deadline_at = monotonic() + (float(remaining()) - margin_ms) / 1000
    limit = budget.limit_bytes(context) if budget is not None else None
    if deadline_at == float("inf") and limit is None:
        return None
    return Guard(deadline_at, budget, limit)
