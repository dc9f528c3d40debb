"""What the adaptive controller measures from finished batches: arrival rate, duration fit, latency.

Each meter is fed one batch at a time and never reads a clock (the batch says
when it finished), so the same code runs in the engine and in the simulator.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

MIN_RATE_BATCHES = 4
"""Batches a rate estimate needs."""
RATE_BATCHES = 12
"""The rate is measured over at least this many recent batches ..."""
RATE_HORIZON_S = 10.0
"""... or over this many seconds, whichever holds more."""
FIT_BATCHES = 64
"""The duration fit reads this many recent batches."""
MIN_SPREAD = 1.0
"""Variance of the batch sizes (records²) below which the slope is not read from them."""


class RateMeter:
    """Records per second that reach the function: the arrival rate when the lanes keep up."""

    def __init__(self) -> None:
        self._seen: deque[tuple[float, int]] = deque()

    def add(self, finished_s: float, size: int) -> None:
        self._seen.append((finished_s, size))
        while len(self._seen) > RATE_BATCHES and finished_s - self._seen[0][0] > RATE_HORIZON_S:
            self._seen.popleft()

    @property
    def records(self) -> int:
        """Records the estimate rests on (its relative noise is about 1/√records)."""
        return sum(n for _, n in self._seen) - (self._seen[0][1] if self._seen else 0)

    def rate(self) -> float | None:
        """Records finished after the oldest kept batch, over the time since it; None until enough batches."""
        if len(self._seen) < MIN_RATE_BATCHES:
            return None
        span = self._seen[-1][0] - self._seen[0][0]
        return self.records / span if span > 0 else None


@dataclass(frozen=True, slots=True)
class Fit:
    """D(n) = t0 + t1·n, in seconds."""

    t0: float
    t1: float

    def duration(self, n: float) -> float:
        return self.t0 + self.t1 * n


class DurationFit:
    """Least squares of invocation duration on batch size over recent batches, never negative.

    Batches of one size cannot tell fixed time from per-record time: then the
    last slope is kept, or, before there is one, all the time is taken as
    per-record (the cautious reading: bigger batches are predicted slower).
    """

    def __init__(self) -> None:
        self._seen: deque[tuple[int, float]] = deque(maxlen=FIT_BATCHES)
        self._slope: float | None = None

    def add(self, size: int, duration_s: float) -> None:
        self._seen.append((size, max(0.0, duration_s)))

    def fit(self) -> Fit | None:
        count = len(self._seen)
        if not count:
            return None
        mean_n = math.fsum(n for n, _ in self._seen) / count
        mean_d = math.fsum(d for _, d in self._seen) / count
        sxx = math.fsum((n - mean_n) ** 2 for n, _ in self._seen)
        if sxx / count >= MIN_SPREAD:
            sxy = math.fsum((n - mean_n) * (d - mean_d) for n, d in self._seen)
            self._slope = max(0.0, sxy / sxx)
        if self._slope is not None:
            t0 = mean_d - self._slope * mean_n
            if t0 >= 0:
                return Fit(t0, self._slope)
        return Fit(0.0, math.fsum(d for _, d in self._seen) / max(1.0, math.fsum(n for n, _ in self._seen)))


@dataclass(frozen=True, slots=True)
class BatchLatency:
    """One batch's records, from the newest (least waited) to the oldest, in seconds."""

    size: int
    newest_s: float
    oldest_s: float
    mean_s: float


class LatencyWindow:
    """The batches since the settings last changed: the latency statistic they had.

    A batch's records are taken as spread evenly between its newest and oldest
    record's latency (exactly so for batches closed by the window), so a tail
    quantile is read from a few batches rather than thousands of records.
    """

    def __init__(self, limit: int = 160) -> None:
        self._seen: deque[BatchLatency] = deque(maxlen=limit)

    def __len__(self) -> int:
        return len(self._seen)

    @property
    def records(self) -> int:
        return sum(b.size for b in self._seen)

    def clear(self) -> None:
        self._seen.clear()

    def add(self, batch: BatchLatency) -> None:
        self._seen.append(batch)

    def mean(self) -> float:
        total = self.records
        return math.fsum(b.size * b.mean_s for b in self._seen) / total if total else 0.0

    def quantile(self, q: float) -> float:
        """The latency that a share ``q`` of the records stayed under.

        The records above a latency x fall linearly in x between breakpoints (each batch's newest and oldest
        latency), so one sweep over the sorted breakpoints finds where they fall to ``(1 - q)`` of all:
        exact, where a bisection over every batch was most of a simulated adaptive run's time.
        """
        if not self._seen:
            return 0.0
        allowed = (1.0 - q) * self.records
        above = float(self.records)  # records above x: ``above + level - slope·x``, the last two from the
        level = slope = 0.0  # batches whose span x is inside
        inside = 0
        events = _breakpoints(self._seen)
        for i, (x, d_above, d_level, d_slope, d_inside) in enumerate(events):
            above += d_above
            inside += d_inside
            level, slope = (level + d_level, slope + d_slope) if inside else (0.0, 0.0)  # no rounding left over
            if i + 1 < len(events) and events[i + 1][0] == x:
                continue  # every change at x first
            if above + level - slope * x <= allowed:
                return x
            if slope > 0:
                crossing = (above + level - allowed) / slope
                if i + 1 == len(events) or crossing < events[i + 1][0]:
                    return max(x, crossing)
        return events[-1][0]


def _breakpoints(batches: Iterable[BatchLatency]) -> list[tuple[float, float, float, float, int]]:
    """Where the records above a latency change: (latency, Δ records wholly above, Δ level, Δ slope, Δ spans)."""
    events: list[tuple[float, float, float, float, int]] = []
    for b in batches:
        if b.oldest_s > b.newest_s:
            k = b.size / (b.oldest_s - b.newest_s)  # records per second of latency
            events.append((b.newest_s, -b.size, k * b.oldest_s, k, 1))
            events.append((b.oldest_s, 0.0, -k * b.oldest_s, -k, -1))
        else:
            events.append((b.newest_s, -b.size, 0.0, 0.0, 0))
    events.sort(key=_latency)
    return events


def _latency(event: tuple[float, float, float, float, int]) -> float:
    return event[0]
