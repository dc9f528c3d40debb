"""The memory budget: slow down above a soft threshold, stop cleanly near the hard limit.

Lambda kills a function that exceeds its memory size, and a killed invocation
fails its whole batch. The budget measures the process's resident memory
(``/proc/self/statm``; the peak from ``getrusage`` where there is no ``/proc``)
at most every ``check_interval_ms`` between records:

* above ``soft`` (a fraction of the limit) the concurrency is halved and the
  references batchmap still holds to finished records are dropped (the
  tracebacks of failed records: the first of each type is already formatted),
  then the garbage collector runs; this repeats at most every 0.25 s while
  memory stays above ``soft``, and records failing meanwhile keep no traceback.
  The collections are paced for the whole process: one that took *t* seconds
  is not repeated within the next 9 *t* seconds, so they take at most a tenth
  of the time however large the heap (back to back, a heap whose collection
  outlasts the 0.25 s would collect before every record);
* above ``hard`` no record is started any more: the rest are reported as
  failures, so Lambda delivers them again, instead of the process being killed.
"""

from __future__ import annotations

import os
from _thread import allocate_lock  # not threading: the cold-start path imports no threading
from time import monotonic

from batchmap.errors import ConfigError
from batchmap.records.value import Value, set_field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_bytes() -> int:
    """Resident set size of this process, in bytes."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except OSError:
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


class MemoryBudget(Value):
    """How much memory a batch may use, and what to do as it fills.

    ``limit_mb`` defaults to the Lambda context's ``memory_limit_in_mb``; with
    neither, the budget is off. ``soft`` and ``hard`` are fractions of the
    limit; ``probe`` returns the bytes in use (``resident_bytes`` by default).
    """

    __slots__ = ("check_interval_ms", "hard", "limit_mb", "probe", "soft")

    limit_mb: float | None
    soft: float
    hard: float
    check_interval_ms: float
    probe: Callable[[], int]

    def __init__(self, limit_mb: float | None = None, *, soft: float = 0.75, hard: float = 0.9,
                 check_interval_ms: float = 10.0, probe: Callable[[], int] | None = None) -> None:
        if limit_mb is not None and not limit_mb > 0:
            raise ConfigError("limit_mb", limit_mb, "megabytes > 0, or None for the context's memory size")
        if not 0 < soft < hard <= 1:
            raise ConfigError("soft", (soft, hard), "0 < soft < hard <= 1 (fractions of the limit)")
        if not check_interval_ms >= 0:
            raise ConfigError("check_interval_ms", check_interval_ms, ">= 0 (0 checks before every record)")
        set_field(self, "limit_mb", limit_mb)
        set_field(self, "soft", soft)
        set_field(self, "hard", hard)
        set_field(self, "check_interval_ms", check_interval_ms)
        set_field(self, "probe", probe or resident_bytes)

    def limit_bytes(self, context: object) -> int | None:
        """The limit for this invocation: ``limit_mb``, else the context's memory size, else ``None``.

        A context that says its process is shared (the engine's in-process invoker) sets no limit: the
        process's memory is mostly the engine's, so measuring it against the function's size would
        stop every record."""
        limit = self.limit_mb
        if limit is None:
            if getattr(context, "shared_process", False) is True:
                return None
            size = getattr(context, "memory_limit_in_mb", None)
            if size is None:
                return None
            try:
                limit = float(size)
            except (TypeError, ValueError):
                return None
        return int(limit * 1024 * 1024)


COLLECTION_SHARE = 0.1
"""The most of the process's time that relief's garbage collections may take."""


class _Pace:
    """When relief may next collect garbage: shared by every batch and thread of the process."""

    next_at = 0.0
    collecting = allocate_lock()
    """Held by the one thread collecting: another relieving meanwhile does not collect as well."""


def relieve(outcomes: list[object]) -> None:
    """Drop what batchmap holds for finished records (tracebacks, the first of each type formatted) and collect
    garbage, unless the last collection was too recent for its cost."""
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            outcome.__traceback__ = None
    if monotonic() < _Pace.next_at or not _Pace.collecting.acquire(blocking=False):
        return
    try:
        started = monotonic()
        if started >= _Pace.next_at:  # no other thread collected between the look and the lock
            import gc

            gc.collect()
            _Pace.next_at = started + (monotonic() - started) / COLLECTION_SHARE
    finally:
        _Pace.collecting.release()
