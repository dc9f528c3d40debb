"""The ``batchmap run`` flags: those of ``aws lambda create-event-source-mapping``, parsed as the AWS CLI does.

``add_mapping_arguments(parser)`` registers them; ``mapping_from_args(args)``
builds the ``EventSourceMapping``, so the CLI module stays thin. Structured
flags take JSON, the AWS CLI shorthand, or ``file://path``:

    --destination-config OnFailure={Destination=sqlite:///q.db?queue=failed}
    --filter-criteria 'Filters=[{Pattern={"body":{"status":["ERROR"]}}}]'
    --scaling-config MaximumConcurrency=5
    --function-response-types ReportBatchItemFailures
    --starting-position-timestamp 2024-05-01T12:00:00Z

The function's own settings use ``aws lambda create-function``'s flags
(``--timeout``, ``--memory-size``, ``--environment``). AWS's own names for
``--source`` and ``--function`` (``--event-source-arn``, ``--function-name``)
are accepted too, so an AWS CLI command line can be pasted.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any, Final

from batchmap.config import values
from batchmap.config.function import MAX_MEMORY_MB, MAX_TIMEOUT_S, MIN_MEMORY_MB, FunctionConfig
from batchmap.config.mapping import EventSourceMapping
from batchmap.config.parameters import (
    MAX_BATCH_SIZE,
    MAX_MAXIMUM_CONCURRENCY,
    MAX_RECORD_AGE_S,
    MAX_RETRY_ATTEMPTS,
    MAX_TUMBLING_WINDOW_S,
    MAX_WINDOW_S,
    fail,
)
from batchmap.errors import FilterError
from batchmap.filters import FilterCriteria

_INTEGER_FLAGS: Final = (
    "batch_size", "parallelization_factor", "maximum_retry_attempts",
    "maximum_record_age_in_seconds", "tumbling_window_in_seconds",
)


def add_mapping_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the mapping and function flags on ``parser`` (all optional; ``mapping_from_args`` checks)."""
    group = parser.add_argument_group("event source mapping (as aws lambda create-event-source-mapping)")
    add = group.add_argument
    add("--source", "--event-source-arn", dest="source", metavar="URI",
        help="the source: sqlite:///file.db?queue=NAME, ?stream=NAME, or any source URI or ARN")
    add("--function", "--function-name", dest="function", metavar="HANDLER",
        help="module:callable, a Lambda function name or ARN, or an http(s) URL")
    add("--batch-size", metavar="N",
        help=f"records per batch: default 10 (SQS) or 100 (streams, Kafka); at most {MAX_BATCH_SIZE:,} (FIFO 10)")
    add("--maximum-batching-window-in-seconds", metavar="S",
        help=f"seconds to gather a batch, 0 to {MAX_WINDOW_S}: default 0 (Kafka 0.5); fractions allowed locally")
    add("--function-response-types", nargs="*", metavar="TYPE",
        help="ReportBatchItemFailures to let the function report partial failures")
    add("--starting-position", metavar="POS",
        help="streams (required) and Kafka (default TRIM_HORIZON): TRIM_HORIZON, LATEST or AT_TIMESTAMP")
    add("--starting-position-timestamp", metavar="TIME", help="with AT_TIMESTAMP: Unix seconds or ISO 8601")
    add("--parallelization-factor", metavar="N", help="streams: concurrent batches per shard, 1 to 10")
    add("--bisect-batch-on-function-error", action=argparse.BooleanOptionalAction, default=None,
        help="streams and Kafka: split a failing batch in two and retry each half")
    add("--maximum-retry-attempts", metavar="N",
        help=f"streams and Kafka: -1 (default, forever) or 0 to {MAX_RETRY_ATTEMPTS:,}")
    add("--maximum-record-age-in-seconds", metavar="S",
        help=f"streams and Kafka: -1 (default, forever) or 60 to {MAX_RECORD_AGE_S:,}")
    add("--destination-config", metavar="CONFIG",
        help="streams and Kafka: OnFailure={Destination=URI} or the JSON form")
    add("--filter-criteria", metavar="CRITERIA",
        help="Filters=[{Pattern=JSON}] or the JSON form; up to 10 filters, ORed")
    add("--tumbling-window-in-seconds", metavar="S", help=f"streams: 0 to {MAX_TUMBLING_WINDOW_S} seconds")
    add("--scaling-config", metavar="CONFIG",
        help=f"SQS: MaximumConcurrency=N (2 to {MAX_MAXIMUM_CONCURRENCY:,}) or the JSON form")
    add("--enabled", action=argparse.BooleanOptionalAction, default=None, help="whether the mapping runs")
    add("--uuid", metavar="ID", help="the mapping's id (stream checkpoints are kept under it)")
    function = parser.add_argument_group("function settings (as aws lambda create-function)")
    function.add_argument("--timeout", dest="function_timeout", metavar="S",
                          help=f"function timeout in seconds, up to {MAX_TIMEOUT_S:g} (default 3)")
    function.add_argument("--memory-size", dest="function_memory_size", metavar="MB",
                          help=f"memory in MB, {MIN_MEMORY_MB} to {MAX_MEMORY_MB:,} (default 128)")
    function.add_argument("--environment", dest="function_environment", metavar="ENV",
                          help="Variables={KEY=value,...} or the JSON form")


