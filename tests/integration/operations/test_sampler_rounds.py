"""`batchmap run` stops the status sampler's rounds before the engine closes its sources.

A round that ran while the sources closed asked a closed queue for its depth, and the run's log
said "the status sampler failed (ProgrammingError: Cannot operate on a closed database.)".
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from batchmap.cli.run import _watched_run
from batchmap.config import EventSourceMapping
from batchmap.engine.service import Engine
from batchmap.observe import Sampler
from batchmap.sources import memory


class _Closing:
    """Stands in for the engine's run: a few sampler rounds, then ``before_close`` as ``Engine.run`` calls it,
    then the time the sources take to close, counting the rounds that still come."""

    def __init__(self, sampler: Sampler) -> None:
        self.rounds = 0
        self.after_close = -1
        taking = sampler.sample

        async def counted() -> Any:
            self.rounds += 1
            return await taking()

        sampler.sample = counted  # type: ignore[method-assign]

    async def run(self, until_idle: bool, before_close: Callable[[], Awaitable[Any]]) -> None:
        await asyncio.sleep(0.1)
        await before_close()
        seen = self.rounds
        await asyncio.sleep(0.1)  # the sources closing
        self.after_close = self.rounds - seen


async def _rounds_after_close() -> tuple[int, int]:
    memory.forget()
    engine = Engine([EventSourceMapping(source="memory://sampled", function="ops_handlers:always_fails")],
                    invoker="inprocess")
    await engine.prepare()
    sampler = Sampler(engine, interval_s=0.01)
    closing = _Closing(sampler)
    args = argparse.Namespace(until_idle=True, progress=False, summary_json=False)
    try:
        await _watched_run(closing, sampler, args, None, time.monotonic())  # type: ignore[arg-type]
    finally:
        await engine.close()
        memory.forget()
    return closing.rounds, closing.after_close


def test_no_sampler_round_runs_while_the_sources_close() -> None:
    rounds, after_close = asyncio.run(_rounds_after_close())
    assert rounds >= 3 and after_close == 0
