"""The Source seam: what every broker adapter gives the engine.

A source knows its broker and nothing of batching policy. It hands the engine
``Delivery`` values that already carry the record in the exact AWS shape the
user's function expects, plus what the source needs to settle it later.

Two protocols, because queues and streams are settled differently:

* ``QueueSource`` (SQS-like): receive, delete, release; redelivery after the
  visibility timeout and dead-lettering after ``maxReceiveCount`` are the
  broker's job, as with SQS's own redrive policy.
* ``StreamSource`` (Kinesis-like): list shards, read a shard from a position;
  positions are kept by the engine in a ``CheckpointStore``.

What a source can do beyond its protocol is declared in its ``traits``
(``SourceTraits``: typed fields, the defaults in one place), and the object
that goes with a trait is reached through a typed accessor
(``visibility_extender``, ``checkpoint_owner``, ...), so the engine never
probes a source for attributes and never asks which broker it is.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol, cast, runtime_checkable

from batchmap.records.wire import SourceKind

if TYPE_CHECKING:
    import asyncio

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
class SourceTraits:
    """What a source can do beyond its protocol's methods; the defaults are what every source has.

    Each trait that comes with methods names the protocol the source then
    also is, and the accessor that hands it out typed:

    ``extends_visibility``: a queue that is a ``VisibilityExtender``, so the
    engine can keep the messages it holds hidden for longer than the
    visibility timeout (SQS ``ChangeMessageVisibility``); ``visibility_extender``.
    ``moves_messages``: a queue that is a ``MessageMover``, so ``batchmap
    start-message-move-task`` can move messages received from it (a dead-letter
    queue) to another queue of the same broker, and tell which queue
    dead-lettered each one; ``message_mover``.
    ``cancel_safe_receive``: cancelling a ``receive`` while it waits loses and
    hides nothing, so the engine cancels idle receives at once when it stops.
    ``native_checkpoints``: a stream whose positions live in the broker
    (Kafka's group offsets): a ``CheckpointOwner``, whose own store is used even
    when the engine was given one; ``checkpoint_owner``.
    ``shards_change``: a stream whose shards come and go without ending (Kafka's
    rebalances): a ``ShardWatcher`` that says so at once; ``shard_watcher``.
    ``own_destinations``: a source that opens some on-failure destinations itself
    (a ``kafka://`` topic on its own cluster): a ``DestinationOwner``; ``destination_owner``.
    ``event_metadata``: every event carries top-level fields of the source's
    (Kafka's ``eventSource``, ``eventSourceArn``, ``bootstrapServers``): an
    ``EventMetadata``; ``event_metadata``.
    ``wakes_reads``: a stream that can wait for new records instead of being
    polled, so a shard that caught up reads again as soon as a record arrives:
    a ``ChangeWaiter``; ``change_waiter``.
    ``approximate_backlog``: a queue whose ``backlog`` counts are read one at a
    time and may miss a message that changes state between them (SQS's
    ``ApproximateNumberOf...`` attributes: a message whose visibility timeout ends
    between the two reads is neither visible nor in flight), so an
    ``--until-idle`` drain ends only on two empty readings with nothing but
    empty polls between them.
    """

    extends_visibility: bool = False
    moves_messages: bool = False
    cancel_safe_receive: bool = False
    native_checkpoints: bool = False
    shards_change: bool = False
    own_destinations: bool = False
    event_metadata: bool = False
    wakes_reads: bool = False
    approximate_backlog: bool = False


QueueTraits = SourceTraits
"""The name the queue sources first declared their traits under (the same class)."""


@runtime_checkable
class QueueSource(Protocol):
    """A queue with SQS semantics; ``fifo`` says whether this queue is a FIFO queue."""

    shape: SourceKind
    arn: str
    fifo: bool
    visibility_timeout_s: float
    traits: SourceTraits

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
    """A queue that can keep a received message hidden for longer (``SourceTraits.extends_visibility``)."""

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
    """A queue whose received messages can be moved to another queue (``SourceTraits.moves_messages``).

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

    shape: SourceKind
    arn: str
    traits: SourceTraits

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


Source = QueueSource | StreamSource
"""Any source the engine runs."""


class CheckpointOwner(Protocol):
    """A stream that keeps its own positions (``SourceTraits.native_checkpoints``)."""

    def checkpoint_store(self) -> CheckpointStore:
        """The store of this source's positions (Kafka: the group's committed offsets)."""
        ...


def checkpoint_owner(source: Source) -> CheckpointOwner | None:
    """The source as a ``CheckpointOwner`` when its traits say it is one, else ``None``."""
    return cast(CheckpointOwner, source) if source.traits.native_checkpoints else None


class ShardWatcher(Protocol):
    """A stream whose shards change without ending (``SourceTraits.shards_change``)."""

    shards_changed: asyncio.Event
    """Set when the shards changed (a rebalance assigned or revoked partitions): list them again at once."""


def shard_watcher(source: Source) -> ShardWatcher | None:
    """The source as a ``ShardWatcher`` when its traits say it is one, else ``None``."""
    return cast(ShardWatcher, source) if source.traits.shards_change else None


class DestinationOwner(Protocol):
    """A source that opens some on-failure destinations itself (``SourceTraits.own_destinations``)."""

    async def open_destination(self, uri: str) -> Destination | None:
        """The destination ``uri`` names if this source serves it (a topic on its cluster), else ``None``."""
        ...


def destination_owner(source: Source) -> DestinationOwner | None:
    """The source as a ``DestinationOwner`` when its traits say it is one, else ``None``."""
    return cast(DestinationOwner, source) if source.traits.own_destinations else None


class EventMetadata(Protocol):
    """A source whose events carry top-level fields of its own (``SourceTraits.event_metadata``)."""

    event_meta: Mapping[str, str]
    """The fields, in AWS's names, as Lambda puts them at the top of every event."""


def event_metadata(source: Source) -> Mapping[str, str] | None:
    """The top-level fields every event of ``source`` carries, when its traits say there are any."""
    return cast(EventMetadata, source).event_meta if source.traits.event_metadata else None


class ChangeWaiter(Protocol):
    """A stream whose reads can wait for new records (``SourceTraits.wakes_reads``)."""

    async def wait_for_change(self, shard_id: str, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for a write that may have added records since ``shard_id`` was last read.

        True when one came (a read may find new records; it may also find none),
        false at the timeout. Cancelling the wait leaves nothing behind; a source
        that cannot tell (its change signal failed) returns false at the timeout.
        """
        ...


def change_waiter(source: Source) -> ChangeWaiter | None:
    """The source as a ``ChangeWaiter`` when its traits say it is one, else ``None``."""
    return cast(ChangeWaiter, source) if source.traits.wakes_reads else None


@runtime_checkable
class Destination(Protocol):
    """Where on-failure records (AWS's invocation-record format) go."""

    uri: str

    async def send(self, record: dict[str, Any]) -> None:
        """Deliver one on-failure record; raise on failure so it is counted as a delivery failure."""
        ...


@dataclass(frozen=True, slots=True)
class DestinationTraits:
    """What an on-failure destination declares beyond ``Destination``; the defaults are every destination's.

    ``wants_payload``: its records carry the whole invocation event (``payload``),
    as AWS's S3 destinations do; queues get the batch's metadata only.
    ``one_record_per_message``: one record per failed record, each carrying that
    record (AWS's Kafka topic destination).
    """

    wants_payload: bool = False
    one_record_per_message: bool = False


def destination_traits(destination: Destination) -> DestinationTraits:
    """The traits ``destination`` declares as attributes of the same names.

    Destinations are plug-ins (``register_destination``): either attribute may
    be left out, and then it is false. This is the one place that reads them.
    """
    return DestinationTraits(
        wants_payload=bool(getattr(destination, "wants_payload", False)),
        one_record_per_message=bool(getattr(destination, "one_record_per_message", False)),
    )


async def close_destination(destination: Destination) -> None:
    """Release what ``destination`` holds (a client, a producer, a database file), if it has a ``close``.

    ``close`` is optional for the same reason as the traits: a plug-in that holds
    nothing need not write one. It may be a coroutine function or a plain one.
    """
    closer = getattr(destination, "close", None)
    if callable(closer):
        result = closer()
        if inspect.isawaitable(result):
            await result


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
