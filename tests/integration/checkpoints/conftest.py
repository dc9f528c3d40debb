"""Real Redis and PostgreSQL on 127.0.0.1 for the shared checkpoint stores.

A missing service fails the test under CI=true and skips it otherwise. Each
test gets its own key prefix / table prefix, removed afterwards, so tests never
see each other's leases.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator

import pytest
from services import require_port

from batchmap.sources.checkpoints import LeaseStore, PostgresCheckpointStore, RedisCheckpointStore

REDIS_URL = "redis://127.0.0.1:6379/0"
POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/test"

StoreFactory = Callable[..., Awaitable[LeaseStore]]


def require(name: str, port: int) -> None:
    """Fail under CI=true, else skip, when nothing listens on 127.0.0.1:port."""
    require_port(name, port)


def _drop_redis(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


def _drop_postgres(prefix: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {prefix}_checkpoints, {prefix}_leases")


@pytest.fixture(params=["redis", "postgres"])
def backend(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(backend name, a prefix unique to this test)."""
    name = request.param
    require(name, 6379 if name == "redis" else 5432)
    prefix = f"bmtest_{uuid.uuid4().hex[:12]}"
    yield name, prefix
    _drop_redis(prefix) if name == "redis" else _drop_postgres(prefix)


@pytest.fixture
def connect(backend: tuple[str, str]) -> StoreFactory:
    """Open a store on this test's backend and prefix, as one more engine would."""
    name, prefix = backend

    async def factory(owner: str | None = None) -> LeaseStore:
        if name == "redis":
            return await RedisCheckpointStore.connect(REDIS_URL, owner=owner, prefix=prefix)
        return await PostgresCheckpointStore.connect(POSTGRES_DSN, owner=owner, prefix=prefix)

    return factory


@pytest.fixture
def postgres_prefix() -> Iterator[str]:
    require("postgres", 5432)
    prefix = f"bmtest_{uuid.uuid4().hex[:12]}"
    yield prefix
    _drop_postgres(prefix)


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    require("redis", 6379)
    prefix = f"bmtest_{uuid.uuid4().hex[:12]}"
    yield prefix
    _drop_redis(prefix)
