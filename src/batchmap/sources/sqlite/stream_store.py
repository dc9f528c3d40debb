"""The embedded stream's SQL: records appended to shards, read back by position.

Sequence numbers are the ``records`` table's AUTOINCREMENT row ids, assigned
under SQLite's single writer lock: they grow in commit order across every
process, so they are strictly increasing per shard, and any record committed
after a reader looked is numbered above everything the reader saw (which makes
``LATEST`` safe to resolve to "after the highest number so far").
"""

from __future__ import annotations

import bisect
import json
import sqlite3
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from batchmap.errors import ConfigError
from batchmap.sources.base import Position, StreamRead
from batchmap.sources.bodies import Body, all_data, check_partition_key
from batchmap.sources.sqlite.database import Database
from batchmap.sources.sqlite.shards import (
    HashRange,
    even_ranges,
    format_hash,
    format_sequence,
    hash_key,
    parse_hash_key,
    parse_sequence,
    shard_id,
)
from batchmap.sources.sqlite.stream_records import PutResult, StoredRecord, deliveries
from batchmap.sources.sqlite.uri import stream_arn

MAX_RECORD_BYTES = 1_048_576
"""Kinesis's limit on a record's data plus partition key."""
SWEEP_INTERVAL_MS = 1000
_SELECT = "SELECT seq, partition_key, data, arrival_ms FROM records WHERE shard_row = ? "
_OF_STREAM = "shard_row IN (SELECT id FROM shards WHERE stream_id = ?)"


@dataclass(frozen=True, slots=True)
class OutgoingRecord:
    """One record to put: its data, partition key, and optionally an explicit hash key."""

    data: bytes
    partition_key: str
    explicit_hash_key: str | None = None


def outgoing_records(bodies: Sequence[Body], partition_key: str | None) -> list[OutgoingRecord]:
    """Records for ``send``: data exactly as given, and ``partition_key`` (or a random key per record)."""
    data = all_data(bodies)
    if partition_key is None:
        return [OutgoingRecord(item, str(uuid.uuid4())) for item in data]
    key = check_partition_key(partition_key)
    return [OutgoingRecord(item, key) for item in data]


@dataclass(frozen=True, slots=True)
class ShardRow:
    """A shard as stored (hash range, parents, whether closed)."""

    row: int
    id: str
    range: HashRange
    parent_ids: tuple[str, ...]
    closed: bool


