"""The list flags of ``batchmap tune`` (``--batch-size 1,10 100``): parsed into values, each item checked.

A bad item is a ``ConfigError`` naming the flag, the item and what the list holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from batchmap.config.function import MAX_MEMORY_MB, MIN_MEMORY_MB
from batchmap.config.parameters import MAX_MAXIMUM_CONCURRENCY, MAX_PARALLELIZATION_FACTOR, MIN_MAXIMUM_CONCURRENCY
from batchmap.errors import ConfigError

T = TypeVar("T")


def architecture(item: str) -> str:
    """An instruction set Lambda offers."""
    if item not in ("x86_64", "arm64"):
        raise ValueError(item)
    return item


def parse_list(values: Sequence[str] | None, convert: Callable[[str], T], flag: str) -> tuple[T, ...] | None:
    """``["10,100", "1000"]`` -> ``(10, 100, 1000)``; a bad item is a ``ConfigError`` naming the flag."""
    if values is None:
        return None
    out: list[T] = []
    for value in values:
        for item in str(value).split(","):
            item = item.strip()
            if not item:
                continue
            try:
                out.append(convert(item))
            except ValueError:
                raise ConfigError(
                    flag, item, f"a comma- or space-separated list ({_kind(convert)})"
                ) from None
    if not out:
        raise ConfigError(flag, list(values), "at least one value")
    return tuple(out)


def parse_concurrency(item: str) -> int | None:
    """MaximumConcurrency: an integer from 2 to 1,000 (AWS's range), or ``none`` for no cap."""
    if item.lower() in ("none", "null", "-"):
        return None
    return _within(int(item), MIN_MAXIMUM_CONCURRENCY, MAX_MAXIMUM_CONCURRENCY)


def parse_memory(item: str) -> int:
    """MemorySize: an integer from 128 to 10,240 MB."""
    return _within(int(item), MIN_MEMORY_MB, MAX_MEMORY_MB)


def parse_factor(item: str) -> int:
    """ParallelizationFactor: an integer from 1 to 10."""
    return _within(int(item), 1, MAX_PARALLELIZATION_FACTOR)


def _within(value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise ValueError(value)
    return value


def _kind(convert: Callable[[str], Any]) -> str:
    return {
        "int": "integers",
        "float": "numbers",
        "architecture": "x86_64 or arm64",
        "parse_concurrency": f"integers from {MIN_MAXIMUM_CONCURRENCY} to {MAX_MAXIMUM_CONCURRENCY:,}, or none",
        "parse_factor": f"integers from 1 to {MAX_PARALLELIZATION_FACTOR}",
        "parse_memory": f"integers from {MIN_MEMORY_MB} to {MAX_MEMORY_MB:,} (MB)",
    }.get(getattr(convert, "__name__", ""), "values")
