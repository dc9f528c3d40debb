"""How fast the tuner is: model evaluations per second and simulated records per second.

    python bench/tuning_speed.py [--hours H]

1. The model: candidates evaluated per second over the default grid (x86_64 and
   arm64 twins share their batching computation).
2. The simulator: records per second through the engine's ``Batcher`` at batch
   sizes 1, 10, 100 and 1,000 (50 records/s over five SQS lanes for ``--hours``
   simulated hours), and how many simulated seconds pass per wall second.
"""

from __future__ import annotations

import argparse
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
    simulate,
)


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


if __name__ == "__main__":
    main()
