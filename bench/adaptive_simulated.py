"""Adaptive batching in the shared-queue simulator: the grid of the property test, with its figures.

For each rate and p99 target: the controller's settled plan, when its first and
last plan came, the p99 and invocations/s after 60 s, and the ratio against the
fewest invocations of any fixed setting meeting the target (the brute force of
tests/unit/tuning/test_tuning_adaptive_optimum.py, reused here).

    .venv/bin/python bench/adaptive_simulated.py [--dealing random|turns]

``--dealing``: how the lanes that collect share arrivals (random: SQS, the
default; turns: the embedded engine).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from batchmap.engine.adaptive import AdaptiveConfig, AdaptiveController
from batchmap.tuning.arrivals import poisson
from batchmap.tuning.shared_queue import Dealing, QueueBatch, QueueSettings, adaptive_lanes, simulate_queue

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit" / "tuning"))
from test_tuning_adaptive_optimum import SETTLE_S, T0, T1, _fewest, _p99

HEADER = ("| rate /s | p99 target | settled plan (lanes, B, W) | first plan / last change | p99 | invocations/s "
          "| fewest (brute force) | ratio |")


def row(rate: float, target: float, dealing: Dealing) -> str:
    horizon = SETTLE_S + max(60.0, 6000 / rate, 40 * target)
    arrivals = poisson(rate, horizon, np.random.default_rng(3))
    controller = AdaptiveController(AdaptiveConfig(target_s=target), batch_size=10, window_s=0.0)
    drive = adaptive_lanes(controller, 2)
    changes: list[float] = []

    def on_batch(batch: QueueBatch) -> QueueSettings:
        before = controller.plan
        settings = drive(batch)
        if controller.plan is not before:
            changes.append(batch.finished_at)
        return settings

    run = simulate_queue(arrivals, T0, T1, QueueSettings(10, 0.0, 2), on_batch=on_batch, dealing=dealing)
    end = horizon - 3 * target
    p99, invocations = _p99(run, SETTLE_S, end), run.invocations_per_s(SETTLE_S, end)
    fewest = _fewest(rate, target, dealing)
    plan = controller.plan
    assert plan is not None
    return (f"| {rate:g} | {target:g} s | {plan.lanes}, {plan.batch_size}, {plan.window_s:.2f} s "
            f"| {changes[0]:.1f} s / {changes[-1]:.0f} s | {p99:.3f} s | {invocations:.3f} | {fewest:.3f} "
            f"| {invocations / fewest:.3f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dealing", choices=("random", "turns"), default="random")
    args = parser.parse_args()
    print(HEADER)
    print("|---|---|---|---|---|---|---|---|")
    for rate in (10.0, 100.0, 1000.0):
        for target in (0.5, 1.0, 2.0, 5.0):
            print(row(rate, target, args.dealing))
