"""``EventSourceMapping``: the settings of ``aws lambda create-event-source-mapping``, in snake_case.

The value is checked against the limits that hold for every source when it is
built; the limits that depend on the source (defaults, SQS-only or stream-only
settings, FIFO) are checked by ``resolve(kind)``, which returns the immutable
``ResolvedMapping`` the engine runs. Both happen before anything is consumed.

``None`` means "not set": ``resolve`` fills AWS's default for the source.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from batchmap.clock import SystemClock
from batchmap.config.function import FunctionConfig
from batchmap.config.parameters import (
    MAX_BATCH_SIZE,
    MAX_MAXIMUM_CONCURRENCY,
    MAX_MAXIMUM_POLLERS,
    MAX_MINIMUM_POLLERS,
    MAX_PARALLELIZATION_FACTOR,
    MAX_RECORD_AGE_S,
    MAX_RETRY_ATTEMPTS,
    MAX_TUMBLING_WINDOW_S,
    MAX_WINDOW_S,
    METRIC_GROUPS,
    MIN_MAXIMUM_CONCURRENCY,
    MIN_POLLERS,
    MIN_RECORD_AGE_S,
    REPORT_BATCH_ITEM_FAILURES,
    STARTING_POSITIONS,
    check_bool,
    check_int,
    fail,
    is_int,
    is_real,
)
from batchmap.filters import FilterCriteria

if TYPE_CHECKING:
    from batchmap.config.resolved import ResolvedMapping
    from batchmap.records import SourceKind


@dataclass(frozen=True, slots=True)
class OnFailure:
    """Where records go once retries or record age are exhausted (AWS's ``OnFailure``).

    ``destination`` is a source URI or ARN (an embedded queue, SQS, a file, ...).
    """

    destination: str

    def __post_init__(self) -> None:
        if not isinstance(self.destination, str) or not self.destination.strip():
            raise fail("destination_config", self.destination, "a destination URI or ARN")


@dataclass(frozen=True, slots=True)
class DestinationConfig:
    """AWS's ``DestinationConfig``; event source mappings take ``OnFailure`` only."""

    on_failure: OnFailure | None = None

    def __post_init__(self) -> None:
        if self.on_failure is not None and not isinstance(self.on_failure, OnFailure):
            raise fail("destination_config", self.on_failure, "an OnFailure(destination=...)")


@dataclass(frozen=True, slots=True)
class ScalingConfig:
    """AWS's ``ScalingConfig``: ``maximum_concurrency`` caps concurrent batches (SQS, 2 to 1,000)."""

    maximum_concurrency: int | None = None

    def __post_init__(self) -> None:
        if self.maximum_concurrency is not None:
            check_int("scaling_config", self.maximum_concurrency, MIN_MAXIMUM_CONCURRENCY, MAX_MAXIMUM_CONCURRENCY)


@dataclass(frozen=True, slots=True)
class ProvisionedPollerConfig:
    """AWS's ``ProvisionedPollerConfig`` (SQS and Kafka): a floor and a ceiling on the mapping's pollers.

    ``None`` leaves a bound at the source's default (SQS: 2 and 200; Kafka: 1
    and 200). ``poller_group_name`` (Kafka) shares AWS's billing units between
    mappings; it has no local meaning and is kept only to round-trip.
    """

    minimum_pollers: int | None = None
    maximum_pollers: int | None = None
    poller_group_name: str | None = None

    def __post_init__(self) -> None:
        name = "provisioned_poller_config"
        low, high = self.minimum_pollers, self.maximum_pollers
        if low is not None and not (is_int(low) and MIN_POLLERS <= low <= MAX_MINIMUM_POLLERS):
            raise fail(name, low, f"MinimumPollers: an integer from {MIN_POLLERS} to {MAX_MINIMUM_POLLERS}")
        if high is not None and not (is_int(high) and MIN_POLLERS <= high <= MAX_MAXIMUM_POLLERS):
            raise fail(name, high, f"MaximumPollers: an integer from {MIN_POLLERS} to {MAX_MAXIMUM_POLLERS:,}")
        if low is not None and high is not None and low > high:
            raise fail(name, f"MinimumPollers={low}, MaximumPollers={high}",
                       "MinimumPollers at most MaximumPollers")
        group = self.poller_group_name
        if group is not None and (not isinstance(group, str) or not 1 <= len(group) <= 128):
            raise fail(name, group, "PollerGroupName: 1 to 128 characters")

    @property
    def is_set(self) -> bool:
        """Whether any bound is given (``{}`` turns provisioned mode off, as in AWS)."""
        return self.minimum_pollers is not None or self.maximum_pollers is not None


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    """AWS's ``MetricsConfig``: the optional metric groups the mapping publishes (``EventCount``, ...)."""

    metrics: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.metrics, list):
            object.__setattr__(self, "metrics", tuple(self.metrics))
        name = "metrics_config"
        if not isinstance(self.metrics, tuple) or len(self.metrics) > len(METRIC_GROUPS):
            raise fail(name, self.metrics, "a list of up to 3 of " + ", ".join(METRIC_GROUPS))
        for group in self.metrics:
            if group not in METRIC_GROUPS:
                raise fail(name, group, "one of " + ", ".join(METRIC_GROUPS))
        if len(set(self.metrics)) != len(self.metrics):
            raise fail(name, list(self.metrics), "each group once")


