"""Each record shape's rules, in one place: what AWS fixes for SQS, Kinesis, DynamoDB Streams and Kafka.

Everything that depends on the shape reads it here: the mapping's defaults and
limits (``batchmap.config``), the event the function gets and how its response
is read (``batchmap.records``), what the engine does with a partial response
and what its on-failure record is called, and the tuner's limits. A new rule
that differs by shape is a new field of ``Shape``, not an ``if kind == ...``
somewhere else. Reference: aws-esm.md §0 (limits), §1 (windows), §3.5 and
§4.5 (on-failure records), §9 (the wire shapes).

Standard library only and nothing imported at run time: the handler toolkit
reads the identifier names and Kafka's codec from here in a Lambda cold start.

==============  ==========  =====  ======  ===============  =================================
shape           BatchSize   max    window  window starts    StartingPosition
==============  ==========  =====  ======  ===============  =================================
sqs             10          10000  0       on_ready         not allowed
sqs-fifo        10          10     none    on_ready         not allowed
kinesis         100         10000  0       on_ready         TRIM_HORIZON, LATEST, AT_TIMESTAMP
dynamodb        100         10000  0       on_ready         TRIM_HORIZON, LATEST
kafka           100         10000  0.5     on_first_record  TRIM_HORIZON, LATEST, AT_TIMESTAMP
==============  ==========  =====  ======  ===============  =================================
"""

from __future__ import annotations

from batchmap.errors import ConfigError
from batchmap.records.value import Value, set_field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from batchmap.records.wire import MappingKind, SourceKind, WindowStart

KINDS: tuple[SourceKind, ...] = ("sqs", "kinesis", "dynamodb", "kafka")
"""The four record shapes (``batchmap.records.SourceKind``)."""

MAPPING_KINDS: tuple[MappingKind, ...] = ("sqs", "sqs-fifo", "kinesis", "dynamodb", "kafka")
"""A shape with FIFO told apart: the tuner's and the templates' name for a mapping's source."""

EVENT_SOURCES: dict[str, SourceKind] = {
    "aws:sqs": "sqs",
    "aws:kinesis": "kinesis",
    "aws:dynamodb": "dynamodb",
    "aws:kafka": "kafka",
    "SelfManagedKafka": "kafka",
    "aws:SelfManagedKafka": "kafka",
}
"""``eventSource`` -> shape (Kafka's ``eventSource`` is the event's, the others' each record's; the last
Kafka value is seen in third-party samples)."""

KAFKA_EVENT_SOURCES: tuple[str, ...] = tuple(k for k, v in EVENT_SOURCES.items() if v == "kafka")

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
"""Lambda's synchronous invocation payload limit (6 MB); event source mappings always invoke synchronously."""

EVENT_ENVELOPE_BYTES = len('{"Records": []}')
"""Bytes of the event around the records; each record adds its size plus a separator."""

MAX_FUNCTION_TIMEOUT_S = 900.0
"""Lambda's longest function timeout (15 minutes); Kafka mappings allow less (``Shape.max_function_timeout_s``)."""

KAFKA_BATCH_INFO = "KafkaBatchInfo"
"""Kafka's on-failure batch info: spans per topic-partition (``recordsInfo``), not one shard's sequence numbers."""

MIN_WINDOW_FOR_LARGE_BATCHES_S = 1
"""SQS: a ``BatchSize`` above ``Shape.window_needed_above`` needs a window of at least this many seconds."""

SQS_POLLERS = (2, 2, 10_000, 200)
"""SQS provisioned mode: MinimumPollers from 2 (default 2), MaximumPollers 2 to 10,000 (default 200)."""

KAFKA_POLLERS = (1, 1, 2_000, 200)
"""Kafka provisioned mode: MinimumPollers from 1 (default 1), MaximumPollers 1 to 2,000 (default 200)."""


