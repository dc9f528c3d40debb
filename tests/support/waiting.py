"""Calling a source the way the engine does: transient ``SourceError``s are waited out, others go up."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from batchmap.engine.backoff import Backoff
from batchmap.metrics import NullHook

T = TypeVar("T")


async def wait_out(call: Callable[[], Awaitable[T]]) -> T:
    """``await call()`` until it answers, through the engine's own backoff (only transient errors are retried)."""
    return await Backoff("test", NullHook(), asyncio.Event()).call(call, "call")
