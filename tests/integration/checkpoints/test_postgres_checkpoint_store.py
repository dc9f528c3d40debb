"""PostgreSQL-only behaviour of the shared checkpoint store: it survives a dropped connection."""

from __future__ import annotations

import asyncio

import psycopg

from batchmap.sources.checkpoints import PostgresCheckpointStore

POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/test"


def test_reconnects_after_the_server_drops_the_connection(postgres_prefix: str) -> None:
    async def body() -> None:
        store = await PostgresCheckpointStore.connect(POSTGRES_DSN, owner="engine-a", prefix=postgres_prefix)
        try:
            assert await store.acquire("m", "s", "engine-a", 30)
            await store.put("m", "s", "41")
            with psycopg.connect(POSTGRES_DSN, autocommit=True) as admin:
                killed = admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = 'test' AND pid <> pg_backend_pid() AND query LIKE %s",
                    (f"%{postgres_prefix}%",),
                ).fetchall()
            assert killed, "the store's connection should have been found and terminated"
            await store.put("m", "s", "42")
            assert await store.get("m", "s") == "42"
        finally:
            await store.close()

    asyncio.run(body())


def test_engines_starting_together_create_the_tables_once(postgres_prefix: str) -> None:
    async def body() -> None:
        stores = await asyncio.gather(
            *(PostgresCheckpointStore.connect(POSTGRES_DSN, prefix=postgres_prefix) for _ in range(4))
        )
        try:
            await stores[0].put("m", "s", "1")
            assert [await store.get("m", "s") for store in stores] == ["1"] * 4
        finally:
            for store in stores:
                await store.close()

    asyncio.run(body())
