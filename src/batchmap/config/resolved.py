"""``resolve``: a mapping plus its source kind -> the immutable ``ResolvedMapping`` the engine runs.

The source kind decides AWS's defaults and which settings apply (reference §0);
the table of them is ``batchmap.records.shapes``, which this module reads:
SQS takes ScalingConfig, Kinesis and DynamoDB the "stream" and "retry"
settings, Kafka the "retry" settings.

``StartingPosition`` is required for Kinesis and DynamoDB Streams only, as in
AWS's API; a Kafka mapping without one starts at ``TRIM_HORIZON`` (AWS does
not document its default; the oldest record loses nothing).

"stream" settings are ``ParallelizationFactor`` and ``TumblingWindowInSeconds``;
"retry" settings are ``BisectBatchOnFunctionError``, ``MaximumRetryAttempts``,
``MaximumRecordAgeInSeconds`` and ``DestinationConfig``. Setting one where it
does not apply is a ``ConfigError``, as AWS answers ``InvalidParameterValue``.

``ProvisionedPollerConfig`` applies to SQS and Kafka (the shape's ``pollers``
holds its limits and defaults); ``MetricsConfig``'s ``ErrorCount`` and
``KafkaMetrics`` groups to Kafka only (the shape's ``metric_groups``).
"""

from __future__ import annotations

import uuid as uuid_module
from dataclasses import dataclass, field
from typing import Final

from batchmap.config.batch_policy import BatchPolicy
from batchmap.config.function import FunctionConfig
from batchmap.config.mapping import DestinationConfig, EventSourceMapping, ProvisionedPollerConfig, ScalingConfig
from batchmap.config.parameters import MAX_MINIMUM_POLLERS, REPORT_BATCH_ITEM_FAILURES, fail
from batchmap.errors import ConfigError
from batchmap.filters import FilterCriteria, RecordFilter
from batchmap.records import SourceKind
from batchmap.records.shapes import MIN_WINDOW_FOR_LARGE_BATCHES_S, Shape, shape_of
from batchmap.records.wire import WindowStart


@dataclass(frozen=True, slots=True)
class ResolvedMapping:
    """Every setting with its value for this source: what the engine reads, never ``None`` for "default".

    ``maximum_retry_attempts`` and ``maximum_record_age_in_seconds`` are -1 for
    "infinite" (and for SQS, where they do not apply);
    ``tumbling_window_in_seconds`` is 0 when off; ``maximum_concurrency`` is
    ``None`` when unset. ``pollers`` is ``(MinimumPollers, MaximumPollers)``
    with the source's defaults filled in, ``None`` when provisioned mode is off.
    ``metric_groups`` are the MetricsConfig groups, ``None`` when MetricsConfig
    is not set (batchmap then shows every group). ``record_filter`` is the
    compiled ``FilterCriteria``.
    """

    mapping: EventSourceMapping = field(repr=False)
    kind: SourceKind
    fifo: bool
    source: str
    function: FunctionConfig
    uuid: str
    batch_size: int
    window_s: float
    window_start: WindowStart
    starting_position: str | None
    starting_position_timestamp: float | None
    parallelization_factor: int
    bisect_batch_on_function_error: bool
    maximum_retry_attempts: int
    maximum_record_age_in_seconds: int
    on_failure_destination: str | None
    filter_criteria: FilterCriteria
    tumbling_window_in_seconds: int
    maximum_concurrency: int | None
    pollers: tuple[int, int] | None
    metric_groups: frozenset[str] | None
    report_batch_item_failures: bool
    enabled: bool
    record_filter: RecordFilter = field(repr=False, compare=False)

    def batch_policy(self) -> BatchPolicy:
        """The batcher's settings: size, window and where the window clock starts."""
        return BatchPolicy(self.batch_size, self.window_s, self.window_start)

    def check_visibility_timeout(self, visibility_timeout_s: float) -> None:
        """For queues: AWS refuses a mapping whose function may outlive the message's invisibility."""
        check_visibility_timeout(visibility_timeout_s, self.function.timeout_s)

    @property
    def advised_visibility_timeout_s(self) -> float:
        """For queues: the visibility timeout AWS advises for this mapping (6 x function timeout + window)."""
        return advised_visibility_timeout_s(self.function.timeout_s, self.window_s)


def check_visibility_timeout(visibility_timeout_s: float, function_timeout_s: float) -> None:
    """Raise AWS's error when the queue's visibility timeout is shorter than the function timeout."""
    if visibility_timeout_s < function_timeout_s:
        raise ConfigError(
            "VisibilityTimeout",
            visibility_timeout_s,
            f"Queue visibility timeout: {visibility_timeout_s:g} seconds is less than "
            f"Function timeout: {function_timeout_s:g} seconds",
        )