class StreamStore:
    """One embedded stream in one database file."""

    def __init__(self, db: Database, name: str, *, now_ms: int, shard_count: int | None = None,
                 retention_hours: int | None = None) -> None:
        self.db = db
        self.name = name
        self.arn = stream_arn(name)
        self.id, self.retention_hours = self._load_or_create(shard_count, retention_hours, now_ms)
        self._last_sweep_ms = 0

    def _load_or_create(self, shard_count: int | None, retention_hours: int | None,
                        now_ms: int) -> tuple[int, int]:
        count = 1 if shard_count is None else check_shard_count(shard_count)
        hours = 24 if retention_hours is None else check_retention_hours(retention_hours)
        with self.db.write() as conn:
            found = conn.execute("SELECT id, retention_hours FROM streams WHERE name = ?",
                                 (self.name,)).fetchone()
            if found is not None:
                self._check_matches(conn, found, shard_count, retention_hours)
                return int(found[0]), int(found[1])
            stream = conn.execute("INSERT INTO streams (name, retention_hours, next_shard_index, created_ms) "
                                  "VALUES (?, ?, 0, ?)", (self.name, hours, now_ms)).lastrowid
            assert stream is not None
            for hash_range in even_ranges(count):
                add_shard(conn, stream, hash_range, (), now_ms)
            return stream, hours

    def _check_matches(self, conn: sqlite3.Connection, found: tuple[int, int], shard_count: int | None,
                       retention_hours: int | None) -> None:
        if retention_hours is not None and retention_hours != found[1]:
            raise ConfigError("RetentionPeriodHours", retention_hours,
                              f"stream {self.name} already exists with {found[1]} hours "
                              "(ResourceInUseException)")
        if shard_count is not None:
            open_count = conn.execute("SELECT COUNT(*) FROM shards WHERE stream_id = ? AND closed_ms IS NULL",
                                      (found[0],)).fetchone()[0]
            if open_count != shard_count:
                raise ConfigError("ShardCount", shard_count, f"stream {self.name} already exists with "
                                  f"{open_count} open shards (ResourceInUseException)")

    def shards(self) -> list[ShardRow]:
        """Every shard, parents before children (creation order)."""
        with self.db.read() as conn:
            return load_shards(conn, self.id)

    def put(self, records: Sequence[OutgoingRecord], now_ms: int) -> list[PutResult]:
        """Append records in one transaction, each to the open shard owning its hash key."""
        keys = [_routing_key(record) for record in records]
        with self.db.write() as conn:
            open_shards = [s for s in load_shards(conn, self.id) if not s.closed]
            starts = [s.range.start for s in open_shards]
            next_seq = _high_water(conn) + 1
            rows, results = [], []
            for offset, (record, key) in enumerate(zip(records, keys, strict=True)):
                shard = open_shards[bisect.bisect_right(starts, key) - 1]
                rows.append((next_seq + offset, shard.row, record.partition_key, record.data, now_ms))
                results.append(PutResult(shard.id, format_sequence(next_seq + offset)))
            conn.executemany("INSERT INTO records (seq, shard_row, partition_key, data, arrival_ms) "
                             "VALUES (?, ?, ?, ?, ?)", rows)
        return results

    def read(self, shard: str, position: Position, max_records: int, now_ms: int) -> StreamRead:
        """Up to ``max_records`` records of ``shard`` from ``position``, in order, and where to go next."""
        if max_records < 1:
            raise ConfigError("Limit", max_records, "at least 1")
        cutoff = now_ms - self.retention_hours * 3_600_000
        self._sweep(now_ms)
        with self.db.read() as conn:
            row = self._shard(conn, shard)
            after, position = self._resolve(conn, row, position)
            rows: list[StoredRecord] = conn.execute(
                _SELECT + "AND seq > ? AND arrival_ms > ? ORDER BY seq LIMIT ?",
                (row.row, after, cutoff, max_records)).fetchall()
            last = rows[-1][0] if rows else after
            following = conn.execute(_SELECT + "AND seq > ? AND arrival_ms > ? ORDER BY seq LIMIT 1",
                                     (row.row, last, cutoff)).fetchone()
        next_position = Position("AFTER_SEQUENCE_NUMBER", format_sequence(last)) if rows else position
        behind = 0 if following is None else max(0, now_ms - following[3])
        return StreamRead(deliveries(rows, row.id, self.arn), next_position,
                          shard_ended=row.closed and following is None, millis_behind_latest=behind)

    def _shard(self, conn: sqlite3.Connection, shard: str) -> ShardRow:
        for row in load_shards(conn, self.id):
            if row.id == shard:
                return row
        raise ConfigError("ShardId", shard, f"a shard of stream {self.name}")

    def _resolve(self, conn: sqlite3.Connection, shard: ShardRow, position: Position) -> tuple[int, Position]:
        """The sequence to read after, and the position to keep when nothing was read."""
        kind = position.type
        if kind == "TRIM_HORIZON":
            return 0, position
        if kind == "LATEST":
            latest = _high_water(conn)
            return latest, Position("AFTER_SEQUENCE_NUMBER", format_sequence(latest))
        if kind == "AT_TIMESTAMP":
            if position.timestamp is None:
                raise ConfigError("StartingPositionTimestamp", None, "required with AT_TIMESTAMP")
            first = conn.execute("SELECT MIN(seq) FROM records WHERE shard_row = ? AND arrival_ms >= ?",
                                 (shard.row, int(position.timestamp * 1000))).fetchone()[0]
            return (first - 1 if first is not None else _high_water(conn)), position
        if position.sequence_number is None:
            raise ConfigError("StartingSequenceNumber", None, f"required with {kind}")
        seq = parse_sequence(position.sequence_number)
        return (seq - 1 if kind == "AT_SEQUENCE_NUMBER" else seq), position

    def counts(self) -> dict[str, tuple[int, str | None, str | None]]:
        """Per shard: record count and first/last sequence numbers (retained records only)."""
        out: dict[str, tuple[int, str | None, str | None]] = {}
        with self.db.read() as conn:
            for shard in load_shards(conn, self.id):
                count, first, last = conn.execute("SELECT COUNT(*), MIN(seq), MAX(seq) FROM records "
                                                  "WHERE shard_row = ?", (shard.row,)).fetchone()
                out[shard.id] = (count, _maybe_sequence(first), _maybe_sequence(last))
        return out

    def trim(self, now_ms: int) -> int:
        """Delete records older than the retention period; returns how many."""
        cutoff = now_ms - self.retention_hours * 3_600_000
        with self.db.write() as conn:
            return conn.execute(f"DELETE FROM records WHERE {_OF_STREAM} AND arrival_ms <= ?",
                                (self.id, cutoff)).rowcount

    def purge(self) -> int:
        """Delete every record of the stream (shards stay); returns how many."""
        with self.db.write() as conn:
            return conn.execute(f"DELETE FROM records WHERE {_OF_STREAM}", (self.id,)).rowcount

    def _sweep(self, now_ms: int) -> None:
        if now_ms - self._last_sweep_ms >= SWEEP_INTERVAL_MS:
            self._last_sweep_ms = now_ms
            self.trim(now_ms)


