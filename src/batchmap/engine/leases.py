"""Shard ownership when several engines share a stream: one owner per shard, takeover when it dies.

A store that keeps leases (the embedded SQLite file, PostgreSQL, Redis) lets
each engine take a shard only while no live lease of another engine covers it,
renew its leases well before they expire, and release them on a clean stop.
An engine that dies stops renewing: after the lease's time to live another
engine takes the shard over from its last checkpoint. Checkpoint writes carry
the owner, so a store can refuse a write from an engine that lost its shard.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from typing import Any

log = logging.getLogger("batchmap.engine")

DEFAULT_LEASE_TTL_S = 10.0
"""How long a shard stays owned after its owner stops renewing (the takeover delay)."""


def default_owner() -> str:
    """An owner id unique to this engine process: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class ShardLeases:
    """The leases one mapping holds in a store; a no-op when the store keeps no leases."""

    def __init__(self, store: Any, mapping_id: str, owner: str | None = None,
                 ttl_s: float = DEFAULT_LEASE_TTL_S) -> None:
        self.store = store
        self.mapping_id = mapping_id
        self.owner = owner or default_owner()
        self.ttl_s = ttl_s
        self.enabled = all(callable(getattr(store, name, None)) for name in ("acquire", "renew", "release"))
        self.held: set[str] = set()

    @property
    def renew_every_s(self) -> float:
        """Renew at a third of the time to live, so one missed renewal does not lose a shard."""
        return self.ttl_s / 3

    async def acquire(self, shard_id: str) -> bool:
        """Take the shard if no other live engine holds it."""
        if not self.enabled:
            return True
        if await self.store.acquire(self.mapping_id, shard_id, self.owner, self.ttl_s):
            self.held.add(shard_id)
            return True
        return False

    async def renew(self) -> list[str]:
        """Renew every held lease; returns the shards that were lost (to stop at once)."""
        lost = []
        for shard_id in sorted(self.held):
            if not await self.store.renew(self.mapping_id, shard_id, self.owner, self.ttl_s):
                log.warning("lost the lease on shard %s to another engine: stopping it", shard_id)
                self.held.discard(shard_id)
                lost.append(shard_id)
        return lost

    async def release(self, shard_id: str) -> None:
        """Give a shard up (finished, or stopping cleanly) so another engine can take it at once."""
        if self.enabled and shard_id in self.held:
            self.held.discard(shard_id)
            await self.store.release(self.mapping_id, shard_id, self.owner)

    async def put_checkpoint(self, shard_id: str, sequence_number: str) -> None:
        """Write a checkpoint, fenced by our ownership where the store supports it."""
        if self.enabled:
            await self.store.put(self.mapping_id, shard_id, sequence_number, owner=self.owner)
        else:
            await self.store.put(self.mapping_id, shard_id, sequence_number)