def advised_visibility_timeout_s(function_timeout_s: float, window_s: float) -> float:
    """AWS's advice for a queue's visibility timeout: six times the function timeout, plus the batching window."""
    return 6 * function_timeout_s + window_s


def resolve(mapping: EventSourceMapping, kind: SourceKind, *, fifo: bool = False) -> ResolvedMapping:
    """Fill AWS's defaults for ``kind`` (``fifo`` for SQS FIFO queues) and check its limits."""
    spec = shape_of(kind, fifo)
    batch_size = _batch_size(mapping, spec)
    window_s = _window(mapping, spec, batch_size)
    position = _starting_position(mapping, spec)
    _check_applicable(mapping, spec)
    function = _function(mapping, spec)
    criteria = mapping.filter_criteria or FilterCriteria()
    on_failure = mapping.destination_config.on_failure if mapping.destination_config else None
    destination = on_failure.destination if on_failure else None
    return ResolvedMapping(
        mapping=mapping,
        kind=kind,
        fifo=fifo,
        source=mapping.source,
        function=function,
        uuid=mapping.uuid or default_uuid(mapping.source, function.handler),
        batch_size=batch_size,
        window_s=window_s,
        window_start=spec.window_start,
        starting_position=position,
        starting_position_timestamp=mapping.starting_position_timestamp,
        parallelization_factor=mapping.parallelization_factor or 1,
        bisect_batch_on_function_error=mapping.bisect_batch_on_function_error,
        maximum_retry_attempts=_retries(mapping, spec, destination),
        maximum_record_age_in_seconds=_or_infinite(mapping.maximum_record_age_in_seconds),
        on_failure_destination=destination,
        filter_criteria=criteria,
        tumbling_window_in_seconds=mapping.tumbling_window_in_seconds or 0,
        maximum_concurrency=mapping.scaling_config.maximum_concurrency if mapping.scaling_config else None,
        pollers=_pollers(mapping.provisioned_poller_config, spec),
        metric_groups=_metric_groups(mapping, spec),
        report_batch_item_failures=REPORT_BATCH_ITEM_FAILURES in mapping.function_response_types,
        enabled=mapping.enabled,
        record_filter=criteria.for_shape(kind),
    )


def default_uuid(source: str, handler: str) -> str:
    """A stable id for a mapping without one, so stream checkpoints survive restarts."""
    return str(uuid_module.uuid5(uuid_module.NAMESPACE_URL, f"batchmap:{source}|{handler}"))


def _batch_size(mapping: EventSourceMapping, spec: Shape) -> int:
    size = spec.batch_size if mapping.batch_size is None else mapping.batch_size
    if size > spec.max_batch_size:
        raise fail("batch_size", size, f"an integer from 1 to {spec.max_batch_size:,} for {spec.label}")
    return size


def _window(mapping: EventSourceMapping, spec: Shape, batch_size: int) -> float:
    given = mapping.maximum_batching_window_in_seconds
    window = spec.window_s if given is None else float(given)
    if not spec.window_allowed and window > 0:
        raise fail("maximum_batching_window_in_seconds", given, f"not supported for {spec.label}; leave it unset")
    above = spec.window_needed_above
    if above is not None and batch_size > above and window < MIN_WINDOW_FOR_LARGE_BATCHES_S:
        raise fail(
            "maximum_batching_window_in_seconds",
            given if given is not None else 0,
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than "
            f"{above} (BatchSize is {batch_size:,}; set at least {MIN_WINDOW_FOR_LARGE_BATCHES_S} second)",
        )
    return window


def _starting_position(mapping: EventSourceMapping, spec: Shape) -> str | None:
    """The mapping's position, or the kind's default; checked against what the kind accepts."""
    position = mapping.starting_position or spec.default_position
    if not spec.positions:
        if position is not None:
            raise fail("starting_position", position, f"not supported for {spec.label}; leave it unset")
        return None
    if position is None:
        raise fail("starting_position", None, f"required for {spec.label}: one of {', '.join(spec.positions)}")
    if position not in spec.positions:
        raise fail("starting_position", position, f"one of {', '.join(spec.positions)} for {spec.label}")
    return position