def load_shards(conn: sqlite3.Connection, stream: int) -> list[ShardRow]:
    """A stream's shards in creation order (so parents come before their children)."""
    return [
        ShardRow(row, sid, HashRange(int(start), int(end)), tuple(json.loads(parents)), closed is not None)
        for row, sid, start, end, parents, closed in conn.execute(
            "SELECT id, shard_id, start_hash, end_hash, parent_ids, closed_ms FROM shards "
            "WHERE stream_id = ? ORDER BY id", (stream,))
    ]


def add_shard(conn: sqlite3.Connection, stream: int, hash_range: HashRange, parents: tuple[str, ...],
              now_ms: int) -> str:
    """Create a shard with the stream's next index; returns its id."""
    index = conn.execute("UPDATE streams SET next_shard_index = next_shard_index + 1 WHERE id = ? "
                         "RETURNING next_shard_index - 1", (stream,)).fetchone()[0]
    new_id = shard_id(index)
    conn.execute("INSERT INTO shards (stream_id, shard_id, start_hash, end_hash, parent_ids, created_ms) "
                 "VALUES (?, ?, ?, ?, ?, ?)", (stream, new_id, format_hash(hash_range.start),
                                              format_hash(hash_range.end), json.dumps(list(parents)), now_ms))
    return new_id


def check_shard_count(count: int) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 10_000:
        raise ConfigError("ShardCount", count, "an integer from 1 to 10000")
    return count


def check_retention_hours(hours: int) -> int:
    if isinstance(hours, bool) or not isinstance(hours, int) or not 24 <= hours <= 8760:
        raise ConfigError("RetentionPeriodHours", hours, "an integer from 24 to 8760 hours")
    return hours


def _maybe_sequence(seq: int | None) -> str | None:
    return None if seq is None else format_sequence(seq)


def _high_water(conn: sqlite3.Connection) -> int:
    base = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'records'").fetchone()
    return int(base[0]) if base else 0


def _routing_key(record: OutgoingRecord) -> int:
    key = check_partition_key(record.partition_key)
    if not isinstance(record.data, bytes | bytearray):
        raise ConfigError("Data", type(record.data).__name__, "bytes")
    if len(record.data) + len(key.encode("utf-8")) > MAX_RECORD_BYTES:
        raise ConfigError("Data", f"<{len(record.data)} bytes>", "at most 1 MiB including the partition key")
    if record.explicit_hash_key is not None:
        return parse_hash_key(record.explicit_hash_key)
    return hash_key(key)
