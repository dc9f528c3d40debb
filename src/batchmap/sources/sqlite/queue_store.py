"""The embedded queue's SQL: every state change is one short IMMEDIATE transaction.

A message is *visible* when ``visible_ms <= now``; otherwise it is *in flight*
(received at least once) or *delayed* (never received). Receiving sets
``visible_ms`` to now + VisibilityTimeout and stamps a fresh ``receipt`` token,
so a delete or visibility change with the handle of an earlier receive matches
nothing once someone else has received the message again.

These methods are synchronous; ``SqliteQueue`` runs them off the event loop,
and ``bench/sqlite_plain_loop.py`` calls the same statements directly.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import repeat

from batchmap.errors import ConfigError
from batchmap.sources.base import Backlog, Delivery
from batchmap.sources.sqlite.attributes import QueueAttributes, with_defaults_for
from batchmap.sources.sqlite.database import Database
from batchmap.sources.sqlite.queue_records import (
    OutgoingMessage,
    ReceivedRow,
    SendResult,
    check_body,
    check_delay,
    check_group_id,
    content_deduplication_id,
    deliveries,
    md5_of,
    parse_handle,
    sequence_number,
)
from batchmap.sources.sqlite.queue_table import QueueRow, load_queue
from batchmap.sources.sqlite.queue_tenants import FAIR_PICK, HAS_TENANTS

_tokens = random.Random()  # seeded from os.urandom
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_tokens.seed)  # a forked consumer must not repeat its parent's tokens

DEDUPLICATION_INTERVAL_MS = 5 * 60 * 1000
SWEEP_INTERVAL_MS = 1000

_RETURNING = "seq, message_id, body, md5, message_attributes, group_id, dedup_id, sent_ms, receive_count, " \
             "first_receive_ms"
_MARK_RECEIVED = ("UPDATE messages SET receive_count = receive_count + 1, visible_ms = :until, "
                  "first_receive_ms = COALESCE(first_receive_ms, :now), receipt = :token WHERE seq IN ")
RECEIVE_STANDARD = _MARK_RECEIVED + (
    "(SELECT seq FROM messages WHERE queue_id = :queue AND visible_ms <= :now AND enqueued_ms > :cutoff "
    "ORDER BY visible_ms, seq LIMIT :limit) RETURNING " + _RETURNING
)
"""Standard queue: the longest-visible messages first (roughly send order), any group."""
RECEIVE_FIFO = _MARK_RECEIVED + (
    "(SELECT seq FROM messages INDEXED BY messages_fifo_order "
    "WHERE queue_id = :queue AND group_id IS NOT NULL AND visible_ms <= :now AND enqueued_ms > :cutoff "
    "AND group_id NOT IN (SELECT group_id FROM messages WHERE queue_id = :queue AND visible_ms > :now "
    "AND receive_count > 0 AND group_id IS NOT NULL) ORDER BY seq LIMIT :limit) RETURNING " + _RETURNING
)
"""FIFO queue: send order, skipping every group that has a message in flight."""
RECEIVE_FAIR = _MARK_RECEIVED + "(" + FAIR_PICK + ") RETURNING " + _RETURNING
"""Standard queue holding grouped messages (a fair queue): tenants take turns (``queue_tenants``)."""
DELETE = ("DELETE FROM messages WHERE +queue_id = ? AND receipt = ? "
          "AND seq IN (SELECT value FROM json_each(?))")
"""One statement per receive token (one per receive call): deletes all its handles at once."""
_RELEASE = ("UPDATE messages SET visible_ms = ? WHERE +queue_id = ? AND receipt = ? "
            "AND seq IN (SELECT value FROM json_each(?))")
_EXTEND = _RELEASE + " RETURNING seq"
_REDRIVE = ("UPDATE messages SET queue_id = :dlq, receive_count = receive_count - 1, visible_ms = :now, "
            "receipt = NULL, dead_letter_source = :source, "
            "enqueued_ms = CASE WHEN :fifo THEN :now ELSE enqueued_ms END "
            "WHERE seq IN (SELECT value FROM json_each(:seqs))")
_INSERT = ("INSERT INTO messages (queue_id, message_id, body, md5, message_attributes, group_id, dedup_id, "
           "sent_ms, enqueued_ms, visible_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


DeleteGroup = dict[str, str]
"""One delete call's receipt handles, parsed by ``deletions``: receive token -> JSON list of row sequences."""