class Shape(Value):
    """What AWS fixes for one shape of source (``kind``, and ``fifo`` for SQS FIFO queues).

    Defaults and limits: ``batch_size`` (default), ``max_batch_size``,
    ``window_s`` (default window), ``window_allowed`` (FIFO: no window at all),
    ``window_needed_above`` (SQS: a larger ``BatchSize`` needs a window of at
    least ``MIN_WINDOW_FOR_LARGE_BATCHES_S``), ``window_start`` (where the
    window clock starts), ``positions``/``default_position`` (StartingPosition),
    ``max_function_timeout_s``, ``retries_with_destination`` (Kafka caps infinite
    retries at 10 once an on-failure destination is set).
    Which settings apply: ``stream`` (ParallelizationFactor, tumbling windows),
    ``retry`` (bisect, retries, record age, on-failure destination), ``scaling``
    (ScalingConfig), ``pollers`` (ProvisionedPollerConfig's limits: the lowest
    poller count, the MinimumPollers default, the highest MaximumPollers and its
    default; ``None``: AWS has no provisioned mode for the shape), ``metric_groups``
    (the MetricsConfig groups AWS offers for it).
    Records: ``id_field`` (where a record keeps its ``itemIdentifier``),
    ``id_name`` (it in words), ``rewinds`` (a partial response re-reads from the
    lowest failed record instead of retrying the listed ones), ``batch_info``
    (the on-failure record's batch-info key; ``None``: no on-failure destination),
    ``base64_data`` (the payload is base64 in the event: 4/3 larger),
    ``commits`` (the source commits offsets: ``CommittedEventCount``),
    ``second_arrivals`` (the stream records arrival times in whole seconds,
    so on-failure records show them without milliseconds: DynamoDB).
    """

    __slots__ = (
        "base64_data", "batch_info", "batch_size", "commits", "default_position", "fifo", "id_field", "id_name",
        "kind", "label", "max_batch_size", "max_function_timeout_s", "metric_groups", "name", "pollers", "positions",
        "retries_with_destination", "retry", "rewinds", "scaling", "second_arrivals", "stream", "window_allowed",
        "window_needed_above", "window_s", "window_start",
    )

    kind: SourceKind
    fifo: bool
    name: MappingKind
    label: str
    batch_size: int
    max_batch_size: int
    window_s: float
    window_allowed: bool
    window_needed_above: int | None
    window_start: WindowStart
    positions: tuple[str, ...]
    default_position: str | None
    max_function_timeout_s: float
    retries_with_destination: int | None
    stream: bool
    retry: bool
    scaling: bool
    pollers: tuple[int, int, int, int] | None
    metric_groups: tuple[str, ...]
    id_field: str
    id_name: str
    rewinds: bool
    batch_info: str | None
    base64_data: bool
    commits: bool
    second_arrivals: bool

    def __init__(self, kind: SourceKind, label: str, *, fifo: bool = False, batch_size: int, max_batch_size: int,
                 window_s: float = 0.0, window_allowed: bool = True, window_needed_above: int | None = None,
                 window_start: WindowStart = "on_ready", positions: tuple[str, ...] = (),
                 default_position: str | None = None, max_function_timeout_s: float = MAX_FUNCTION_TIMEOUT_S,
                 retries_with_destination: int | None = None, stream: bool = False, retry: bool = False,
                 scaling: bool = False, pollers: tuple[int, int, int, int] | None = None,
                 metric_groups: tuple[str, ...] = ("EventCount",), id_field: str, id_name: str, rewinds: bool,
                 batch_info: str | None,
                 base64_data: bool = False, commits: bool = False, second_arrivals: bool = False) -> None:
        set_field(self, "kind", kind)
        set_field(self, "fifo", fifo)
        set_field(self, "name", f"{kind}-fifo" if fifo else kind)
        set_field(self, "label", label)
        set_field(self, "batch_size", batch_size)
        set_field(self, "max_batch_size", max_batch_size)
        set_field(self, "window_s", window_s)
        set_field(self, "window_allowed", window_allowed)
        set_field(self, "window_needed_above", window_needed_above)
        set_field(self, "window_start", window_start)
        set_field(self, "positions", positions)
        set_field(self, "default_position", default_position)
        set_field(self, "max_function_timeout_s", max_function_timeout_s)
        set_field(self, "retries_with_destination", retries_with_destination)
        set_field(self, "stream", stream)
        set_field(self, "retry", retry)
        set_field(self, "scaling", scaling)
        set_field(self, "pollers", pollers)
        set_field(self, "metric_groups", metric_groups)
        set_field(self, "id_field", id_field)
        set_field(self, "id_name", id_name)
        set_field(self, "rewinds", rewinds)
        set_field(self, "batch_info", batch_info)
        set_field(self, "base64_data", base64_data)
        set_field(self, "commits", commits)
        set_field(self, "second_arrivals", second_arrivals)

    @property
    def payload_expansion(self) -> float:
        """How much larger a record's payload is inside the event (base64: 4/3)."""
        return 4 / 3 if self.base64_data else 1.0


