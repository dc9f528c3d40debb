"""Poisson helpers for the batch-formation formulas, in closed form so they cost microseconds.

``E[min(X, k)]`` for ``X ~ Pois(mu)`` is the survival sum ``Σ_{j<k} P(X > j)`` of
the reference; it equals ``mu·P(X <= k-2) + k·P(X >= k)``, which scipy's
``pdtr``/``pdtrc`` give directly instead of summing up to ``k`` terms.
"""

from __future__ import annotations

import math

from batchmap.tuning.extras import require


def cdf(j: int, mu: float) -> float:
    """P(X <= j)."""
    if j < 0:
        return 0.0
    if mu <= 0:
        return 1.0
    return float(require("scipy.special").pdtr(j, mu))


def survival(j: int, mu: float) -> float:
    """P(X > j)."""
    if j < 0:
        return 1.0
    if mu <= 0:
        return 0.0
    return float(require("scipy.special").pdtrc(j, mu))


def expected_min(mu: float, k: int) -> float:
    """E[min(X, k)] for X ~ Pois(mu)."""
    if k <= 0 or mu <= 0:
        return 0.0
    return mu * cdf(k - 2, mu) + k * survival(k - 1, mu)


def fill_wait_quantile(q: float, batch_size: int, rate: float) -> float:
    """The q-quantile of the time a record waits for its batch of ``batch_size`` to fill.

    A record at a uniformly random position r waits for the remaining
    B−1−r arrivals, so F(x) = (1 + E[min(Pois(rate·x), B−1)]) / B (reference §2.5).
    """
    if batch_size <= 1 or (1 + 0.0) / batch_size >= q:
        return 0.0

    def f(x: float) -> float:
        return (1.0 + expected_min(rate * x, batch_size - 1)) / batch_size - q

    hi = max(batch_size / rate, 1e-9)
    while f(hi) < 0:
        hi *= 2.0
    root = require("scipy.optimize").brentq(f, 0.0, hi, xtol=1e-9, rtol=1e-9)
    return float(root)


def exp_neg(x: float) -> float:
    """e^(−x), without underflow warnings for large x."""
    return math.exp(-x) if x < 745 else 0.0