class Received:
    """One receive call's outcome: what was delivered and how many messages went to the DLQ.

    The SQS-shaped records are built on the first read of ``deliveries``, not in the
    transaction: ``SqliteQueue`` reads them on the event loop, so the database
    thread, the engine's critical path on this queue, only runs the SQL.
    """

    __slots__ = ("_arn", "_built", "_fifo", "_rows", "_token", "count", "dead_lettered")

    def __init__(self, rows: list[ReceivedRow], token: str, arn: str, fifo: bool, dead_lettered: int) -> None:
        self._rows, self._token, self._arn, self._fifo = rows, token, arn, fifo
        self._built: list[Delivery] | None = None
        self.count = len(rows)
        """How many messages were received."""
        self.dead_lettered = dead_lettered

    @property
    def deliveries(self) -> list[Delivery]:
        """The received messages as Deliveries, in queue order (built once, by the first reader)."""
        if self._built is None:
            self._built = deliveries(self._rows, self._token, self._arn, self._fifo)
            self._rows = []
        return self._built


@dataclass(frozen=True, slots=True)
class Settled:
    """What one ``settle_and_receive`` transaction did: how many messages each delete deleted, what
    each receive received and, if a receive came back empty, the change counter inside the
    transaction and when the earliest hidden message becomes visible (for its long poll)."""

    deleted: list[int]
    received: list[Received]
    seen: int | None = None
    wake_ms: int | None = None


