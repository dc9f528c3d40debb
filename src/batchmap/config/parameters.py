"""The mapping's parameters under their three names, and the checks every error message shares.

Each setting has a snake_case name (Python), AWS's API name (``BatchSize``)
and AWS CLI's flag (``--batch-size``). A ``ConfigError`` always names the API
name and the flag, the value, and what is allowed, so the same message serves
the Python API, the ``batchmap run`` flags and templates.
"""

from __future__ import annotations

import math
from typing import Any, Final

from batchmap.errors import ConfigError

PARAMETERS: Final[dict[str, tuple[str, str]]] = {
    "source": ("EventSourceArn", "--source"),
    "function": ("FunctionName", "--function"),
    "batch_size": ("BatchSize", "--batch-size"),
    "maximum_batching_window_in_seconds": ("MaximumBatchingWindowInSeconds", "--maximum-batching-window-in-seconds"),
    "function_response_types": ("FunctionResponseTypes", "--function-response-types"),
    "starting_position": ("StartingPosition", "--starting-position"),
    "starting_position_timestamp": ("StartingPositionTimestamp", "--starting-position-timestamp"),
    "parallelization_factor": ("ParallelizationFactor", "--parallelization-factor"),
    "bisect_batch_on_function_error": ("BisectBatchOnFunctionError", "--bisect-batch-on-function-error"),
    "maximum_retry_attempts": ("MaximumRetryAttempts", "--maximum-retry-attempts"),
    "maximum_record_age_in_seconds": ("MaximumRecordAgeInSeconds", "--maximum-record-age-in-seconds"),
    "destination_config": ("DestinationConfig.OnFailure.Destination", "--destination-config"),
    "filter_criteria": ("FilterCriteria", "--filter-criteria"),
    "tumbling_window_in_seconds": ("TumblingWindowInSeconds", "--tumbling-window-in-seconds"),
    "scaling_config": ("ScalingConfig.MaximumConcurrency", "--scaling-config"),
    "provisioned_poller_config": ("ProvisionedPollerConfig", "--provisioned-poller-config"),
    "metrics_config": ("MetricsConfig.Metrics", "--metrics-config"),
    "topics": ("Topics", "--topics"),
    "queues": ("Queues", "--queues"),
    "self_managed_event_source": ("SelfManagedEventSource", "--self-managed-event-source"),
    "self_managed_kafka_event_source_config": (
        "SelfManagedKafkaEventSourceConfig.ConsumerGroupId", "--self-managed-kafka-event-source-config"),
    "amazon_managed_kafka_event_source_config": (
        "AmazonManagedKafkaEventSourceConfig.ConsumerGroupId", "--amazon-managed-kafka-event-source-config"),
    "enabled": ("Enabled", "--enabled"),
    "uuid": ("UUID", "--uuid"),
    "timeout": ("Timeout", "--timeout"),
    "memory_size": ("MemorySize", "--memory-size"),
    "environment": ("Environment", "--environment"),
}
"""snake_case name -> (AWS API name, CLI flag)."""

MAX_BATCH_SIZE: Final = 10_000
MAX_WINDOW_S: Final = 300
MAX_PARALLELIZATION_FACTOR: Final = 10
MAX_RETRY_ATTEMPTS: Final = 10_000
MIN_RECORD_AGE_S: Final = 60
MAX_RECORD_AGE_S: Final = 604_800
MAX_TUMBLING_WINDOW_S: Final = 900
MIN_MAXIMUM_CONCURRENCY: Final = 2
MAX_MAXIMUM_CONCURRENCY: Final = 1_000
MIN_POLLERS: Final = 1
MAX_MINIMUM_POLLERS: Final = 200
MAX_MAXIMUM_POLLERS: Final = 10_000
"""ProvisionedPollerConfig across sources (the API's widest); ``records.shapes`` narrows it per source."""
METRIC_GROUPS: Final = ("EventCount", "ErrorCount", "KafkaMetrics")
"""MetricsConfig.Metrics: AWS's optional metric groups."""
REPORT_BATCH_ITEM_FAILURES: Final = "ReportBatchItemFailures"
STARTING_POSITIONS: Final = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")


def label(name: str) -> str:
    """``BatchSize (--batch-size)`` for ``batch_size``; a name not in ``PARAMETERS`` is used as given."""
    if name not in PARAMETERS:
        return name
    api, flag = PARAMETERS[name]
    return f"{api} ({flag})"


def fail(name: str, value: object, allowed: str) -> ConfigError:
    """The error for parameter ``name`` (snake_case) holding ``value``."""
    return ConfigError(label(name), value, allowed)


def is_int(value: object) -> bool:
    """An integer that is not a boolean."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_real(value: object) -> bool:
    """A finite int or float that is not a boolean."""
    return (is_int(value) or isinstance(value, float)) and math.isfinite(value)  # type: ignore[arg-type]


def check_int(name: str, value: Any, low: int, high: int, *, also: int | None = None) -> None:
    """``value`` is an integer from ``low`` to ``high`` (or exactly ``also``)."""
    if is_int(value) and (low <= value <= high or value == also):
        return
    extra = f"{also}, or " if also is not None else ""
    raise fail(name, value, f"{extra}an integer from {low:,} to {high:,}")


def check_bool(name: str, value: Any) -> None:
    """``value`` is ``True`` or ``False``."""
    if not isinstance(value, bool):
        raise fail(name, value, "true or false")
