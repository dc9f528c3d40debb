"""A process-wide pool of idle worker threads, kept across warm invocations.

Starting a thread costs about 100 µs (more while other threads compete for
the GIL), so starting 100 of them for every batch would eat the whole budget
of a 1,000-record batch of 1 ms calls. The pool keeps threads that finished a
batch blocked on an empty queue, holding no batch state; a batch borrows as
many as it needs (starting more only when too few are idle) and gets them back
when its ``run`` returns. After ``fork`` the child starts with an empty pool.

Threads start through ``_thread.start_new_thread``, which does not wait for
the new thread to report in as ``threading.Thread.start`` does: 100 threads
start in about 4 ms instead of 15 to 60 ms on a busy two-core machine, which
is most of a cold batch. They behave as daemon threads (never joined at exit).
"""

from __future__ import annotations

import _thread
import os
import threading
from _queue import SimpleQueue

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


class WorkerPool:
    """Runs a task on N threads at once and waits for all of them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tasks: SimpleQueue[Callable[[], None]] = SimpleQueue()
        self._idle = 0
        self._started = 0

    @property
    def threads(self) -> int:
        """How many worker threads this pool has started."""
        return self._started

    def run(self, task: Callable[[], None], copies: int) -> None:
        """Run ``task`` on ``copies`` threads concurrently; re-raise the first exception it raised."""
        remaining = [copies]
        done = threading.Lock()
        done.acquire()
        raised: list[BaseException] = []

        def wrapped() -> None:
            try:
                task()
            except BaseException as exc:  # handed to the caller's thread below
                raised.append(exc)
            finally:
                with self._lock:
                    self._idle += 1
                    remaining[0] -= 1
                    if remaining[0] == 0:
                        done.release()

        with self._lock:
            missing = copies - self._idle
            self._idle = max(0, self._idle - copies)
            for _ in range(missing):
                self._start_thread()
        for _ in range(copies):
            self._tasks.put(wrapped)
        done.acquire()
        if raised:
            raise raised[0]

    def _start_thread(self) -> None:
        self._started += 1
        _thread.start_new_thread(self._serve, ())

    def _serve(self) -> None:
        get = self._tasks.get
        while True:
            get()()


_POOL: WorkerPool | None = None
_POOL_LOCK = threading.Lock()


def worker_pool() -> WorkerPool:
    """The process's pool, created on first use."""
    global _POOL
    if _POOL is None:
        with _POOL_LOCK:
            if _POOL is None:
                _POOL = WorkerPool()
    return _POOL


def _forget_pool() -> None:
    global _POOL, _POOL_LOCK
    _POOL = None
    _POOL_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)
