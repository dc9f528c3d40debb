"""Checkpoints and shard leases in Redis, for several engines sharing one stream.

Every key of a mapping carries the mapping id as a hash tag
(``batchmap:{MAPPING}:...``), so a mapping lives in one Redis Cluster slot and
each step below is one atomic Lua script:

* ``...:lease:SHARD``   the owner, with a PX expiry (Redis's clock decides expiry)
* ``...:shards``        every shard ever leased, to list owners without SCAN
* ``...:checkpoints``   hash shard -> sequence number

A fenced checkpoint write checks the lease and writes in the same script, so
it cannot interleave with a takeover.
"""

from __future__ import annotations

from typing import Any

from batchmap.errors import ConfigError, LeaseLostError, MissingExtraError, SourceError
from batchmap.sources.checkpoints.leases import check_name, check_ttl

ACQUIRE = """
local current = redis.call('GET', KEYS[1])
if current == false or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('SADD', KEYS[2], ARGV[3])
  return 1
end
return 0
"""
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
PUT_FENCED = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
  return 1
end
return 0
"""
OWNERS = """
local out = {}
for _, shard in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local owner = redis.call('GET', ARGV[1] .. shard)
  if owner then
    table.insert(out, shard)
    table.insert(out, owner)
  end
end
return out
"""


def _redis_module() -> Any:
    try:
        import redis.asyncio as redis_asyncio
    except ImportError as exc:
        raise MissingExtraError("redis", "redis") from exc
    return redis_asyncio


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class RedisCheckpointStore:
    """A ``LeaseStore`` on Redis; ``owner`` fences every ``put`` of this store to that owner's leases."""

    def __init__(self, client: Any, *, owner: str | None = None, prefix: str = "batchmap") -> None:
        if not prefix or "{" in prefix or "}" in prefix:
            raise ConfigError("prefix", prefix, "a non-empty key prefix without braces")
        self._client = client
        self.owner = owner
        self.prefix = prefix
        self._scripts = {
            name: client.register_script(source)
            for name, source in (("acquire", ACQUIRE), ("renew", RENEW), ("release", RELEASE),
                                 ("put", PUT_FENCED), ("owners", OWNERS))
        }
        from redis import exceptions

        self._error: type[Exception] = exceptions.RedisError
        self._passing: tuple[type[Exception], ...] = (exceptions.ConnectionError, exceptions.TimeoutError, OSError)
        self._refused: tuple[type[Exception], ...] = (exceptions.AuthenticationError, exceptions.AuthorizationError)

    @classmethod
    async def connect(cls, url: str, *, owner: str | None = None, prefix: str = "batchmap") -> RedisCheckpointStore:
        """Connect to ``redis://HOST:PORT/DB`` (or ``rediss://``) and check it answers."""
        client = _redis_module().Redis.from_url(url)
        store = cls(client, owner=owner, prefix=prefix)
        try:
            await store._run(client.ping())
        except BaseException:
            await client.aclose()
            raise
        return store

    def _base(self, mapping_id: str) -> str:
        return f"{self.prefix}:{{{check_name('mapping_id', mapping_id)}}}"

    def _lease(self, mapping_id: str, shard_id: str) -> str:
        return f"{self._base(mapping_id)}:lease:{check_name('shard_id', shard_id)}"

    async def _run(self, awaitable: Any) -> Any:
        """Await a Redis call; a lost connection is transient (the engine waits), bad credentials are not."""
        try:
            return await awaitable
        except (self._error, OSError) as exc:
            passing = isinstance(exc, self._passing) and not isinstance(exc, self._refused)
            raise SourceError(f"redis checkpoint store: {exc}", transient=passing) from exc

    async def get(self, mapping_id: str, shard_id: str) -> str | None:
        """The checkpointed sequence number of the shard, or ``None``."""
        value = await self._run(
            self._client.hget(f"{self._base(mapping_id)}:checkpoints", check_name("shard_id", shard_id))
        )
        return None if value is None else _text(value)

    async def put(self, mapping_id: str, shard_id: str, sequence_number: str, *, owner: str | None = None) -> None:
        """Checkpoint; with an owner (here or the store's) only while it holds the lease, else ``LeaseLostError``."""
        fence = owner if owner is not None else self.owner
        checkpoints = f"{self._base(mapping_id)}:checkpoints"
        if fence is None:
            await self._run(self._client.hset(checkpoints, check_name("shard_id", shard_id), sequence_number))
            return
        written = await self._run(self._scripts["put"](
            keys=[self._lease(mapping_id, shard_id), checkpoints],
            args=[check_name("owner", fence), shard_id, sequence_number],
        ))
        if not int(written):
            raise LeaseLostError(mapping_id, shard_id, fence)

    async def acquire(self, mapping_id: str, shard_id: str, owner: str, ttl_s: float) -> bool:
        """SET the lease if free or expired (or extend it if ``owner`` already holds it)."""
        taken = await self._run(self._scripts["acquire"](
            keys=[self._lease(mapping_id, shard_id), f"{self._base(mapping_id)}:shards"],
            args=[check_name("owner", owner), check_ttl(ttl_s), shard_id],
        ))
        return bool(int(taken))

    async def renew(self, mapping_id: str, shard_id: str, owner: str, ttl_s: float) -> bool:
        """Extend the lease only if ``owner`` still holds it."""
        renewed = await self._run(self._scripts["renew"](
            keys=[self._lease(mapping_id, shard_id)], args=[check_name("owner", owner), check_ttl(ttl_s)]
        ))
        return bool(int(renewed))

    async def release(self, mapping_id: str, shard_id: str, owner: str) -> bool:
        """Delete the lease only if ``owner`` holds it; ``False`` if it did not."""
        released = await self._run(self._scripts["release"](
            keys=[self._lease(mapping_id, shard_id)], args=[check_name("owner", owner)]
        ))
        return bool(int(released))

    async def checkpoints(self, mapping_id: str) -> dict[str, str]:
        """Shard -> checkpointed sequence number for the mapping."""
        values = await self._run(self._client.hgetall(f"{self._base(mapping_id)}:checkpoints"))
        return {_text(shard): _text(sequence) for shard, sequence in values.items()}

    async def owners(self, mapping_id: str) -> dict[str, str]:
        """Shard -> owner for every live lease of the mapping."""
        base = self._base(mapping_id)
        flat = await self._run(self._scripts["owners"](keys=[f"{base}:shards"], args=[f"{base}:lease:"]))
        items = [_text(value) for value in flat]
        return dict(zip(items[::2], items[1::2], strict=True))

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
