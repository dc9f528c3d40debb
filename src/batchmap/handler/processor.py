"""``process_batch`` and friends: a batch event in, per-record outcomes and Lambda's response out.

The flow: scan the event (``batchmap.records``), pick the strategy, label
stop units and lanes (``ordering``), run the records (in order, on threads, or
on an event loop) under the deadline and memory guard, then turn the outcomes
into exactly the ``batchItemFailures`` Lambda needs. Nothing here keeps state
between calls: every batch gets fresh outcomes, scheduler and logs.
"""

from __future__ import annotations

from time import perf_counter

from batchmap.errors import BatchAbortedError, BatchFailedError, ConfigError
from batchmap.handler.guard import make_guard
from batchmap.handler.options import DEFAULT_DEADLINE_MARGIN_MS, DEFAULT_MEMORY, make_options
from batchmap.handler.ordering import plan_ordering, reported_positions
from batchmap.handler.report import FailureLog
from batchmap.handler.result import ABORTED, OK, UNPROCESSED, BatchResult
from batchmap.handler.router import Router, is_async_callable
from batchmap.handler.runners import run_in_order, run_on_threads
from batchmap.handler.strategy import analyse, choose, fixed
from batchmap.records.event import scan_event
from batchmap.records.response import batch_response

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from logging import Logger
    from typing import Any

    from batchmap.handler.emf import EmfMetrics
    from batchmap.handler.guard import Guard
    from batchmap.handler.memory import MemoryBudget
    from batchmap.handler.options import BatchOptions, Concurrency
    from batchmap.handler.ordering import Ordering
    from batchmap.handler.strategy import Analysis, Strategy
    from batchmap.records.wire import PartialBatchResponse

    RecordHandler = Callable[[Any], Any]


class BatchRun:
    """One batch in flight: everything the runners and the response need (internal to the toolkit)."""

    __slots__ = ("_aborted", "analysis", "context", "guard", "is_async", "log", "options", "ordering",
                 "outcomes", "scan", "started", "strategy")

    def __init__(self, event: object, handler: RecordHandler, context: object, options: BatchOptions) -> None:
        self.started = perf_counter()
        if not callable(handler):
            raise ConfigError("record_handler", handler, "a callable taking one record")
        self.options = options
        self.context = context
        self._aborted = False
        self.scan = scan = scan_event(event, strict=False)
        self.is_async = is_async_callable(handler)
        self.log = FailureLog(options.logger, scan)
        self.analysis: Analysis | None = None
        self.strategy: Strategy
        self.ordering: Ordering
        strict, other_keys = options.fifo_strict, options.stream_continue_other_keys
        if options.concurrency == "auto":
            self.ordering = plan_ordering(scan, fifo_strict=strict, continue_other_keys=other_keys,
                                          lanes=True)
            type_of = handler.type_of if isinstance(handler, Router) else None
            self.analysis = analyse(scan, self.ordering.lanes, type_of, self.is_async)
            self.strategy = choose(self.analysis)
            self.log.strategy(self.analysis, self.strategy)
        else:
            self.strategy = fixed(options.concurrency)
            self.ordering = plan_ordering(scan, fifo_strict=strict, continue_other_keys=other_keys,
                                          lanes=options.concurrency > 1)
        self.guard: Guard | None = make_guard(context, options.deadline_margin_ms, options.memory)
        self.outcomes: list[object] = [UNPROCESSED] * len(scan.records)

    def on_failure(self, position: int, error: BaseException) -> None:
        """A record raised: note it for the batch's log line; above the soft memory threshold, drop its
        traceback (the first of each error type is already formatted)."""
        self.log.failed(position, error)
        if isinstance(error, BatchAbortedError):
            self._aborted = True
        if self.guard is not None and self.guard.strained:
            error.__traceback__ = None

    def run_sync(self, handler: RecordHandler) -> None:
        scan, concurrency = self.scan, self.strategy.concurrency
        if self.is_async:
            from batchmap.handler.aio import run_async

            run_async(scan.records, scan.view, handler, self.outcomes, self.ordering, concurrency, self.guard,
                      self.on_failure)
        elif concurrency == 1:
            run_in_order(scan.records, scan.view, handler, self.outcomes, self.ordering.units, self.guard,
                         self.on_failure)
        else:
            run_on_threads(scan.records, scan.view, handler, self.outcomes, self.ordering, concurrency,
                           self.guard, self.on_failure)

    def finish(self) -> BatchResult:
        """Every outcome settled: the ``BatchResult`` (metrics written, full failure raised if asked)."""
        reported = self._reported()
        return self._result(reported, self._response(reported))

    def finish_response(self) -> PartialBatchResponse:
        """``finish().response``, without building the result when nothing needs it (the hot path)."""
        reported = self._reported()
        response = self._response(reported)
        options = self.options
        full_failure = len(reported) == len(self.outcomes)
        if options.metrics is None and not (options.raise_on_full_failure and full_failure):
            return response
        return self._result(reported, response).response

    def was_aborted(self) -> bool:
        """Whether ``abort()`` was called or a record raised ``BatchAbortedError``."""
        return self._aborted

    def abort(self) -> None:
        """Report every record, even those that ran (their work was undone: a rolled-back transaction)."""
        self._aborted = True

    def _reported(self) -> list[int]:
        outcomes = self.outcomes
        if self._aborted:
            outcomes[:] = [ABORTED if o is OK else o for o in outcomes]
        reported = reported_positions(outcomes, self.ordering)
        if reported:
            self.log.summary(outcomes, reported)
        return reported

    def _response(self, reported: list[int]) -> PartialBatchResponse:
        identifier = self.scan.identifier
        return batch_response([identifier(i) for i in reported])

    def _result(self, reported: list[int], response: PartialBatchResponse) -> BatchResult:
        scan = self.scan
        result = BatchResult(response=response, kind=scan.kind, event_source=scan.event_source,
                             strategy=self.strategy, analysis=self.analysis,
                             elapsed_ms=(perf_counter() - self.started) * 1000, records=scan.records,
                             view=scan.view, outcomes=self.outcomes, reported=reported)
        if self.options.metrics is not None:
            self.options.metrics.emit(result, self.context)
        if self.options.raise_on_full_failure and result.all_failed:
            raise BatchFailedError(dict(response), result.errors)
        return result

