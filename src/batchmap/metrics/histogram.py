"""A fixed-bucket histogram of milliseconds (invocation durations, iterator ages): cheap to update,
exact sum/count/min/max.

Buckets are fixed (durations: 1 ms to 15 minutes, Lambda's longest timeout;
ages: 100 ms to 7 days) so histograms of different mappings and runs add up,
as Prometheus expects.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

from batchmap.errors import ConfigError

DURATION_BUCKETS_MS: tuple[float, ...] = (
    1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000, 900_000,
)
"""Upper bounds (inclusive) of the duration buckets, in milliseconds; a last bucket holds the rest."""

AGE_BUCKETS_MS: tuple[float, ...] = (
    100, 500, 1_000, 5_000, 10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000, 21_600_000, 86_400_000,
    604_800_000,
)
"""Upper bounds of the IteratorAge buckets, in milliseconds: 100 ms to 7 days (a Kinesis stream's longest
default retention), since a stream mapping that falls behind is measured in hours, not milliseconds."""


@dataclass(frozen=True, slots=True)
class DurationStats:
    """Durations seen so far: CloudWatch's statistic set plus per-bucket counts.

    ``buckets[i]`` counts durations ``<= bounds[i]`` and above the previous bound;
    the extra last entry counts durations above every bound.
    """

    count: int = 0
    sum_ms: float = 0.0
    min_ms: float | None = None
    max_ms: float | None = None
    buckets: tuple[int, ...] = (0,) * (len(DURATION_BUCKETS_MS) + 1)
    bounds: tuple[float, ...] = DURATION_BUCKETS_MS

    @property
    def mean_ms(self) -> float | None:
        """Average duration, or ``None`` before the first invocation."""
        return self.sum_ms / self.count if self.count else None

    def cumulative(self) -> tuple[int, ...]:
        """Counts of durations ``<= bound`` for each bound, then the total (Prometheus ``le`` buckets)."""
        running = 0
        out: list[int] = []
        for n in self.buckets:
            running += n
            out.append(running)
        return tuple(out)

    def quantile(self, q: float) -> float | None:
        """An upper estimate of the ``q`` quantile: the bound of its bucket, capped by the maximum."""
        if not 0.0 <= q <= 1.0:
            raise ConfigError("q", q, "a quantile between 0 and 1")
        if not self.count or self.min_ms is None or self.max_ms is None:
            return None
        if q == 0.0:
            return self.min_ms
        rank = q * self.count
        for index, seen in enumerate(self.cumulative()):
            if seen >= rank and index < len(self.bounds):
                return min(self.bounds[index], self.max_ms)
        return self.max_ms


class Histogram:
    """Mutable counterpart of ``DurationStats``; not locked (its owner holds the lock)."""

    __slots__ = ("_bounds", "_buckets", "_count", "_max", "_min", "_sum")

    def __init__(self, bounds: tuple[float, ...] = DURATION_BUCKETS_MS) -> None:
        self._bounds = bounds
        self._buckets = [0] * (len(bounds) + 1)
        self._count = 0
        self._sum = 0.0
        self._min: float | None = None
        self._max: float | None = None

    def observe(self, value_ms: float) -> None:
        """Add one value (negative values, which only a broken clock makes, count as 0)."""
        value = max(0.0, float(value_ms))
        self._buckets[bisect_left(self._bounds, value)] += 1
        self._count += 1
        self._sum += value
        self._min = value if self._min is None or value < self._min else self._min
        self._max = value if self._max is None or value > self._max else self._max

    def stats(self) -> DurationStats:
        """A frozen copy."""
        return DurationStats(self._count, self._sum, self._min, self._max, tuple(self._buckets), self._bounds)
