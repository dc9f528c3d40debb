"""Kinesis's shard arithmetic: partition keys to 128-bit hash keys, shards to hash-key ranges.

A partition key's hash key is the MD5 of its UTF-8 bytes read as an unsigned
128-bit integer; a shard owns a contiguous, inclusive range of hash keys, and a
stream created with N shards splits ``0 .. 2**128 - 1`` into N even ranges, as
Kinesis does. Hash keys are stored as 39-digit zero-padded decimals (so SQL
compares them correctly) and shown as plain decimals, as Kinesis shows them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from batchmap.errors import ConfigError

MAX_HASH_KEY = 2**128 - 1
HASH_WIDTH = 39
SEQUENCE_WIDTH = 20
"""Stream sequence numbers are decimal strings of this fixed width, so they sort as strings too."""


@dataclass(frozen=True, slots=True)
class HashRange:
    """An inclusive range of hash keys."""

    start: int
    end: int

    def __contains__(self, key: object) -> bool:
        return isinstance(key, int) and self.start <= key <= self.end

    def overlaps(self, other: HashRange) -> bool:
        return self.start <= other.end and other.start <= self.end


def hash_key(partition_key: str) -> int:
    """The 128-bit hash key Kinesis derives from a partition key (MD5, big-endian)."""
    return int.from_bytes(hashlib.md5(partition_key.encode("utf-8"), usedforsecurity=False).digest(), "big")


def parse_hash_key(value: str, parameter: str = "ExplicitHashKey") -> int:
    """A decimal hash key from 0 to 2**128 - 1."""
    text = str(value).strip()
    if not text.isdigit() or int(text) > MAX_HASH_KEY:
        raise ConfigError(parameter, value, f"a decimal integer from 0 to {MAX_HASH_KEY}")
    return int(text)


def even_ranges(count: int) -> list[HashRange]:
    """``count`` contiguous ranges covering the whole hash-key space, as equal as integers allow."""
    size = (MAX_HASH_KEY + 1) // count
    starts = [i * size for i in range(count)]
    return [HashRange(start, (starts[i + 1] - 1) if i + 1 < count else MAX_HASH_KEY)
            for i, start in enumerate(starts)]


def shard_id(index: int) -> str:
    """Kinesis's shard id form: ``shardId-000000000000``."""
    return f"shardId-{index:012d}"


def format_hash(key: int) -> str:
    """Stored form of a hash key (fixed width)."""
    return f"{key:0{HASH_WIDTH}d}"


def format_sequence(seq: int) -> str:
    """A stream sequence number: fixed-width decimal, strictly increasing per shard."""
    return f"{seq:0{SEQUENCE_WIDTH}d}"


def parse_sequence(value: str, parameter: str = "SequenceNumber") -> int:
    """The integer behind a sequence number (any width is accepted)."""
    text = str(value).strip()
    if not text.isdigit():
        raise ConfigError(parameter, value, "a decimal sequence number from this stream")
    return int(text)
