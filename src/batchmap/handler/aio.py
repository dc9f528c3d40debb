"""Running the records of a batch with an ``async def`` handler on an event loop.

``concurrency`` worker coroutines share one ``Scheduler``: each awaits its
record, then takes the next one, so at most N records are in flight and a new
one starts the moment one finishes. One coroutine per worker, not per record,
keeps the per-record cost to a single ``await``. Imported only when a batch
has an async handler (``asyncio`` is a large import).
"""

from __future__ import annotations

import asyncio

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
    asyncio.run(run_on_loop(records, view, handler, outcomes, ordering, concurrency, guard, on_failure))
