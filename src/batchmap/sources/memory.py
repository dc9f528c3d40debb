"""The in-memory twin: an SQS-like queue (``memory://NAME``) and a Kinesis-like stream
(``memory-stream://NAME?shards=N``) that live in this process.

A test of the engine's semantics (retries, bisection, windows, FIFO groups, partial failures) needs
a source that behaves as the embedded one does but costs no file, no fsync and no thread: this is
it, as a stub broker is for a task queue. Every ``open_source`` of one name in one process reaches
the same queue or stream (a module-level registry), from any thread and any event loop, so a test
can send from a thread while an engine runs, and drain it again with a second ``asyncio.run``.
Nothing survives the process; ``forget`` drops names.

The records are built by the embedded source's own record builders, so their shapes and sizes are
the embedded source's exactly. Time comes from a ``Clock`` (``set_clock``), so a test can run
visibility timeouts, delays and redrive on a ``FakeClock``. A stream keeps its mappings' checkpoints
beside its records. URI settings of a queue: ``visibility_timeout`` (seconds, default 30),
``max_receive_count`` with ``dead_letter_queue`` (a name, default ``NAME-dlq``, ``.fifo`` kept),
``delay_seconds``; a name ending ``.fifo`` is a FIFO queue (content-based deduplication, as the kits
create them). A stream takes ``shards`` (default 1). The first open of a name fixes its settings; a
later open that names different ones is a ``ConfigError``. Not modelled: retention (nothing
expires), resharding, message attributes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from batchmap.clock import Clock, SystemClock
from batchmap.errors import ConfigError, SettleError
from batchmap.records import SourceKind
from batchmap.sources.base import Backlog, Delivery, Position, Shard, SourceTraits, StreamRead
from batchmap.sources.bodies import Body, all_data, check_partition_key
from batchmap.sources.sqlite.queue_records import (
    ReceivedRow,
    check_body,
    check_delay,
    content_deduplication_id,
    deliveries,
    md5_of,
    parse_handle,
)
from batchmap.sources.sqlite.shards import even_ranges, format_sequence, hash_key, parse_sequence, shard_id
from batchmap.sources.sqlite.stream_records import StoredRecord
from batchmap.sources.sqlite.stream_records import deliveries as stream_deliveries
from batchmap.sources.sqlite.uri import queue_arn, stream_arn

if TYPE_CHECKING:
    from batchmap.sources.registry import SourceOptions

QUEUE_SCHEME = "memory"
STREAM_SCHEME = "memory-stream"
DEDUPLICATION_INTERVAL_MS = 5 * 60 * 1000
MAX_MESSAGE_SIZE = 262_144

_lock = threading.RLock()
"""Guards every queue and stream: producers and consumers may sit on different threads and loops."""
_queues: dict[str, _QueueState] = {}
_streams: dict[str, _StreamState] = {}
_sequence = itertools.count(1)
_clock: list[Clock] = [SystemClock()]


def set_clock(clock: Clock) -> Clock:
    """Make every memory queue and stream read time from ``clock``; returns the one it replaces."""
    previous, _clock[0] = _clock[0], clock
    return previous


def forget(*names: str) -> None:
    """Drop queues and streams by name (all of them without names): a test's clean-up."""
    with _lock:
        for registry in (_queues, _streams):
            for name in names or list(registry):
                registry.pop(name, None)


def _now_ms() -> int:
    return _clock[0].wall_ms()


# -- waking long polls ----------------------------------------------------------------------------------


@dataclass(eq=False)
class _Waiters:
    """Futures of receives waiting for a change, on whichever loops they run."""

    futures: set[asyncio.Future[None]] = field(default_factory=set)

    def wake(self) -> None:
        """Under ``_lock``: wake every waiting receive (thread-safe)."""
        for future in self.futures:
            with contextlib.suppress(RuntimeError):  # its loop closed: nobody waits any more
                future.get_loop().call_soon_threadsafe(_settle, future)
        self.futures.clear()


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _wait(waiters: _Waiters, future: asyncio.Future[None], timeout_s: float) -> None:
    """Wait up to ``timeout_s`` for ``waiters.wake()``, which ``future`` was registered with under ``_lock``."""
    try:
        await asyncio.wait({future}, timeout=max(0.0, timeout_s))
    finally:
        with _lock:
            waiters.futures.discard(future)