@dataclass(frozen=True, slots=True)
class EventSourceMapping:
    """One mapping from a source to a function, with AWS's parameter names in snake_case.

    ``source`` plays the part of AWS's ``EventSourceArn`` (a source URI or an
    ARN); ``function`` of ``FunctionName`` (``module:callable``, a function
    name, ARN or URL), or a ``FunctionConfig`` carrying the function's own
    settings (timeout, memory, environment).
    """

    source: str
    function: str | FunctionConfig
    batch_size: int | None = None
    maximum_batching_window_in_seconds: float | None = None
    function_response_types: tuple[str, ...] = ()
    starting_position: str | None = None
    starting_position_timestamp: float | None = None
    parallelization_factor: int | None = None
    bisect_batch_on_function_error: bool = False
    maximum_retry_attempts: int | None = None
    maximum_record_age_in_seconds: int | None = None
    destination_config: DestinationConfig | None = None
    filter_criteria: FilterCriteria | None = None
    tumbling_window_in_seconds: int | None = None
    scaling_config: ScalingConfig | None = None
    provisioned_poller_config: ProvisionedPollerConfig | None = None
    metrics_config: MetricsConfig | None = None
    enabled: bool = True
    uuid: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.function_response_types, list):
            object.__setattr__(self, "function_response_types", tuple(self.function_response_types))
        _check_identity(self)
        _check_batching(self)
        _check_position(self)
        _check_stream_settings(self)
        _check_objects(self)

    def resolve(self, kind: SourceKind, *, fifo: bool = False) -> ResolvedMapping:
        """Fill AWS's defaults for ``kind`` and apply its limits; see ``batchmap.config.resolve``."""
        from batchmap.config.resolved import resolve

        return resolve(self, kind, fifo=fifo)

    @property
    def report_batch_item_failures(self) -> bool:
        """Whether ``ReportBatchItemFailures`` is in ``function_response_types``."""
        return REPORT_BATCH_ITEM_FAILURES in self.function_response_types


def _check_identity(m: EventSourceMapping) -> None:
    if not isinstance(m.source, str) or not m.source.strip():
        raise fail("source", m.source, "a source URI (sqlite:///file.db?queue=NAME, ...) or an ARN")
    function = m.function
    if (isinstance(function, str) and not function.strip()) or not isinstance(function, str | FunctionConfig):
        raise fail("function", function, "module:callable, a function name, ARN or URL, or a FunctionConfig")
    check_bool("enabled", m.enabled)
    if m.uuid is not None and (not isinstance(m.uuid, str) or not m.uuid.strip()):
        raise fail("uuid", m.uuid, "a non-empty identifier")


def _check_batching(m: EventSourceMapping) -> None:
    if m.batch_size is not None:
        check_int("batch_size", m.batch_size, 1, MAX_BATCH_SIZE)
    window = m.maximum_batching_window_in_seconds
    if window is not None and not (is_real(window) and 0 <= window <= MAX_WINDOW_S):
        raise fail("maximum_batching_window_in_seconds", window, f"seconds from 0 to {MAX_WINDOW_S}")
    types = m.function_response_types
    if not isinstance(types, tuple) or len(types) > 1 or any(t != REPORT_BATCH_ITEM_FAILURES for t in types):
        raise fail("function_response_types", types, f"empty, or the one item {REPORT_BATCH_ITEM_FAILURES!r}")


def _check_position(m: EventSourceMapping) -> None:
    if m.starting_position is not None and m.starting_position not in STARTING_POSITIONS:
        raise fail("starting_position", m.starting_position, "one of " + ", ".join(STARTING_POSITIONS))
    stamp = m.starting_position_timestamp
    if stamp is not None:
        if not (is_real(stamp) and 0 <= stamp <= SystemClock().wall_ms() / 1000):
            raise fail("starting_position_timestamp", stamp, "Unix seconds from 0 to now: AWS refuses a time in "
                       "the future")
        if m.starting_position != "AT_TIMESTAMP":
            raise fail("starting_position_timestamp", stamp, "only with StartingPosition AT_TIMESTAMP")
    elif m.starting_position == "AT_TIMESTAMP":
        raise fail("starting_position_timestamp", None, "required with StartingPosition AT_TIMESTAMP")


def _check_stream_settings(m: EventSourceMapping) -> None:
    if m.parallelization_factor is not None:
        check_int("parallelization_factor", m.parallelization_factor, 1, MAX_PARALLELIZATION_FACTOR)
    check_bool("bisect_batch_on_function_error", m.bisect_batch_on_function_error)
    if m.maximum_retry_attempts is not None:
        check_int("maximum_retry_attempts", m.maximum_retry_attempts, -1, MAX_RETRY_ATTEMPTS)
    age = m.maximum_record_age_in_seconds
    if age is not None:
        check_int("maximum_record_age_in_seconds", age, MIN_RECORD_AGE_S, MAX_RECORD_AGE_S, also=-1)
    if m.tumbling_window_in_seconds is not None:
        check_int("tumbling_window_in_seconds", m.tumbling_window_in_seconds, 0, MAX_TUMBLING_WINDOW_S)


def _check_objects(m: EventSourceMapping) -> None:
    expected: tuple[tuple[str, Any, type], ...] = (
        ("destination_config", m.destination_config, DestinationConfig),
        ("filter_criteria", m.filter_criteria, FilterCriteria),
        ("scaling_config", m.scaling_config, ScalingConfig),
        ("provisioned_poller_config", m.provisioned_poller_config, ProvisionedPollerConfig),
        ("metrics_config", m.metrics_config, MetricsConfig),
    )
    for name, value, kind in expected:
        if value is not None and not isinstance(value, kind):
            raise fail(name, value, f"a {kind.__name__}")
    pollers, scaling = m.provisioned_poller_config, m.scaling_config
    if pollers is not None and pollers.is_set and scaling is not None and scaling.maximum_concurrency is not None:
        raise fail("scaling_config", scaling.maximum_concurrency,
                   "not with ProvisionedPollerConfig (--provisioned-poller-config): in provisioned mode the "
                   "pollers bound the concurrency, as AWS requires")
