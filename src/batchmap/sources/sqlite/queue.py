"""``SqliteQueue``: the embedded queue as an async ``QueueSource`` and ``Producer``.

The SQL lives in ``QueueStore``; this class runs it on the database's own
thread and adds long polling: an empty receive waits for a commit by anyone
(``PRAGMA data_version``) or for a hidden message's visibility to run out,
checking with short sleeps that back off, so an idle consumer costs no CPU.

Deletes are group-committed: a delete waits for the next transaction on the
database thread (another receive's, or one of its own) and shares its commit
with every delete queued meanwhile. A commit (an fsync with the default
``synchronous=FULL``) costs more than the statements, so concurrent lanes
settle for the price of one; ``delete`` still returns only once committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Sequence
from typing import Any

from batchmap.clock import Clock, SystemClock
from batchmap.errors import ConfigError
from batchmap.sources.base import Backlog, Delivery, RecordShape
from batchmap.sources.sqlite.attributes import QueueAttributes
from batchmap.sources.sqlite.database import Database
from batchmap.sources.sqlite.queue_records import OutgoingMessage, SendResult, message_attributes_json
from batchmap.sources.sqlite.queue_store import DeleteGroup, QueueStore, Received, deletions
from batchmap.sources.sqlite.uri import SqliteUri, parse_uri

log = logging.getLogger("batchmap.sources.sqlite")

POLL_MIN_S = 0.001
POLL_MAX_S = 0.008
"""Long-poll check interval bounds: a new message is seen within about 20 ms."""

_Waiting = list[tuple[DeleteGroup, asyncio.Future[int]]]


class _PendingDeletes:
    """Deletes waiting for the next transaction on the database thread (group commit).

    ``carried`` is true while a database call that will take the waiting deletes
    is queued and has not started: a new delete then needs no call of its own.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: _Waiting = []
        self._carried = False

    def add(self, group: DeleteGroup, done: asyncio.Future[int]) -> bool:
        """Queue a delete; true when no queued call will carry it."""
        with self._lock:
            self._waiting.append((group, done))
            return not self._carried

    def carry(self, carried: bool = True) -> None:
        """A call that takes the waiting deletes is being queued (or, ``False``: it failed to start)."""
        with self._lock:
            self._carried = carried

    def claim(self) -> bool:
        """True when deletes wait and no queued call carries them: the caller queues one."""
        with self._lock:
            if self._waiting and not self._carried:
                self._carried = True
                return True
            return False

    def take(self) -> _Waiting:
        """On the database thread, first thing in a carrying call: the deletes it does."""
        with self._lock:
            taken, self._waiting, self._carried = self._waiting, [], False
        return taken

    @staticmethod
    def settle(taken: _Waiting, counts: Sequence[int] | BaseException) -> None:
        """From the database thread: hand each delete its count (or the transaction's error)."""
        if taken:
            loop = taken[0][1].get_loop()
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                loop.call_soon_threadsafe(_resolve, taken, counts)


def _resolve(taken: _Waiting, counts: Sequence[int] | BaseException) -> None:
    for n, (_, done) in enumerate(taken):
        if done.done():
            continue
        if isinstance(counts, BaseException):
            done.set_exception(counts)
        else:
            done.set_result(counts[n])


