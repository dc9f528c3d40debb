"""The fault suite: fault injection through the engine, SIGKILL loops, locks, a full disk, broker outages.

It reuses the contract suite's kits (one fresh queue or stream per test, on each real broker).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import fault_handlers
import faulty_source
import pytest

CONTRACT = Path(__file__).resolve().parents[1] / "contract"
if str(CONTRACT) not in sys.path:
    sys.path.insert(0, str(CONTRACT))

from contract_fixtures import *  # noqa: E402, F403  (every kit fixture of the registry)


@pytest.fixture
def faulty_sources() -> Iterator[None]:
    """The ``faulty://`` scheme in the source registry for the test (tests/support/faulty_source.py)."""
    faulty_source.install()
    assert fault_handlers.wait_for_stragglers(), "a previous test's handler call is still running"
    fault_handlers.SEEN.clear()
    yield
    faulty_source.uninstall()
