"""``from_api``: a mapping from AWS's CamelCase properties (API, CloudFormation, SAM event properties).

Unknown properties are errors, so a typo never silently changes behaviour;
the properties in ``IGNORED_PROPERTIES`` are known and deliberately ignored
(they concern AWS infrastructure, or name the source in pieces the caller
folds into ``source=``); those in ``UNSUPPORTED_PROPERTIES`` are AWS's, change
what the function receives, and are refused with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from batchmap.config import values
from batchmap.config.function import FunctionConfig
from batchmap.config.mapping import (
    DestinationConfig,
    EventSourceMapping,
    MetricsConfig,
    ProvisionedPollerConfig,
    ScalingConfig,
)
from batchmap.config.parameters import fail, label
from batchmap.errors import ConfigError
from batchmap.filters import FilterCriteria


def _strict_window(value: Any) -> int:
    """AWS takes whole seconds here; a template with a fraction would not deploy."""
    return values.integer("maximum_batching_window_in_seconds", value)


_CONVERTERS: Final[dict[str, tuple[str, Callable[[Any], Any]]]] = {
    "BatchSize": ("batch_size", lambda v: values.integer("batch_size", v)),
    "MaximumBatchingWindowInSeconds": ("maximum_batching_window_in_seconds", _strict_window),
    "FunctionResponseTypes": ("function_response_types", lambda v: values.response_types("function_response_types", v)),
    "StartingPosition": ("starting_position", lambda v: values.text("starting_position", v)),
    "StartingPositionTimestamp": (
        "starting_position_timestamp", lambda v: values.timestamp("starting_position_timestamp", v)
    ),
    "ParallelizationFactor": ("parallelization_factor", lambda v: values.integer("parallelization_factor", v)),
    "BisectBatchOnFunctionError": (
        "bisect_batch_on_function_error", lambda v: values.boolean("bisect_batch_on_function_error", v)
    ),
    "MaximumRetryAttempts": ("maximum_retry_attempts", lambda v: values.integer("maximum_retry_attempts", v)),
    "MaximumRecordAgeInSeconds": (
        "maximum_record_age_in_seconds", lambda v: values.integer("maximum_record_age_in_seconds", v)
    ),
    "DestinationConfig": ("destination_config", values.destination_config),
    "FilterCriteria": ("filter_criteria", FilterCriteria.from_dict),
    "TumblingWindowInSeconds": (
        "tumbling_window_in_seconds", lambda v: values.integer("tumbling_window_in_seconds", v)
    ),
    "ScalingConfig": ("scaling_config", values.scaling_config),
    "ProvisionedPollerConfig": ("provisioned_poller_config", values.provisioned_poller_config),
    "MetricsConfig": ("metrics_config", values.metrics_config),
    "Enabled": ("enabled", lambda v: values.boolean("enabled", v)),
    "UUID": ("uuid", lambda v: values.text("uuid", v)),
}

SOURCE_PROPERTIES: Final = ("EventSourceArn", "Queue", "Stream")
"""Where the source may be named: the API's EventSourceArn, SAM's Queue (SQS) or Stream (the rest)."""

FUNCTION_PROPERTIES: Final = ("FunctionName", "FunctionArn")
"""Where the function may be named: the API's FunctionName, or FunctionArn in API responses."""

IGNORED_PROPERTIES: Final = frozenset({
    # AWS infrastructure with no local meaning
    "KMSKeyArn", "KmsKeyArn", "Tags", "SourceAccessConfigurations", "LoggingConfig",
    # parts of the source's identity, folded into ``source=`` by the caller
    "Topics", "Queues", "SelfManagedEventSource", "KafkaBootstrapServers", "ConsumerGroupId",
    "AmazonManagedKafkaEventSourceConfig", "SelfManagedKafkaEventSourceConfig",
    "DocumentDBEventSourceConfig", "Broker",
    # fields of get-event-source-mapping output
    "State", "StateTransitionReason", "LastModified", "LastProcessingResult",
    "EventSourceMappingArn", "FilterCriteriaError",
})
"""Properties ``from_api`` knows and ignores on purpose."""

