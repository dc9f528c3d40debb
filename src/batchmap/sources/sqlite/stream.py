"""``SqliteStream``: the embedded stream as an async ``StreamSource`` and ``Producer``.

A shard that caught up waits for a write to the file instead of sleeping out
the poll interval (``SourceTraits.wakes_reads``): the same woken wait as the
queue's long poll (``commit_wait.py``), so a record put by this process or
another is read at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TypeVar

from batchmap.clock import Clock, SystemClock
from batchmap.errors import ConfigError, SourceError
from batchmap.records import SourceKind
from batchmap.sources.base import Position, Shard, SourceTraits, StreamRead
from batchmap.sources.bodies import Body, as_data
from batchmap.sources.sqlite.commit_wait import CommitWait
from batchmap.sources.sqlite.database import Database
from batchmap.sources.sqlite.resharding import merge_shards, split_shard, update_shard_count
from batchmap.sources.sqlite.stream_records import PutResult
from batchmap.sources.sqlite.stream_store import OutgoingRecord, StreamStore, outgoing_records
from batchmap.sources.sqlite.uri import SqliteUri, parse_uri

T = TypeVar("T")


class SqliteStream:
    """A Kinesis-like stream in a SQLite file: shards, partition keys, sequence numbers, retention."""

    shape: SourceKind = "kinesis"
    traits = SourceTraits(wakes_reads=True)

    def __init__(self, source: str | SqliteUri, *, shard_count: int | None = None,
                 retention_hours: int | None = None, clock: Clock | None = None) -> None:
        """Open (creating on first use) the stream a ``sqlite:///FILE?stream=NAME`` URI names.

        A new stream gets ``shard_count`` shards (default 1) and
        ``retention_hours`` (default 24, as Kinesis); given for an existing
        stream, they must match it. Blocking: use ``await SqliteStream.open(...)``.
        """
        self.location = parse_uri(source) if isinstance(source, str) else source
        if self.location.kind != "stream":
            raise ConfigError("--source", self.location.uri(), "a stream URI (?stream=NAME)")
        self.clock: Clock = clock or SystemClock()
        self.db = Database(self.location.path, self.location.synchronous, self.location.busy_timeout_s)
        try:
            self.store = StreamStore(self.db, self.location.name, now_ms=self.clock.wall_ms(),
                                     shard_count=shard_count, retention_hours=retention_hours)
        except BaseException:
            self.db.close()
            raise
        self.uri = self.location.uri()
        self.arn = self.store.arn
        self.name = self.location.name
        self._seen: dict[str, int] = {}  # shard id -> the change counter when its last read began
        self._commits = CommitWait(self.db, self.clock)

    @classmethod
    async def open(cls, source: str | SqliteUri, *, shard_count: int | None = None,
                   retention_hours: int | None = None, clock: Clock | None = None) -> SqliteStream:
        """Open without blocking the event loop."""
        return await asyncio.to_thread(cls, source, shard_count=shard_count, retention_hours=retention_hours,
                                       clock=clock)

    async def shards(self) -> list[Shard]:
        """Every shard, parents before children."""
        rows = await self.db.run(self.store.shards)
        return [Shard(row.id, row.parent_ids, row.closed) for row in rows]

    async def read(self, shard_id: str, position: Position, max_records: int) -> StreamRead:
        """Up to ``max_records`` records of one shard from ``position``, in sequence order."""
        return await self.db.run(self._read, shard_id, position, max_records, self.clock.wall_ms())

    def _read(self, shard_id: str, position: Position, max_records: int, now_ms: int) -> StreamRead:
        """On the database thread: the change counter first, so a wait after this read misses no later write."""
        self._seen[shard_id] = self.db.change_counter()
        return self.store.read(shard_id, position, max_records, now_ms)

    async def wait_for_change(self, shard_id: str, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for a commit to the file (by any process) since ``shard_id``'s last read.

        True when one came: it may have added records to the shard, or to another.
        If the change counter cannot be read, the wait sleeps out the timeout.
        """
        deadline = self.clock.now() + max(0.0, timeout_s)
        try:
            seen = self._seen.get(shard_id)
            return await self._commits.wait(self.db.change_counter() if seen is None else seen, deadline)
        except SourceError:
            await self.clock.sleep(max(0.0, deadline - self.clock.now()))
            return False

    async def send(
        self,
        bodies: Sequence[Body],
        *,
        partition_key: str | None = None,
        message_group_id: str | None = None,
        deduplication_id: str | None = None,
        delay_s: int | None = None,
    ) -> list[str]:
        """Put bodies (bytes as they are, text as UTF-8); returns sequence numbers.

        Without a partition key each body gets a random one; an empty key is refused, as Kinesis does.
        """
        for name, value in (("--message-group-id", message_group_id),
                            ("--message-deduplication-id", deduplication_id)):
            if value is not None:
                raise ConfigError(name, value, "only for queues; streams take --partition-key")
        if delay_s:
            raise ConfigError("--delay-seconds", delay_s, "only for queues")
        records = outgoing_records(bodies, partition_key)
        return [result.sequence_number for result in await self.put_records(records)]

    async def put_records(self, records: Sequence[OutgoingRecord]) -> list[PutResult]:
        """PutRecords: all records in one transaction, in order."""
        return await self.db.run(self.store.put, list(records), self.clock.wall_ms())

    async def put_record(self, data: bytes | str, partition_key: str,
                         explicit_hash_key: str | None = None) -> PutResult:
        """PutRecord: one record; ``explicit_hash_key`` overrides the partition key's hash."""
        return (await self.put_records([OutgoingRecord(as_data(data), partition_key, explicit_hash_key)]))[0]

    async def split_shard(self, shard_id: str, new_starting_hash_key: str) -> tuple[str, str]:
        """SplitShard; returns the two child shard ids."""
        return await self.db.run(self._in_write, split_shard, shard_id, new_starting_hash_key)

    async def merge_shards(self, shard_id: str, adjacent_shard_id: str) -> str:
        """MergeShards; returns the child shard id."""
        return await self.db.run(self._in_write, merge_shards, shard_id, adjacent_shard_id)

    async def update_shard_count(self, target_shard_count: int) -> list[str]:
        """UpdateShardCount with uniform scaling; returns the new open shard ids."""
        return await self.db.run(self._in_write, update_shard_count, target_shard_count)

    def _in_write(self, change: Callable[..., T], *args: object) -> T:
        with self.db.write() as conn:
            return change(conn, self.store.id, *args, self.clock.wall_ms())

    async def trim(self) -> int:
        """Drop records past the retention period now (reads also do this, at most once a second)."""
        return await self.db.run(self.store.trim, self.clock.wall_ms())

    async def close(self) -> None:
        self._commits.close()
        await asyncio.to_thread(self.db.close)
