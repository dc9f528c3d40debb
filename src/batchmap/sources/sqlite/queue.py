"""``SqliteQueue``: the embedded queue as an async ``QueueSource`` and ``Producer``.

The SQL lives in ``QueueStore``; this class runs it on the database's own
thread and adds long polling: an empty receive waits for a commit by anyone
(``PRAGMA data_version``) or for a hidden message's visibility to run out. A
commit in this process rings the file's doorbell and a write by another
process shows on the WAL watch (inotify), so the poll is woken, not polling
(``commit_wait.py``): an idle consumer reads the change counter ten times a second.

Receives and deletes are group-committed: each waits for the next call on
the database thread, which does everything queued meanwhile (deletes first,
then receives, each with its own receipt token) in one transaction. A commit
(an fsync with the default ``synchronous=FULL``) costs more than the
statements, so concurrent lanes, and a lane's delete with its next receive,
share one; every call still returns only once its work is committed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from batchmap.clock import Clock, SystemClock
from batchmap.errors import ConfigError, SettleError, SourceError
from batchmap.records import SourceKind
from batchmap.sources.base import Backlog, Delivery, SourceTraits
from batchmap.sources.sqlite import queue_moves
from batchmap.sources.sqlite.attributes import QueueAttributes
from batchmap.sources.sqlite.commit_wait import CommitWait
from batchmap.sources.sqlite.database import Database
from batchmap.sources.sqlite.queue_records import OutgoingMessage, SendResult, message_attributes_json
from batchmap.sources.sqlite.queue_store import DeleteGroup, QueueStore, Received, deletions
from batchmap.sources.sqlite.uri import SqliteUri, parse_uri

log = logging.getLogger("batchmap.sources.sqlite")

@dataclass(frozen=True, slots=True)
class _Polled:
    """One receive's share of a transaction: what it got and, if it got nothing, the change counter
    read inside the transaction and when the earliest hidden message becomes visible (its long poll)."""

    received: Received
    seen: int | None  # set when a receive of the transaction came back empty
    wake_ms: int | None


@dataclass(slots=True, eq=False)
class _Receive:
    """A receive call waiting for the database thread."""

    max_records: int
    now_ms: int
    done: asyncio.Future[_Polled]
    taken: bool = False


_Deletes = list[tuple[DeleteGroup, asyncio.Future[int]]]


class _GroupCommit:
    """Receives and deletes waiting for the database thread; one transaction does all that waits.

    ``queued`` is true while a database call that will take the waiting work is
    queued and has not started: new work then needs no call of its own.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._deletes: _Deletes = []
        self._receives: list[_Receive] = []
        self._queued = False

    def add_delete(self, group: DeleteGroup, done: asyncio.Future[int]) -> bool:
        """Queue a delete; true when the caller must queue a database call to take it."""
        with self._lock:
            self._deletes.append((group, done))
            return self._claim()

    def add_receive(self, request: _Receive) -> bool:
        """Queue a receive; true when the caller must queue a database call to take it."""
        with self._lock:
            self._receives.append(request)
            return self._claim()

    def _claim(self) -> bool:
        if self._queued:
            return False
        self._queued = True
        return True

    def take(self) -> tuple[_Deletes, list[_Receive]]:
        """First thing in a database call: everything waiting; later work needs a call of its own."""
        with self._lock:
            deletes, receives = self._deletes, self._receives
            self._deletes, self._receives, self._queued = [], [], False
            for request in receives:
                request.taken = True
        return deletes, receives

    def withdraw(self, request: _Receive) -> bool:
        """Take back a receive no database call has taken yet; false if one has."""
        with self._lock:
            if request.taken:
                return False
            self._receives.remove(request)
            return True


_Outcome = tuple[list[int], list[_Polled]] | BaseException


