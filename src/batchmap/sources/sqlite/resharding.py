"""Resharding the embedded stream: split, merge, and uniform scaling (UpdateShardCount).

As in Kinesis, a resharded shard is *closed*, never deleted: it keeps its
records until retention trims them and reports ``shard_ended`` once read to its
end, and every child lists its parents, so a consumer can finish a parent
before starting its children and per-key order survives the change.
"""

from __future__ import annotations

import sqlite3

from batchmap.errors import ConfigError
from batchmap.sources.sqlite.shards import HashRange, even_ranges, parse_hash_key
from batchmap.sources.sqlite.stream_store import ShardRow, add_shard, check_shard_count, load_shards


def split_shard(conn: sqlite3.Connection, stream: int, shard: str, new_starting_hash_key: str,
                now_ms: int) -> tuple[str, str]:
    """SplitShard: close ``shard`` and open two children divided at ``new_starting_hash_key``."""
    parent = _open_shard(conn, stream, shard, "ShardToSplit")
    key = parse_hash_key(new_starting_hash_key, "NewStartingHashKey")
    if not parent.range.start < key <= parent.range.end:
        raise ConfigError("NewStartingHashKey", new_starting_hash_key,
                          f"a hash key above {parent.range.start} and at most {parent.range.end}")
    _close(conn, [parent], now_ms)
    low = add_shard(conn, stream, HashRange(parent.range.start, key - 1), (parent.id,), now_ms)
    high = add_shard(conn, stream, HashRange(key, parent.range.end), (parent.id,), now_ms)
    return low, high


def merge_shards(conn: sqlite3.Connection, stream: int, shard: str, adjacent: str, now_ms: int) -> str:
    """MergeShards: close two open shards with adjacent ranges and open one child covering both."""
    first = _open_shard(conn, stream, shard, "ShardToMerge")
    second = _open_shard(conn, stream, adjacent, "AdjacentShardToMerge")
    low, high = sorted((first, second), key=lambda s: s.range.start)
    if low.range.end + 1 != high.range.start:
        raise ConfigError("AdjacentShardToMerge", adjacent, f"a shard whose hash-key range touches {shard}'s")
    _close(conn, [first, second], now_ms)
    return add_shard(conn, stream, HashRange(low.range.start, high.range.end), (first.id, second.id), now_ms)


def update_shard_count(conn: sqlite3.Connection, stream: int, target: int, now_ms: int) -> list[str]:
    """UpdateShardCount (uniform scaling): close every open shard, open ``target`` even ones.

    Each new shard lists as parents every closed shard whose range overlaps its own.
    """
    check_shard_count(target)
    parents = [s for s in load_shards(conn, stream) if not s.closed]
    _close(conn, parents, now_ms)
    children = []
    for hash_range in even_ranges(target):
        lineage = tuple(p.id for p in parents if p.range.overlaps(hash_range))
        children.append(add_shard(conn, stream, hash_range, lineage, now_ms))
    return children


def _open_shard(conn: sqlite3.Connection, stream: int, shard: str, parameter: str) -> ShardRow:
    for row in load_shards(conn, stream):
        if row.id == shard:
            if row.closed:
                raise ConfigError(parameter, shard, "an open shard (this one was closed by resharding)")
            return row
    raise ConfigError(parameter, shard, "a shard of this stream")


def _close(conn: sqlite3.Connection, shards: list[ShardRow], now_ms: int) -> None:
    conn.executemany("UPDATE shards SET closed_ms = ? WHERE id = ?", [(now_ms, s.row) for s in shards])
