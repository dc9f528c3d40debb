"""Running the records of a batch with an ``async def`` handler on an event loop.

``concurrency`` worker coroutines share one ``Scheduler``: each awaits its
record, then takes the next one, so at most N records are in flight and a new
one starts the moment one finishes. One coroutine per worker, not per record,
keeps the per-record cost to a single ``await``. Imported only when a batch
has an async handler (``asyncio`` is a large import).

The loop ``process_batch`` starts for an async handler waits with sub-millisecond
precision: epoll waits in whole milliseconds, rounding up, so each timer a
little under a millisecond away cost a full one, and 100 concurrent
``asyncio.sleep(0.001)`` calls took 1.5-2 ms a round instead of 1.
"""

from __future__ import annotations

import asyncio
import select
import selectors

from batchmap.handler.scheduler import Scheduler

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from typing import Any

    from batchmap.handler.guard import Guard
    from batchmap.handler.ordering import Ordering
    from batchmap.records.record import Record


async def run_on_loop(records: list[dict[str, Any]], view: type[Record],
                      handler: Callable[[Any], Awaitable[object]], outcomes: list[object], ordering: Ordering,
                      concurrency: int, guard: Guard | None,
                      on_failure: Callable[[int, BaseException], None]) -> None:
    """At most ``concurrency`` records at once on the running loop."""
    scheduler = Scheduler(outcomes, ordering, concurrency, guard)
    step = scheduler.step

    async def work() -> None:
        position = step(-1, None)
        while position >= 0:
            error: BaseException | None = None
            try:
                await handler(view(records[position]))
            except Exception as exc:
                error = exc
                on_failure(position, exc)
            position = step(position, error)

    workers = min(concurrency, len(records))
    if workers == 1:
        await work()
    else:
        async with asyncio.TaskGroup() as group:
            for _ in range(workers):
                group.create_task(work())


_PRECISE_BELOW_S = 0.01
"""Waits shorter than this are timed by ``select.select`` (microseconds), not epoll (milliseconds)."""
_FD_SETSIZE = 1024
"""``select.select`` takes descriptors below this only."""


class _PreciseSelector(selectors.DefaultSelector):
    """The platform's selector, but a short wait sleeps on its descriptor through ``select.select``."""

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is not None and 0 < timeout < _PRECISE_BELOW_S:
            fd = self.fileno()
            if fd < _FD_SETSIZE:
                select.select((fd,), (), (), timeout)  # readable once any registered descriptor is
                timeout = 0
        events: list[tuple[selectors.SelectorKey, int]] = super().select(timeout)
        return events


def _new_loop() -> asyncio.AbstractEventLoop:
    """An event loop with the precise selector where the platform's selector has a descriptor (epoll, kqueue)."""
    if hasattr(selectors.DefaultSelector, "fileno"):
        return asyncio.SelectorEventLoop(_PreciseSelector())
    return asyncio.new_event_loop()


def run_async(records: list[dict[str, Any]], view: type[Record], handler: Callable[[Any], Awaitable[object]],
              outcomes: list[object], ordering: Ordering, concurrency: int, guard: Guard | None,
              on_failure: Callable[[int, BaseException], None]) -> None:
    """``run_on_loop`` on a fresh event loop, for callers outside any loop (a Lambda handler)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        from batchmap.errors import HandlerError

        raise HandlerError("an async record_handler cannot be run by process_batch/run_batch from inside a "
                           "running event loop: use 'await arun_batch(...)' instead")
    with asyncio.Runner(loop_factory=_new_loop) as runner:  # what asyncio.run does, with that loop
        runner.run(run_on_loop(records, view, handler, outcomes, ordering, concurrency, guard, on_failure))