class QueueStore:
    """One embedded queue in one database file."""

    def __init__(self, db: Database, name: str, attributes: QueueAttributes | None = None,
                 *, now_ms: int) -> None:
        self.db = db
        self.row: QueueRow = load_queue(db, name, attributes, now_ms=now_ms,
                                        create_with=with_defaults_for(name))
        self._last_sweep_ms = 0

    @property
    def attributes(self) -> QueueAttributes:
        return self.row.attributes

    def send(self, messages: Sequence[OutgoingMessage], now_ms: int) -> list[SendResult]:
        """Enqueue messages in one transaction (all or none)."""
        rows = [self._prepare(message, now_ms) for message in messages]
        if not self.row.attributes.fifo:
            with self.db.write() as conn:
                conn.executemany(_INSERT, [params for params, _ in rows])
            return [SendResult(params[1], params[3]) for params, _ in rows]  # type: ignore[arg-type]
        with self.db.write() as conn:
            return [self._send_fifo(conn, params, key, now_ms) for params, key in rows]

    def _prepare(self, message: OutgoingMessage, now_ms: int) -> tuple[tuple[object, ...], str | None]:
        attrs = self.row.attributes
        size = check_body(message.body, attrs.maximum_message_size) + message.attributes_size
        if size > attrs.maximum_message_size:
            raise ConfigError("MessageAttributes", f"<{size} bytes with the body>",
                              f"at most MaximumMessageSize={attrs.maximum_message_size} bytes")
        dedup_id, key = self._deduplication(message)
        if message.group_id is not None:
            check_group_id(message.group_id)
        delay_s = attrs.delay_s if message.delay_s is None else check_delay(message.delay_s)
        params = (self.row.id, str(uuid.uuid4()), message.body, md5_of(message.body),
                  message.message_attributes, message.group_id, dedup_id, now_ms, now_ms,
                  now_ms + delay_s * 1000)
        return params, key

    def _deduplication(self, message: OutgoingMessage) -> tuple[str | None, str | None]:
        attrs = self.row.attributes
        if not attrs.fifo:
            if message.deduplication_id is not None:
                raise ConfigError("MessageDeduplicationId", message.deduplication_id,
                                  "only valid on a FIFO queue")
            return None, None
        if not message.group_id:
            raise ConfigError("MessageGroupId", message.group_id,
                              f"required on the FIFO queue {self.row.name}")
        if message.delay_s:
            raise ConfigError("DelaySeconds", message.delay_s, "per-message delays are not supported on FIFO "
                              "queues (set the queue's DelaySeconds)")
        dedup_id = message.deduplication_id
        if dedup_id is None:
            if not attrs.content_based_deduplication:
                raise ConfigError("MessageDeduplicationId", None, f"required on {self.row.name}: the queue "
                                  "has ContentBasedDeduplication off")
            dedup_id = content_deduplication_id(message.body)
        if not 1 <= len(dedup_id) <= 128:
            raise ConfigError("MessageDeduplicationId", dedup_id, "1 to 128 characters")
        scoped = attrs.deduplication_scope == "messageGroup"
        return dedup_id, f"{message.group_id}\x00{dedup_id}" if scoped else dedup_id

    def _send_fifo(self, conn: sqlite3.Connection, params: tuple[object, ...], key: str | None,
                   now_ms: int) -> SendResult:
        md5 = str(params[3])
        seen = conn.execute("SELECT message_id, seq FROM dedup WHERE queue_id = ? AND dedup_key = ? "
                            "AND expires_ms > ?", (self.row.id, key, now_ms)).fetchone()
        if seen is not None:
            return SendResult(seen[0], md5, sequence_number(seen[1]), duplicate=True)
        seq = conn.execute(_INSERT, params).lastrowid
        assert seq is not None
        conn.execute("INSERT OR REPLACE INTO dedup VALUES (?, ?, ?, ?, ?)",
                     (self.row.id, key, now_ms + DEDUPLICATION_INTERVAL_MS, params[1], seq))
        return SendResult(str(params[1]), md5, sequence_number(seq))

    def receive(self, max_records: int, now_ms: int, visibility_timeout_s: float | None = None) -> Received:
        """Mark up to ``max_records`` visible messages in flight and return them, in one transaction.

        A message whose receive would pass the redrive policy's
        ``maxReceiveCount`` moves to the dead-letter queue instead, as SQS does.
        """
        return self.settle_and_receive((), [(max_records, now_ms)], visibility_timeout_s).received[0]

    def settle_and_receive(
        self, deletes: Sequence[DeleteGroup], receives: Sequence[tuple[int, int]],
        visibility_timeout_s: float | None = None, *, watch: Callable[[], int] | None = None,
    ) -> Settled:
        """Several deletes, then several receives (``(max_records, now_ms)``), in one transaction.

        One commit for all of them: the group commit of ``SqliteQueue``. When a
        receive comes back empty, ``watch`` (a change counter) is read inside the
        transaction, where no other writer can commit, so a long poll waiting on
        it misses no later commit; in the busy case it costs nothing.
        """
        for max_records, _ in receives:
            if max_records < 1:
                raise ConfigError("MaxNumberOfMessages", max_records, "at least 1")
        seen = wake_ms = None
        with self.db.write() as conn:
            counts = [self._delete_in(conn, group) for group in deletes]
            if receives:
                self._sweep(conn, max(now_ms for _, now_ms in receives))
            taken = [self._take(conn, max_records, now_ms, visibility_timeout_s) for max_records, now_ms in receives]
            if watch is not None and not all(rows for rows, _, _ in taken):
                seen = watch()
                wake_ms = self._next_visible(conn, min(now_ms for _, now_ms in receives))
        arn, fifo = self.row.arn, self.row.attributes.fifo
        received = [Received(rows, token, arn, fifo, moved) for rows, token, moved in taken]
        return Settled(counts, received, seen, wake_ms)

    def _take(self, conn: sqlite3.Connection, max_records: int, now_ms: int,
              visibility_timeout_s: float | None) -> tuple[list[ReceivedRow], str, int]:
        """One receive's statements: (rows, receive token, messages moved to the dead-letter queue)."""
        attrs = self.row.attributes
        timeout_s = attrs.visibility_timeout_s if visibility_timeout_s is None else visibility_timeout_s
        # Unique per receive, not secret: a seeded generator, not secrets/os.urandom, whose system
        # call releases the GIL and then waits for the event loop thread to hand it back.
        token = f"{_tokens.getrandbits(64):016x}"
        params = {"queue": self.row.id, "now": now_ms, "until": now_ms + int(timeout_s * 1000),
                  "cutoff": now_ms - attrs.message_retention_s * 1000, "token": token, "limit": max_records}
        sql = RECEIVE_FIFO if attrs.fifo else self._standard_receive(conn)
        rows: list[ReceivedRow] = []
        moved = 0
        while len(rows) < max_records:
            params["limit"] = max_records - len(rows)
            got: list[ReceivedRow] = conn.execute(sql, params).fetchall()
            kept = self._redrive(conn, got, now_ms)
            moved += len(got) - len(kept)
            rows += kept
            if len(kept) == len(got):
                break
        return rows, token, moved

    def _standard_receive(self, conn: sqlite3.Connection) -> str:
        """The fair receive while the queue holds a grouped message, else the plain one (one index lookup)."""
        return RECEIVE_FAIR if conn.execute(HAS_TENANTS, (self.row.id,)).fetchone()[0] else RECEIVE_STANDARD

    def _redrive(self, conn: sqlite3.Connection, rows: list[ReceivedRow], now_ms: int) -> list[ReceivedRow]:
        policy = self.row.attributes.redrive
        if policy is None or self.row.dlq_id is None:
            return rows
        limit = policy.max_receive_count
        over = [row[0] for row in rows if row[8] > limit]
        if not over:
            return rows
        conn.execute(_REDRIVE, {"dlq": self.row.dlq_id, "source": self.row.id, "now": now_ms,
                                "fifo": self.row.attributes.fifo, "seqs": json.dumps(over)})
        return [row for row in rows if row[8] <= limit]

    def delete(self, handles: Sequence[str]) -> int:
        """Delete messages by receipt handle; stale handles match nothing. Returns how many went."""
        return self.settle_and_receive([deletions(handles)], ()).deleted[0]

    def _delete_in(self, conn: sqlite3.Connection, group: DeleteGroup) -> int:
        return sum(conn.execute(DELETE, (self.row.id, token, seqs)).rowcount for token, seqs in group.items())

    def release(self, handles: Sequence[str], delay_s: float, now_ms: int) -> int:
        """ChangeMessageVisibility: visible again ``delay_s`` from now (0 = at once)."""
        if not 0 <= delay_s <= 43_200:
            raise ConfigError("VisibilityTimeout", delay_s, "from 0 to 43200 seconds")
        by_token = _by_token(handles)
        changed = 0
        with self.db.write() as conn:
            for token, seqs in by_token.items():
                changed += conn.execute(_RELEASE, (now_ms + int(delay_s * 1000), self.row.id, token,
                                                   json.dumps(seqs))).rowcount
        return changed

    def extend(self, handles: Sequence[str], timeout_s: float, now_ms: int) -> list[str]:
        """ChangeMessageVisibility on held messages: hidden ``timeout_s`` from now.

        Returns the handles that hold nothing any more (the message was deleted
        or received again since): those were not extended.
        """
        if not 0 <= timeout_s <= 43_200:
            raise ConfigError("VisibilityTimeout", timeout_s, "from 0 to 43200 seconds")
        held: set[tuple[int, str]] = set()
        with self.db.write() as conn:
            for token, seqs in _by_token(handles).items():
                rows = conn.execute(_EXTEND, (now_ms + int(timeout_s * 1000), self.row.id, token,
                                              json.dumps(seqs))).fetchall()
                held.update((row[0], token) for row in rows)
        return [handle for handle in handles if parse_handle(handle) not in held]

    def backlog(self, now_ms: int) -> Backlog:
        """Visible, in flight and delayed messages, and the dead-letter queue's depth."""
        with self.db.write() as conn:
            self._sweep(conn, now_ms)
        with self.db.read() as conn:
            visible = conn.execute("SELECT COUNT(*) FROM messages WHERE queue_id = ? AND visible_ms <= ?",
                                   (self.row.id, now_ms)).fetchone()[0]
            hidden = dict(conn.execute(
                "SELECT receive_count > 0, COUNT(*) FROM messages WHERE queue_id = ? AND visible_ms > ? "
                "GROUP BY 1",
                (self.row.id, now_ms)).fetchall())
            dead = 0
            if self.row.dlq_id is not None:
                dead = conn.execute("SELECT COUNT(*) FROM messages WHERE queue_id = ?",
                                    (self.row.dlq_id,)).fetchone()[0]
            upcoming = self._next_visible(conn, now_ms) if hidden else None
        return Backlog(visible=visible, in_flight=hidden.get(1, 0), delayed=hidden.get(0, 0),
                       dead_lettered=dead, next_visible_ms=upcoming)

    def next_visible_ms(self, now_ms: int) -> int | None:
        """When the earliest hidden message becomes visible (to wake a long poll), if any is hidden."""
        with self.db.read() as conn:
            return self._next_visible(conn, now_ms)

    def _next_visible(self, conn: sqlite3.Connection, now_ms: int) -> int | None:
        row = conn.execute("SELECT MIN(visible_ms) FROM messages WHERE queue_id = ? AND visible_ms > ?",
                           (self.row.id, now_ms)).fetchone()
        return None if row[0] is None else int(row[0])

    def purge(self) -> int:
        """Delete every message of the queue (PurgeQueue); returns how many."""
        with self.db.write() as conn:
            return conn.execute("DELETE FROM messages WHERE queue_id = ?", (self.row.id,)).rowcount

    def _sweep(self, conn: sqlite3.Connection, now_ms: int, force: bool = False) -> None:
        # Retention and the deduplication window: at most once a second per store.
        if not force and now_ms - self._last_sweep_ms < SWEEP_INTERVAL_MS:
            return
        self._last_sweep_ms = now_ms
        cutoff = now_ms - self.row.attributes.message_retention_s * 1000
        conn.execute("DELETE FROM messages WHERE queue_id = ? AND enqueued_ms <= ?", (self.row.id, cutoff))
        if self.row.attributes.fifo:
            conn.execute("DELETE FROM dedup WHERE queue_id = ? AND expires_ms <= ?", (self.row.id, now_ms))