def mapping_from_args(args: argparse.Namespace) -> EventSourceMapping:
    """The mapping the flags describe; a bad flag is a ``ConfigError`` (or ``FilterError``) naming it."""
    settings: dict[str, Any] = {"source": _required(args, "source"), "function": _function(args)}
    for name, convert in _FLAGS.items():
        value = getattr(args, name, None)
        if value is not None:
            settings[name] = convert(value)
    return EventSourceMapping(**settings)


def _window(value: Any) -> float:
    window = values.number("maximum_batching_window_in_seconds", value)
    return int(window) if window.is_integer() else window


def _integer_flag(name: str) -> Callable[[Any], int]:
    return lambda value: values.integer(name, value)


def _structured_flag(name: str, convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: convert(values.structured(name, value))


def _as_is(value: Any) -> Any:
    return value


def parse_filter_criteria(text: str) -> FilterCriteria:
    """``--filter-criteria`` in JSON, shorthand (``Filters=[{Pattern=...}]``) or ``file://`` form."""
    parsed = values.structured("filter_criteria", text, raw_json=frozenset({"Pattern"}))
    if isinstance(parsed, dict) and isinstance(parsed.get("Filters"), list):
        for index, item in enumerate(parsed["Filters"]):
            if not isinstance(item, dict):
                raise FilterError(f"FilterCriteria.Filters[{index}]: expected {{Pattern=...}}, got {item!r}")
    return FilterCriteria.from_dict(parsed)


def parse_function_response_types(items: Sequence[str]) -> tuple[str, ...]:
    """``--function-response-types ReportBatchItemFailures`` (or a JSON list; none for an empty list)."""
    found: list[str] = []
    for item in items:
        if item.strip().startswith("["):
            found.extend(values.response_types("function_response_types", values.structured(
                "function_response_types", item)))
        else:
            found.append(item)
    return tuple(found)


_FLAGS: Final[dict[str, Callable[[Any], Any]]] = {
    **{name: _integer_flag(name) for name in _INTEGER_FLAGS},
    "maximum_batching_window_in_seconds": _window,
    "function_response_types": parse_function_response_types,
    "starting_position": _as_is,
    "starting_position_timestamp": lambda value: values.timestamp("starting_position_timestamp", value),
    "destination_config": _structured_flag("destination_config", values.destination_config),
    "filter_criteria": parse_filter_criteria,
    "scaling_config": _structured_flag("scaling_config", values.scaling_config),
    "bisect_batch_on_function_error": _as_is,
    "enabled": _as_is,
    "uuid": _as_is,
}
"""Flag destination -> converter from the parsed text to the setting's value."""


def _given(args: argparse.Namespace, name: str) -> bool:
    return getattr(args, name, None) is not None


def _required(args: argparse.Namespace, name: str) -> str:
    value = getattr(args, name, None)
    if value is None:
        raise fail(name, None, "required")
    return str(value)


def _function(args: argparse.Namespace) -> str | FunctionConfig:
    handler = _required(args, "function")
    timeout = getattr(args, "function_timeout", None)
    memory = getattr(args, "function_memory_size", None)
    environment = getattr(args, "function_environment", None)
    if timeout is None and memory is None and environment is None:
        return handler
    settings: dict[str, Any] = {"handler": handler}
    if timeout is not None:
        seconds = values.number("timeout", timeout)
        if not 0 < seconds <= MAX_TIMEOUT_S:
            raise fail("timeout", timeout, f"seconds, more than 0 and at most {MAX_TIMEOUT_S:g}")
        settings["timeout_s"] = seconds
    if memory is not None:
        megabytes = values.integer("memory_size", memory)
        if not MIN_MEMORY_MB <= megabytes <= MAX_MEMORY_MB:
            raise fail("memory_size", memory, f"an integer from {MIN_MEMORY_MB} to {MAX_MEMORY_MB:,}")
        settings["memory_mb"] = megabytes
    if environment is not None:
        settings["environment"] = values.environment(values.structured("environment", environment))
    return FunctionConfig(**settings)
