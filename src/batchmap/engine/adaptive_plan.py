"""The adaptive controller's plan: the fewest invocations whose predicted latency meets a target.

A lane that closes its batches on the window runs a steady cycle: it collects
for the window W, invokes for D(n) = t0 + t1·n, and while it invokes the next
records wait in the queue. Its cycle is C = W + D, every batch holds the
records of one cycle (n = λp·C, with λp the lane's share of the arrivals),
and a record's latency, from its arrival to its batch's success, is spread
evenly between D and D + C. So the latency's q-quantile is D + q·C (the mean
is D + C/2, the p99 D + 0.99·C), and the largest cycle meeting a target L is

    C = (L − t0) / (q + λp·t1),   W = C − D(λp·C).

Invocations per second are k/C for k lanes, so the fewest come from the
fewest lanes that keep up and leave W ≥ 0. ``BatchSize`` is set above the
cycle's expected batch (a Poisson count's spread plus room for a misjudged
rate): it does not close batches in steady traffic, it only bounds D when a
burst or a backlog arrives. Closing on the window rather than on the size is
the choice for a tail target at one lane: the window's latency does not
depend on how many records happen to come, a size's fill time does.

Lanes share one queue, so when one lane cannot keep up, a second one collects
while the first invokes: batches then close on their size, one every B/λ
seconds, and a record waits for its batch to fill (a share q of B/λ, plus the
Poisson spread of the fill time for a tail target) and for D(B). That plan
holds the largest B meeting the target with the fewest lanes that keep up, and
a window of what the target leaves after D(B), in case the traffic drops.
The plan with fewer invocations of the two is taken.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from batchmap.config.parameters import MAX_BATCH_SIZE, MAX_WINDOW_S

QUANTILES = {"p99": 0.99, "mean": 0.5}
"""Where in the cycle the target statistic sits."""
SPREAD = {0.99: 1.0, 0.5: 0.0}
"""Standard deviations of a fill time that the statistic reaches into (its records, not its batches)."""

MAX_LANE_LOAD = 0.85
"""Share of a lane's time its per-record work may take: above it, queueing takes over the latency."""


@dataclass(frozen=True, slots=True)
class Bounds:
    """The limits a plan keeps to: the mapping's and the source's."""

    min_batch_size: int = 1
    max_batch_size: int = MAX_BATCH_SIZE
    max_window_s: float = MAX_WINDOW_S
    min_lanes: int = 1
    max_lanes: int = 10
    max_duration_s: float | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """Settings for every lane, and what the model expects of them."""

    lanes: int
    batch_size: int
    window_s: float
    cycle_s: float
    mean_batch: float
    predicted_s: float

    @property
    def invocations_per_s(self) -> float:
        return self.lanes / self.cycle_s if self.cycle_s > 0 else math.inf


def plan(rate: float, t0: float, t1: float, target_s: float, quantile: float, bounds: Bounds) -> Plan:
    """The plan with the fewest invocations whose predicted latency meets ``target_s``.

    When none meets it, the plan that comes closest: every lane, no window.
    """
    found = [p for p in (_windowed(rate, t0, t1, target_s, quantile, bounds),
                         plan_filled(rate, t0, t1, target_s, quantile, bounds)) if p is not None]
    if found:
        return min(found, key=lambda p: p.invocations_per_s)
    lanes = bounds.max_lanes
    rate_p = rate / lanes
    n = max(1.0, rate_p * t0 / max(1e-9, 1.0 - rate_p * t1)) if rate_p * t1 < 1 else float(bounds.max_batch_size)
    size = _batch_size(n, t0, t1, bounds)
    d = t0 + t1 * min(n, size)
    return Plan(lanes, size, 0.0, d, n, d + quantile * d)


def _windowed(rate: float, t0: float, t1: float, target_s: float, quantile: float, bounds: Bounds) -> Plan | None:
    """The window-bound plan with the fewest lanes that meets the target."""
    for lanes in range(bounds.min_lanes, bounds.max_lanes + 1):
        found = plan_for(rate / lanes, lanes, t0, t1, target_s, quantile, bounds)
        if found is not None:
            return found
    return None


def plan_filled(rate: float, t0: float, t1: float, target_s: float, quantile: float, bounds: Bounds) -> Plan | None:
    """The size-bound plan: the largest B whose fill and run meet the target, on the fewest lanes that keep up."""
    z = SPREAD.get(quantile, 1.0)

    def latency(b: int) -> float:
        return (quantile * b + z * math.sqrt(b)) / rate + t0 + t1 * b

    limit = bounds.max_batch_size
    if bounds.max_duration_s is not None and t1 > 0:
        limit = min(limit, max(1, math.floor((bounds.max_duration_s - t0) / t1)))
    if rate <= 0 or latency(bounds.min_batch_size) > target_s:
        return None
    lo, hi = bounds.min_batch_size, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if latency(mid) <= target_s else (lo, mid - 1)
    duration = t0 + t1 * lo
    lanes = max(bounds.min_lanes, math.ceil(rate * duration / lo / MAX_LANE_LOAD))
    if lanes > bounds.max_lanes:
        return None
    window = min(bounds.max_window_s, max(0.0, target_s - duration))
    return Plan(lanes, lo, window, lanes * lo / rate, float(lo), latency(lo))


def plan_for(
    rate_p: float, lanes: int, t0: float, t1: float, target_s: float, quantile: float, bounds: Bounds
) -> Plan | None:
    """The window-bound plan for ``lanes`` lanes each seeing ``rate_p`` records/s, or None if it cannot hold."""
    if rate_p * t1 >= MAX_LANE_LOAD:
        return None
    cycle = (target_s - t0) / (quantile + rate_p * t1)
    if cycle <= 0:
        return None
    window = cycle * (1.0 - rate_p * t1) - t0
    if window < 0:
        return None  # even with no window the lane is busy longer than the target allows
    if window > bounds.max_window_s:
        window = bounds.max_window_s
        cycle = (window + t0) / (1.0 - rate_p * t1)
    n = rate_p * cycle
    size = _batch_size(n, t0, t1, bounds)
    if size < n:  # a limit closes batches before the window: they fill in size/rate_p
        cycle = min(cycle, size / rate_p + t0 + t1 * size) if rate_p > 0 else cycle
        if rate_p * (t0 + t1 * size) / size >= MAX_LANE_LOAD:
            return None
        n = float(size)
    duration = t0 + t1 * n
    return Plan(lanes, size, max(0.0, window), cycle, n, duration + quantile * cycle)


def _batch_size(n: float, t0: float, t1: float, bounds: Bounds) -> int:
    """Above the expected batch by its Poisson spread and a third, within the limits."""
    size = math.ceil(1.3 * n + 4.0 * math.sqrt(n) + 2.0)
    if bounds.max_duration_s is not None and t1 > 0:
        size = min(size, max(1, math.floor((bounds.max_duration_s - t0) / t1)))
    return min(bounds.max_batch_size, max(bounds.min_batch_size, size))
