"""How the suite is spread over xdist's workers: one queue of work units, the longest first.

xdist's own ``load`` mode hands each worker a long run of tests up front: a worker that drew the
slow end of the queue ran on alone for half a minute after the others had finished. Here every
worker takes the next *unit* when it runs low (xdist's ``loadscope`` machinery: a worker holds two
or three units), so the run ends when the work does, within one unit. A unit is a test module, so
that its fixtures are set up once, or a single test for the modules of ``SPLIT``: long modules
whose tests stand alone. The queue starts with the longest units (``LONGEST``, measured), then the
modules that compute (``COMPUTING``) spread among those that wait, so both cores stay busy.

Refresh ``LONGEST`` after a change that moves a unit's time by seconds:
``BATCHMAP_TEST_CPU=cpu.jsonl make test`` then ``python tests/support/cpu_report.py cpu.jsonl --units``.
A unit that is missing from it only starts later than it should.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest
    from xdist.scheduler import LoadScopeScheduling

COMPUTING = ("tests/unit/", "tests/fuzz/")
"""Tests that compute and never wait on real time (simulations, fuzzing, pure functions)."""

SPLIT = (
    "tests/docs/test_docs_run.py",
    "tests/contract/test_contract_failures.py",
    "tests/contract/test_contract_stop.py",
    "tests/contract/test_contract_batching.py",
    "tests/faults/test_visibility.py",
    "tests/faults/test_visibility_sources.py",
    "tests/faults/test_broker_outages.py",
    "tests/integration/examples/test_examples.py",
    "tests/integration/scaleout/test_scaleout_queues.py",
    "tests/integration/scaleout/test_scaleout_streams.py",
    "tests/unit/tuning/test_tuning_edge.py",
    "tests/unit/tuning/test_tuning_adaptive_optimum.py",
    "tests/fuzz/test_fuzz_records.py",
)
"""Modules of 20 s or more whose tests share no module-scoped fixture: each test is a unit of its own."""

LONGEST = {
    "tests/integration/tuning/test_tuning_validate.py": 31,
    "tests/faults/test_sigkill.py": 29,
    "tests/fuzz/test_fuzz_handler.py": 28,
    "tests/integration/tuning/test_tuning_from_metrics.py": 28,
    "tests/unit/filters/test_fuzz.py": 27,
    "tests/integration/kafka/test_kafka_group.py": 25,
    "tests/integration/operations/test_terminal.py": 23,
    "tests/contract/test_contract_order_filter.py": 23,
    "tests/contract/test_contract_consumers.py": 19,
    "tests/integration/examples/test_examples.py::test_db_transactions": 17,
    "tests/docs/test_docs_run.py::test_blocks_run[docs/sources-aws.md:37+48]": 16,
    "tests/unit/tuning/test_tuning_edge.py::"
    "test_choice_meets_its_target_and_costs_at_most_2_percent_over_the_brute_force_optimum[0.05-0.002-5.0-1.0]": 16,
    "tests/integration/redis/test_redis_streams_source.py": 15,
    "tests/integration/tuning/test_tuning_cli.py": 14,
    "tests/unit/tuning/test_tuning_edge.py::"
    "test_choice_meets_its_target_and_costs_at_most_2_percent_over_the_brute_force_optimum[0.05-0.0002-5.0-1.0]": 14,
    "tests/docs/test_docs_run.py::test_blocks_run[README.md:132]": 14,
    "tests/integration/aws/test_sqs_source.py": 14,
    "tests/faults/test_fault_injection.py": 14,
    "tests/unit/tuning/test_tuning_edge.py::"
    "test_choice_meets_its_target_and_costs_at_most_2_percent_over_the_brute_force_optimum[0.005-0.002-5.0-1.0]": 14,
    "tests/docs/test_docs_run.py::test_blocks_run[docs/tuning.md:334]": 14,
    "tests/integration/templates/test_templates_engine.py": 13,
    "tests/integration/cli/test_run_cli.py": 13,
    "tests/integration/templates/test_templates_parity.py": 12,
    "tests/integration/scaleout/test_scaleout_streams.py::"
    "test_when_the_engine_owning_the_shards_dies_the_other_takes_them_over[kinesis]": 12,
    "tests/integration/nats/test_nats_source.py": 11,
    "tests/integration/cli/test_cli_answers.py": 11,
    "tests/faults/test_embedded_faults.py": 11,
    "tests/unit/tuning/test_tuning_model_vs_simulation.py": 11,
    "tests/integration/kafka/test_kafka_offsets.py": 11,
    "tests/unit/tuning/test_tuning_edge.py::"
    "test_choice_meets_its_target_and_costs_at_most_2_percent_over_the_brute_force_optimum[0.005-0.0002-5.0-1.0]": 11,
}
"""Seconds of wall time of the longest units, as measured on two cores with eight workers (tests/conftest.py)."""


def unit_of(nodeid: str) -> str:
    """The unit a test is handed out in: its module, or the test itself in a module of ``SPLIT``."""
    module = nodeid.split("::", 1)[0]
    return nodeid if module in SPLIT else module


def order(items: list[pytest.Item]) -> None:
    """Put ``items`` in the order the units are handed out: the longest first, then the modules that compute
    spread evenly among the modules that wait (each module's tests stay together)."""
    modules: dict[str, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::")[0], []).append(item)
    folders: dict[str, list[list[pytest.Item]]] = {}
    for name, tests in modules.items():
        if name.startswith(COMPUTING):
            folders.setdefault(name.rsplit("/", 1)[0], []).append(tests)
    # one module of each folder in turn: the heavy folders (the tuner's simulations) spread over the run too
    computing = [tests for turn in itertools.zip_longest(*folders.values()) for tests in turn if tests]
    waiting = [tests for name, tests in modules.items() if not name.startswith(COMPUTING)]
    merged: list[pytest.Item] = []
    step = len(waiting) / max(1, len(computing))
    taken = 0
    for n, tests in enumerate(computing):
        until = round(n * step)
        for module in waiting[taken:until]:
            merged.extend(module)
        taken = max(taken, until)
        merged.extend(tests)
    for module in waiting[taken:]:
        merged.extend(module)
    # the longest units lead (a stable sort: the rest keep the mixed order)
    merged.sort(key=lambda item: -LONGEST.get(unit_of(item.nodeid), 0))
    items[:] = merged


def make_scheduler(config: pytest.Config, log: object) -> LoadScopeScheduling:
    """xdist's ``loadscope`` scheduler, with ``unit_of`` for its scopes and the collection's order kept."""
    from xdist.scheduler import LoadScopeScheduling

    class UnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

    config.option.loadscopereorder = False  # by test count, not by time: the order above is the point
    return UnitScheduling(config, log)  # type: ignore[arg-type]
