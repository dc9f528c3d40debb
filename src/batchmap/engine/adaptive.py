"""Adaptive batching: plan BatchSize, the window and the lane count at run time to hold a latency target.

Pure policy, no I/O and no clock: after each batch the engine passes what it
observed (records, invocation duration, when it finished, the latency of its
newest, mean and oldest record from arrival to batch success) and gets the
settings for the next batches, the number of lanes included.

The controller plans from a model instead of searching by trial: it measures
the arrival rate and the duration fit D(n) = t0 + t1·n from the batches, and
takes the plan with the fewest invocations whose predicted latency meets the
target (``adaptive_plan``). Two things keep it still once there:

* hysteresis: a new plan replaces the current one only when it differs by
  more than the noise of the estimates (its cycle by a tenth, its lane count
  only when a rate a tenth higher would still want the new count);
* the measured latency corrects the model, slowly: once enough batches ran
  under one plan, a statistic over the target (or well under it) scales the
  target the plan aims at, and the plan is made again; after a miss, growing
  stops short of the correction that missed (a ceiling that lifts slowly), so
  latency spikes do not start a cycle of growing into the next miss.

While it is active it owns the lane count (the engine's poller scaling holds
the count it is given, clamped to the mapping's bounds), so the two never pull
against each other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

from batchmap.config.parameters import MAX_BATCH_SIZE, MAX_WINDOW_S
from batchmap.engine.adaptive_meters import BatchLatency, DurationFit, Fit, LatencyWindow, RateMeter
from batchmap.engine.adaptive_plan import QUANTILES, Bounds, Plan, plan
from batchmap.errors import ConfigError

Statistic = Literal["p99", "mean"]

MARGIN = 0.05
"""The plan aims this share under the target: the room for the estimates' noise."""
BAND = 0.08
"""A measured statistic this share under the target lets the plan grow."""
TRIM_RANGE = (0.5, 1.3)
"""How far the measured latency may scale the model's target."""
TRIM_STEP = (0.7, 1.08)
"""The largest single correction, down and up."""
CEILING_SHARE = 0.97
"""After a miss, growing stops this share under the correction that missed ..."""
CEILING_RELEASE = 1.02
"""... and that ceiling lifts by this factor each time growing is held back by it."""
SETTLE_BATCHES = 8
"""Batches under one plan before its measured latency is believed ..."""
SETTLE_RECORDS = 100
"""... holding at least this many records."""
CYCLE_CHANGE = 0.1
"""A plan whose cycle differs by less than this share is not worth a change."""
SIZE_CHANGE = 0.1
"""Nor one whose BatchSize, when it closes the batches, differs by less than this share."""
START_WINDOW_SHARE = 0.5
"""Before the first plan the window is at most this share of the target."""
LANE_RATE_MARGIN = 1.1
"""Fewer lanes only when a rate this much higher would still want fewer."""


@dataclass(frozen=True, slots=True)
class AdaptiveSettings:
    """The settings for the next batches; ``lanes`` is None until the first plan."""

    batch_size: int
    window_s: float
    lanes: int | None = None


@dataclass(frozen=True, slots=True)
class BatchObservation:
    """What the engine saw for one completed batch (latencies: record arrival to batch success).

    ``finished_s`` is when the batch finished on any clock that only moves
    forward, the same for every batch; ``newest_latency_s`` defaults to the
    mean's mirror image of the oldest.
    """

    size: int
    duration_s: float
    oldest_latency_s: float
    mean_latency_s: float
    finished_s: float
    newest_latency_s: float | None = None

    @property
    def newest_s(self) -> float:
        if self.newest_latency_s is not None:
            return self.newest_latency_s
        return max(0.0, min(self.mean_latency_s, 2.0 * self.mean_latency_s - self.oldest_latency_s))