_ONLY_FOR: Final = (
    ("parallelization_factor", "stream", "only for Kinesis and DynamoDB streams"),
    ("tumbling_window_in_seconds", "stream", "only for Kinesis and DynamoDB streams"),
    ("bisect_batch_on_function_error", "retry", "only for Kinesis, DynamoDB and Kafka sources"),
    ("maximum_retry_attempts", "retry",
     "only for Kinesis, DynamoDB and Kafka sources; a queue retries up to its maxReceiveCount"),
    ("maximum_record_age_in_seconds", "retry",
     "only for Kinesis, DynamoDB and Kafka sources; a queue's messages expire with its retention period"),
    ("destination_config", "retry",
     "only for Kinesis, DynamoDB and Kafka sources; a queue's failures go to its dead-letter queue"),
    ("scaling_config", "scaling", "only for SQS queues"),
)
"""(setting, the ``Shape`` flag saying whether it applies, what the error says)."""


def _is_set(value: object) -> bool:
    if isinstance(value, DestinationConfig):
        return value.on_failure is not None
    if isinstance(value, ScalingConfig):
        return value.maximum_concurrency is not None
    return value is not None and value is not False


def _check_applicable(mapping: EventSourceMapping, spec: Shape) -> None:
    """Settings that only some sources take: set anywhere else, they are an error, not ignored."""
    for name, group, allowed in _ONLY_FOR:
        value = getattr(mapping, name)
        if _is_set(value) and not getattr(spec, group):
            raise fail(name, value, f"{allowed}, not {spec.label}")


def _pollers(config: ProvisionedPollerConfig | None, spec: Shape) -> tuple[int, int] | None:
    """(MinimumPollers, MaximumPollers) within the shape's limits, defaults filled in; ``None``: not provisioned."""
    if config is None or not config.is_set:
        return None
    if spec.pollers is None:
        raise fail("provisioned_poller_config", _given_pollers(config), f"only for SQS queues and Kafka topics, "
                   f"not {spec.label}")
    if config.poller_group_name is not None and not spec.commits:
        raise fail("provisioned_poller_config", config.poller_group_name,
                   f"PollerGroupName only for Kafka topics, not {spec.label}")
    lowest, default_min, highest, default_max = spec.pollers
    low = default_min if config.minimum_pollers is None else config.minimum_pollers
    high = default_max if config.maximum_pollers is None else config.maximum_pollers
    if not lowest <= low <= MAX_MINIMUM_POLLERS:
        raise fail("provisioned_poller_config", low,
                   f"MinimumPollers: an integer from {lowest} to {MAX_MINIMUM_POLLERS} for {spec.label}")
    if not lowest <= high <= highest:
        raise fail("provisioned_poller_config", high,
                   f"MaximumPollers: an integer from {lowest} to {highest:,} for {spec.label}")
    if low > high:
        raise fail("provisioned_poller_config", f"MinimumPollers={low}, MaximumPollers={high}",
                   "MinimumPollers at most MaximumPollers (a bound left out takes its default: "
                   f"MinimumPollers {default_min}, MaximumPollers {default_max})")
    return low, high


def _given_pollers(config: ProvisionedPollerConfig) -> str:
    pairs = (("MinimumPollers", config.minimum_pollers), ("MaximumPollers", config.maximum_pollers))
    return ",".join(f"{key}={value}" for key, value in pairs if value is not None)


def _metric_groups(mapping: EventSourceMapping, spec: Shape) -> frozenset[str] | None:
    """The MetricsConfig groups (``None``: not set); a group AWS does not offer for the shape is refused."""
    config = mapping.metrics_config
    if config is None:
        return None
    for group in config.metrics:
        if group not in spec.metric_groups:
            raise fail("metrics_config", group, f"one of {', '.join(spec.metric_groups)} for {spec.label} "
                       "(ErrorCount and KafkaMetrics are for Kafka topics)")
    return frozenset(config.metrics)


def _function(mapping: EventSourceMapping, spec: Shape) -> FunctionConfig:
    function = mapping.function
    config = function if isinstance(function, FunctionConfig) else FunctionConfig(handler=function.strip())
    if config.timeout_s > spec.max_function_timeout_s:
        raise fail("timeout", config.timeout_s, f"at most {spec.max_function_timeout_s:g} seconds for {spec.label}")
    return config


def _retries(mapping: EventSourceMapping, spec: Shape, destination: str | None) -> int:
    """Infinite retries with an on-failure destination are capped where the shape says (Kafka: 10)."""
    retries = _or_infinite(mapping.maximum_retry_attempts)
    if spec.retries_with_destination is not None and destination is not None and retries == -1:
        return spec.retries_with_destination
    return retries


def _or_infinite(value: int | None) -> int:
    return -1 if value is None else value