# -- the queue --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Message:
    seq: int
    message_id: str
    body: str
    group_id: str | None
    dedup_id: str | None
    sent_ms: int
    visible_ms: int
    receive_count: int = 0
    first_receive_ms: int = 0
    receipt: str | None = None
    dead_letter_source: str | None = None

    def row(self) -> ReceivedRow:
        return (self.seq, self.message_id, self.body, md5_of(self.body), None, self.group_id, self.dedup_id,
                self.sent_ms, self.receive_count, self.first_receive_ms)


@dataclass(frozen=True, slots=True)
class QueueSettings:
    """What a ``memory://`` URI sets."""

    name: str
    visibility_timeout_s: float = 30.0
    delay_s: int = 0
    max_receive_count: int | None = None
    dead_letter_queue: str | None = None

    @property
    def fifo(self) -> bool:
        return self.name.endswith(".fifo")


@dataclass(eq=False)
class _QueueState:
    settings: QueueSettings
    messages: dict[int, _Message] = field(default_factory=dict)
    dedup: dict[str, tuple[str, int]] = field(default_factory=dict)
    waiters: _Waiters = field(default_factory=_Waiters)

    def visible(self, now_ms: int) -> list[_Message]:
        """Receivable messages in receive order: longest visible first (FIFO: send order, no group in flight)."""
        if not self.settings.fifo:
            return sorted((m for m in self.messages.values() if m.visible_ms <= now_ms),
                          key=lambda m: (m.visible_ms, m.seq))
        busy = {m.group_id for m in self.messages.values() if m.visible_ms > now_ms and m.receive_count}
        return sorted((m for m in self.messages.values() if m.visible_ms <= now_ms and m.group_id not in busy),
                      key=lambda m: m.seq)

    def next_visible_ms(self, now_ms: int) -> int | None:
        return min((m.visible_ms for m in self.messages.values() if m.visible_ms > now_ms), default=None)


def parse_queue_uri(uri: str) -> QueueSettings:
    """``memory://NAME?visibility_timeout=S&max_receive_count=N&dead_letter_queue=DLQ&delay_seconds=S``."""
    parts = urlsplit(uri)
    name = parts.netloc + parts.path
    if parts.scheme != QUEUE_SCHEME or not name or "/" in name:
        raise ConfigError("--source", uri, "memory://NAME (a queue name, no slashes)")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    known = {"visibility_timeout", "delay_seconds", "max_receive_count", "dead_letter_queue"}
    for key in query.keys() - known:
        raise ConfigError("--source", uri, f"settings among {', '.join(sorted(known))}; {key!r} is not one")
    timeout = _number(query, "visibility_timeout", 30.0, 0, 43_200)
    delay = int(_number(query, "delay_seconds", 0, 0, 900))
    max_receives = query.get("max_receive_count")
    dlq = query.get("dead_letter_queue")
    if max_receives is None:
        if dlq is not None:
            raise ConfigError("dead_letter_queue", dlq, "given with max_receive_count")
        return QueueSettings(name, timeout, delay)
    count = int(_number(query, "max_receive_count", 0, 1, 1000))
    if dlq is None:
        dlq = f"{name.removesuffix('.fifo')}-dlq" + (".fifo" if name.endswith(".fifo") else "")
    if dlq.endswith(".fifo") != name.endswith(".fifo") or dlq == name:
        raise ConfigError("dead_letter_queue", dlq, f"another queue of the same type as {name}")
    return QueueSettings(name, timeout, delay, count, dlq)