@dataclass(frozen=True, slots=True)
class AdaptiveConfig:
    """The target and the bounds the controller keeps to."""

    target_s: float
    statistic: Statistic = "p99"
    min_batch_size: int = 1
    max_batch_size: int = MAX_BATCH_SIZE
    max_window_s: float = MAX_WINDOW_S
    min_lanes: int = 1
    max_lanes: int = 10
    whole_seconds: bool = False  # AWS takes whole-second windows; batchmap's engine takes fractions
    max_duration_s: float | None = None  # keep a batch's invocation under this (e.g. 0.8 × timeout)

    def __post_init__(self) -> None:
        _check(math.isfinite(self.target_s) and self.target_s > 0, "target_s", self.target_s, "seconds > 0")
        _check(self.statistic in QUANTILES, "statistic", self.statistic, "'p99' or 'mean'")
        _check(
            1 <= self.min_batch_size <= self.max_batch_size,
            "min_batch_size/max_batch_size",
            (self.min_batch_size, self.max_batch_size),
            "1 <= min <= max",
        )
        _check(0 <= self.max_window_s <= MAX_WINDOW_S, "max_window_s", self.max_window_s, f"0-{MAX_WINDOW_S} seconds")
        _check(1 <= self.min_lanes <= self.max_lanes, "min_lanes/max_lanes", (self.min_lanes, self.max_lanes),
               "1 <= min <= max")
        _check(
            self.max_duration_s is None or self.max_duration_s > 0,
            "max_duration_s",
            self.max_duration_s,
            "seconds > 0",
        )

    @property
    def bounds(self) -> Bounds:
        return Bounds(self.min_batch_size, self.max_batch_size, self.max_window_s, self.min_lanes,
                      self.max_lanes, self.max_duration_s)