class SqliteQueue:
    """An SQS-like queue in a SQLite file, shared safely by any number of processes."""

    shape: RecordShape = "sqs"
    receive_cancel_safe = True
    """A cancelled ``receive`` strands no message: the engine need not wait a long poll out on a stop."""

    def __init__(self, source: str | SqliteUri, *, attributes: QueueAttributes | None = None,
                 clock: Clock | None = None) -> None:
        """Open (creating on first use) the queue a ``sqlite:///FILE?queue=NAME`` URI names.

        ``attributes`` creates the queue with them, or checks an existing
        queue has them; without, an existing queue's stored attributes are used.
        Blocking: use ``await SqliteQueue.open(...)`` from async code.
        """
        self.location = parse_uri(source) if isinstance(source, str) else source
        if self.location.kind != "queue":
            raise ConfigError("--source", self.location.uri(), "a queue URI (?queue=NAME)")
        self.clock: Clock = clock or SystemClock()
        self.db = Database(self.location.path, self.location.synchronous)
        try:
            self.store = QueueStore(self.db, self.location.name, attributes, now_ms=self.clock.wall_ms())
        except BaseException:
            self.db.close()
            raise
        self.uri = self.location.uri()
        self.arn = self.store.row.arn
        self.name = self.location.name
        self.fifo = self.store.attributes.fifo
        self.visibility_timeout_s = float(self.store.attributes.visibility_timeout_s)
        self.dead_lettered = 0
        """Messages this object's receives moved to the dead-letter queue."""
        self._giving_back: set[asyncio.Future[None]] = set()
        self._deletes = _PendingDeletes()
        self._flushes: set[asyncio.Future[None]] = set()

    @classmethod
    async def open(cls, source: str | SqliteUri, *, attributes: QueueAttributes | None = None,
                   clock: Clock | None = None) -> SqliteQueue:
        """Open without blocking the event loop."""
        return await asyncio.to_thread(cls, source, attributes=attributes, clock=clock)

    @property
    def attributes(self) -> QueueAttributes:
        return self.store.attributes

    async def receive(self, max_records: int, wait_s: float) -> list[Delivery]:
        """Up to ``max_records`` messages (no 10-per-call cap), waiting at most ``wait_s`` for the first.

        Cancelling a receive is safe (``receive_cancel_safe``): cancelled while
        waiting it holds nothing; cancelled while the database takes messages,
        it makes them visible again before the cancellation goes on.
        """
        if max_records < 1:  # here, not in the transaction: the deletes it carries must not fail with it
            raise ConfigError("MaxNumberOfMessages", max_records, "at least 1")
        deadline = self.clock.now() + max(0.0, wait_s)
        while True:
            seen, received, wake_ms = await self._receive_hop(max_records)
            self.dead_lettered += received.dead_lettered
            if received.deliveries or self.clock.now() >= deadline:
                return received.deliveries
            await self._wait_for_change(seen, deadline, wake_ms)

    async def _receive_hop(self, max_records: int) -> tuple[int, Received, int | None]:
        self._deletes.carry()
        hop = asyncio.ensure_future(self.db.run(self._receive_once, max_records, self.clock.wall_ms()))
        hop.add_done_callback(self._after_hop)
        try:
            return await asyncio.shield(hop)
        except asyncio.CancelledError:
            giving_back = asyncio.ensure_future(self._give_back(hop))
            self._giving_back.add(giving_back)
            giving_back.add_done_callback(self._giving_back.discard)
            with contextlib.suppress(Exception):  # logged by _give_back; the cancellation is what goes on
                await asyncio.shield(giving_back)  # cancelled again: close() still waits for it
            raise

    def _after_hop(self, hop: asyncio.Future[Any]) -> None:
        if hop.cancelled() or hop.exception() is not None:  # it may have failed before taking the deletes
            self._deletes.carry(False)
            self._flush_soon()

    async def _give_back(self, hop: asyncio.Future[tuple[int, Received, int | None]]) -> None:
        try:
            _, received, _ = await hop
            self.dead_lettered += received.dead_lettered
            await self.release(received.deliveries, 0.0)
        except Exception as exc:
            log.warning("%s: a cancelled receive could not give its messages back; they return after the "
                        "visibility timeout: %s", self.uri, exc)
            raise

    def _receive_once(self, max_records: int, now_ms: int) -> tuple[int, Received, int | None]:
        # One trip to the database thread, carrying the deletes queued meanwhile. The counter is read
        # first, so no later commit by anyone is missed; the receive's own commit (always one) is added in.
        taken = self._deletes.take()
        try:
            seen = self.db.change_counter()
            received = self.store.receive(max_records, now_ms, carry=[group for group, _ in taken])
        except BaseException as exc:
            self._deletes.settle(taken, exc)
            raise
        self._deletes.settle(taken, received.deleted)
        seen += 1
        wake_ms = None if received.deliveries else self.store.next_visible_ms(now_ms)
        return seen, received, wake_ms

    async def _wait_for_change(self, seen: int, deadline: float, wake_ms: int | None) -> None:
        pause = POLL_MIN_S
        while True:
            now = self.clock.now()
            if now >= deadline or (wake_ms is not None and self.clock.wall_ms() >= wake_ms):
                return
            await self.clock.sleep(min(pause, deadline - now))
            pause = min(pause * 2, POLL_MAX_S)
            if self.db.change_counter() != seen:  # microseconds: cheaper inline than a hop to the db thread
                return

    async def delete(self, deliveries: Sequence[Delivery]) -> int:
        """Delete by receipt handle; a handle from an earlier receive no longer deletes anything.

        Returns once the delete is committed, in the next transaction on the database thread.
        """
        if not deliveries:
            return 0
        group = deletions([d.handle for d in deliveries])
        loop = asyncio.get_running_loop()
        done: asyncio.Future[int] = loop.create_future()
        if self._deletes.add(group, done):
            loop.call_soon(self._flush_soon)  # a receive queued in this loop turn may carry it instead
        return await done

    def _flush_soon(self) -> None:
        if self._deletes.claim():
            flush = asyncio.ensure_future(self.db.run(self._flush))
            self._flushes.add(flush)
            flush.add_done_callback(self._flushed)

    def _flushed(self, flush: asyncio.Future[None]) -> None:
        self._flushes.discard(flush)
        if not flush.cancelled():
            flush.exception()  # the error went to every delete in the transaction

    def _flush(self) -> None:
        taken = self._deletes.take()
        if not taken:
            return
        try:
            counts = self.store.delete_groups([group for group, _ in taken])
        except BaseException as exc:
            self._deletes.settle(taken, exc)
            raise
        self._deletes.settle(taken, counts)

    async def release(self, deliveries: Sequence[Delivery], delay_s: float = 0.0) -> None:
        """ChangeMessageVisibility: visible again after ``delay_s`` seconds."""
        if deliveries:
            handles = [d.handle for d in deliveries]
            await self.db.run(self.store.release, handles, delay_s, self.clock.wall_ms())

    async def change_visibility(self, deliveries: Sequence[Delivery], timeout_s: float) -> int:
        """Like ``release`` but returns how many messages were still held by these handles."""
        return await self.db.run(self.store.release, [d.handle for d in deliveries], timeout_s,
                                 self.clock.wall_ms())

    async def backlog(self) -> Backlog:
        return await self.db.run(self.store.backlog, self.clock.wall_ms())

    async def send(
        self,
        bodies: Sequence[str],
        *,
        partition_key: str | None = None,
        message_group_id: str | None = None,
        deduplication_id: str | None = None,
        delay_s: int | None = None,
    ) -> list[str]:
        """Send bodies; returns their message ids (a FIFO duplicate returns the original's id).

        ``delay_s`` None uses the queue's DelaySeconds. Raises ConfigError
        before anything is sent if any body or setting is invalid.
        """
        if partition_key is not None:
            raise ConfigError("--partition-key", partition_key,
                              "only for streams; queues take --message-group-id")
        if deduplication_id is not None and len(bodies) > 1:
            raise ConfigError("--message-deduplication-id", deduplication_id, "one id names one message; "
                              f"got {len(bodies)} bodies")
        messages = [OutgoingMessage(body, message_group_id, deduplication_id, delay_s) for body in bodies]
        return [result.message_id for result in await self.send_messages(messages)]

    async def send_messages(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        """Send fully specified messages in one transaction."""
        return await self.db.run(self.store.send, list(messages), self.clock.wall_ms())

    async def send_message(self, body: str, *, message_group_id: str | None = None,
                           deduplication_id: str | None = None, delay_s: int | None = None,
                           message_attributes: dict[str, dict[str, Any]] | None = None) -> SendResult:
        """SendMessage with everything SQS's takes, message attributes included."""
        attrs_json, attrs_size = message_attributes_json(message_attributes)
        message = OutgoingMessage(body, message_group_id, deduplication_id, delay_s, attrs_json, attrs_size)
        return (await self.send_messages([message]))[0]

    async def purge(self) -> int:
        return await self.db.run(self.store.purge)

    async def close(self) -> None:
        self._flush_soon()
        if self._giving_back or self._flushes:
            await asyncio.gather(*self._giving_back, *self._flushes, return_exceptions=True)
        await asyncio.to_thread(self.db.close)
