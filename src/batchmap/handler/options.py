"""The options of a batch run, validated once (at decoration time for ``batch_handler``).

Every option is an explicit keyword of ``process_batch``, ``run_batch``,
``arun_batch`` and ``batch_handler``; this value carries them together and
rejects bad values with a ``ConfigError`` naming the option and the value.
"""

from __future__ import annotations

from batchmap.errors import ConfigError
from batchmap.handler.emf import EmfMetrics
from batchmap.handler.memory import MemoryBudget
from batchmap.records.value import Value, set_field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from logging import Logger
    from typing import Literal

    Concurrency = int | Literal["auto"]

DEFAULT_DEADLINE_MARGIN_MS = 1000.0
"""Stop starting records when less than this remains before the Lambda timeout."""
DEFAULT_MEMORY = MemoryBudget()
"""Soft 75 %, hard 90 % of the function's memory size (off when the context does not say it)."""


class BatchOptions(Value):
    """How to run a batch; see ``process_batch`` for the meaning of each option."""

    __slots__ = ("concurrency", "deadline_margin_ms", "fifo_strict", "logger", "memory", "metrics",
                 "raise_on_full_failure", "stream_continue_other_keys")

    concurrency: Concurrency
    fifo_strict: bool
    stream_continue_other_keys: bool
    raise_on_full_failure: bool
    deadline_margin_ms: float | None
    memory: MemoryBudget | None
    metrics: EmfMetrics | None
    logger: Logger | None

    def __init__(self, *, concurrency: Concurrency = 1, fifo_strict: bool = False,
                 stream_continue_other_keys: bool = False, raise_on_full_failure: bool = False,
                 deadline_margin_ms: float | None = DEFAULT_DEADLINE_MARGIN_MS,
                 memory: MemoryBudget | None = DEFAULT_MEMORY, metrics: EmfMetrics | bool = False,
                 logger: Logger | None = None) -> None:
        if concurrency != "auto" and (type(concurrency) is not int or concurrency < 1):
            raise ConfigError("concurrency", concurrency, "a whole number >= 1, or 'auto'")
        flags = (("fifo_strict", fifo_strict), ("stream_continue_other_keys", stream_continue_other_keys),
                 ("raise_on_full_failure", raise_on_full_failure))
        for name, flag in flags:
            if type(flag) is not bool:
                raise ConfigError(name, flag, "True or False")
        if deadline_margin_ms is not None and (
                isinstance(deadline_margin_ms, bool) or not isinstance(deadline_margin_ms, int | float)
                or not deadline_margin_ms >= 0):
            raise ConfigError("deadline_margin_ms", deadline_margin_ms,
                              "milliseconds >= 0, or None to ignore the deadline")
        if memory is not None and not isinstance(memory, MemoryBudget):
            raise ConfigError("memory", memory, "a MemoryBudget, or None for no budget")
        if not isinstance(metrics, bool | EmfMetrics):
            raise ConfigError("metrics", metrics, "True, False or an EmfMetrics")
        if logger is not None and not callable(getattr(logger, "error", None)):
            raise ConfigError("logger", logger, "a logging.Logger, or None for the 'batchmap.handler' logger")
        set_field(self, "concurrency", concurrency)
        set_field(self, "fifo_strict", fifo_strict)
        set_field(self, "stream_continue_other_keys", stream_continue_other_keys)
        set_field(self, "raise_on_full_failure", raise_on_full_failure)
        set_field(self, "deadline_margin_ms", None if deadline_margin_ms is None else float(deadline_margin_ms))
        set_field(self, "memory", memory)
        set_field(self, "metrics", EmfMetrics() if metrics is True else metrics or None)
        set_field(self, "logger", logger)


DEFAULT_OPTIONS = BatchOptions()


def make_options(concurrency: Concurrency, fifo_strict: bool, stream_continue_other_keys: bool,
                 raise_on_full_failure: bool, deadline_margin_ms: float | None, memory: MemoryBudget | None,
                 metrics: EmfMetrics | bool, logger: Logger | None) -> BatchOptions:
    """``BatchOptions`` from explicit keywords; the shared default value when every one is the default."""
    if (type(concurrency) is int and concurrency == 1 and fifo_strict is False
            and stream_continue_other_keys is False and raise_on_full_failure is False
            and deadline_margin_ms == DEFAULT_DEADLINE_MARGIN_MS and type(deadline_margin_ms) is float
            and memory is DEFAULT_MEMORY and metrics is False and logger is None):
        return DEFAULT_OPTIONS
    return BatchOptions(concurrency=concurrency, fifo_strict=fifo_strict,
                        stream_continue_other_keys=stream_continue_other_keys,
                        raise_on_full_failure=raise_on_full_failure, deadline_margin_ms=deadline_margin_ms,
                        memory=memory, metrics=metrics, logger=logger)