class AdaptiveController:
    """The state held for the engine: call ``observe`` after each batch, use ``settings`` for the next."""

    def __init__(self, config: AdaptiveConfig, batch_size: int, window_s: float = 0.0) -> None:
        self.config = config
        size = min(config.max_batch_size, max(config.min_batch_size, batch_size))
        # Until the first plan, no window longer than half the target: it could not meet it anyway.
        window = min(config.max_window_s, START_WINDOW_SHARE * config.target_s, max(0.0, window_s))
        self._start = AdaptiveSettings(size, window)
        self.plan: Plan | None = None
        self.trim = 1.0
        self._ceiling = TRIM_RANGE[1]
        self.changes = 0
        self._since = -math.inf  # batches of records older than the last change are not measured
        self._skip = 0
        self._rate = RateMeter()
        self._fit = DurationFit()
        self._latency = LatencyWindow()

    @property
    def settings(self) -> AdaptiveSettings:
        if self.plan is None:
            return AdaptiveSettings(self._start.batch_size, self._window(self._start.window_s))
        return AdaptiveSettings(self.plan.batch_size, self._window(self.plan.window_s), self.plan.lanes)

    @property
    def fit(self) -> Fit | None:
        return self._fit.fit()

    @property
    def rate(self) -> float | None:
        return self._rate.rate()

    def observe(self, seen: BatchObservation) -> AdaptiveSettings:
        """Fold one finished batch in; the settings for the next batches."""
        self._rate.add(seen.finished_s, seen.size)
        self._fit.add(seen.size, seen.duration_s)
        self._measure(seen)
        rate, fit = self._rate.rate(), self._fit.fit()
        if rate is None or fit is None:
            return self.settings
        wanted = self._plan(rate, fit)
        if not self._worth_changing(wanted, rate, fit):
            if not self._correct():  # the plan stands: only then is its measured latency the model's error
                return self.settings
            wanted = self._plan(rate, fit)
        self._adopt(wanted, seen.finished_s)
        return self.settings

    def _measure(self, seen: BatchObservation) -> None:
        if self._skip > 0:
            self._skip -= 1
            return
        if seen.finished_s - seen.oldest_latency_s < self._since:
            return  # collected, at least in part, under the settings before the last change
        self._latency.add(BatchLatency(seen.size, seen.newest_s, seen.oldest_latency_s, seen.mean_latency_s))

    def _plan(self, rate: float, fit: Fit, factor: float = 1.0) -> Plan:
        aim = self.config.target_s * self.trim * (1.0 - MARGIN)
        return plan(rate * factor, fit.t0, fit.t1, aim, QUANTILES[self.config.statistic], self.config.bounds)

    def _correct(self) -> bool:
        """Scale the model's target by what the batches under this plan measured; True when it moved."""
        held = len(self._latency)
        if self.plan is None or held < SETTLE_BATCHES or held % SETTLE_BATCHES:
            return False
        if self._latency.records < SETTLE_RECORDS:
            return False  # judged once every few batches: a quantile over hundreds of batches is not free
        target = self.config.target_s
        measured = self._measured()
        if measured <= 0:
            return False
        if (1.0 - BAND) * target <= measured <= target:
            return False
        if measured < target and len(self._latency) < 2 * SETTLE_BATCHES:
            return False  # growing waits for twice the evidence that shrinking needs
        step = min(TRIM_STEP[1], max(TRIM_STEP[0], (1.0 - MARGIN) * target / measured))
        trim = min(TRIM_RANGE[1], max(TRIM_RANGE[0], self.trim * step))
        if measured > target:
            self._ceiling = self.trim * CEILING_SHARE  # where the target was missed: do not climb back so far
        elif trim > self._ceiling:
            trim = max(self.trim, self._ceiling)
            self._ceiling *= CEILING_RELEASE  # the ceiling lifts slowly while the latency stays low
        if trim == self.trim:
            return False
        self.trim = trim
        return True

    def _measured(self) -> float:
        if self.config.statistic == "mean":
            return self._latency.mean()
        return self._latency.quantile(QUANTILES["p99"])

    def _worth_changing(self, wanted: Plan, rate: float, fit: Fit | None) -> bool:
        now = self.plan
        if now is None:
            return True
        if wanted.lanes < now.lanes:
            return fit is not None and self._plan(rate, fit, LANE_RATE_MARGIN).lanes < now.lanes
        if wanted.lanes > now.lanes:
            return True
        if abs(wanted.cycle_s / now.cycle_s - 1.0) > CYCLE_CHANGE:
            return True
        if abs(wanted.window_s - now.window_s) > CYCLE_CHANGE * max(now.window_s, wanted.window_s, 0.01):
            return True
        if wanted.batch_size <= wanted.mean_batch:  # batches close on their size: BatchSize is the knob
            return abs(wanted.batch_size / now.batch_size - 1.0) > SIZE_CHANGE
        # BatchSize only guards the window: change it when it would start closing batches, or guards too loosely
        expected = wanted.mean_batch + 2.0 * math.sqrt(wanted.mean_batch)
        return now.batch_size < expected or now.batch_size > 2 * wanted.batch_size

    def _adopt(self, wanted: Plan, now_s: float) -> None:
        now = self.plan
        lanes_before = now.lanes if now is not None else 1
        if now is not None and wanted.batch_size > wanted.mean_batch and not self._worth_changing(
            replace(wanted, cycle_s=now.cycle_s, window_s=now.window_s, lanes=now.lanes), 0.0, None):
            wanted = replace(wanted, batch_size=now.batch_size)  # a BatchSize that still guards well stays
        self.plan = wanted
        self.changes += 1
        self._since = now_s
        self._skip = lanes_before  # the lanes' batches already open keep the old settings
        self._latency.clear()

    def _window(self, window_s: float) -> float:
        """The window to apply: whole seconds (rounded down) when the target platform needs them."""
        return float(math.floor(window_s)) if self.config.whole_seconds else window_s


def _check(ok: bool, field: str, value: object, allowed: str) -> None:
    if not ok:
        raise ConfigError(field, value, allowed)
