"""Helpers every test folder shares live in ``tests/support`` (modules with names of their own)."""

from __future__ import annotations

import json
import logging
import os
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SUPPORT = Path(__file__).parent / "support"
if str(SUPPORT) not in sys.path:
    sys.path.insert(0, str(SUPPORT))

import scheduling  # noqa: E402  (tests/support, just put on the path)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order the tests as tests/support/scheduling.py hands them out: the longest units first."""
    scheduling.order(items)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """Under ``-n`` (xdist's ``load`` mode), one queue of units that the workers take from as they run low."""
    return scheduling.make_scheduler(config, log) if config.getvalue("dist") == "load" else None


@pytest.fixture(autouse=True)
def own_logging() -> Iterator[None]:
    """``batchmap run`` called in the test's process points the batchmap logger at that test's captured stderr:
    put it back, so a later test on the same worker does not log into a closed stream."""
    logger = logging.getLogger("batchmap")
    saved = (logger.handlers[:], logger.propagate, logger.level)
    yield
    logger.handlers[:], logger.propagate = saved[0], saved[1]
    logger.setLevel(saved[2])


CPU_LOG = os.environ.get("BATCHMAP_TEST_CPU")


def _cpu_seconds() -> tuple[float, float]:
    """User+sys seconds of this process and of its waited-for children (services' CPU is not counted)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


if CPU_LOG:

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
        """Opt-in (``BATCHMAP_TEST_CPU=path``): append one JSON line per test with the CPU it spent
        (setup, call and teardown), to find which tests make the suite slow; see tests/support/cpu_report.py."""
        own, children, wall = *_cpu_seconds(), time.monotonic()
        yield
        own_after, children_after = _cpu_seconds()
        line = {
            "test": item.nodeid,
            "own": round(own_after - own, 3),
            "children": round(children_after - children, 3),
            "wall": round(time.monotonic() - wall, 3),
            "start": round(wall, 3),  # monotonic: shared by the workers, so the run's timeline can be drawn
            "worker": os.environ.get("PYTEST_XDIST_WORKER", "main"),
        }
        with open(CPU_LOG, "a", encoding="utf-8") as log:
            log.write(json.dumps(line) + "\n")
