"""Shared checkpoint stores with shard leases: PostgreSQL and Redis, for several engines on one stream.

``open_checkpoint_store("redis://127.0.0.1:6379/0", owner="engine-a")`` or
``open_checkpoint_store("postgresql://postgres@127.0.0.1/test", owner=...)``
returns a ``LeaseStore``; the client library is imported only then
(``pip install 'batchmap[redis]'`` / ``'batchmap[postgres]'``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from batchmap.errors import ConfigError
from batchmap.sources.checkpoints.leases import LeaseStore
from batchmap.sources.checkpoints.postgres_store import PostgresCheckpointStore
from batchmap.sources.checkpoints.redis_store import RedisCheckpointStore

__all__ = ["LeaseStore", "PostgresCheckpointStore", "RedisCheckpointStore", "open_checkpoint_store"]


async def open_checkpoint_store(uri: str, *, owner: str | None = None, prefix: str = "batchmap") -> LeaseStore:
    """A shared store by URI: ``redis://``, ``rediss://``, ``postgresql://`` or ``postgres://``."""
    scheme = urlsplit(uri).scheme
    if scheme in ("redis", "rediss"):
        return await RedisCheckpointStore.connect(uri, owner=owner, prefix=prefix)
    if scheme in ("postgresql", "postgres"):
        return await PostgresCheckpointStore.connect(uri, owner=owner, prefix=prefix)
    raise ConfigError("--checkpoint-store", uri, "a redis://, rediss://, postgresql:// or postgres:// URI")
