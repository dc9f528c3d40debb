"""The adaptive controller reaches the optimum: over a grid of targets and rates, in the shared-queue simulator.

For each point the reference is found by brute force on the same simulator:
the fewest invocations per second of any fixed setting (lane count, and
BatchSize or window found by bisection) whose p99 meets the target. The
controller starts where a mapping starts (BatchSize 10, no window, two lanes)
and, after ``SETTLE_S`` seconds, must hold the target at no more than 1.1×
that reference, with settings that no longer swing. Both ways of dealing records to
the lanes that collect are held to it: at random (SQS) and taking turns (the
embedded engine).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

from batchmap.engine.adaptive import AdaptiveConfig, AdaptiveController
from batchmap.tuning.arrivals import poisson
from batchmap.tuning.shared_queue import Dealing, QueueRun, QueueSettings, adaptive_lanes, simulate_queue

T0, T1 = 0.020, 0.001  # the handler of issue 16: 20 ms + 1 ms per record
SETTLE_S = 60.0
SLACK = 1.10
P99_NOISE = 1.03  # a p99 read from a few thousand records moves by a few percent between samples


def _p99(run: QueueRun, start: float, end: float) -> float:
    lat = run.latency(start, end)
    assert not np.isnan(lat).any(), "every record in the measured span was processed"
    return float(np.percentile(lat, 99))


def _score(arrivals: np.ndarray, settings: QueueSettings, horizon: float, target: float, dealing: Dealing) -> float:
    """Invocations per second if the p99 meets the target, else infinity."""
    run = simulate_queue(arrivals, T0, T1, settings, dealing=dealing)
    start, end = 5.0, horizon - 3 * target
    return run.invocations_per_s(start, end) if _p99(run, start, end) <= target else math.inf


def _fewest(rate: float, target: float, dealing: Dealing) -> float:
    horizon = max(60.0, 6000 / rate, 40 * target)
    arrivals = poisson(rate, horizon, np.random.default_rng(11))

    @functools.cache  # each bisection ends by scoring a setting it has already scored
    def score(settings: QueueSettings) -> float:
        return _score(arrivals, settings, horizon, target, dealing)

    stable = math.floor(rate * T1) + 1  # fewer lanes cannot keep up with the per-record time alone
    best = math.inf
    for lanes in (stable, stable + 1):
        lo, hi = 0.0, target  # the longest window, batches never full
        for _ in range(9):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if score(QueueSettings(10_000, mid, lanes)) < math.inf else (lo, mid)
        best = min(best, score(QueueSettings(10_000, lo, lanes)))
        small, big = 1, math.ceil(rate * target) + 1  # the largest BatchSize, the window never closing first
        while big - small > max(1, small // 100):
            mid = (small + big) // 2
            small, big = (mid, big) if score(QueueSettings(mid, 2 * target, lanes)) < math.inf else (small, mid)
        best = min(best, score(QueueSettings(small, 2 * target, lanes)))
    return best


@pytest.mark.parametrize("dealing", ["random", "turns"])
@pytest.mark.parametrize("rate", [10.0, 100.0, 1000.0])
@pytest.mark.parametrize("target", [0.5, 1.0, 2.0, 5.0])
def test_settles_at_the_fewest_invocations_meeting_the_target(rate: float, target: float, dealing: Dealing) -> None:
    horizon = SETTLE_S + max(60.0, 6000 / rate, 40 * target)
    arrivals = poisson(rate, horizon, np.random.default_rng(3))
    controller = AdaptiveController(AdaptiveConfig(target_s=target), batch_size=10, window_s=0.0)
    run = simulate_queue(arrivals, T0, T1, QueueSettings(10, 0.0, 2), on_batch=adaptive_lanes(controller, 2),
                         dealing=dealing)
    end = horizon - 3 * target

    p99 = _p99(run, SETTLE_S, end)
    invocations = run.invocations_per_s(SETTLE_S, end)
    fewest = _fewest(rate, target, dealing)
    assert p99 <= target * P99_NOISE, (p99, controller.plan)
    assert invocations <= SLACK * fewest, (invocations, fewest, controller.plan)

    settled = [b.settings for b in run.batches if b.closed_at >= SETTLE_S]
    assert len({s.lanes for s in settled}) == 1, "the lane count no longer moves"
    windows = [s.window_s for s in settled]
    sizes = [s.batch_size for s in settled]
    assert max(windows) <= 1.25 * min(windows) + 0.01, "the window no longer swings"
    assert max(sizes) <= 1.25 * min(sizes) + 1, "BatchSize no longer swings"
