"""Running the records of a batch with a synchronous handler: in order, or on worker threads.

Both runners fill ``outcomes`` (one slot per record, preset to ``UNPROCESSED``)
and call ``on_failure(position, error)`` as each failure happens, so failures
are logged even if the process is killed later. A handler that returns a
coroutine is a failure, not a silent success: it was never awaited.
"""

from __future__ import annotations

from types import CoroutineType

from batchmap.errors import BatchAbortedError, HandlerError
from batchmap.handler.memory import relieve
from batchmap.handler.result import ABORTED, OK, STOPPED

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Hashable
    from typing import Any

    from batchmap.handler.guard import Guard
    from batchmap.handler.ordering import Ordering
    from batchmap.records.record import Record

    FailureHook = Callable[[int, BaseException], None]


def _not_awaited(result: Any) -> HandlerError:
    result.close()
    return HandlerError("record_handler returned a coroutine that nobody awaited: define it with "
                        "'async def' so batchmap runs it on an event loop")


def run_in_order(records: list[dict[str, Any]], view: type[Record], handler: Callable[[Any], object],
                 outcomes: list[object], units: list[Hashable] | None, guard: Guard | None,
                 on_failure: FailureHook) -> None:
    """One record at a time, in event order: the fast path for ``concurrency=1``."""
    stopped: set[Hashable] = set()
    pressure = 0
    ok = OK
    for position, raw in enumerate(records):
        if guard is not None:
            reason = guard.check()
            if reason is not None:
                outcomes[position:] = [reason] * (len(records) - position)
                return
            if guard.pressure != pressure:
                pressure = guard.pressure
                relieve(outcomes)
        if stopped and units is not None and units[position] in stopped:
            outcomes[position] = STOPPED
            continue
        try:
            result = handler(view(raw))
            if result is not None and type(result) is CoroutineType:
                raise _not_awaited(result)
        except Exception as error:
            outcomes[position] = error
            on_failure(position, error)
            if isinstance(error, BatchAbortedError):
                outcomes[position + 1:] = [ABORTED] * (len(records) - position - 1)
                return
            if units is not None:
                stopped.add(units[position])
        else:
            outcomes[position] = ok


def run_on_threads(records: list[dict[str, Any]], view: type[Record], handler: Callable[[Any], object],
                   outcomes: list[object], ordering: Ordering, concurrency: int, guard: Guard | None,
                   on_failure: FailureHook) -> None:
    """At most ``concurrency`` records at once on pooled threads."""
    import threading

    from batchmap.handler.pool import worker_pool
    from batchmap.handler.scheduler import Scheduler

    if ordering.units is None and ordering.lanes is None:
        _Unordered(records, view, handler, outcomes, concurrency, guard, on_failure).run()
        return

    scheduler = Scheduler(outcomes, ordering, concurrency, guard)
    lock = threading.Lock()
    step = scheduler.step

    def work() -> None:
        with lock:
            position = step(-1, None)
        while position >= 0:
            error: BaseException | None = None
            try:
                result = handler(view(records[position]))
                if result is not None and type(result) is CoroutineType:
                    raise _not_awaited(result)
            except Exception as exc:
                error = exc
                on_failure(position, exc)
            with lock:
                position = step(position, error)

    worker_pool().run(work, min(concurrency, len(records)))


class _Unordered:
    """No lanes, no stop units (SQS standard): workers share one position iterator and no lock.

    ``next()`` on a range iterator and a list store are atomic under the GIL, so
    the only per-record cost is the record itself; a lock here queues up 100
    threads behind whichever one the interpreter switched away from inside it.
    Each worker checks the guard before taking a record; under memory pressure
    the workers whose slot is at or above the lowered limit stop there.
    """

    def __init__(self, records: list[dict[str, Any]], view: type[Record], handler: Callable[[Any], object],
                 outcomes: list[object], concurrency: int, guard: Guard | None,
                 on_failure: FailureHook) -> None:
        from itertools import count

        self.records, self.view, self.handler, self.outcomes = records, view, handler, outcomes
        self.guard, self.on_failure = guard, on_failure
        self.positions = iter(range(len(records)))
        self.slots = count()
        self.limit = concurrency
        self.pressure = 0

    def run(self) -> None:
        from batchmap.handler.pool import worker_pool

        worker_pool().run(self._work, min(self.limit, len(self.records)))

    def _drain(self, reason: object) -> None:
        for position in self.positions:
            self.outcomes[position] = reason

    def _admitted(self, slot: int) -> bool:
        guard = self.guard
        if guard is not None:
            reason = guard.check()
            if reason is not None:
                self._drain(reason)
                return False
            if guard.pressure != self.pressure:
                self.pressure = guard.pressure
                self.limit = max(1, self.limit // 2)
                relieve(self.outcomes)
        return slot < self.limit

    def _work(self) -> None:
        slot = next(self.slots)
        records, view, handler, outcomes, positions = (self.records, self.view, self.handler, self.outcomes,
                                                       self.positions)
        while self._admitted(slot):
            position = next(positions, -1)
            if position < 0:
                return
            try:
                result = handler(view(records[position]))
                if result is not None and type(result) is CoroutineType:
                    raise _not_awaited(result)
            except Exception as exc:
                outcomes[position] = exc
                self.on_failure(position, exc)
                if isinstance(exc, BatchAbortedError):
                    self._drain(ABORTED)
                    return
            else:
                outcomes[position] = OK