def execute_batch(event: object, record_handler: RecordHandler, context: object,
                  options: BatchOptions) -> BatchResult:
    """Run a batch with options validated beforehand (``batch_handler`` validates them once)."""
    run = BatchRun(event, record_handler, context, options)
    run.run_sync(record_handler)
    return run.finish()


def respond_batch(event: object, record_handler: RecordHandler, context: object,
                  options: BatchOptions) -> PartialBatchResponse:
    """``execute_batch(...).response``, cheaper: the path of ``process_batch`` and ``batch_handler``."""
    run = BatchRun(event, record_handler, context, options)
    run.run_sync(record_handler)
    return run.finish_response()


async def execute_batch_async(event: object, record_handler: RecordHandler, context: object,
                              options: BatchOptions) -> BatchResult:
    """``execute_batch`` from inside a running event loop."""
    run = BatchRun(event, record_handler, context, options)
    if run.is_async:
        from batchmap.handler.aio import run_on_loop

        scan = run.scan
        await run_on_loop(scan.records, scan.view, record_handler, run.outcomes, run.ordering,
                          run.strategy.concurrency, run.guard, run.on_failure)
    else:
        import asyncio

        await asyncio.to_thread(run.run_sync, record_handler)
    return run.finish()


def process_batch(event: object, record_handler: RecordHandler, context: object = None, *,
                  concurrency: Concurrency = 1, fifo_strict: bool = False,
                  stream_continue_other_keys: bool = False, raise_on_full_failure: bool = False,
                  deadline_margin_ms: float | None = DEFAULT_DEADLINE_MARGIN_MS,
                  memory: MemoryBudget | None = DEFAULT_MEMORY, metrics: EmfMetrics | bool = False,
                  logger: Logger | None = None) -> PartialBatchResponse:
    """Run ``record_handler(record)`` over the batch; return ``{"batchItemFailures": [...]}`` for Lambda.

    ``record_handler`` gets one typed record (``SQSRecord``, ``KinesisRecord``,
    ``DynamoDBRecord``, ``KafkaRecord``); it may be ``async def``. A record that
    raises is reported; what else is reported depends on the source
    (``docs/handler.md``). Options:

    * ``concurrency``: records in flight at once (threads for sync handlers,
      tasks for async ones), or ``"auto"`` to choose from the batch; records
      with the same ``.key`` always run one at a time, in order.
    * ``fifo_strict``: SQS FIFO, stop the whole batch at the first failure (AWS's
      rule) instead of only the failed message group.
    * ``stream_continue_other_keys``: Kinesis, DynamoDB Streams, Kafka: keep
      processing other partition keys after a failure instead of stopping.
    * ``raise_on_full_failure``: raise ``BatchFailedError`` when every record
      is reported, instead of returning the full list.
    * ``deadline_margin_ms``: start no record once less than this remains
      before the Lambda timeout; the rest are reported. ``None``: no deadline.
    * ``memory``: a ``MemoryBudget`` (default: 75 %/90 % of the function's
      memory); ``None``: no budget.
    * ``metrics``: ``True`` or an ``EmfMetrics`` for one CloudWatch EMF line per batch.
    * ``logger``: where the batch's failure line goes (default: the ``batchmap.handler`` logger).
    """
    options = make_options(concurrency, fifo_strict, stream_continue_other_keys, raise_on_full_failure,
                           deadline_margin_ms, memory, metrics, logger)
    return respond_batch(event, record_handler, context, options)


def run_batch(event: object, record_handler: RecordHandler, context: object = None, *,
              concurrency: Concurrency = 1, fifo_strict: bool = False,
              stream_continue_other_keys: bool = False, raise_on_full_failure: bool = False,
              deadline_margin_ms: float | None = DEFAULT_DEADLINE_MARGIN_MS,
              memory: MemoryBudget | None = DEFAULT_MEMORY, metrics: EmfMetrics | bool = False,
              logger: Logger | None = None) -> BatchResult:
    """``process_batch`` returning the whole ``BatchResult`` (``.response``, ``.results``, ...)."""
    options = make_options(concurrency, fifo_strict, stream_continue_other_keys, raise_on_full_failure,
                           deadline_margin_ms, memory, metrics, logger)
    return execute_batch(event, record_handler, context, options)


async def arun_batch(event: object, record_handler: RecordHandler, context: object = None, *,
                     concurrency: Concurrency = 1, fifo_strict: bool = False,
                     stream_continue_other_keys: bool = False, raise_on_full_failure: bool = False,
                     deadline_margin_ms: float | None = DEFAULT_DEADLINE_MARGIN_MS,
                     memory: MemoryBudget | None = DEFAULT_MEMORY, metrics: EmfMetrics | bool = False,
                     logger: Logger | None = None) -> BatchResult:
    """``run_batch`` for code already inside an event loop (sync handlers run off the loop, on a thread)."""
    options = make_options(concurrency, fifo_strict, stream_continue_other_keys, raise_on_full_failure,
                           deadline_margin_ms, memory, metrics, logger)
    return await execute_batch_async(event, record_handler, context, options)
