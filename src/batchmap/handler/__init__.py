"""The in-Lambda toolkit: run a handler over a batch event, return the exact partial-batch response.

Standard library only; imports nothing of batchmap but ``records`` and
``errors``. Names load on first use, so a cold start pays only for what the
function touches::

    from batchmap.handler import batch_handler

    @batch_handler(concurrency=10)
    def handler(record):
        save(record.json())
"""

from __future__ import annotations

from batchmap.lazy import lazy_exports

TYPE_CHECKING = False
if TYPE_CHECKING:
    from batchmap.handler.connection import ConnectionCache
    from batchmap.handler.decorator import batch_handler
    from batchmap.handler.emf import EmfMetrics
    from batchmap.handler.kafka_schemas import ConsumerRecord, SchemaConfig, decode_with
    from batchmap.handler.memory import MemoryBudget
    from batchmap.handler.options import BatchOptions
    from batchmap.handler.processor import arun_batch, process_batch, run_batch
    from batchmap.handler.result import BatchResult, RecordResult
    from batchmap.handler.router import Router
    from batchmap.handler.strategy import Analysis, Strategy
    from batchmap.handler.transaction import process_batch_in_transaction, run_batch_in_transaction

_HOME = {
    "process_batch": "processor", "run_batch": "processor", "arun_batch": "processor",
    "batch_handler": "decorator", "BatchOptions": "options", "BatchResult": "result",
    "RecordResult": "result", "Router": "router", "Analysis": "strategy", "Strategy": "strategy",
    "MemoryBudget": "memory", "EmfMetrics": "emf", "ConnectionCache": "connection",
    "process_batch_in_transaction": "transaction", "run_batch_in_transaction": "transaction",
    "ConsumerRecord": "kafka_schemas", "SchemaConfig": "kafka_schemas", "decode_with": "kafka_schemas",
}

__all__ = [
    "Analysis", "BatchOptions", "BatchResult", "ConnectionCache", "ConsumerRecord", "EmfMetrics", "MemoryBudget",
    "RecordResult", "Router", "SchemaConfig", "Strategy", "arun_batch", "batch_handler", "decode_with",
    "process_batch", "process_batch_in_transaction", "run_batch", "run_batch_in_transaction",
]

__getattr__, __dir__ = lazy_exports(globals(), _HOME, __all__)
