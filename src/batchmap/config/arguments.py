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
are accepted too, so an AWS CLI command line can be pasted, and so are AWS's
flags that name a source in pieces: ``--self-managed-event-source`` with
``--topics`` and ``--self-managed-kafka-event-source-config ConsumerGroupId=G``
become a ``kafka://`` source; ``--topics`` completes a ``kafka://HOST:PORT``
source or an MSK cluster ARN, ``--queues`` an ``amqp://`` one.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

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
    add("--provisioned-poller-config", metavar="CONFIG",
        help="SQS and Kafka: MinimumPollers=N,MaximumPollers=N (the pollers' floor and ceiling) or the JSON form")
    add("--metrics-config", metavar="CONFIG",
        help="Metrics=EventCount[,ErrorCount,KafkaMetrics]: the metric groups to publish, or the JSON form")
    add("--self-managed-event-source", metavar="CONFIG",
        help="Kafka, instead of --source: Endpoints={KAFKA_BOOTSTRAP_SERVERS=[HOST:PORT,...]} or the JSON form")
    add("--topics", nargs="+", metavar="TOPIC",
        help="Kafka: the topic to read, with --self-managed-event-source, a kafka://HOST:PORT or an MSK ARN --source")
    add("--queues", nargs="+", metavar="QUEUE", help="RabbitMQ: the queue to read, with an amqp://HOST:PORT --source")
    add("--self-managed-kafka-event-source-config", metavar="CONFIG",
        help="a kafka:// source's consumer group: ConsumerGroupId=GROUP (default: one per source)")
    add("--amazon-managed-kafka-event-source-config", metavar="CONFIG",
        help="an MSK ARN source's consumer group: ConsumerGroupId=GROUP")
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
    settings: dict[str, Any] = {"source": mapping_source(args), "function": _function(args)}
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
    "provisioned_poller_config": _structured_flag("provisioned_poller_config", values.provisioned_poller_config),
    "metrics_config": _structured_flag("metrics_config", values.metrics_config),
    "bisect_batch_on_function_error": _as_is,
    "enabled": _as_is,
    "uuid": _as_is,
}
"""Flag destination -> converter from the parsed text to the setting's value."""


_SELF_MANAGED_GROUP: Final = "self_managed_kafka_event_source_config"
_MSK_GROUP: Final = "amazon_managed_kafka_event_source_config"
_KAFKA_SOURCES: Final = "--self-managed-event-source, or a --source kafka://HOST:PORT or MSK cluster ARN"


def mapping_source(args: argparse.Namespace) -> str:
    """The source URI the flags name: ``--source``, or AWS's pieces (endpoints, topics, queues, group) put together.

    A combination AWS would refuse, or one naming a piece twice, is a ``ConfigError`` naming the flag.
    """
    source = _base_source(args)
    topics = getattr(args, "topics", None)
    queues = getattr(args, "queues", None)
    group = _consumer_group(args, _SELF_MANAGED_GROUP)
    if topics is not None and not _is_msk(source):
        source = _with_topics(source, topics)
    if queues is not None:
        source = _with_queue(source, queues)
    if group is not None:
        if urlsplit(source).scheme != "kafka":
            raise fail(_SELF_MANAGED_GROUP, group, f"only for self-managed Kafka sources ({_KAFKA_SOURCES})")
        source = _with_query(source, "group", group, _SELF_MANAGED_GROUP)
    if _given(args, _MSK_GROUP) and not _is_msk(source):
        raise fail(_MSK_GROUP, getattr(args, _MSK_GROUP), "only for an MSK cluster ARN source; a kafka:// source "
                   "takes --self-managed-kafka-event-source-config")
    return source


def source_extra(args: argparse.Namespace) -> dict[str, Any]:
    """What an MSK cluster ARN source takes besides its ARN (``SourceOptions.extra``): topics and group."""
    source = mapping_source(args)
    if not _is_msk(source):
        return {}
    extra: dict[str, Any] = {}
    topics = getattr(args, "topics", None)
    if topics is not None:
        extra["topics"] = ",".join(_checked_names("topics", topics))
    group = _consumer_group(args, _MSK_GROUP)
    if group is not None:
        extra["consumer_group_id"] = group
    return extra