UNSUPPORTED_PROPERTIES: Final = {
    "SchemaRegistryConfig": "decoding Kafka records through a schema registry (AWS Glue or Confluent) is not "
                            "supported locally, so the function would get the records as the broker holds them "
                            "rather than as Lambda delivers them; remove SchemaRegistryConfig to run the mapping "
                            "on the raw records",
}
"""AWS properties batchmap knows but does not implement, each with what is missing."""

KNOWN_PROPERTIES: Final = frozenset(_CONVERTERS) | frozenset(SOURCE_PROPERTIES) | frozenset(FUNCTION_PROPERTIES)


def from_api(
    properties: Mapping[str, Any],
    *,
    source: str | None = None,
    function: str | FunctionConfig | None = None,
) -> EventSourceMapping:
    """A mapping from CamelCase properties; ``source`` / ``function`` override what the properties name.

    Values may be the strings CloudFormation parameters produce (``"10"``,
    ``"true"``); ``MaximumBatchingWindowInSeconds`` must be whole seconds, as AWS requires.
    """
    if not isinstance(properties, Mapping):
        raise ConfigError("EventSourceMapping", properties, "an object of CamelCase properties")
    for name, reason in UNSUPPORTED_PROPERTIES.items():
        if properties.get(name) is not None:
            raise ConfigError(name, properties[name], f"not supported: {reason}")
    unknown = sorted(set(properties) - KNOWN_PROPERTIES - IGNORED_PROPERTIES)
    if unknown:
        raise ConfigError(
            "EventSourceMapping", unknown,
            f"unknown propert{'y' if len(unknown) == 1 else 'ies'}; known: {', '.join(sorted(KNOWN_PROPERTIES))}",
        )
    settings: dict[str, Any] = {}
    for name, (snake, convert) in _CONVERTERS.items():
        if properties.get(name) is not None:
            settings[snake] = convert(properties[name])
    settings["source"] = source if source is not None else _first(properties, SOURCE_PROPERTIES, "source")
    settings["function"] = function if function is not None else _first(properties, FUNCTION_PROPERTIES, "function")
    return EventSourceMapping(**settings)


def to_api(mapping: EventSourceMapping) -> dict[str, Any]:
    """The CamelCase properties of a mapping (settings left unset are left out), for logs and round trips."""
    out: dict[str, Any] = {"EventSourceArn": mapping.source}
    function = mapping.function
    out["FunctionName"] = function.handler if isinstance(function, FunctionConfig) else function
    for name, (snake, _) in _CONVERTERS.items():
        value = getattr(mapping, snake)
        if value is None or (snake == "function_response_types" and not value):
            continue
        out[name] = _api_value(value)
    return out


def _api_value(value: Any) -> Any:
    if isinstance(value, FilterCriteria):
        return value.to_dict()
    if isinstance(value, DestinationConfig):
        on_failure = value.on_failure
        return {"OnFailure": {"Destination": on_failure.destination}} if on_failure else {}
    if isinstance(value, ScalingConfig):
        return {} if value.maximum_concurrency is None else {"MaximumConcurrency": value.maximum_concurrency}
    if isinstance(value, ProvisionedPollerConfig):
        pairs = (("MinimumPollers", value.minimum_pollers), ("MaximumPollers", value.maximum_pollers),
                 ("PollerGroupName", value.poller_group_name))
        return {key: item for key, item in pairs if item is not None}
    if isinstance(value, MetricsConfig):
        return {"Metrics": list(value.metrics)}
    if isinstance(value, tuple):
        return list(value)
    return value


def _first(properties: Mapping[str, Any], names: tuple[str, ...], snake: str) -> str:
    for name in names:
        value = properties.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise fail(snake, value, f"a string ({name}); resolve intrinsic functions first")
        return value
    raise ConfigError(label(snake), None, f"required: give {' or '.join(names)}, or pass {snake}=")
