"""The Source seam: what every broker adapter gives the engine.

A source knows its broker and nothing of batching policy. It hands the engine
``Delivery`` values that already carry the record in the exact AWS shape the
user's function expects, plus what the source needs to settle it later.

Two protocols, because queues and streams are settled differently:

* ``QueueSource`` (SQS-like): receive, delete, release; redelivery after the
  visibility timeout and dead-lettering after ``maxReceiveCount`` are the
  broker's job, as with SQS's own redrive policy. What a queue can do beyond
  that is declared in its ``traits`` (``QueueTraits``), so the engine never
  probes a source for methods.
* ``StreamSource`` (Kinesis-like): list shards, read a shard from a position;
  positions are kept by the engine in a ``CheckpointStore``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Protocol, cast, runtime_checkable

RecordShape = Literal["sqs", "kinesis", "dynamodb", "kafka"]
PositionType = Literal[
    "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"
]


class Delivery(NamedTuple):
    """One record as received: the AWS-shaped record and how to settle it.

    Immutable, and a named tuple rather than a frozen dataclass because one is
    made per message on the hottest path: it is built several times faster.

    ``record`` is exactly the dict Lambda would put in ``event["Records"]``;
    ``id`` is its ``itemIdentifier`` (SQS ``messageId``, stream sequence number);
    ``key`` its ordering key (FIFO group, partition key; ``None`` when unordered);
    ``shard`` the unit the source orders by (shard id, ``topic-partition``, ``""``);
    ``size`` the bytes of the record as JSON; ``arrival_ms`` when the broker
    accepted it (epoch ms); ``handle`` what ``delete``/``release`` need.
    """

    record: dict[str, Any]
    id: str
    key: str | None
    shard: str
    size: int
    arrival_ms: int
    receive_count: int = 1
    handle: str = ""


@dataclass(frozen=True, slots=True)
class Backlog:
    """How many messages a queue holds, by state (for --until-idle, scaling, progress)."""

    visible: int
    in_flight: int
    delayed: int
    dead_lettered: int = 0
    next_visible_ms: int | None = field(default=None, compare=False)
    """When the earliest hidden message becomes visible again (epoch ms), where the queue can tell:
    a hint for the operator's view, so it takes no part in comparing counts."""

    @property
    def total(self) -> int:
        """Messages still to be processed: visible, in flight or waiting."""
        return self.visible + self.in_flight + self.delayed


@dataclass(frozen=True, slots=True)
class QueueTraits:
    """What a queue source can do beyond the ``QueueSource`` methods; the defaults are what every queue has.

    ``extends_visibility``: the source is a ``VisibilityExtender``, so the
    engine can keep the messages it holds hidden for longer than the
    visibility timeout (SQS ``ChangeMessageVisibility``).
    ``moves_messages``: the source is a ``MessageMover``, so ``batchmap
    start-message-move-task`` can move messages received from it (a dead-letter
    queue) to another queue of the same broker, and tell which queue
    dead-lettered each one.
    """

    extends_visibility: bool = False
    moves_messages: bool = False


