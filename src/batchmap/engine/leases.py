"""Shard ownership when several engines share a stream: one owner per shard, takeover when it dies.

A store that keeps leases (the embedded SQLite file, PostgreSQL, Redis) lets
each engine take a shard only while no live lease of another engine covers it,
renew its leases well before they expire, and release them on a clean stop.
An engine that dies stops renewing: after the lease's time to live another
engine takes the shard over from its last checkpoint. Checkpoint writes carry
the owner, so a store can refuse a write from an engine that lost its shard.

Engines share the work: each one keeps a membership lease (``member:OWNER``)
alive, takes at most its fair share (open shards / live members, rounded up)
and gives shards back when a new member arrives, so two engines started on
one stream split its shards instead of one standing by.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import uuid

from batchmap.sources.base import CheckpointStore
from batchmap.sources.checkpoints.leases import LeaseStore

log = logging.getLogger("batchmap.engine")

DEFAULT_LEASE_TTL_S = 10.0
"""How long a shard stays owned after its owner stops renewing (the takeover delay)."""
MIN_LEASE_S = 1.0
MAX_LEASE_S = 3600.0
"""Bounds of the lease time: renewals come every third of it, and a takeover waits all of it."""

MEMBER_PREFIX = "member:"
"""Leases under this prefix say which engines are alive on a mapping (they are not shards)."""


def default_owner() -> str:
    """An owner id unique to this engine process: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class ShardLeases:
    """The leases one mapping holds in a store; a no-op when the store keeps no leases."""

    def __init__(self, store: CheckpointStore, mapping_id: str, owner: str | None = None,
                 ttl_s: float = DEFAULT_LEASE_TTL_S) -> None:
        self.store = store
        self.leases: LeaseStore | None = store if isinstance(store, LeaseStore) else None
        self.mapping_id = mapping_id
        self.owner = owner or default_owner()
        self.ttl_s = ttl_s
        self.held: set[str] = set()
        self.member_id = f"{MEMBER_PREFIX}{self.owner}"
        self.live: dict[str, str] = {}
        """Shard id -> owner of every live lease, as ``fair_share`` last read them (no extra store call)."""

    @property
    def renew_every_s(self) -> float:
        """Renew at a third of the time to live, so one missed renewal does not lose a shard."""
        return self.ttl_s / 3

    @property
    def enabled(self) -> bool:
        """Whether the store keeps leases (a ``LeaseStore``); without, every shard is ours and puts are unfenced."""
        return self.leases is not None

    async def acquire(self, shard_id: str) -> bool:
        """Take the shard if no other live engine holds it."""
        if self.leases is None:
            return True
        if await self.leases.acquire(self.mapping_id, shard_id, self.owner, self.ttl_s):
            self.held.add(shard_id)
            return True
        return False

    async def renew(self) -> list[str]:
        """Renew every held lease; returns the shards that were lost (to stop at once)."""
        lost: list[str] = []
        if self.leases is None:
            return lost
        for shard_id in sorted(self.held):
            if not await self.leases.renew(self.mapping_id, shard_id, self.owner, self.ttl_s):
                log.warning("lost the lease on shard %s to another engine: stopping it", shard_id)
                self.held.discard(shard_id)
                lost.append(shard_id)
        return lost

    async def heartbeat(self) -> None:
        """Keep this engine's membership lease alive, so the others count it when sharing shards."""
        if self.leases is not None:
            await self.leases.acquire(self.mapping_id, self.member_id, self.owner, self.ttl_s)

    async def fair_share(self, open_shards: int) -> int:
        """How many shards this engine should hold: open shards over live engines, rounded up."""
        if self.leases is None or open_shards <= 0:
            return max(open_shards, 0)
        owners = self.live = await self.leases.owners(self.mapping_id)
        members = {owner for shard, owner in owners.items() if shard.startswith(MEMBER_PREFIX)} | {self.owner}
        return math.ceil(open_shards / len(members))

    async def leave(self) -> None:
        """Give up the membership lease (a clean stop), so the others rebalance at once."""
        if self.leases is not None:
            await self.leases.release(self.mapping_id, self.member_id, self.owner)

    async def release(self, shard_id: str) -> None:
        """Give a shard up (finished, or stopping cleanly) so another engine can take it at once."""
        if self.leases is not None and shard_id in self.held:
            self.held.discard(shard_id)
            await self.leases.release(self.mapping_id, shard_id, self.owner)

    async def put_checkpoint(self, shard_id: str, sequence_number: str) -> None:
        """Write a checkpoint, fenced by our ownership where the store keeps leases."""
        if self.leases is not None:
            await self.leases.put(self.mapping_id, shard_id, sequence_number, owner=self.owner)
        else:
            await self.store.put(self.mapping_id, shard_id, sequence_number)