def _resolve(deletes: _Deletes, receives: list[_Receive], outcome: _Outcome) -> None:
    """On the event loop: hand each waiting call its share of the transaction (or the transaction's error)."""
    futures: list[asyncio.Future[Any]] = [done for _, done in deletes] + [r.done for r in receives]
    results: list[Any] = [] if isinstance(outcome, BaseException) else [*outcome[0], *outcome[1]]
    for n, done in enumerate(futures):
        if done.done():
            continue
        if isinstance(outcome, BaseException):
            done.set_exception(outcome)
        else:
            done.set_result(results[n])


class SqliteQueue:
    """An SQS-like queue in a SQLite file, shared safely by any number of processes."""

    shape: SourceKind = "sqs"
    traits = SourceTraits(extends_visibility=True, moves_messages=True, cancel_safe_receive=True)
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
        self.db = Database(self.location.path, self.location.synchronous, self.location.busy_timeout_s)
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
        self._waiting = _GroupCommit()
        self._calls: set[concurrent.futures.Future[None]] = set()
        self._commits = CommitWait(self.db, self.clock)  # the long poll's woken wait

    @classmethod
    async def open(cls, source: str | SqliteUri, *, attributes: QueueAttributes | None = None,
                   clock: Clock | None = None) -> SqliteQueue:
        """Open without blocking the event loop."""
        return await asyncio.to_thread(cls, source, attributes=attributes, clock=clock)

    @property
    def attributes(self) -> QueueAttributes:
        return self.store.attributes

    @property
    def receive_cancel_safe(self) -> bool:
        """``traits.cancel_safe_receive``, under the name this queue first gave it."""
        return self.traits.cancel_safe_receive

    async def receive(self, max_records: int, wait_s: float) -> list[Delivery]:
        """Up to ``max_records`` messages (no 10-per-call cap), waiting at most ``wait_s`` for the first.

        Cancelling a receive is safe (``traits.cancel_safe_receive``): cancelled while
        waiting it holds nothing; cancelled while the database takes messages,
        it makes them visible again before the cancellation goes on.
        """
        if max_records < 1:  # here, not in the transaction: the calls sharing it must not fail with it
            raise ConfigError("MaxNumberOfMessages", max_records, "at least 1")
        deadline = self.clock.now() + max(0.0, wait_s)
        while True:
            polled = await self._poll(max_records)
            self.dead_lettered += polled.received.dead_lettered
            if polled.received.deliveries or self.clock.now() >= deadline:
                return polled.received.deliveries
            assert polled.seen is not None  # an empty receive always has it
            if not await self._commits.wait(polled.seen, deadline, polled.wake_ms):
                return []  # nothing committed, nothing came visible: another poll would find nothing

    async def _poll(self, max_records: int) -> _Polled:
        loop = asyncio.get_running_loop()
        request = _Receive(max_records, self.clock.wall_ms(), loop.create_future())
        if self._waiting.add_receive(request):
            loop.call_soon(self._call)  # work queued later in this loop turn shares the transaction
        try:
            return await asyncio.shield(request.done)
        except asyncio.CancelledError:
            if not self._waiting.withdraw(request):  # the database thread has it: give back what it takes
                giving_back = asyncio.ensure_future(self._give_back(request.done))
                self._giving_back.add(giving_back)
                giving_back.add_done_callback(self._giving_back.discard)
                with contextlib.suppress(Exception):  # logged by _give_back; the cancellation is what goes on
                    await asyncio.shield(giving_back)  # cancelled again: close() still waits for it
            raise

    async def _give_back(self, polled: asyncio.Future[_Polled]) -> None:
        try:
            received = (await polled).received
        except Exception as exc:  # the receive itself failed: it took nothing, so there is nothing to give back
            log.debug("%s: a cancelled receive failed and took nothing: %s", self.uri, exc)
            return
        try:
            self.dead_lettered += received.dead_lettered
            await self.release(received.deliveries, 0.0)
        except Exception as exc:
            log.warning("%s: a cancelled receive could not give its messages back; they return after the "
                        "visibility timeout: %s", self.uri, exc)
            raise

    def _call(self) -> None:
        """Queue one database call for everything waiting now (and whatever joins before it starts).

        ``_transact`` hands its results back to the loop itself, so the call needs no loop future.
        """
        try:
            call = self.db.submit(self._transact)
        except RuntimeError as exc:  # the database thread is gone: fail what waits for it
            _resolve(*self._waiting.take(), SourceError(f"{self.uri}: {exc}"))
            return
        self._calls.add(call)
        call.add_done_callback(self._calls.discard)  # on the database thread: one set operation, atomic

    def _transact(self) -> None:
        """On the database thread: every waiting delete, then every waiting receive, in one transaction."""
        deletes, receives = self._waiting.take()
        if not deletes and not receives:
            return
        outcome: _Outcome
        try:
            settled = self.store.settle_and_receive(
                [group for group, _ in deletes], [(r.max_records, r.now_ms) for r in receives],
                watch=self.db.change_counter)
            outcome = settled.deleted, [_Polled(r, settled.seen, None if r.count else settled.wake_ms)
                                        for r in settled.received]
        except BaseException as exc:
            outcome = exc
        loop = (deletes[0][1] if deletes else receives[0].done).get_loop()
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(_resolve, deletes, receives, outcome)

    async def delete(self, deliveries: Sequence[Delivery]) -> int:
        """Delete by receipt handle; a handle from an earlier receive no longer deletes anything.

        Returns once the delete is committed, in the next transaction on the database thread.
        """
        if not deliveries:
            return 0
        group = deletions([d.handle for d in deliveries])  # a malformed handle fails here, alone
        loop = asyncio.get_running_loop()
        done: asyncio.Future[int] = loop.create_future()
        if self._waiting.add_delete(group, done):
            loop.call_soon(self._call)  # a receive queued later in this loop turn shares the transaction
        return await done

    async def release(self, deliveries: Sequence[Delivery], delay_s: float = 0.0) -> None:
        """ChangeMessageVisibility: visible again after ``delay_s`` seconds."""
        if deliveries:
            handles = [d.handle for d in deliveries]
            await self.db.run(self.store.release, handles, delay_s, self.clock.wall_ms())

    async def change_visibility(self, deliveries: Sequence[Delivery], timeout_s: float) -> int:
        """Like ``release`` but returns how many messages were still held by these handles."""
        return await self.db.run(self.store.release, [d.handle for d in deliveries], timeout_s,
                                 self.clock.wall_ms())

    async def extend_visibility(self, deliveries: Sequence[Delivery], timeout_s: float) -> None:
        """Keep held messages hidden ``timeout_s`` from now; ``SettleError`` names those no longer held."""
        if not deliveries:
            return
        lost = set(await self.db.run(self.store.extend, [d.handle for d in deliveries], timeout_s,
                                     self.clock.wall_ms()))
        if lost:
            failed = {d.id: "the receipt handle is no longer valid (deleted or received again)"
                      for d in deliveries if d.handle in lost}
            raise SettleError("ChangeMessageVisibility", failed, len(deliveries) - len(failed))

    async def backlog(self) -> Backlog:
        return await self.db.run(self.store.backlog, self.clock.wall_ms())

    async def origins(self, deliveries: Sequence[Delivery]) -> list[str | None]:
        """The URI of the queue that dead-lettered each message (``MessageMover``)."""
        return await self.db.run(queue_moves.origins, self.db, self.store.row, self.location,
                                 [d.handle for d in deliveries])

    async def move(self, deliveries: Sequence[Delivery], destination: str) -> int:
        """Move held messages to another queue of this file in one transaction (``MessageMover``)."""
        return await self.db.run(queue_moves.move, self.db, self.store.row, self.location,
                                 [d.handle for d in deliveries], destination, self.clock.wall_ms())

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
        await asyncio.sleep(0)  # a database call queued in this loop turn starts
        while self._calls or self._giving_back:
            calls = [asyncio.wrap_future(call) for call in list(self._calls)]
            await asyncio.gather(*calls, *self._giving_back, return_exceptions=True)
        self._commits.close()
        await asyncio.to_thread(self.db.close)