_ALL_POSITIONS = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")

SHAPES: dict[tuple[str, bool], Shape] = {
    ("sqs", False): Shape(
        "sqs", "SQS queues", batch_size=10, max_batch_size=10_000, window_needed_above=10, scaling=True,
        pollers=SQS_POLLERS, id_field="messageId", id_name="messageId", rewinds=False, batch_info=None,
    ),
    ("sqs", True): Shape(
        "sqs", "SQS FIFO queues", fifo=True, batch_size=10, max_batch_size=10, window_allowed=False, scaling=True,
        pollers=SQS_POLLERS, id_field="messageId", id_name="messageId", rewinds=False, batch_info=None,
    ),
    ("kinesis", False): Shape(
        "kinesis", "Kinesis streams", batch_size=100, max_batch_size=10_000, positions=_ALL_POSITIONS,
        stream=True, retry=True, id_field="kinesis.sequenceNumber", id_name="sequence number", rewinds=True,
        batch_info="KinesisBatchInfo", base64_data=True,
    ),
    ("dynamodb", False): Shape(
        "dynamodb", "DynamoDB streams", batch_size=100, max_batch_size=10_000, positions=("TRIM_HORIZON", "LATEST"),
        stream=True, retry=True, id_field="dynamodb.SequenceNumber", id_name="sequence number", rewinds=True,
        batch_info="DDBStreamBatchInfo", second_arrivals=True,
    ),
    ("kafka", False): Shape(
        "kafka", "Kafka topics", batch_size=100, max_batch_size=10_000, window_s=0.5, window_start="on_first_record",
        positions=_ALL_POSITIONS, default_position="TRIM_HORIZON", max_function_timeout_s=840.0,
        retries_with_destination=10, retry=True, pollers=KAFKA_POLLERS,
        metric_groups=("EventCount", "ErrorCount", "KafkaMetrics"), id_field="offset",
        id_name="topic-partition and offset",
        rewinds=True, batch_info=KAFKA_BATCH_INFO, base64_data=True, commits=True,
    ),
}
"""Every shape by ``(kind, fifo)``."""

BY_KIND: dict[str, Shape] = {kind: SHAPES[kind, False] for kind in KINDS}
"""Every shape by kind alone (SQS standard for ``sqs``): what is true of a kind whether FIFO or not."""

BY_NAME: dict[str, Shape] = {shape.name: shape for shape in SHAPES.values()}
"""Every shape by its ``MAPPING_KINDS`` name (``sqs-fifo`` for FIFO queues)."""


def shape_of(kind: str, fifo: bool = False) -> Shape:
    """The rules for ``kind`` (``fifo``: an SQS FIFO queue); a ``ConfigError`` names an unknown kind."""
    shape = SHAPES.get((kind, fifo))
    if shape is None:
        raise ConfigError("kind", (kind, fifo) if fifo else kind, "sqs (optionally FIFO), kinesis, dynamodb or kafka")
    return shape


def topic_partition(topic: str, partition: int) -> str:
    """``<topic>-<partition>``: the key of a Kafka event's ``records``, and the engine's shard id."""
    return f"{topic}-{partition}"


def kafka_item_id(partition: str, offset: int) -> str:
    """One string for a Kafka record: ``"<topic>-<partition>:<offset>"`` (``:`` never occurs in a topic)."""
    return f"{partition}:{offset}"


def parse_kafka_item_id(item_id: str) -> tuple[str, int]:
    """Split a Kafka batch id made by ``kafka_item_id`` back into (topic-partition, offset)."""
    partition, sep, offset = item_id.rpartition(":")
    if not sep or not partition or not offset.isdigit():
        raise ConfigError("Kafka item id", item_id, "'<topic>-<partition>:<offset>', from kafka_item_id()")
    return partition, int(offset)