@runtime_checkable
class QueueSource(Protocol):
    """A queue with SQS semantics."""

    shape: RecordShape
    arn: str
    fifo: bool
    visibility_timeout_s: float
    traits: QueueTraits

    async def receive(self, max_records: int, wait_s: float) -> list[Delivery]:
        """Up to ``max_records`` visible messages, waiting at most ``wait_s`` for the first."""
        ...

    async def delete(self, deliveries: Sequence[Delivery]) -> int:
        """Delete settled messages; returns how many were deleted."""
        ...

    async def release(self, deliveries: Sequence[Delivery], delay_s: float = 0.0) -> None:
        """Make messages visible again after ``delay_s`` (unprocessed work on a stop)."""
        ...

    async def backlog(self) -> Backlog:
        """Counts of visible, in-flight and delayed messages."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class VisibilityExtender(Protocol):
    """A queue that can keep a received message hidden for longer (``QueueTraits.extends_visibility``)."""

    async def extend_visibility(self, deliveries: Sequence[Delivery], timeout_s: float) -> None:
        """Keep the messages hidden for ``timeout_s`` seconds from now, as ChangeMessageVisibility does.

        Raises ``SettleError`` naming the messages whose receipt died (deleted,
        or received again since): those cannot be kept; the others were extended.
        """
        ...


def visibility_extender(source: QueueSource) -> VisibilityExtender | None:
    """The source as a ``VisibilityExtender`` when its traits say it is one, else ``None``."""
    return cast(VisibilityExtender, source) if source.traits.extends_visibility else None


class MessageMover(Protocol):
    """A queue whose received messages can be moved to another queue (``QueueTraits.moves_messages``).

    Used on a dead-letter queue to send messages back where they failed, as SQS's
    ``StartMessageMoveTask`` does: body and message attributes are kept, the receive
    count starts again from zero, and no message is lost or left in both queues.
    """

    async def origins(self, deliveries: Sequence[Delivery]) -> list[str | None]:
        """For each message, the URI of the queue that dead-lettered it, or ``None`` if nothing recorded it."""
        ...

    async def move(self, deliveries: Sequence[Delivery], destination: str) -> int:
        """Move received messages to the queue ``destination`` (a URI on the same broker); returns how many.

        Atomic where the broker allows (one transaction or script); otherwise the copy is
        confirmed before the original is deleted, under an id a repeat keeps. A message no
        longer held under its receipt is not moved. A ``destination`` this source cannot
        reach is a ``ConfigError`` naming it; with no ``deliveries`` the call only checks that.
        """
        ...


def message_mover(source: QueueSource) -> MessageMover | None:
    """The source as a ``MessageMover`` when its traits say it is one, else ``None``."""
    return cast(MessageMover, source) if source.traits.moves_messages else None


@dataclass(frozen=True, slots=True)
class Shard:
    """A shard of a stream; ``closed`` once resharding stopped writes to it."""

    id: str
    parent_ids: tuple[str, ...] = ()
    closed: bool = False


@dataclass(frozen=True, slots=True)
class Position:
    """Where to read a shard from, in Kinesis iterator terms."""

    type: PositionType
    sequence_number: str | None = None
    timestamp: float | None = None  # Unix seconds, for AT_TIMESTAMP


@dataclass(frozen=True, slots=True)
class StreamRead:
    """The result of one read: records in order, where to read next, whether the shard ended.

    ``revoked`` says this consumer no longer owns the shard (a Kafka rebalance,
    a lost lease): the engine stops reading it without treating it as ended.
    """

    deliveries: list[Delivery]
    next_position: Position
    shard_ended: bool = False
    millis_behind_latest: int | None = None
    revoked: bool = False


@runtime_checkable
class StreamSource(Protocol):
    """A sharded, ordered stream with Kinesis semantics."""

    shape: RecordShape
    arn: str

    async def shards(self) -> list[Shard]:
        """Every shard, parents listed before their children."""
        ...

    async def read(self, shard_id: str, position: Position, max_records: int) -> StreamRead:
        """Up to ``max_records`` records of ``shard_id`` from ``position``, in sequence order."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


@runtime_checkable
class CheckpointStore(Protocol):
    """Where stream positions live between runs (the last fully processed sequence number)."""

    async def get(self, mapping_id: str, shard_id: str) -> str | None:
        """The checkpointed sequence number, or ``None`` if the shard was never checkpointed."""
        ...

    async def put(self, mapping_id: str, shard_id: str, sequence_number: str) -> None:
        """Record that everything up to and including ``sequence_number`` is done."""
        ...


@runtime_checkable
class Destination(Protocol):
    """Where on-failure records (AWS's invocation-record format) go."""

    uri: str

    async def send(self, record: dict[str, Any]) -> None:
        """Deliver one on-failure record; raise on failure so it is counted as a delivery failure."""
        ...


@runtime_checkable
class Producer(Protocol):
    """Something ``batchmap send`` can write messages to."""

    async def send(
        self,
        bodies: Sequence[str],
        *,
        partition_key: str | None = None,
        message_group_id: str | None = None,
        deduplication_id: str | None = None,
        delay_s: int = 0,
    ) -> list[str]:
        """Send messages; returns their ids (message ids or sequence numbers)."""
        ...
