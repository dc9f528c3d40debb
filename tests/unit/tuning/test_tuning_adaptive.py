"""The adaptive controller converges: driven by the simulator, it settles near the known optimum.

The optimum of each workload is what the model (validated against the
simulator elsewhere) gives for the fewest invocations that still meet the
target. The controller starts from BatchSize 10 and no window, and must end
within a few percent of that optimum while meeting the target.
"""

from __future__ import annotations

import numpy as np
import pytest

from batchmap.errors import ConfigError
from batchmap.tuning import (
    AdaptiveConfig,
    AdaptiveController,
    BatchObservation,
    Candidate,
    HandlerProfile,
    Workload,
    adapt,
    adaptive_driver,
    initial_state,
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


def test_batch_size_converges_when_batches_fill_before_the_window() -> None:
    """At 300 records/s a batch fills in well under a second: BatchSize is the knob that holds the mean."""
    workload = Workload(rate=300.0, source="kinesis", shards=1, poll_interval_s=0.0, platform="batchmap")
    profile = HandlerProfile(t0_s=0.050, t1_s=0.0005, reference_memory_mb=512)
    target = 0.3
    best = min(
        (predict(profile, workload, Candidate(b, 1.0, 512), PRICES) for b in range(10, 400)),
        key=lambda p: p.invocations_per_hour if p.mean_latency_s <= target else float("inf"),
    )
    sim, settled = _drive(AdaptiveConfig(target_s=target, statistic="mean"), workload, profile, 600.0)
    assert sim.close_reasons.get("size", 0) > 0
    assert sim.mean_latency_s <= target * 1.02
    assert best.invocations_per_hour <= sim.invocations_per_hour <= best.invocations_per_hour * 1.10
    sizes = [r.policy.batch_size for r in settled]
    assert min(sizes) >= 0.8 * best.candidate.batch_size


def _seen(size: int, oldest: float, mean: float | None = None, duration: float = 0.1) -> BatchObservation:
    return BatchObservation(
        size=size,
        duration_s=duration,
        oldest_latency_s=oldest,
        mean_latency_s=oldest if mean is None else mean,
    )


def test_one_step_rules() -> None:
    config = AdaptiveConfig(target_s=1.0, statistic="mean", window_step_s=0.1, decrease=0.5, smoothing=1.0)
    state = initial_state(config, batch_size=100, window_s=2.0)
    slower = adapt(config, state, _seen(size=40, oldest=3.0, mean=4.0))  # window closed the batch: W shrinks
    assert slower.settings.window_s == pytest.approx(1.0)  # cut by at most ``decrease`` (4x over -> 0.5)
    faster = adapt(config, state, _seen(size=40, oldest=0.3, mean=0.5))
    assert faster.settings.window_s == pytest.approx(2.1)
    steady = adapt(config, state, _seen(size=40, oldest=1.0, mean=0.97))  # inside the dead band
    assert steady.settings == state.settings
    full_slow = adapt(config, state, _seen(size=100, oldest=2.0, mean=1.25))  # BatchSize closed it: B shrinks
    assert (full_slow.settings.batch_size, full_slow.settings.window_s) == (80, 2.0)
    full_fast = adapt(config, state, _seen(size=100, oldest=0.2, mean=0.2))
    assert full_fast.settings.batch_size == 110


def test_bounds_timeout_guard_and_whole_seconds() -> None:
    config = AdaptiveConfig(
        target_s=5.0,
        max_batch_size=200,
        max_window_s=3.0,
        window_step_s=2.0,
        max_duration_s=1.0,
        whole_seconds=True,
        smoothing=1.0,
    )
    controller = AdaptiveController(config, batch_size=500, window_s=2.5)
    assert controller.settings.batch_size == 200  # clamped at start
    assert controller.settings.window_s == 2.0  # whole seconds for AWS
    after = controller.observe(_seen(size=150, oldest=0.5, duration=3.0))  # 3 s > 1 s allowed
    assert after.batch_size == 50  # 150 records x 1 s / 3 s
    assert controller.state.settings.window_s == 3.0  # grew, capped at max_window_s


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("target_s", {"target_s": 0.0}),
        ("statistic", {"target_s": 1.0, "statistic": "p50"}),
        ("decrease", {"target_s": 1.0, "decrease": 1.5}),
        ("max_window_s", {"target_s": 1.0, "max_window_s": 301.0}),
        ("min_batch_size/max_batch_size", {"target_s": 1.0, "min_batch_size": 20, "max_batch_size": 10}),
    ],
)
def test_bad_settings_name_the_field(field: str, kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError) as raised:
        AdaptiveConfig(**kwargs)  # type: ignore[arg-type]
    assert raised.value.parameter == field
