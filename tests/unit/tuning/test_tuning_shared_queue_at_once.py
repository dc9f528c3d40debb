"""``simulate_queue`` deals runs of records in one step where only the dealing decides: the same batches and
latencies as dealing them one at a time, for both ways of dealing, with and without varying durations and a
controller that moves the settings."""

from __future__ import annotations

import numpy as np
import pytest

from batchmap.engine.adaptive import AdaptiveConfig, AdaptiveController
from batchmap.tuning.arrivals import poisson
from batchmap.tuning.shared_queue import Dealing, QueueRun, QueueSettings, _Sim, adaptive_lanes, simulate_queue

# (records/s, BatchSize, window s, lanes): full batches, windows closing them, many lanes, one record per batch
SETTINGS = [(500.0, 100, 1.0, 3), (200.0, 1000, 5.0, 4), (50.0, 10, 0.2, 2), (1000.0, 64, 0.05, 10),
            (5.0, 1, 0.0, 2), (300.0, 200, 0.0, 6)]


def _run(rate: float, size: int, window: float, lanes: int, dealing: Dealing, adaptive: bool) -> QueueRun:
    arrivals = poisson(rate, (2500 if adaptive else 4000) / rate, np.random.default_rng(11))
    jitter = np.random.default_rng(5)

    def duration(n: int) -> float:
        return (0.01 + 0.0005 * n) * float(jitter.lognormal(-0.02, 0.2))

    if adaptive:
        controller = AdaptiveController(AdaptiveConfig(target_s=max(0.2, window)), batch_size=size, window_s=window)
        return simulate_queue(arrivals, 0.01, 0.0005, QueueSettings(size, window, lanes), dealing=dealing,
                              on_batch=adaptive_lanes(controller, lanes), seed=3)
    return simulate_queue(arrivals, 0.0, 0.0, QueueSettings(size, window, lanes), dealing=dealing,
                          duration=duration, seed=3)


@pytest.mark.parametrize("dealing", ["random", "turns"])
@pytest.mark.parametrize("adaptive", [False, True])
def test_dealing_runs_at_once_gives_what_one_at_a_time_gives(
    dealing: Dealing, adaptive: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    for rate, size, window, lanes in SETTINGS:
        fast = _run(rate, size, window, lanes, dealing, adaptive)
        monkeypatch.setattr(_Sim, "DEAL_AT_ONCE", False)
        slow = _run(rate, size, window, lanes, dealing, adaptive)
        monkeypatch.setattr(_Sim, "DEAL_AT_ONCE", True)
        assert fast.batches == slow.batches, (rate, size, window, lanes)
        np.testing.assert_array_equal(fast.latencies, slow.latencies)
        assert len(fast.batches) >= 5
