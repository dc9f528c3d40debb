"""Helpers every test folder shares live in ``tests/support`` (modules with names of their own)."""

from __future__ import annotations

import itertools
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


COMPUTING = ("tests/unit/", "tests/fuzz/")
"""Tests that compute and never wait on real time (simulations, fuzzing, pure functions)."""
FIRST = ("tests/integration/tuning/test_tuning_validate.py", "tests/integration/tuning/test_tuning_from_metrics.py",
         "tests/docs/test_docs_run.py")
"""Modules of the longest single tests (10-17 s each, waiting on a real engine): handed out first, so that none of
them starts near the end and runs on alone while the other workers have finished."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Spread the modules of computing tests evenly among the modules of tests that wait (on brokers,
    subprocesses, windows); each module's tests stay together, so its fixtures are set up once.

    xdist hands tests out in collection order, and the folders' alphabetical order put all the
    waiting first (cores half idle) and all the computing last (workers queued for the cores):
    mixed, both cores stay busy from the start. The modules in ``FIRST`` lead.
    """
    modules: dict[str, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::")[0], []).append(item)
    folders: dict[str, list[list[pytest.Item]]] = {}
    for name, tests in modules.items():
        if name.startswith(COMPUTING):
            folders.setdefault(name.rsplit("/", 1)[0], []).append(tests)
    # one module of each folder in turn: the heavy folders (the tuner's simulations) spread over the run too
    computing = [tests for turn in itertools.zip_longest(*folders.values()) for tests in turn if tests]
    waiting = sorted((tests for name, tests in modules.items() if not name.startswith(COMPUTING)), key=_first)
    if not computing or not waiting:
        return
    step = len(waiting) / len(computing)
    merged: list[pytest.Item] = []
    taken = 0
    for n, tests in enumerate(computing):
        until = round(n * step)
        for module in waiting[taken:until]:
            merged.extend(module)
        taken = max(taken, until)
        merged.extend(tests)
    for module in waiting[taken:]:
        merged.extend(module)
    items[:] = merged


def _first(tests: list[pytest.Item]) -> int:
    """A module's place: those of ``FIRST`` in its order, then the rest as collected (the sort is stable)."""
    name = tests[0].nodeid.split("::")[0]
    return FIRST.index(name) if name in FIRST else len(FIRST)


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
