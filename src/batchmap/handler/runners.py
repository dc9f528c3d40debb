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
            if type(result) is CoroutineType:
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
            outcomes[position] = OK


def run_on_threads(records: list[dict[str, Any]], view: type[Record], handler: Callable[[Any], object],
                   outcomes: list[object], ordering: Ordering, concurrency: int, guard: Guard | None,
                   on_failure: FailureHook) -> None:
    """At most ``concurrency`` records at once on pooled threads."""
    import threading

    from batchmap.handler.pool import worker_pool
    from batchmap.handler.scheduler import Scheduler

    if ordering.units is None and ordering.lanes is None:
        _run_unordered(records, view, handler, outcomes, concurrency, guard, on_failure)
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
                if type(result) is CoroutineType:
                    raise _not_awaited(result)
            except Exception as exc:
                error = exc
                on_failure(position, exc)
            with lock:
                position = step(position, error)

    worker_pool().run(work, min(concurrency, len(records)))


def _run_unordered(records: list[dict[str, Any]], view: type[Record], handler: Callable[[Any], object],
                   outcomes: list[object], concurrency: int, guard: Guard | None, on_failure: FailureHook) -> None:
    """No lanes, no stop units (SQS standard): workers share one position iterator and no lock.

    ``next()`` on a range iterator and a list store are atomic under the GIL, so
    the only per-record cost is the record itself; a lock here queues up 100
    threads behind whichever one the interpreter switched away from inside it.
    Under memory pressure the worker slots at or above the lowered limit stop
    after their current record.
    """
    from itertools import count

    from batchmap.handler.pool import worker_pool

    positions = iter(range(len(records)))
    slots = count()
    state = {"limit": concurrency, "pressure": 0}

    def drain(reason: object) -> None:
        for position in positions:
            outcomes[position] = reason

    def work() -> None:
        slot = next(slots)
        for position in positions:
            if guard is not None:
                reason = guard.check()
                if reason is not None:
                    outcomes[position] = reason
                    drain(reason)
                    return
                if guard.pressure != state["pressure"]:
                    state["pressure"] = guard.pressure
                    state["limit"] = max(1, state["limit"] // 2)
                    relieve(outcomes)
            try:
                result = handler(view(records[position]))
                if type(result) is CoroutineType:
                    raise _not_awaited(result)
            except Exception as exc:
                outcomes[position] = exc
                on_failure(position, exc)
                if isinstance(exc, BatchAbortedError):
                    drain(ABORTED)
                    return
            else:
                outcomes[position] = OK
            if slot >= state["limit"]:
                return

    worker_pool().run(work, min(concurrency, len(records)))