def _number(query: dict[str, str], key: str, default: float, low: float, high: float) -> float:
    text = query.get(key)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not low <= value <= high or (key != "visibility_timeout" and value != int(value)):
        kind = "a number" if key == "visibility_timeout" else "an integer"
        raise ConfigError(key, text, f"{kind} from {low:g} to {high:g}")
    return value


class MemoryQueue:
    """An SQS-like queue in this process: visibility timeout, receive counts, redrive to a DLQ, FIFO groups."""

    shape: SourceKind = "sqs"
    traits = SourceTraits(extends_visibility=True, cancel_safe_receive=True)
    """A receive takes its messages in one step with no wait in between: cancelling one strands nothing."""

    def __init__(self, settings: QueueSettings) -> None:
        self.settings = settings
        self.name = settings.name
        self.uri = f"{QUEUE_SCHEME}://{settings.name}"
        self.arn = queue_arn(settings.name)
        self.fifo = settings.fifo
        self.visibility_timeout_s = settings.visibility_timeout_s
        with _lock:
            self._state = _registered(settings)
            self._dlq = _registered(QueueSettings(settings.dead_letter_queue)) \
                if settings.dead_letter_queue else None

    async def receive(self, max_records: int, wait_s: float) -> list[Delivery]:
        """Up to ``max_records`` visible messages, waiting at most ``wait_s`` for the first."""
        if max_records < 1:
            raise ConfigError("MaxNumberOfMessages", max_records, "at least 1")
        await asyncio.sleep(0)  # a broker call lets others run; so does the twin's, or one consumer starves the rest
        clock = _clock[0]
        deadline = clock.now() + max(0.0, wait_s)
        loop = asyncio.get_running_loop()
        while True:
            change = loop.create_future()
            got, wake_ms = self._take(max_records, change)
            now = clock.now()
            if got or now >= deadline:
                with _lock:
                    self._state.waiters.futures.discard(change)
                return got
            until_visible = (wake_ms - clock.wall_ms()) / 1000 if wake_ms is not None else deadline - now
            await _wait(self._state.waiters, change, min(deadline - now, until_visible))

    def _take(self, max_records: int, change: asyncio.Future[None]) -> tuple[list[Delivery], int | None]:
        """Receive under the lock; when nothing is there, ``change`` waits for the next send or release."""
        now_ms = _now_ms()
        token = uuid.uuid4().hex[:16]
        limit = self.settings.max_receive_count
        rows: list[ReceivedRow] = []
        with _lock:
            state = self._state
            for message in state.visible(now_ms):
                if len(rows) == max_records:
                    break
                if limit is not None and message.receive_count >= limit and self._dlq is not None:
                    self._dead_letter(message, now_ms)  # this receive would pass maxReceiveCount
                    continue
                message.receive_count += 1
                message.first_receive_ms = message.first_receive_ms or now_ms
                message.visible_ms = now_ms + int(self.visibility_timeout_s * 1000)
                message.receipt = token
                rows.append(message.row())
            wake_ms = None
            if not rows:
                wake_ms = state.next_visible_ms(now_ms)
                state.waiters.futures.add(change)
        return deliveries(rows, token, self.arn, self.fifo), wake_ms

    def _dead_letter(self, message: _Message, now_ms: int) -> None:
        assert self._dlq is not None
        del self._state.messages[message.seq]
        message.visible_ms, message.receipt, message.dead_letter_source = now_ms, None, self.uri
        self._dlq.messages[message.seq] = message
        self._dlq.waiters.wake()

    def _held(self, deliveries_: Sequence[Delivery]) -> list[_Message]:
        """Under ``_lock``: the messages still held under these receipt handles."""
        found = []
        for delivery in deliveries_:
            seq, token = parse_handle(delivery.handle)
            message = self._state.messages.get(seq)
            if message is not None and message.receipt == token:
                found.append(message)
        return found

    async def delete(self, deliveries: Sequence[Delivery]) -> int:
        """Delete by receipt handle; a handle from an earlier receive deletes nothing."""
        await asyncio.sleep(0)
        with _lock:
            held = self._held(deliveries)
            for message in held:
                del self._state.messages[message.seq]
        return len(held)

    async def release(self, deliveries: Sequence[Delivery], delay_s: float = 0.0) -> None:
        """ChangeMessageVisibility: visible again after ``delay_s`` seconds."""
        await self.change_visibility(deliveries, delay_s)

    async def change_visibility(self, deliveries: Sequence[Delivery], timeout_s: float) -> int:
        """Hide held messages ``timeout_s`` from now (0: visible at once); returns how many were held."""
        return len(self._hide(deliveries, timeout_s))

    def _hide(self, deliveries: Sequence[Delivery], timeout_s: float) -> set[int]:
        """Hide the held messages ``timeout_s`` from now; returns their sequences."""
        if not 0 <= timeout_s <= 43_200:
            raise ConfigError("VisibilityTimeout", timeout_s, "from 0 to 43200 seconds")
        until = _now_ms() + int(timeout_s * 1000)
        with _lock:
            held = self._held(deliveries)
            for message in held:
                message.visible_ms = until
            self._state.waiters.wake()
        return {m.seq for m in held}

    async def extend_visibility(self, deliveries: Sequence[Delivery], timeout_s: float) -> None:
        """Keep held messages hidden ``timeout_s`` from now; ``SettleError`` names those no longer held."""
        held = self._hide(deliveries, timeout_s)
        failed = {d.id: "the receipt handle is no longer valid (deleted or received again)"
                  for d in deliveries if parse_handle(d.handle)[0] not in held}
        if failed:
            raise SettleError("ChangeMessageVisibility", failed, len(deliveries) - len(failed))

    async def backlog(self) -> Backlog:
        now_ms = _now_ms()
        with _lock:
            messages = list(self._state.messages.values())
            dead = len(self._dlq.messages) if self._dlq is not None else 0
            upcoming = self._state.next_visible_ms(now_ms)
        hidden = [m for m in messages if m.visible_ms > now_ms]
        in_flight = sum(1 for m in hidden if m.receive_count)
        return Backlog(visible=len(messages) - len(hidden), in_flight=in_flight, delayed=len(hidden) - in_flight,
                       dead_lettered=dead, next_visible_ms=upcoming)

    async def send(
        self,
        bodies: Sequence[str],
        *,
        partition_key: str | None = None,
        message_group_id: str | None = None,
        deduplication_id: str | None = None,
        delay_s: int | None = None,
    ) -> list[str]:
        """Send bodies in order; returns their message ids (a FIFO duplicate returns the original's id)."""
        if partition_key is not None:
            raise ConfigError("--partition-key", partition_key, "only for streams; queues take --message-group-id")
        if self.fifo and not message_group_id:
            raise ConfigError("MessageGroupId", message_group_id, f"required on the FIFO queue {self.name}")
        if not self.fifo and deduplication_id is not None:
            raise ConfigError("MessageDeduplicationId", deduplication_id, "only valid on a FIFO queue")
        if deduplication_id is not None and len(bodies) > 1:
            raise ConfigError("--message-deduplication-id", deduplication_id,
                              f"one id names one message; got {len(bodies)} bodies")
        for body in bodies:
            check_body(body, MAX_MESSAGE_SIZE)
        delay = self.settings.delay_s if delay_s is None else check_delay(delay_s)
        if self.fifo and delay_s:
            raise ConfigError("DelaySeconds", delay_s, "per-message delays are not supported on FIFO queues")
        now_ms = _now_ms()
        with _lock:
            ids = [self._put(body, message_group_id, deduplication_id, now_ms, delay) for body in bodies]
            self._state.waiters.wake()
        return ids

    def _put(self, body: str, group_id: str | None, dedup_id: str | None, now_ms: int, delay_s: int) -> str:
        state = self._state
        if self.fifo:
            dedup_id = dedup_id or content_deduplication_id(body)
            seen = state.dedup.get(dedup_id)
            if seen is not None and seen[1] > now_ms:
                return seen[0]
        message = _Message(next(_sequence), str(uuid.uuid4()), body, group_id, dedup_id, now_ms,
                           now_ms + delay_s * 1000)
        state.messages[message.seq] = message
        if dedup_id is not None:
            state.dedup[dedup_id] = (message.message_id, now_ms + DEDUPLICATION_INTERVAL_MS)
        return message.message_id

    async def purge(self) -> int:
        with _lock:
            count = len(self._state.messages)
            self._state.messages.clear()
        return count

    async def close(self) -> None:
        """Nothing to release: the queue lives on in the process."""


