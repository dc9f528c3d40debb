"""Measuring real handlers: the fit recovers known t0/t1, the recommendation is the simulation's optimum.

The handlers in ``tuning_apps`` really sleep, spin or allocate; nothing is
stubbed. Sizes stay small (n <= 50, 20 ms + 2 ms per record) so the whole file
runs in a few seconds.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from batchmap.errors import FunctionLoadError, MeasurementError
from batchmap.tuning import (
    Grid,
    HandlerProfile,
    Measurement,
    MeasurePlan,
    Objective,
    Workload,
    cold_start,
    load_prices,
    load_samples,
    measure,
    recommend,
    simulate,
)
from batchmap.tuning.arrivals import poisson
from batchmap.tuning.search import COST_TIE

APPS = Path(__file__).parent / "tuning_apps"
SAMPLES = load_samples(APPS / "sqs_order_event.json")
PRICES = load_prices()
PLAN = MeasurePlan(batch_sizes=(1, 5, 10, 20, 50), repeats=3, warmup=1, cold_starts=1)
sys.path.insert(0, str(APPS))

from tune_synthetic import KEPT_BYTES, T0_S, T1_S  # noqa: E402  (the apps' known costs)

pytestmark = pytest.mark.measures_time  # fits and speed-ups of real timings: run alone, not beside 4 workers


@pytest.fixture(scope="module")
def synthetic() -> Measurement:
    return measure("tune_synthetic:handler", SAMPLES, PLAN, code_path=str(APPS))


def test_fit_recovers_t0_and_t1_within_ten_percent(synthetic: Measurement) -> None:
    m = synthetic
    assert m.t0_s == pytest.approx(T0_S, rel=0.10)
    assert m.t1_s == pytest.approx(T1_S, rel=0.10)
    assert m.duration.r_squared > 0.99
    assert len(m.samples) == 5 * 3
    assert abs(m.quadratic_share) < 0.1
    profile = m.profile()
    assert profile.cpu_share_t1 < 0.2  # sleeping is not CPU work: memory size will not speed it up
    assert m.cold_start is not None and profile.init_s == pytest.approx(m.cold_start.init_s)


def test_recommendation_is_the_brute_force_optimum_of_the_simulation(synthetic: Measurement) -> None:
    """Model-based pick from the measured profile == the cheapest grid point meeting the target in the DES.

    The DES runs the true handler costs (20 ms + 2 ms/record). Grid points that
    cost the same (within the recommendation's tie tolerance, e.g. BatchSize 100
    and 200 when the window closes every batch) are ordered as the
    recommendation orders them: lower p99, lower mean, smaller BatchSize, shorter window.
    """
    workload = Workload(rate=50.0, source="kinesis", shards=1, poll_interval_s=0.0, platform="batchmap")
    grid = Grid(
        batch_sizes=(1, 5, 10, 20, 50, 100, 200),
        windows_s=(0.0, 0.5, 1.0, 2.0, 5.0),
        memory_sizes=(512,),
        architectures=("x86_64",),
    )
    objective = Objective(latency_mean_s=0.5)
    rec = recommend(synthetic.profile(), workload, grid, objective, PRICES)
    assert rec.chosen is not None

    truth = HandlerProfile(t0_s=T0_S, t1_s=T1_S, reference_memory_mb=1769)
    arrivals = poisson(50.0, 600.0, np.random.default_rng(3))
    results = []
    for candidate in grid.candidates():
        if candidate.batch_size == 1:  # 1 / 22 ms = 45 records/s < 50: the backlog grows without end
            continue
        sim = simulate(truth, workload, candidate, PRICES, arrivals, seed=3)
        if sim.mean_latency_s <= 0.5:
            results.append((sim.cost.total_usd, sim, candidate))
    cheapest = min(cost for cost, _, _ in results)
    tied = [
        (s.p99_latency_s, s.mean_latency_s, c.batch_size, c.window_s, c)
        for cost, s, c in results
        if cost <= cheapest * (1 + COST_TIE)
    ]
    brute_force = min(tied, key=lambda row: row[:4])[4]
    assert rec.chosen.candidate == brute_force
    assert all(not e.allowed for e in rec.evaluations if e.candidate.batch_size == 1)


def test_speed_up_of_waiting_work_and_of_cpu_work() -> None:
    """Waiting per record parallelises across threads (S(c) ≈ c); spinning the CPU does not (the GIL)."""
    plan = MeasurePlan(
        batch_sizes=(8, 16, 32), concurrencies=(1, 2, 4), repeats=2, warmup=1, cold_starts=0, memory=False
    )
    io = measure("tune_synthetic:per_record_io", SAMPLES, plan, code_path=str(APPS))
    speedups = dict(io.speedups)
    assert speedups[2] == pytest.approx(2.0, rel=0.2)
    assert speedups[4] == pytest.approx(4.0, rel=0.25)
    assert io.sigma < 0.1
    cpu = measure("tune_synthetic:cpu_bound", SAMPLES, plan, code_path=str(APPS))
    assert dict(cpu.speedups)[4] < 1.5
    assert cpu.sigma > 0.4 > 0.1 > io.sigma  # serialised by the GIL; less so when other processes share the cores
    # CPU time over wall time: near 1 on an idle machine, lower when other processes share the cores.
    assert cpu.profile().cpu_share_t1 > 0.3 > io.profile().cpu_share_t1


def test_memory_per_record_is_traced() -> None:
    plan = MeasurePlan(batch_sizes=(10, 100, 200), repeats=1, warmup=0, cold_starts=0)
    m = measure("tune_synthetic:allocating", SAMPLES, plan, code_path=str(APPS))
    assert m.memory is not None
    assert m.memory.slope == pytest.approx(KEPT_BYTES / 2**20, rel=0.2)  # MB per record


def test_cold_start_memory_is_the_fresh_interpreters_own() -> None:
    ballast = bytearray(400 * 1024 * 1024)  # the measuring process has held 400 MB when it starts the interpreter
    ballast[::4096] = b"x" * len(ballast[::4096])
    cold = cold_start("tune_synthetic:handler", code_path=str(APPS), runs=1)
    del ballast
    assert 0 < cold.rss_mb < 200


def test_cold_start_times_the_import_in_a_fresh_interpreter() -> None:
    cold = cold_start("tune_slow_import:handler", str(APPS), runs=1)
    assert cold.import_s >= 0.2
    assert cold.interpreter_s > 0
    assert cold.rss_mb > 1


def test_a_handler_that_raises_is_a_measurement_error_naming_the_batch() -> None:
    plan = MeasurePlan(batch_sizes=(1, 5), repeats=1, warmup=0, cold_starts=0)
    with pytest.raises(MeasurementError, match="downstream refused the batch") as raised:
        measure("tune_synthetic:failing", SAMPLES, plan, code_path=str(APPS))
    assert raised.value.batch_size == 5


def test_a_missing_handler_is_a_function_load_error() -> None:
    with pytest.raises(FunctionLoadError, match="no_such_function"):
        measure("tune_synthetic:no_such_function", SAMPLES, PLAN, code_path=str(APPS))
