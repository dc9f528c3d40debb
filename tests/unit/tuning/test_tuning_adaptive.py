"""The adaptive controller converges: driven by the simulator, it settles near the known optimum.

(The grid over targets and rates, lanes sharing a queue, is test_tuning_adaptive_optimum.py.)

The optimum of each workload is what the model (validated against the
simulator elsewhere) gives for the fewest invocations that still meet the
target. The controller starts from BatchSize 10 and no window, and must end
within a few percent of that optimum while meeting the target.
"""

from __future__ import annotations

import numpy as np
import pytest

from batchmap.engine.adaptive_plan import Bounds, plan
from batchmap.errors import ConfigError
from batchmap.tuning import (
    AdaptiveConfig,
    AdaptiveController,
    BatchObservation,
    Candidate,
    HandlerProfile,
    Workload,
    adaptive_driver,
    load_prices,
    predict,
    simulate,
)
from batchmap.tuning.arrivals import poisson

PRICES = load_prices()
ONE_LANE = Workload(rate=50.0, source="kinesis", shards=1, poll_interval_s=0.0, platform="batchmap")
HANDLER = HandlerProfile(t0_s=0.020, t1_s=0.002, reference_memory_mb=512)


def _largest_window(target: float, statistic: str) -> float:
    """W* = the longest window whose latency meets the target (BatchSize never binds): fewest invocations."""
    lo, hi = 0.0, 10.0 * target
    for _ in range(50):
        mid = (lo + hi) / 2
        p = predict(HANDLER, ONE_LANE, Candidate(10_000, mid, 512), PRICES)
        value = p.mean_latency_s if statistic == "mean" else p.p99_latency_s
        lo, hi = (mid, hi) if value <= target else (lo, mid)
    return lo


def _drive(config: AdaptiveConfig, workload: Workload, profile: HandlerProfile, horizon: float):  # type: ignore[no-untyped-def]
    controller = AdaptiveController(config, batch_size=10, window_s=0.0)
    arrivals = poisson(workload.rate, horizon, np.random.default_rng(5))
    sim = simulate(
        profile,
        workload,
        Candidate(10, 0.0, 512),
        PRICES,
        arrivals,
        warmup_s=horizon / 2,
        on_batch=adaptive_driver(controller),
        keep_runs=True,
    )
    settled = [r for r in sim.runs if r.closed_at > horizon / 2]
    return sim, settled


@pytest.mark.parametrize(("statistic", "target", "slack"), [("mean", 1.0, 0.10), ("p99", 2.0, 0.15)])
def test_window_converges_to_the_longest_window_meeting_the_target(
    statistic: str, target: float, slack: float
) -> None:
    best_w = _largest_window(target, statistic)
    best = predict(HANDLER, ONE_LANE, Candidate(10_000, best_w, 512), PRICES)
    sim, settled = _drive(AdaptiveConfig(target_s=target, statistic=statistic), ONE_LANE, HANDLER, 3000.0)
    windows = np.array([r.policy.window_s for r in settled])
    assert windows.mean() == pytest.approx(best_w, rel=slack)
    assert windows.std() < 0.1 * best_w  # settled, not oscillating
    observed = sim.mean_latency_s if statistic == "mean" else sim.p99_latency_s
    assert observed <= target * 1.02
    assert best.invocations_per_hour <= sim.invocations_per_hour <= best.invocations_per_hour * (1 + slack)


def _seen(size: int, oldest: float, finished: float, duration: float = 0.1) -> BatchObservation:
    return BatchObservation(size=size, duration_s=duration, oldest_latency_s=oldest,
                            mean_latency_s=oldest / 2, finished_s=finished)


def test_the_plan_is_the_longest_cycle_meeting_the_target() -> None:
    """One lane, window-bound: D + 0.99·C = target with C = W + D, n = λ·C (the plan's own algebra)."""
    found = plan(100.0, 0.020, 0.001, 1.0, 0.99, Bounds())
    assert found.lanes == 1
    duration = 0.020 + 0.001 * found.mean_batch
    assert duration + 0.99 * found.cycle_s == pytest.approx(1.0)
    assert found.window_s == pytest.approx(found.cycle_s - duration)
    assert found.batch_size > found.mean_batch + 2 * found.mean_batch**0.5  # the size only guards


def test_more_lanes_only_when_one_cannot_keep_up() -> None:
    assert plan(1000.0, 0.020, 0.001, 1.0, 0.99, Bounds()).lanes == 2  # 1 ms a record at 1,000/s fills a lane
    assert plan(1000.0, 0.020, 0.001, 1.0, 0.99, Bounds(min_lanes=3)).lanes == 3
    capped = plan(1000.0, 0.020, 0.001, 1.0, 0.99, Bounds(max_lanes=1))  # nothing meets it: the closest
    assert (capped.lanes, capped.window_s) == (1, 0.0)


def test_bounds_timeout_guard_and_whole_seconds() -> None:
    config = AdaptiveConfig(target_s=5.0, max_batch_size=200, max_window_s=3.0, max_duration_s=0.1,
                            whole_seconds=True)
    controller = AdaptiveController(config, batch_size=500, window_s=2.5)
    assert controller.settings.batch_size == 200  # clamped at start
    assert controller.settings.window_s == 2.0  # whole seconds for AWS
    for i in range(6):
        after = controller.observe(_seen(size=50, oldest=0.5, finished=1.0 + i, duration=0.020 + 0.001 * 50))
    assert after.lanes == 1
    assert after.window_s <= 3.0
    assert after.batch_size <= 80  # (0.1 s − 20 ms) / 1 ms a record


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("target_s", {"target_s": 0.0}),
        ("statistic", {"target_s": 1.0, "statistic": "p50"}),
        ("max_window_s", {"target_s": 1.0, "max_window_s": 301.0}),
        ("min_batch_size/max_batch_size", {"target_s": 1.0, "min_batch_size": 20, "max_batch_size": 10}),
        ("min_lanes/max_lanes", {"target_s": 1.0, "min_lanes": 3, "max_lanes": 2}),
    ],
)
def test_bad_settings_name_the_field(field: str, kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError) as raised:
        AdaptiveConfig(**kwargs)  # type: ignore[arg-type]
    assert raised.value.parameter == field