def _registered(settings: QueueSettings) -> _QueueState:
    """Under ``_lock``: the queue of that name, created with ``settings`` on first use.

    A later open that names settings other than the defaults must match the queue's.
    """
    state = _queues.get(settings.name)
    if state is None:
        state = _queues[settings.name] = _QueueState(settings)
    elif settings != QueueSettings(settings.name) and settings != state.settings:
        raise ConfigError("--source", f"{QUEUE_SCHEME}://{settings.name}",
                          f"the settings the queue has in this process: {state.settings}")
    return state


# -- the stream -------------------------------------------------------------------------------------------


@dataclass(eq=False)
class _StreamState:
    name: str
    shard_count: int
    records: dict[str, list[StoredRecord]] = field(default_factory=dict)
    checkpoints: dict[tuple[str, str], str] = field(default_factory=dict)
    """(mapping id, shard id) -> the last sequence number done: positions live and die with the stream."""

    def __post_init__(self) -> None:
        self.ranges = even_ranges(self.shard_count)
        self.records = {shard_id(i): [] for i in range(self.shard_count)}

    def shard_for(self, partition_key: str) -> str:
        key = hash_key(partition_key)
        index = next(i for i, r in enumerate(self.ranges) if key in r)
        return shard_id(index)


def parse_stream_uri(uri: str) -> tuple[str, int | None]:
    """``memory-stream://NAME?shards=N``: the name and the shard count (``None``: not given)."""
    parts = urlsplit(uri)
    name = parts.netloc + parts.path
    if parts.scheme != STREAM_SCHEME or not name or "/" in name:
        raise ConfigError("--source", uri, "memory-stream://NAME?shards=N (a stream name, no slashes)")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    for key in query.keys() - {"shards"}:
        raise ConfigError("--source", uri, f"the setting shards; {key!r} is not one")
    if "shards" not in query:
        return name, None
    return name, int(_number(query, "shards", 1, 1, 500))


