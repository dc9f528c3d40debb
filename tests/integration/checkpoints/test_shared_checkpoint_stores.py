"""Checkpoints and shard leases on real Redis and PostgreSQL: the same behaviour on both.

Several store objects on one backend stand for several engines sharing a stream.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

import pytest

from batchmap.errors import ConfigError, LeaseLostError, MissingExtraError, SourceError
from batchmap.sources.checkpoints import LeaseStore, open_checkpoint_store

StoreFactory = Callable[..., Awaitable[LeaseStore]]  # the ``connect`` fixture
MAPPING = "mapping-1"
SHARD = "shardId-000000000000"


async def _close(*stores: LeaseStore) -> None:
    for store in stores:
        await store.close()


def test_checkpoint_round_trip_per_mapping_and_shard(connect: StoreFactory) -> None:
    async def body() -> None:
        store = await connect()
        try:
            assert await store.get(MAPPING, SHARD) is None
            await store.put(MAPPING, SHARD, "49590338271490256608559692538361571095921575989136588898")
            await store.put(MAPPING, "shardId-000000000001", "7")
            await store.put("mapping-2", SHARD, "3")
            assert await store.get(MAPPING, SHARD) == "49590338271490256608559692538361571095921575989136588898"
            assert await store.get(MAPPING, "shardId-000000000001") == "7"
            assert await store.get("mapping-2", SHARD) == "3"
            await store.put(MAPPING, SHARD, "49590338271490256608559692538361571095921575989136588899")
            assert await store.get(MAPPING, SHARD) == "49590338271490256608559692538361571095921575989136588899"
            assert await store.checkpoints(MAPPING) == {
                SHARD: "49590338271490256608559692538361571095921575989136588899", "shardId-000000000001": "7"}
            assert await store.checkpoints("unknown") == {}
        finally:
            await store.close()
        reopened = await connect()  # another engine (or a restart) sees the same checkpoints
        try:
            assert await reopened.get(MAPPING, "shardId-000000000001") == "7"
        finally:
            await reopened.close()

    asyncio.run(body())


def test_one_owner_per_shard_while_the_lease_lives(connect: StoreFactory) -> None:
    async def body() -> None:
        a, b = await connect(), await connect()
        try:
            assert await a.acquire(MAPPING, SHARD, "engine-a", 30)
            assert not await b.acquire(MAPPING, SHARD, "engine-b", 30)
            assert await a.acquire(MAPPING, SHARD, "engine-a", 30)  # re-acquiring one's own lease extends it
            assert await b.acquire(MAPPING, "shardId-000000000001", "engine-b", 30)
            assert await a.renew(MAPPING, SHARD, "engine-a", 30)
            assert not await b.renew(MAPPING, SHARD, "engine-b", 30)
            assert await b.owners(MAPPING) == {SHARD: "engine-a", "shardId-000000000001": "engine-b"}
            assert await a.owners("another-mapping") == {}
        finally:
            await _close(a, b)

    asyncio.run(body())


def test_takeover_after_expiry_fences_the_stale_owner(connect: StoreFactory) -> None:
    async def body() -> None:
        a, b = await connect(owner="engine-a"), await connect(owner="engine-b")
        try:
            assert await a.acquire(MAPPING, SHARD, "engine-a", 0.3)
            await a.put(MAPPING, SHARD, "100")
            assert not await b.acquire(MAPPING, SHARD, "engine-b", 30)
            await asyncio.sleep(0.6)  # engine-a stalls past its lease
            assert await b.owners(MAPPING) == {}
            assert await b.acquire(MAPPING, SHARD, "engine-b", 30)
            assert await b.get(MAPPING, SHARD) == "100"  # the new owner resumes from the checkpoint
            await b.put(MAPPING, SHARD, "150")
            with pytest.raises(LeaseLostError) as lost:
                await a.put(MAPPING, SHARD, "120")  # the stale owner wakes up: refused
            assert (lost.value.shard_id, lost.value.owner) == (SHARD, "engine-a")
            assert not await a.renew(MAPPING, SHARD, "engine-a", 30)
            assert not await a.acquire(MAPPING, SHARD, "engine-a", 30)
            assert await a.get(MAPPING, SHARD) == "150"
            assert await a.owners(MAPPING) == {SHARD: "engine-b"}
        finally:
            await _close(a, b)

    asyncio.run(body())


def test_an_expired_lease_cannot_be_renewed_or_written_through(connect: StoreFactory) -> None:
    async def body() -> None:
        a = await connect()
        try:
            assert await a.acquire(MAPPING, SHARD, "engine-a", 0.2)
            await asyncio.sleep(0.4)
            assert not await a.renew(MAPPING, SHARD, "engine-a", 30)
            with pytest.raises(LeaseLostError):
                await a.put(MAPPING, SHARD, "5", owner="engine-a")
            assert await a.get(MAPPING, SHARD) is None
            assert await a.acquire(MAPPING, SHARD, "engine-a", 30)  # nobody took it: take it again
            await a.put(MAPPING, SHARD, "5", owner="engine-a")
            assert await a.get(MAPPING, SHARD) == "5"
        finally:
            await a.close()

    asyncio.run(body())


def test_a_put_without_ever_holding_the_lease_is_refused(connect: StoreFactory) -> None:
    async def body() -> None:
        a, b = await connect(owner="engine-a"), await connect(owner="engine-b")
        try:
            with pytest.raises(LeaseLostError):
                await a.put(MAPPING, SHARD, "1")
            assert await b.acquire(MAPPING, SHARD, "engine-b", 30)
            with pytest.raises(LeaseLostError):
                await a.put(MAPPING, SHARD, "2")
            await b.put(MAPPING, SHARD, "3")
            assert await a.get(MAPPING, SHARD) == "3"
        finally:
            await _close(a, b)

    asyncio.run(body())


def test_release_frees_the_shard_at_once_and_only_for_its_owner(connect: StoreFactory) -> None:
    async def body() -> None:
        a, b = await connect(), await connect()
        try:
            assert await a.acquire(MAPPING, SHARD, "engine-a", 30)
            assert not await b.release(MAPPING, SHARD, "engine-b")  # not b's lease: nothing happens
            assert await a.owners(MAPPING) == {SHARD: "engine-a"}
            assert await a.release(MAPPING, SHARD, "engine-a")
            assert await a.owners(MAPPING) == {}
            assert await b.acquire(MAPPING, SHARD, "engine-b", 30)
            assert not await a.renew(MAPPING, SHARD, "engine-a", 30)
            assert not await a.release(MAPPING, SHARD, "engine-a")
        finally:
            await _close(a, b)

    asyncio.run(body())


def test_racing_engines_get_exactly_one_lease(connect: StoreFactory) -> None:
    async def body() -> None:
        stores = [await connect() for _ in range(6)]
        try:
            for shard in ("shardId-000000000000", "shardId-000000000001", "shardId-000000000002"):
                won = await asyncio.gather(
                    *(store.acquire(MAPPING, shard, f"engine-{i}", 30) for i, store in enumerate(stores))
                )
                assert sum(won) == 1
                assert (await stores[0].owners(MAPPING))[shard] == f"engine-{won.index(True)}"
        finally:
            await _close(*stores)

    asyncio.run(body())


def test_bad_lease_arguments_name_the_field(connect: StoreFactory) -> None:
    async def body() -> None:
        store = await connect()
        try:
            with pytest.raises(ConfigError, match="ttl_s"):
                await store.acquire(MAPPING, SHARD, "engine-a", 0)
            with pytest.raises(ConfigError, match="owner"):
                await store.acquire(MAPPING, SHARD, "", 10)
            with pytest.raises(ConfigError, match="mapping_id"):
                await store.get("", SHARD)
        finally:
            await store.close()

    asyncio.run(body())


def test_open_checkpoint_store_by_uri(backend: tuple[str, str]) -> None:
    name, prefix = backend
    uri = "redis://127.0.0.1:6379/0" if name == "redis" else "postgresql://postgres@127.0.0.1:5432/test"

    async def body() -> None:
        store = await open_checkpoint_store(uri, owner="engine-a", prefix=prefix)
        try:
            assert isinstance(store, LeaseStore)
            assert await store.acquire(MAPPING, SHARD, "engine-a", 30)
            await store.put(MAPPING, SHARD, "9")  # fenced by the store's owner, which holds the lease
            assert await store.get(MAPPING, SHARD) == "9"
        finally:
            await store.close()

    asyncio.run(body())


def test_unknown_scheme_and_unreachable_store_are_clear_errors() -> None:
    async def body() -> None:
        with pytest.raises(ConfigError, match="--checkpoint-store"):
            await open_checkpoint_store("mysql://127.0.0.1/x")
        with pytest.raises(SourceError, match="redis checkpoint store"):
            await open_checkpoint_store("redis://127.0.0.1:1/0")
        with pytest.raises(SourceError, match="postgres checkpoint store"):
            await open_checkpoint_store("postgresql://postgres@127.0.0.1:1/test")

    asyncio.run(body())


@pytest.mark.parametrize(
    ("uri", "blocked", "extra"),
    [("redis://127.0.0.1:6379/0", "redis.asyncio", "redis"), ("postgresql://127.0.0.1/test", "psycopg", "postgres")],
)
def test_a_missing_client_library_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, uri: str, blocked: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, blocked, None)
    with pytest.raises(MissingExtraError, match=rf"pip install 'batchmap\[{extra}\]'"):
        asyncio.run(open_checkpoint_store(uri))
