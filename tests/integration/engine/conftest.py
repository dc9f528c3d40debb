"""Engine tests on the embedded source: the handlers live in ``engine_handlers`` (in-process, shared memory)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import engine_handlers  # noqa: E402

from batchmap.config import EventSourceMapping  # noqa: E402
from batchmap.engine.service import Engine, RunReport  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_handlers() -> Iterator[None]:
    engine_handlers.reset()
    yield
    engine_handlers.reset()


def drain(*mappings: EventSourceMapping, timeout_s: float = 60.0, **engine_options: object) -> RunReport:
    """Run mappings with the in-process invoker until the sources are empty."""
    engine = Engine(list(mappings), invoker="inprocess", **engine_options)  # type: ignore[arg-type]
    return asyncio.run(asyncio.wait_for(engine.run(until_idle=True), timeout_s))