def deletions(handles: Sequence[str]) -> DeleteGroup:
    """Parse receipt handles for a delete; a malformed handle fails here, before any transaction.

    Runs on the event loop for every batch. The usual batch, handles of one
    receive (``<digits>.<token>``, as ``receive`` makes them), is checked and
    joined by string methods that loop in C; anything else goes handle by
    handle, through ``parse_handle``.
    """
    one_receive = _one_receive(handles)
    if one_receive is not None:
        return one_receive
    by_token: dict[str, list[str]] = {}
    for handle in handles:
        seq, _, token = handle.partition(".")
        if not (token and seq.isdigit() and seq.isascii() and seq[0] != "0"):
            seq = str(parse_handle(handle)[0])  # raises for a malformed handle; "007" becomes "7"
        seqs = by_token.get(token)
        if seqs is None:
            by_token[token] = [seq]
        else:
            seqs.append(seq)
    return {token: f"[{','.join(seqs)}]" for token, seqs in by_token.items()}


def _one_receive(handles: Sequence[str]) -> DeleteGroup | None:
    """The delete of handles that all end in one receive's token after a row sequence, else ``None``.

    The token has no ``.`` or ``,`` (letters and digits), so its suffix cannot
    overlap itself or span two joined handles: when every handle ends with it
    and the joined text holds it once per handle, removing it leaves the row
    sequences, which must then be canonical numbers, one per handle.
    """
    if not handles:
        return None
    _, _, token = handles[0].partition(".")
    if not (token.isalnum() and token.isascii()):
        return None
    suffix = f".{token}"
    if not all(map(str.endswith, handles, repeat(suffix))):
        return None
    joined = ",".join(handles)
    if joined.count(suffix) != len(handles):
        return None
    seqs = joined.replace(suffix, "")
    digits, framed = seqs.replace(",", ""), f",{seqs},"
    # One comma between each two sequences, and each sequence ASCII digits, none empty or with a leading zero.
    if (seqs.count(",") != len(handles) - 1 or not (digits.isdigit() and digits.isascii())
            or ",," in framed or ",0" in framed):
        return None
    return {token: f"[{seqs}]"}


def _by_token(handles: Sequence[str]) -> dict[str, list[int]]:
    by_token: dict[str, list[int]] = defaultdict(list)
    for handle in handles:
        seq, token = parse_handle(handle)
        by_token[token].append(seq)
    return by_token
