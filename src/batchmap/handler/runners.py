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
