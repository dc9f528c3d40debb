"""The traffic a mapping must carry and the source it comes from.

``Workload`` holds what the user knows about their traffic (rate, record size)
and about the source (which AWS service, shards, pollers). ``SOURCES`` holds
what the tuner's model needs per source: AWS's rules (where the batching
window starts, how much a record grows inside the Lambda event, the limits on
``BatchSize``, the window and the function timeout), read from
``batchmap.records.shapes`` and never restated here, plus the model's own
estimates (the envelope around a record, how often an idle source is polled).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from batchmap.errors import ConfigError
from batchmap.records.shapes import BY_NAME, Shape
from batchmap.records.wire import MappingKind, WindowStart

Platform = Literal["aws", "batchmap"]


@dataclass(frozen=True, slots=True)
class SourceModel:
    """One kind of source as the tuner models it: AWS's rules (from its ``Shape``) and the model's estimates."""

    window_start: WindowStart
    envelope_bytes: int  # h: ids and attributes around each record in the event (estimate)
    payload_expansion: float  # base64 makes stream data 4/3 larger in the event
    poll_interval_s: float  # how often an idle shard is polled (0: long polling) (estimate)
    max_batch_size: int
    window_allowed: bool
    max_function_timeout_s: float

    @classmethod
    def of(cls, shape: Shape, envelope_bytes: int, poll_interval_s: float) -> SourceModel:
        """AWS's rules from ``shape`` with the model's estimates for this source."""
        return cls(shape.window_start, envelope_bytes, shape.payload_expansion, poll_interval_s,
                   shape.max_batch_size, shape.window_allowed, shape.max_function_timeout_s)


_ESTIMATES: dict[MappingKind, tuple[int, float]] = {
    "sqs": (800, 0.0),
    "sqs-fifo": (900, 0.0),
    "kinesis": (300, 1.0),
    "dynamodb": (400, 0.25),
    "kafka": (250, 0.0),
}
"""The model's estimates per source: (envelope bytes per record, idle polling interval in seconds)."""

SOURCES: dict[MappingKind, SourceModel] = {
    name: SourceModel.of(BY_NAME[name], *estimates) for name, estimates in _ESTIMATES.items()
}


@dataclass(frozen=True, slots=True)
class Workload:
    """Traffic and source settings that the tuner does not choose.

    ``rate`` is the mean arrival rate in records per second over the whole
    mapping. ``shards`` (Kinesis, DynamoDB Streams) defaults to what the rate
    needs; ``lanes`` is the number of concurrent batch collectors for Kafka.
    ``sqs_pollers`` is how many collectors SQS keeps at low traffic (AWS: five,
    "as few as two"). ``poll_interval_s`` overrides the source's polling delay
    (0 removes it, as in the reference's one-lane table). ``function_timeout_s``
    is Lambda's ``Timeout``; when unset the tuner recommends one.
    ``platform="batchmap"`` allows fractional windows (AWS takes whole seconds).
    """

    rate: float
    source: MappingKind = "sqs"
    record_bytes: int = 1024
    envelope_bytes: int | None = None
    shards: int | None = None
    lanes: int = 1
    sqs_pollers: int = 5
    poll_interval_s: float | None = None
    producer_batch: int = 1
    efo_consumers: int = 0
    function_timeout_s: float | None = None
    visibility_timeout_s: float | None = None
    sqs_idle_wait_s: float = 0.0
    platform: Platform = "aws"

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ConfigError("source", self.source, f"one of {', '.join(SOURCES)}")
        _check(math.isfinite(self.rate) and self.rate > 0, "rate", self.rate, "records per second > 0")
        _check(self.record_bytes >= 1, "record_bytes", self.record_bytes, "bytes >= 1")
        _check(
            self.envelope_bytes is None or self.envelope_bytes >= 0,
            "envelope_bytes",
            self.envelope_bytes,
            "bytes >= 0",
        )
        _check(self.shards is None or self.shards >= 1, "shards", self.shards, "an integer >= 1")
        _check(self.lanes >= 1, "lanes", self.lanes, "an integer >= 1")
        _check(2 <= self.sqs_pollers <= 1000, "sqs_pollers", self.sqs_pollers, "2-1000")
        _check(
            self.poll_interval_s is None or self.poll_interval_s >= 0,
            "poll_interval_s",
            self.poll_interval_s,
            "seconds >= 0",
        )
        _check(
            1 <= self.producer_batch <= 10,
            "producer_batch",
            self.producer_batch,
            "1-10 messages per SendMessageBatch",
        )
        _check(self.efo_consumers >= 0, "efo_consumers", self.efo_consumers, "an integer >= 0")
        limit = self.traits.max_function_timeout_s
        _check(
            self.function_timeout_s is None or 0 < self.function_timeout_s <= limit,
            "function_timeout_s",
            self.function_timeout_s,
            f"seconds in (0, {limit:g}] for {self.source}",
        )
        _check(
            self.visibility_timeout_s is None or self.visibility_timeout_s >= 0,
            "visibility_timeout_s",
            self.visibility_timeout_s,
            "seconds >= 0",
        )
        _check(self.sqs_idle_wait_s >= 0, "sqs_idle_wait_s", self.sqs_idle_wait_s, "seconds >= 0")
        _check(self.platform in ("aws", "batchmap"), "platform", self.platform, "'aws' or 'batchmap'")

    @property
    def traits(self) -> SourceModel:
        return SOURCES[self.source]

    @property
    def shape(self) -> Shape:
        """AWS's rules for this workload's source."""
        return BY_NAME[self.source]

    @property
    def is_sqs(self) -> bool:
        return self.shape.kind == "sqs"

    @property
    def is_stream(self) -> bool:
        return self.shape.stream

    @property
    def poll_delay_s(self) -> float:
        """The polling interval in force (the source's default unless overridden)."""
        return self.traits.poll_interval_s if self.poll_interval_s is None else self.poll_interval_s

    @property
    def event_record_bytes(self) -> int:
        """Bytes one record takes inside the Lambda event: s̄ (expanded) + h."""
        envelope = self.traits.envelope_bytes if self.envelope_bytes is None else self.envelope_bytes
        return math.ceil(self.traits.payload_expansion * self.record_bytes) + envelope


def _check(ok: bool, field: str, value: object, allowed: str) -> None:
    if not ok:
        raise ConfigError(field, value, allowed)
