"""Checkpoints and shard leases in PostgreSQL, for several engines sharing one stream.

Two tables (created on first connect, under an advisory lock so engines
starting together do not race): ``<prefix>_checkpoints`` and
``<prefix>_leases``. Every lease step is one statement, and the server's
``clock_timestamp()`` decides expiry:

* acquire: ``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` the row is ours or expired;
* renew / release: ``UPDATE`` / ``DELETE ... WHERE owner = me`` (renew also: not expired);
* fenced checkpoint: the upsert reads the lease row ``FOR SHARE``, so a takeover
  waits for it (or it sees the takeover and writes nothing).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from batchmap.errors import ConfigError, LeaseLostError, MissingExtraError, SourceError
from batchmap.sources.checkpoints.leases import check_name, check_ttl
from batchmap.sources.postgres._errors import fatal_postgres

PREFIX_PATTERN = re.compile(r"[a-z_][a-z0-9_]{0,40}")

SCHEMA = """
CREATE TABLE IF NOT EXISTS {p}_checkpoints (
    mapping_id text NOT NULL,
    shard_id text NOT NULL,
    sequence_number text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (mapping_id, shard_id)
);
CREATE TABLE IF NOT EXISTS {p}_leases (
    mapping_id text NOT NULL,
    shard_id text NOT NULL,
    owner text NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (mapping_id, shard_id)
);
"""
ACQUIRE = """
INSERT INTO {p}_leases AS l (mapping_id, shard_id, owner, expires_at)
VALUES (%(m)s, %(s)s, %(o)s, clock_timestamp() + make_interval(secs => %(ttl)s))
ON CONFLICT (mapping_id, shard_id) DO UPDATE
SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
WHERE l.owner = EXCLUDED.owner OR l.expires_at <= clock_timestamp()
RETURNING owner
"""
RENEW = """
UPDATE {p}_leases SET expires_at = clock_timestamp() + make_interval(secs => %(ttl)s)
WHERE mapping_id = %(m)s AND shard_id = %(s)s AND owner = %(o)s AND expires_at > clock_timestamp()
RETURNING owner
"""
RELEASE = """
DELETE FROM {p}_leases WHERE mapping_id = %(m)s AND shard_id = %(s)s AND owner = %(o)s RETURNING owner
"""
OWNERS = "SELECT shard_id, owner FROM {p}_leases WHERE mapping_id = %(m)s AND expires_at > clock_timestamp()"
ALL = "SELECT shard_id, sequence_number FROM {p}_checkpoints WHERE mapping_id = %(m)s"
GET = "SELECT sequence_number FROM {p}_checkpoints WHERE mapping_id = %(m)s AND shard_id = %(s)s"
UPSERT = """
INSERT INTO {p}_checkpoints (mapping_id, shard_id, sequence_number) VALUES (%(m)s, %(s)s, %(q)s)
ON CONFLICT (mapping_id, shard_id) DO UPDATE
SET sequence_number = EXCLUDED.sequence_number, updated_at = clock_timestamp()
"""
UPSERT_FENCED = """
WITH held AS (
    SELECT 1 FROM {p}_leases
    WHERE mapping_id = %(m)s AND shard_id = %(s)s AND owner = %(o)s AND expires_at > clock_timestamp()
    FOR SHARE
)
INSERT INTO {p}_checkpoints (mapping_id, shard_id, sequence_number)
SELECT %(m)s, %(s)s, %(q)s FROM held
ON CONFLICT (mapping_id, shard_id) DO UPDATE
SET sequence_number = EXCLUDED.sequence_number, updated_at = clock_timestamp()
RETURNING 1
"""


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise MissingExtraError("postgres", "psycopg") from exc
    return psycopg


class PostgresCheckpointStore:
    """A ``LeaseStore`` on PostgreSQL; ``owner`` fences every ``put`` of this store to that owner's leases."""

    def __init__(self, conninfo: str, *, owner: str | None = None, prefix: str = "batchmap") -> None:
        if not PREFIX_PATTERN.fullmatch(prefix):
            raise ConfigError("prefix", prefix, "a lower-case SQL identifier prefix: letters, digits, underscores")
        self.conninfo = conninfo
        self.owner = owner
        self.prefix = prefix
        self._psycopg = _psycopg()
        self._conn: Any = None
        self._lock = asyncio.Lock()

    @classmethod
    async def connect(
        cls, conninfo: str, *, owner: str | None = None, prefix: str = "batchmap"
    ) -> PostgresCheckpointStore:
        """Connect (``postgresql://USER@HOST:PORT/DB`` or a libpq string) and create the tables if needed."""
        store = cls(conninfo, owner=owner, prefix=prefix)
        async with store._lock:
            await store._connect()
        return store

    async def _connect(self) -> None:
        try:
            self._conn = await self._psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
            async with self._conn.transaction():
                await self._conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{self.prefix} schema",))
                await self._conn.execute(SCHEMA.format(p=self.prefix))
        except (self._psycopg.Error, OSError) as exc:
            raise self._failed(exc) from exc

    def _failed(self, exc: BaseException) -> SourceError:
        """A lost connection is transient (the engine waits); a refusal that stays (credentials, rights) is not."""
        passing = isinstance(exc, self._psycopg.OperationalError | self._psycopg.InterfaceError | OSError)
        return SourceError(f"postgres checkpoint store: {exc}", transient=passing and not fatal_postgres(exc))

    async def _fetch(self, statement: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Run one statement; reconnect once if the connection dropped (every statement is idempotent)."""
        query = statement.format(p=self.prefix)
        async with self._lock:
            for attempt in (1, 2):
                if self._conn is None or self._conn.closed:
                    await self._connect()
                try:
                    cursor = await self._conn.execute(query, params)
                    return list(await cursor.fetchall()) if cursor.description else []
                except self._psycopg.OperationalError as exc:
                    if attempt == 2 or not self._conn.closed:
                        raise self._failed(exc) from exc
                except self._psycopg.Error as exc:
                    raise self._failed(exc) from exc
        raise AssertionError("unreachable")

    async def get(self, mapping_id: str, shard_id: str) -> str | None:
        """The checkpointed sequence number of the shard, or ``None``."""
        params = {"m": check_name("mapping_id", mapping_id), "s": check_name("shard_id", shard_id)}
        rows = await self._fetch(GET, params)
        return str(rows[0][0]) if rows else None

    async def put(self, mapping_id: str, shard_id: str, sequence_number: str, *, owner: str | None = None) -> None:
        """Checkpoint; with an owner (here or the store's) only while it holds the lease, else ``LeaseLostError``."""
        fence = owner if owner is not None else self.owner
        params = {"m": check_name("mapping_id", mapping_id), "s": check_name("shard_id", shard_id),
                  "q": check_name("sequence_number", sequence_number)}
        if fence is None:
            await self._fetch(UPSERT, params)
            return
        rows = await self._fetch(UPSERT_FENCED, {**params, "o": check_name("owner", fence)})
        if not rows:
            raise LeaseLostError(mapping_id, shard_id, fence)

    def _lease_params(self, mapping_id: str, shard_id: str, owner: str) -> dict[str, Any]:
        return {"m": check_name("mapping_id", mapping_id), "s": check_name("shard_id", shard_id),
                "o": check_name("owner", owner)}

    async def acquire(self, mapping_id: str, shard_id: str, owner: str, ttl_s: float) -> bool:
        """Take the lease if free or expired (or extend it if ``owner`` already holds it)."""
        ttl = check_ttl(ttl_s) / 1000
        return bool(await self._fetch(ACQUIRE, {**self._lease_params(mapping_id, shard_id, owner), "ttl": ttl}))

    async def renew(self, mapping_id: str, shard_id: str, owner: str, ttl_s: float) -> bool:
        """Extend the lease only if ``owner`` still holds it, unexpired."""
        ttl = check_ttl(ttl_s) / 1000
        return bool(await self._fetch(RENEW, {**self._lease_params(mapping_id, shard_id, owner), "ttl": ttl}))

    async def release(self, mapping_id: str, shard_id: str, owner: str) -> bool:
        """Delete the lease only if ``owner`` holds it; ``False`` if it did not."""
        return bool(await self._fetch(RELEASE, self._lease_params(mapping_id, shard_id, owner)))

    async def checkpoints(self, mapping_id: str) -> dict[str, str]:
        """Shard -> checkpointed sequence number for the mapping."""
        rows = await self._fetch(ALL, {"m": check_name("mapping_id", mapping_id)})
        return {str(shard): str(sequence) for shard, sequence in rows}

    async def owners(self, mapping_id: str) -> dict[str, str]:
        """Shard -> owner for every live lease of the mapping."""
        rows = await self._fetch(OWNERS, {"m": check_name("mapping_id", mapping_id)})
        return {str(shard): str(owner) for shard, owner in rows}

    async def close(self) -> None:
        """Close the connection."""
        async with self._lock:
            if self._conn is not None:
                await self._conn.close()
                self._conn = None
