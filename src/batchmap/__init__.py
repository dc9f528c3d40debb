"""batchmap: Lambda-grade batch processing for Python, anywhere.

The curated public API. Names load on first use, so ``import batchmap`` inside
a Lambda function costs almost nothing and never imports the engine, a broker
client or anything outside the standard library until it is used::

    from batchmap import batch_handler          # the handler toolkit (stdlib only)

    @batch_handler(concurrency=10)
    def handler(record):
        save(record.json())

    from batchmap import Engine, EventSourceMapping   # the engine (an ESM you run yourself)
"""

from __future__ import annotations

from batchmap.errors import (
    BatchAbortedError,
    BatchFailedError,
    BatchmapError,
    BrokerError,
    ConfigError,
    DestinationError,
    EventError,
    FilterError,
    FunctionLoadError,
    HandlerError,
    LeaseLostError,
    MappingFailedError,
    MeasurementError,
    MissingExtraError,
    RecordError,
    SchemaDecodeError,
    SettleError,
    SourceError,
    TemplateError,
    UnknownEventSourceError,
    UnknownRecordTypeError,
)
from batchmap.lazy import lazy_exports

TYPE_CHECKING = False
if TYPE_CHECKING:
    from batchmap.config import (
        DestinationConfig,
        EventSourceMapping,
        MetricsConfig,
        OnFailure,
        ProvisionedPollerConfig,
        ResolvedMapping,
        ScalingConfig,
        from_api,
    )
    from batchmap.config.function import FunctionConfig
    from batchmap.engine.invocation import Invocation
    from batchmap.engine.service import Engine, RunReport, run
    from batchmap.filters import FilterCriteria
    from batchmap.handler import (
        Analysis,
        BatchOptions,
        BatchResult,
        ConnectionCache,
        EmfMetrics,
        MemoryBudget,
        RecordResult,
        Router,
        Strategy,
        arun_batch,
        batch_handler,
        process_batch,
        process_batch_in_transaction,
        run_batch,
        run_batch_in_transaction,
    )
    from batchmap.metrics import MetricsHook, MetricsRecorder
    from batchmap.records import (
        DynamoDBRecord,
        KafkaRecord,
        KinesisRecord,
        Record,
        SQSRecord,
        build_event,
        parse_event,
    )
    from batchmap.sources.registry import SourceOptions, open_source
    from batchmap.templates import load_template, provision

_HOME: dict[str, str] = {
    **dict.fromkeys(
        ("Analysis", "BatchOptions", "BatchResult", "ConnectionCache", "EmfMetrics", "MemoryBudget", "RecordResult",
         "Router", "Strategy", "arun_batch", "batch_handler", "process_batch", "process_batch_in_transaction",
         "run_batch", "run_batch_in_transaction"),
        "handler",
    ),
    **dict.fromkeys(
        ("DynamoDBRecord", "KafkaRecord", "KinesisRecord", "Record", "SQSRecord", "build_event", "parse_event"),
        "records",
    ),
    **dict.fromkeys(
        ("DestinationConfig", "EventSourceMapping", "MetricsConfig", "OnFailure", "ProvisionedPollerConfig",
         "ResolvedMapping", "ScalingConfig", "from_api"),
        "config",
    ),
    "FilterCriteria": "filters",
    "FunctionConfig": "config.function",
    "Invocation": "engine.invocation",
    "Engine": "engine.service",
    "RunReport": "engine.service",
    "run": "engine.service",
    "MetricsHook": "metrics",
    "MetricsRecorder": "metrics",
    "SourceOptions": "sources.registry",
    "open_source": "sources.registry",
    "load_template": "templates",
    "provision": "templates",
}

__all__ = [
    "Analysis",
    "BatchAbortedError",
    "BatchFailedError",
    "BatchOptions",
    "BatchResult",
    "BatchmapError",
    "BrokerError",
    "ConfigError",
    "ConnectionCache",
    "DestinationConfig",
    "DestinationError",
    "DynamoDBRecord",
    "EmfMetrics",
    "Engine",
    "EventError",
    "EventSourceMapping",
    "FilterCriteria",
    "FilterError",
    "FunctionConfig",
    "FunctionLoadError",
    "HandlerError",
    "Invocation",
    "KafkaRecord",
    "KinesisRecord",
    "LeaseLostError",
    "MappingFailedError",
    "MeasurementError",
    "MemoryBudget",
    "MetricsConfig",
    "MetricsHook",
    "MetricsRecorder",
    "MissingExtraError",
    "OnFailure",
    "ProvisionedPollerConfig",
    "Record",
    "RecordError",
    "RecordResult",
    "ResolvedMapping",
    "Router",
    "RunReport",
    "SQSRecord",
    "ScalingConfig",
    "SchemaDecodeError",
    "SettleError",
    "SourceError",
    "SourceOptions",
    "Strategy",
    "TemplateError",
    "UnknownEventSourceError",
    "UnknownRecordTypeError",
    "arun_batch",
    "batch_handler",
    "build_event",
    "from_api",
    "load_template",
    "open_source",
    "parse_event",
    "process_batch",
    "process_batch_in_transaction",
    "provision",
    "run",
    "run_batch",
    "run_batch_in_transaction",
]

__getattr__, __dir__ = lazy_exports(globals(), _HOME, __all__)
