"""Stream checkpoints and shard leases in the same database file as the stream.

A checkpoint is the last fully processed sequence number of a shard for one
mapping. A lease says which engine process owns a shard until when, so several
processes on one file can share a stream's shards: take a free or expired
lease, renew it well before it expires, release it on a clean stop.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from batchmap.clock import Clock, SystemClock
from batchmap.errors import ConfigError, LeaseLostError
from batchmap.sources.sqlite.database import Database
from batchmap.sources.sqlite.uri import parse_uri


@dataclass(frozen=True, slots=True)
class Lease:
    """Who holds a shard of a mapping, and until when (epoch ms)."""

    mapping_id: str
    shard_id: str
    owner: str
    expires_ms: int


class SqliteCheckpointStore:
    """A ``CheckpointStore`` (and lease table) in an embedded database file."""

    def __init__(self, path_or_uri: str, *, clock: Clock | None = None) -> None:
        """Open the store in a database file, given its path or any ``sqlite:///`` URI naming it."""
        if path_or_uri.startswith("sqlite:"):
            parsed = parse_uri(path_or_uri)
            self.db = Database(parsed.path, parsed.synchronous, parsed.busy_timeout_s)
        else:
            self.db = Database(path_or_uri)
        self.clock: Clock = clock or SystemClock()

    async def get(self, mapping_id: str, shard_id: str) -> str | None:
        """The checkpointed sequence number, or None if the shard was never checkpointed."""
        return await self.db.run(self._get, mapping_id, shard_id)

    def _get(self, mapping_id: str, shard_id: str) -> str | None:
        with self.db.read() as conn:
            row = conn.execute("SELECT sequence_number FROM checkpoints "
                               "WHERE mapping_id = ? AND shard_id = ?", (mapping_id, shard_id)).fetchone()
        return None if row is None else str(row[0])

    async def put(self, mapping_id: str, shard_id: str, sequence_number: str, *, owner: str | None = None) -> None:
        """Record that everything up to and including ``sequence_number`` is done.

        With ``owner`` the write is fenced: it happens only while that owner
        holds a live lease on the shard, else ``LeaseLostError`` (a process that
        lost its shard to a takeover must not move the new owner's checkpoint).
        """
        if not sequence_number:
            raise ConfigError("sequence_number", sequence_number, "a non-empty sequence number")
        await self.db.run(self._put, mapping_id, shard_id, sequence_number, self.clock.wall_ms(), owner)

    def _put(self, mapping_id: str, shard_id: str, sequence_number: str, now_ms: int, owner: str | None) -> None:
        with self.db.write() as conn:
            if owner is not None:
                row = conn.execute("SELECT owner, expires_ms FROM leases WHERE mapping_id = ? AND shard_id = ?",
                                   (mapping_id, shard_id)).fetchone()
                if row is None or row[0] != owner or row[1] <= now_ms:
                    raise LeaseLostError(mapping_id, shard_id, owner)
            conn.execute("INSERT INTO checkpoints VALUES (?, ?, ?, ?) ON CONFLICT (mapping_id, shard_id) "
                         "DO UPDATE SET sequence_number = excluded.sequence_number, "
                         "updated_ms = excluded.updated_ms",
                         (mapping_id, shard_id, sequence_number, now_ms))

    async def checkpoints(self, mapping_id: str) -> dict[str, str]:
        """Every checkpoint of a mapping, by shard id."""
        return await self.db.run(self._checkpoints, mapping_id)

    def _checkpoints(self, mapping_id: str) -> dict[str, str]:
        with self.db.read() as conn:
            rows = conn.execute("SELECT shard_id, sequence_number FROM checkpoints WHERE mapping_id = ?",
                                (mapping_id,)).fetchall()
        return {str(shard): str(seq) for shard, seq in rows}

    async def acquire(self, mapping_id: str, shard_id: str, owner: str, ttl_s: float) -> bool:
        """Take the shard's lease if it is free, expired or already ours; True if we hold it now."""
        return await self.db.run(self._claim, mapping_id, shard_id, owner, ttl_s, False)

    async def renew(self, mapping_id: str, shard_id: str, owner: str, ttl_s: float) -> bool:
        """Extend our lease; False if someone else holds it (we lost it and must stop)."""
        return await self.db.run(self._claim, mapping_id, shard_id, owner, ttl_s, True)

    def _claim(self, mapping_id: str, shard_id: str, owner: str, ttl_s: float, renew: bool) -> bool:
        if not owner:
            raise ConfigError("owner", owner, "a non-empty owner id")
        if ttl_s <= 0:
            raise ConfigError("ttl_s", ttl_s, "a positive number of seconds")
        now_ms = self.clock.wall_ms()
        with self.db.write() as conn:
            row = conn.execute("SELECT owner, expires_ms FROM leases WHERE mapping_id = ? AND shard_id = ?",
                               (mapping_id, shard_id)).fetchone()
            held_by_other = row is not None and row[0] != owner and (renew or row[1] > now_ms)
            if held_by_other or (renew and row is None):
                return False
            conn.execute("INSERT OR REPLACE INTO leases VALUES (?, ?, ?, ?)",
                         (mapping_id, shard_id, owner, now_ms + int(ttl_s * 1000)))
        return True

    async def release(self, mapping_id: str, shard_id: str, owner: str) -> bool:
        """Give up our lease; False if we did not hold it."""
        return await self.db.run(self._release, mapping_id, shard_id, owner)

    def _release(self, mapping_id: str, shard_id: str, owner: str) -> bool:
        with self.db.write() as conn:
            return conn.execute("DELETE FROM leases WHERE mapping_id = ? AND shard_id = ? AND owner = ?",
                                (mapping_id, shard_id, owner)).rowcount > 0

    async def owners(self, mapping_id: str) -> dict[str, str]:
        """Shard -> owner for every live (unexpired) lease of the mapping."""
        now_ms = self.clock.wall_ms()
        return {lease.shard_id: lease.owner for lease in await self.leases(mapping_id) if lease.expires_ms > now_ms}

    async def leases(self, mapping_id: str) -> list[Lease]:
        """Every lease of a mapping, expired ones included."""
        return await self.db.run(self._leases, mapping_id)

    def _leases(self, mapping_id: str) -> list[Lease]:
        with self.db.read() as conn:
            rows = conn.execute("SELECT shard_id, owner, expires_ms FROM leases WHERE mapping_id = ? "
                                "ORDER BY shard_id", (mapping_id,)).fetchall()
        return [Lease(mapping_id, str(shard), str(owner), int(expires)) for shard, owner, expires in rows]

    async def close(self) -> None:
        await asyncio.to_thread(self.db.close)
