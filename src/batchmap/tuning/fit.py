"""Least-squares fits for measurements: duration = t0 + t1·n, its curvature, and contention σ."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from batchmap.errors import MeasurementError
from batchmap.tuning.extras import require


@dataclass(frozen=True, slots=True)
class LinearFit:
    """y = intercept + slope·x, with R² and the residuals (same order as the points)."""

    intercept: float
    slope: float
    r_squared: float
    residuals: tuple[float, ...]

    def __call__(self, x: float) -> float:
        return self.intercept + self.slope * x

    @property
    def residual_std(self) -> float:
        n = len(self.residuals)
        return math.sqrt(math.fsum(r * r for r in self.residuals) / (n - 2)) if n > 2 else 0.0


def fit_line(x: Sequence[float], y: Sequence[float]) -> LinearFit:
    """Ordinary least squares; needs points at two or more distinct x."""
    np = require("numpy")
    if len(x) != len(y) or len(set(x)) < 2:
        raise MeasurementError(f"a line needs points at two distinct batch sizes (got {sorted(set(x))})")
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    design = np.column_stack((np.ones_like(xs), xs))
    (intercept, slope), *_ = np.linalg.lstsq(design, ys, rcond=None)
    residuals = ys - (intercept + slope * xs)
    total = float(((ys - ys.mean()) ** 2).sum())
    r2 = 1.0 - float((residuals**2).sum()) / total if total > 0 else 1.0
    return LinearFit(float(intercept), float(slope), r2, tuple(float(r) for r in residuals))


def quadratic_share(x: Sequence[float], y: Sequence[float]) -> float:
    """How much of y at the largest x a quadratic term explains (> 0.1: residuals curve upwards).

    Memory pressure or code that is quadratic in the batch makes big batches
    slower than the line predicts; the tuner then warns and caps the search.
    """
    np = require("numpy")
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(set(x)) < 3:
        return 0.0
    c2, c1, c0 = np.polyfit(xs, ys, 2)
    top = float(xs.max())
    at_top = c0 + c1 * top + c2 * top * top
    return float(c2 * top * top / at_top) if at_top > 0 else 0.0


def fit_contention(speedups: Sequence[tuple[int, float]]) -> float:
    """σ of S(c) = c / (1 + σ(c−1)), by least squares on c/S − 1 = σ(c−1); clamped to [0, 1]."""
    points = [(c, s) for c, s in speedups if c > 1 and s > 0]
    if not points:
        return 0.0
    num = math.fsum((c - 1) * (c / s - 1) for c, s in points)
    den = math.fsum((c - 1) ** 2 for c, _ in points)
    return min(1.0, max(0.0, num / den))
