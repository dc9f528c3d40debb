"""Arrival times for the simulator: Poisson, bursty (on/off MMPP), daily cycle, or a trace file.

Each generator returns a sorted float64 array of arrival times in seconds from
0, drawn in a few vectorised numpy calls so hour-long horizons stay cheap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from batchmap.errors import ConfigError
from batchmap.tuning.extras import require

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

ArrivalKind = Literal["poisson", "bursty", "daily", "trace"]
ARRIVAL_KINDS: tuple[ArrivalKind, ...] = ("poisson", "bursty", "daily", "trace")


@dataclass(frozen=True, slots=True)
class ArrivalSpec:
    """How records arrive.

    ``rate`` is the mean rate (records/s) over ``horizon_s``. ``bursty`` is an
    on/off Markov-modulated Poisson process: bursts at ``burst_factor`` × the
    mean rate lasting ``burst_s`` on average, silence in between. ``daily``
    follows ``rate·(1 − amplitude·cos(2πt/period_s))``: quietest at 0, busiest
    at half a period. ``trace`` replays ``trace_path`` (one timestamp per line,
    in ``trace_unit``), shifted to start at 0.
    """

    kind: ArrivalKind = "poisson"
    rate: float = 1.0
    horizon_s: float = 600.0
    burst_factor: float = 5.0
    burst_s: float = 10.0
    amplitude: float = 0.8
    period_s: float = 86_400.0
    trace_path: str | None = None
    trace_unit: Literal["s", "ms"] = "s"

    def __post_init__(self) -> None:
        if self.kind not in ARRIVAL_KINDS:
            raise ConfigError("arrivals", self.kind, f"one of {', '.join(ARRIVAL_KINDS)}")
        if self.kind == "trace":
            if not self.trace_path:
                raise ConfigError("trace_path", self.trace_path, "a file of timestamps for trace arrivals")
            return
        _check(math.isfinite(self.rate) and self.rate > 0, "rate", self.rate, "records per second > 0")
        _check(
            math.isfinite(self.horizon_s) and self.horizon_s > 0, "horizon_s", self.horizon_s, "seconds > 0"
        )
        _check(self.burst_factor > 1, "burst_factor", self.burst_factor, "a peak-to-mean ratio > 1")
        _check(self.burst_s > 0, "burst_s", self.burst_s, "seconds > 0")
        _check(0 <= self.amplitude <= 1, "amplitude", self.amplitude, "a fraction between 0 and 1")
        _check(self.period_s > 0, "period_s", self.period_s, "seconds > 0")


def generate(spec: ArrivalSpec, seed: int = 0) -> NDArray[np.float64]:
    """Draw the arrival times ``spec`` describes (``seed`` makes runs repeatable)."""
    xp = require("numpy")
    rng = xp.random.default_rng(seed)
    if spec.kind == "poisson":
        return poisson(spec.rate, spec.horizon_s, rng)
    if spec.kind == "bursty":
        return bursty(spec.rate, spec.horizon_s, rng, burst_factor=spec.burst_factor, burst_s=spec.burst_s)
    if spec.kind == "daily":
        return daily(spec.rate, spec.horizon_s, rng, amplitude=spec.amplitude, period_s=spec.period_s)
    assert spec.trace_path is not None
    return read_trace(spec.trace_path, spec.trace_unit)


def poisson(rate: float, horizon_s: float, rng: np.random.Generator) -> NDArray[np.float64]:
    """A homogeneous Poisson process: a Poisson count of uniform times, sorted."""
    count = rng.poisson(rate * horizon_s)
    times: NDArray[np.float64] = rng.uniform(0.0, horizon_s, size=count)
    times.sort()
    return times


def bursty(
    rate: float, horizon_s: float, rng: np.random.Generator, *, burst_factor: float, burst_s: float
) -> NDArray[np.float64]:
    """On/off MMPP: exponential bursts at ``burst_factor·rate``, exponential silences between them."""
    xp = require("numpy")
    off_s = burst_s * (burst_factor - 1.0)  # keeps the long-run mean at ``rate``
    cycles = int(horizon_s / (burst_s + off_s) * 2) + 16
    starts: list[float] = []
    ends: list[float] = []
    t = float(rng.exponential(off_s))
    while t < horizon_s:
        on = rng.exponential(burst_s, size=cycles)
        off = rng.exponential(off_s, size=cycles)
        bounds = t + xp.cumsum(xp.column_stack((on, off)).ravel())
        starts.extend([t, *bounds[1:-1:2]])
        ends.extend(bounds[0::2])
        t = float(bounds[-1])
    begin = xp.minimum(xp.asarray(starts), horizon_s)
    finish = xp.minimum(xp.asarray(ends), horizon_s)
    counts = rng.poisson(rate * burst_factor * (finish - begin))
    offsets = rng.uniform(0.0, 1.0, size=int(counts.sum()))
    times: NDArray[np.float64] = xp.repeat(begin, counts) + offsets * xp.repeat(finish - begin, counts)
    times.sort()
    return times


def daily(
    rate: float, horizon_s: float, rng: np.random.Generator, *, amplitude: float, period_s: float
) -> NDArray[np.float64]:
    """A rate that follows the day: Poisson at the peak rate, thinned by λ(t)/λ_peak."""
    xp = require("numpy")
    peak = rate * (1.0 + amplitude)
    times = poisson(peak, horizon_s, rng)
    keep = rng.uniform(0.0, 1.0, size=times.size) * peak < rate * (
        1.0 - amplitude * xp.cos(2.0 * xp.pi * times / period_s)
    )
    kept: NDArray[np.float64] = times[keep]
    return kept


def read_trace(path: str | Path, unit: Literal["s", "ms"] = "s") -> NDArray[np.float64]:
    """Timestamps, one per line (first comma-separated field; ``#`` comments and blanks skipped)."""
    xp = require("numpy")
    values: list[float] = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError("trace", str(path), f"a readable file of timestamps ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError("trace", str(path), f"a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].split(",", 1)[0].strip()
        if not text:
            continue
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(f"trace line {number}", text, "a timestamp in seconds or ms") from None
        if not math.isfinite(value):
            raise ConfigError(f"trace line {number}", text, "a finite timestamp")
        values.append(value)
    if len(values) < 2:
        raise ConfigError("trace", str(path), "at least two timestamps")
    times: NDArray[np.float64] = xp.sort(xp.asarray(values, dtype=xp.float64))
    if unit == "ms":
        times /= 1000.0
    shifted: NDArray[np.float64] = times - times[0]
    return shifted


def observed_rate(times: NDArray[np.float64]) -> float:
    """Mean rate of a drawn or replayed sequence (records per second)."""
    span = float(times[-1] - times[0]) if times.size > 1 else 0.0
    return times.size / span if span > 0 else float(times.size)


def _check(ok: bool, field: str, value: object, allowed: str) -> None:
    if not ok:
        raise ConfigError(field, value, allowed)
