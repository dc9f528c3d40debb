"""Running the engine from the engine tests (a module with a name of its own, importable from any test)."""

from __future__ import annotations

import asyncio

from batchmap.config import EventSourceMapping
from batchmap.engine.service import Engine, RunReport


def drain(*mappings: EventSourceMapping, timeout_s: float = 60.0, **engine_options: object) -> RunReport:
    """Run mappings with the in-process invoker until the sources are empty."""
    engine = Engine(list(mappings), invoker="inprocess", **engine_options)  # type: ignore[arg-type]
    return asyncio.run(asyncio.wait_for(engine.run(until_idle=True), timeout_s))