def _base_source(args: argparse.Namespace) -> str:
    endpoints = getattr(args, "self_managed_event_source", None)
    if endpoints is None:
        return _required(args, "source")
    if _given(args, "source"):
        raise fail("self_managed_event_source", endpoints, "not with --source/--event-source-arn: a self-managed "
                   "Kafka cluster is named by its endpoints (or give --source kafka://HOST:PORT alone)")
    if getattr(args, "topics", None) is None:
        raise fail("topics", None, "required with --self-managed-event-source: the topic to read")
    return "kafka://" + _bootstrap_servers(values.structured("self_managed_event_source", endpoints))


def _bootstrap_servers(value: Any) -> str:
    name = "self_managed_event_source"
    example = '{"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["127.0.0.1:9092"]}}'
    endpoints = value.get("Endpoints") if isinstance(value, Mapping) and set(value) == {"Endpoints"} else None
    if not isinstance(endpoints, Mapping) or set(endpoints) != {"KAFKA_BOOTSTRAP_SERVERS"}:
        raise fail(name, value, f"an object such as {example}")
    servers = endpoints["KAFKA_BOOTSTRAP_SERVERS"]
    if isinstance(servers, str):
        servers = [servers]
    if not isinstance(servers, list) or not servers or not all(isinstance(s, str) and s.strip() for s in servers):
        raise fail(name, servers, "KAFKA_BOOTSTRAP_SERVERS: a list of HOST:PORT")
    for server in servers:
        if any(char in server for char in "/?#@,"):
            raise fail(name, server, "KAFKA_BOOTSTRAP_SERVERS: HOST:PORT, one per item")
    return ",".join(server.strip() for server in servers)


def _is_msk(source: str) -> bool:
    return source.startswith("arn:aws:kafka:")


def _with_topics(source: str, topics: list[str]) -> str:
    parts = urlsplit(source)
    if parts.scheme != "kafka":
        raise fail("topics", " ".join(topics), f"only for Kafka sources ({_KAFKA_SOURCES}), not {source}")
    if parts.path.strip("/"):
        raise fail("topics", " ".join(topics), f"not with a --source that names its topics already ({source})")
    return urlunsplit(parts._replace(path="/" + ",".join(_checked_names("topics", topics))))


def _with_queue(source: str, queues: list[str]) -> str:
    if urlsplit(source).scheme not in ("amqp", "amqps"):
        raise fail("queues", " ".join(queues), f"only for RabbitMQ sources (an amqp:// or amqps:// --source), "
                   f"not {source}")
    if len(queues) != 1:
        raise fail("queues", " ".join(queues), "exactly one queue, as AWS takes")
    return _with_query(source, "queue", _checked_names("queues", queues)[0], "queues")


def _with_query(source: str, key: str, value: str, flag: str) -> str:
    parts = urlsplit(source)
    if any(name == key for name, _ in parse_qsl(parts.query, keep_blank_values=True)):
        raise fail(flag, value, f"not with a --source that names its {key} already ({source})")
    query = f"{parts.query}&" if parts.query else ""
    return urlunsplit(parts._replace(query=f"{query}{key}={quote(value, safe='')}"))


def _checked_names(flag: str, names: list[str]) -> list[str]:
    for name in names:
        if not name.strip() or "," in name:
            raise fail(flag, name, "a name without commas (give several as separate words)")
    return [name.strip() for name in names]


def _consumer_group(args: argparse.Namespace, flag: str) -> str | None:
    text = getattr(args, flag, None)
    if text is None:
        return None
    value = values.structured(flag, text)
    if not isinstance(value, Mapping) or set(value) != {"ConsumerGroupId"}:
        raise fail(flag, value, 'an object such as {"ConsumerGroupId": "orders-processor"}')
    return values.text(flag, value["ConsumerGroupId"])


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
