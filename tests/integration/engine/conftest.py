"""Engine tests on the embedded source: the handlers live in ``engine_handlers`` (in-process, shared memory)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import engine_handlers  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_handlers() -> Iterator[None]:
    engine_handlers.reset()
    yield
    engine_handlers.reset()
