"""``@batch_handler(...)``: turn ``def handle(record)`` (or ``async def``) into a Lambda handler.

The options are validated once, when the module is imported (the Lambda init
phase), so a typo fails the deployment's first cold start instead of every batch.
"""

from __future__ import annotations

from batchmap.errors import ConfigError
from batchmap.handler.options import DEFAULT_DEADLINE_MARGIN_MS, DEFAULT_MEMORY, make_options
from batchmap.handler.processor import respond_batch

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from logging import Logger
    from typing import Any, overload

    from batchmap.handler.emf import EmfMetrics
    from batchmap.handler.memory import MemoryBudget
    from batchmap.handler.options import Concurrency
    from batchmap.records.wire import PartialBatchResponse

    RecordHandler = Callable[[Any], Any]
    LambdaHandler = Callable[[Any, Any], PartialBatchResponse]
else:
    def overload(function):
        return function


@overload
def batch_handler(record_handler: RecordHandler, /) -> LambdaHandler: ...


@overload  # the runtime stand-in above hides typing.overload from ruff, hence the noqa below
def batch_handler(*,  # noqa: F811 concurrency: Concurrency = 1, fifo_strict: bool = False,
                  stream_continue_other_keys: bool = False, raise_on_full_failure: bool = False,
                  deadline_margin_ms: float | None = DEFAULT_DEADLINE_MARGIN_MS,
                  memory: MemoryBudget | None = DEFAULT_MEMORY, metrics: EmfMetrics | bool = False,
                  logger: Logger | None = None) -> Callable[[RecordHandler], LambdaHandler]: ...


def batch_handler(record_handler: RecordHandler | None = None, /, *, concurrency: Concurrency = 1,  # noqa: F811
                  fifo_strict: bool = False, stream_continue_other_keys: bool = False,
                  raise_on_full_failure: bool = False,
                  deadline_margin_ms: float | None = DEFAULT_DEADLINE_MARGIN_MS,
                  memory: MemoryBudget | None = DEFAULT_MEMORY, metrics: EmfMetrics | bool = False,
                  logger: Logger | None = None) -> LambdaHandler | Callable[[RecordHandler], LambdaHandler]:
    """Decorate a record handler into ``handler(event, context) -> {"batchItemFailures": [...]}``.

    Use as ``@batch_handler`` or ``@batch_handler(concurrency=10, ...)``; the
    options are those of ``process_batch``. The original function stays
    reachable as ``handler.record_handler``.
    """
    options = make_options(concurrency, fifo_strict, stream_continue_other_keys, raise_on_full_failure,
                           deadline_margin_ms, memory, metrics, logger)

    def decorate(function: RecordHandler) -> LambdaHandler:
        if not callable(function):
            raise ConfigError("record_handler", function, "a callable taking one record")

        def handler(event: Any, context: Any = None) -> PartialBatchResponse:
            return respond_batch(event, function, context, options)

        for name in ("__module__", "__name__", "__qualname__", "__doc__"):
            if hasattr(function, name):
                setattr(handler, name, getattr(function, name))
        handler.__wrapped__ = function  # type: ignore[attr-defined]
        handler.record_handler = function  # type: ignore[attr-defined]
        return handler

    return decorate if record_handler is None else decorate(record_handler)
