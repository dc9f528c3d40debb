"""The lease API shared by every checkpoint store that several engines can share.

The embedded ``SqliteCheckpointStore`` has the same method names and signatures.

Each shard of a mapping has at most one owner at a time: an engine
``acquire``s a shard's lease for ``ttl_s`` seconds, ``renew``s it well before it
expires, and ``release``s it when it stops. An owner that dies simply stops
renewing; once the lease expires another engine acquires it and resumes from
the checkpoint. Expiry is measured by the store's own clock (Redis, the
PostgreSQL server), never by the engines', so their clocks need not agree.

Checkpoint writes are fenced: a store opened with an ``owner`` (or a ``put``
given one) writes only while that owner holds the shard's live lease, in the
same atomic step, and raises ``LeaseLostError`` otherwise. A process that
stalled past its lease therefore cannot move the checkpoint under the new owner.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from batchmap.errors import ConfigError
from batchmap.sources.base import CheckpointStore


@runtime_checkable
class LeaseStore(CheckpointStore, Protocol):
    """A ``CheckpointStore`` that also hands out one lease per (mapping, shard).

    The engine shares a stream between engines, and fences its checkpoint
    writes, exactly when its store is one of these; any other store's shards
    are all its own.
    """

    async def put(self, mapping_id: str, shard_id: str, sequence_number: str, *, owner: str | None = None) -> None:
        """Record the checkpoint; given ``owner``, only while that owner holds the shard's live lease."""
        ...

    async def acquire(self, mapping_id: str, shard_id: str, owner: str, ttl_s: float) -> bool:
        """Take the lease if it is free, expired or already ``owner``'s (then it is extended)."""
        ...

    async def renew(self, mapping_id: str, shard_id: str, owner: str, ttl_s: float) -> bool:
        """Extend ``owner``'s live lease; ``False`` when it was lost (expired or taken over)."""
        ...

    async def release(self, mapping_id: str, shard_id: str, owner: str) -> bool:
        """Give the lease up if ``owner`` holds it, so another engine can take it at once; ``False`` if not."""
        ...

    async def checkpoints(self, mapping_id: str) -> dict[str, str]:
        """Shard id -> checkpointed sequence number, for every shard of the mapping."""
        ...

    async def owners(self, mapping_id: str) -> dict[str, str]:
        """Shard id -> owner of every live lease of the mapping."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


def check_ttl(ttl_s: float) -> int:
    """A lease length in whole milliseconds; at least 1 ms."""
    if not isinstance(ttl_s, int | float) or isinstance(ttl_s, bool) or not ttl_s > 0:
        raise ConfigError("ttl_s", ttl_s, "a lease length in seconds, greater than 0")
    return max(1, round(ttl_s * 1000))


def check_name(parameter: str, value: str) -> str:
    """Mapping ids, shard ids and owners are non-empty strings."""
    if not isinstance(value, str) or not value:
        raise ConfigError(parameter, value, "a non-empty string")
    return value
