"""Adaptive batching: adjust BatchSize and the window at run time to hold a latency target.

Pure policy, no I/O and no clock: after each batch the engine passes what it
observed (records, invocation duration, the oldest and mean record latency from
arrival to batch success) and gets the settings for the lane's next batch.

The control law is AIMD with a dead band, the scheme Clipper uses for batch
sizes against a latency SLO (reference §1.5):

* the latency estimate is an exponentially weighted mean of each batch's oldest
  record latency plus two standard deviations (target ``p99``), or of the mean
  latency (target ``mean``);
* above the target, the knob that is closing batches shrinks multiplicatively,
  in proportion to the overshoot (never below ``decrease`` times its value):
  the window when batches close on the window, BatchSize when they fill;
* below ``(1 − headroom)·target``, that knob grows additively: the window by
  ``window_step_s``, BatchSize by about a tenth — bigger batches, fewer invocations;
* inside the band nothing moves, so on a steady workload the settings settle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

from batchmap.errors import ConfigError

Statistic = Literal["p99", "mean"]


@dataclass(frozen=True, slots=True)
class AdaptiveSettings:
    """The settings for the next batch."""

    batch_size: int
    window_s: float


@dataclass(frozen=True, slots=True)
class BatchObservation:
    """What the engine saw for one completed batch (latencies: record arrival to batch success)."""

    size: int
    duration_s: float
    oldest_latency_s: float
    mean_latency_s: float


@dataclass(frozen=True, slots=True)
class AdaptiveConfig:
    """The target and the bounds the controller keeps to."""

    target_s: float
    statistic: Statistic = "p99"
    min_batch_size: int = 1
    max_batch_size: int = 10_000
    max_window_s: float = 300.0
    window_step_s: float | None = None  # additive increase; default target/50
    decrease: float = 0.7  # the strongest single multiplicative cut
    headroom: float = 0.05  # dead band below the target
    smoothing: float = 0.2  # weight of the newest batch in the running estimate
    whole_seconds: bool = False  # AWS takes whole-second windows; batchmap's engine takes fractions
    max_duration_s: float | None = None  # keep a batch's invocation under this (e.g. 0.8 × timeout)

    def __post_init__(self) -> None:
        _check(math.isfinite(self.target_s) and self.target_s > 0, "target_s", self.target_s, "seconds > 0")
        _check(self.statistic in ("p99", "mean"), "statistic", self.statistic, "'p99' or 'mean'")
        _check(
            1 <= self.min_batch_size <= self.max_batch_size,
            "min_batch_size/max_batch_size",
            (self.min_batch_size, self.max_batch_size),
            "1 <= min <= max",
        )
        _check(0 <= self.max_window_s <= 300, "max_window_s", self.max_window_s, "0-300 seconds")
        _check(
            self.window_step_s is None or self.window_step_s > 0,
            "window_step_s",
            self.window_step_s,
            "seconds > 0",
        )
        _check(0 < self.decrease < 1, "decrease", self.decrease, "a factor between 0 and 1")
        _check(0 <= self.headroom < 1, "headroom", self.headroom, "a fraction between 0 and 1")
        _check(0 < self.smoothing <= 1, "smoothing", self.smoothing, "a weight in (0, 1]")
        _check(
            self.max_duration_s is None or self.max_duration_s > 0,
            "max_duration_s",
            self.max_duration_s,
            "seconds > 0",
        )

    @property
    def step_s(self) -> float:
        return self.window_step_s if self.window_step_s is not None else self.target_s / 50.0


@dataclass(frozen=True, slots=True)
class AdaptiveState:
    """The controller's memory: current settings and the running latency estimate."""

    settings: AdaptiveSettings
    mean: float | None = None
    variance: float = 0.0
    batches: int = 0

    @property
    def estimate(self) -> float | None:
        """The latency figure compared with the target (None before the first batch)."""
        return None if self.mean is None else self.mean + 2.0 * math.sqrt(self.variance)


def initial_state(config: AdaptiveConfig, batch_size: int, window_s: float = 0.0) -> AdaptiveState:
    """The initial state, with the mapping's configured settings clamped to the bounds."""
    return AdaptiveState(_clamp(config, AdaptiveSettings(batch_size, window_s)))


def adapt(config: AdaptiveConfig, state: AdaptiveState, seen: BatchObservation) -> AdaptiveState:
    """Fold one observation in and decide the next settings."""
    x = seen.oldest_latency_s if config.statistic == "p99" else seen.mean_latency_s
    a = config.smoothing
    if state.mean is None:
        mean, variance = x, 0.0
    else:
        delta = x - state.mean
        mean = state.mean + a * delta
        variance = (1 - a) * (state.variance + a * delta * delta)
    if config.statistic == "mean":
        variance = 0.0
    state = replace(state, mean=mean, variance=variance, batches=state.batches + 1)
    estimate = state.estimate
    assert estimate is not None
    settings = _steer(config, state.settings, seen, estimate)
    if config.max_duration_s is not None and seen.duration_s > config.max_duration_s:
        cut = max(config.min_batch_size, math.floor(seen.size * config.max_duration_s / seen.duration_s))
        settings = replace(settings, batch_size=min(settings.batch_size, cut))
    return replace(state, settings=_clamp(config, settings))


def _steer(
    config: AdaptiveConfig, now: AdaptiveSettings, seen: BatchObservation, estimate: float
) -> AdaptiveSettings:
    full = seen.size >= now.batch_size
    target = config.target_s
    if estimate > target:
        factor = max(config.decrease, target / estimate)
        if full:
            return replace(now, batch_size=math.floor(now.batch_size * factor))
        return replace(now, window_s=now.window_s * factor)
    if estimate < (1.0 - config.headroom) * target:
        if full:
            return replace(now, batch_size=now.batch_size + max(1, now.batch_size // 10))
        return replace(now, window_s=now.window_s + config.step_s)
    return now


def _clamp(config: AdaptiveConfig, s: AdaptiveSettings) -> AdaptiveSettings:
    size = min(config.max_batch_size, max(config.min_batch_size, s.batch_size))
    window = min(config.max_window_s, max(0.0, s.window_s))
    return AdaptiveSettings(size, window)


def aws_window(config: AdaptiveConfig, window_s: float) -> float:
    """The window to apply: whole seconds (rounded down) when the target platform needs them."""
    return float(math.floor(window_s)) if config.whole_seconds else window_s


class AdaptiveController:
    """The state held for the engine: call ``observe`` after each batch, use ``settings`` for the next."""

    def __init__(self, config: AdaptiveConfig, batch_size: int, window_s: float = 0.0) -> None:
        self.config = config
        self.state = initial_state(config, batch_size, window_s)

    @property
    def settings(self) -> AdaptiveSettings:
        s = self.state.settings
        return AdaptiveSettings(s.batch_size, aws_window(self.config, s.window_s))

    def observe(self, seen: BatchObservation) -> AdaptiveSettings:
        self.state = adapt(self.config, self.state, seen)
        return self.settings


def _check(ok: bool, field: str, value: object, allowed: str) -> None:
    if not ok:
        raise ConfigError(field, value, allowed)