class MemoryCheckpoints:
    """The positions of one memory stream (``CheckpointStore``), kept beside its records in the process."""

    def __init__(self, state: _StreamState) -> None:
        self._state = state

    async def get(self, mapping_id: str, shard_id: str) -> str | None:
        with _lock:
            return self._state.checkpoints.get((mapping_id, shard_id))

    async def put(self, mapping_id: str, shard_id: str, sequence_number: str) -> None:
        with _lock:
            self._state.checkpoints[(mapping_id, shard_id)] = sequence_number


class MemoryStream:
    """A Kinesis-like stream in this process: shards by partition-key hash, sequence numbers, no retention."""

    shape: SourceKind = "kinesis"
    traits = SourceTraits(native_checkpoints=True)
    """Its positions live with it in the process (a ``CheckpointOwner``): a file would outlive the
    stream and skip the records of the next process's stream of that name."""

    def __init__(self, name: str, shard_count: int | None = None) -> None:
        self.name = name
        self.uri = f"{STREAM_SCHEME}://{name}"
        self.arn = stream_arn(name)
        with _lock:
            state = _streams.get(name)
            if state is None:
                state = _streams[name] = _StreamState(name, shard_count or 1)
            elif shard_count is not None and shard_count != state.shard_count:
                raise ConfigError("shards", shard_count, f"the {state.shard_count} shards {name} has in this process")
        self._state = state

    def checkpoint_store(self) -> MemoryCheckpoints:
        """Where the engine keeps this stream's positions (``CheckpointOwner``)."""
        return MemoryCheckpoints(self._state)

    async def shards(self) -> list[Shard]:
        return [Shard(shard) for shard in self._state.records]

    async def read(self, shard_id: str, position: Position, max_records: int) -> StreamRead:
        """Up to ``max_records`` records of one shard from ``position``, in sequence order."""
        if max_records < 1:
            raise ConfigError("Limit", max_records, "at least 1")
        with _lock:
            records = self._state.records.get(shard_id)
            if records is None:
                raise ConfigError("ShardId", shard_id, f"a shard of stream {self.name}")
            after, position = self._resolve(records, position)
            start = next((i for i, r in enumerate(records) if r[0] > after), len(records))
            rows = records[start:start + max_records]
            following = records[start + len(rows)] if start + len(rows) < len(records) else None
        next_position = Position("AFTER_SEQUENCE_NUMBER", format_sequence(rows[-1][0])) if rows else position
        behind = 0 if following is None else max(0, _now_ms() - following[3])
        return StreamRead(stream_deliveries(rows, shard_id, self.arn), next_position, millis_behind_latest=behind)

    @staticmethod
    def _resolve(records: list[StoredRecord], position: Position) -> tuple[int, Position]:
        """Under ``_lock``: the sequence to read after, and the position to keep when nothing was read."""
        if position.type == "TRIM_HORIZON":
            return 0, position
        if position.type == "LATEST":
            latest = records[-1][0] if records else 0
            return latest, Position("AFTER_SEQUENCE_NUMBER", format_sequence(latest))
        if position.type == "AT_TIMESTAMP":
            if position.timestamp is None:
                raise ConfigError("StartingPositionTimestamp", None, "required with AT_TIMESTAMP")
            at_ms = int(position.timestamp * 1000)
            first = next((r[0] for r in records if r[3] >= at_ms), None)
            return (first - 1 if first is not None else (records[-1][0] if records else 0)), position
        if position.sequence_number is None:
            raise ConfigError("StartingSequenceNumber", None, f"required with {position.type}")
        seq = parse_sequence(position.sequence_number)
        return (seq - 1 if position.type == "AT_SEQUENCE_NUMBER" else seq), position

    async def send(
        self,
        bodies: Sequence[Body],
        *,
        partition_key: str | None = None,
        message_group_id: str | None = None,
        deduplication_id: str | None = None,
        delay_s: int | None = None,
    ) -> list[str]:
        """Put records in order (a random partition key each without one); returns sequence numbers."""
        for flag, value in (("--message-group-id", message_group_id),
                            ("--message-deduplication-id", deduplication_id)):
            if value is not None:
                raise ConfigError(flag, value, "only for queues; streams take --partition-key")
        if delay_s:
            raise ConfigError("--delay-seconds", delay_s, "only for queues")
        data = all_data(bodies)
        keys = [check_partition_key(partition_key) if partition_key is not None else str(uuid.uuid4())
                for _ in data]
        now_ms = _now_ms()
        with _lock:
            out = []
            for item, key in zip(data, keys, strict=True):
                seq = next(_sequence)
                self._state.records[self._state.shard_for(key)].append((seq, key, item, now_ms))
                out.append(format_sequence(seq))
        return out

    async def close(self) -> None:
        """Nothing to release: the stream lives on in the process."""


Opened = MemoryQueue | MemoryStream


async def open_source(uri: str, options: SourceOptions | None = None) -> Opened:
    """The registry's opener: ``memory://`` is a queue, ``memory-stream://`` a stream, made on first use."""
    if uri.startswith(f"{STREAM_SCHEME}:"):
        return MemoryStream(*parse_stream_uri(uri))
    return MemoryQueue(parse_queue_uri(uri))

