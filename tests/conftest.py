"""Helpers every test folder shares live in ``tests/support`` (modules with names of their own)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SUPPORT = Path(__file__).parent / "support"
if str(SUPPORT) not in sys.path:
    sys.path.insert(0, str(SUPPORT))


@pytest.fixture(autouse=True)
def own_logging() -> Iterator[None]:
    """``batchmap run`` called in the test's process points the batchmap logger at that test's captured stderr:
    put it back, so a later test on the same worker does not log into a closed stream."""
    logger = logging.getLogger("batchmap")
    saved = (logger.handlers[:], logger.propagate, logger.level)
    yield
    logger.handlers[:], logger.propagate = saved[0], saved[1]
    logger.setLevel(saved[2])
