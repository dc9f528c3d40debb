"""How fast the tuner is: model evaluations per second and simulated records per second.

    python bench/tuning_speed.py [--hours H]

1. The model: candidates evaluated per second over the default grid (x86_64 and
   arm64 twins share their batching computation).
2. The simulator: records per second through the engine's ``Batcher`` at batch
   sizes 1, 10, 100 and 1,000 (50 records/s over five SQS lanes for ``--hours``
   simulated hours), and how many simulated seconds pass per wall second.
3. The recommendation over issue 16's 36 scenarios (SQS; t0 5/50 ms, t1 0.2/2 ms,
   5/50/500 records/s, p99 target 1 s, 5 s or none; default grid): the formula
   alone (``select(evaluate(...))``, the baseline) against ``recommend``, which
   also simulates the candidates near the target; the ratio of the two times.
"""

from __future__ import annotations

import argparse
import itertools
import time

from batchmap.tuning import (
    ArrivalSpec,
    Candidate,
    Grid,
    HandlerProfile,
    Objective,
    Workload,
    evaluate,
    generate,
    load_prices,
    recommend,
    simulate,
)
from batchmap.tuning.search import select


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0)
    args = parser.parse_args()
    prices = load_prices()
    profile = HandlerProfile(t0_s=0.080, t1_s=0.005, reference_memory_mb=512)
    workload = Workload(rate=50.0, source="sqs")
    grid = Grid(memory_sizes=(256, 512, 1024))
    evaluate(profile, workload, Grid(batch_sizes=(1, 2)), Objective(), prices)  # import scipy first
    started = time.perf_counter()
    evaluate(profile, workload, grid, Objective(latency_p99_s=2.0), prices)
    elapsed = time.perf_counter() - started
    print(f"model: {len(grid)} candidates in {elapsed:.2f} s = {len(grid) / elapsed:,.0f} candidates/s")

    horizon = args.hours * 3600.0
    arrivals = generate(ArrivalSpec(rate=50.0, horizon_s=horizon), seed=1)
    for batch_size, window in ((1, 0.0), (10, 1.0), (100, 5.0), (1000, 20.0)):
        started = time.perf_counter()
        sim = simulate(profile, workload, Candidate(batch_size, window), prices, arrivals)
        elapsed = time.perf_counter() - started
        print(f"simulate B={batch_size:<5} W={window:<4g}: {arrivals.size / elapsed:>10,.0f} records/s, "
              f"{horizon / elapsed:>8,.0f} simulated s per wall s ({sim.batches:,} batches)")
    _scenarios()


def _scenarios() -> None:
    prices, grid = load_prices(), Grid()
    formula_s = edge_s = 0.0
    simulated = 0
    scenarios = list(itertools.product((0.005, 0.050), (0.0002, 0.002), (5.0, 50.0, 500.0), (1.0, 5.0, None)))
    for t0, t1, rate, target in scenarios:
        profile = HandlerProfile(t0_s=t0, t1_s=t1, reference_memory_mb=512)
        workload, objective = Workload(rate=rate), Objective(latency_p99_s=target)
        started = time.perf_counter()
        select(evaluate(profile, workload, grid, objective, prices), objective)
        formula_s += time.perf_counter() - started
        started = time.perf_counter()
        rec = recommend(profile, workload, grid, objective, prices)
        edge_s += time.perf_counter() - started
        simulated += sum(1 for e in rec.evaluations if e.decided_by == "simulation")
    n = len(scenarios)
    print(f"recommend, {n} scenarios: formula alone {1000 * formula_s / n:.0f} ms each (baseline), "
          f"with the edge simulated {1000 * edge_s / n:.0f} ms each = {edge_s / formula_s:.1f}x "
          f"({simulated} edge verdicts by simulation, {simulated / n:.1f} per scenario)")


if __name__ == "__main__":
    main()
