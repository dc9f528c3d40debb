"""What a handler costs per invocation: the service-time model D(n) = t0 + t1·n / S(c).

A ``HandlerProfile`` is what measurement produces (or what a user states with
``--t0-ms``/``--t1-ms``); the model, the simulator and the search only read it.
Memory enters through the CPU share of each term: Lambda gives CPU in proportion
to memory up to 1,769 MB (one vCPU), so the CPU part of the time scales with
``min(M_ref, 1769) / min(M, 1769)`` and the I/O part does not (reference §2.2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from batchmap.config.function import MAX_MEMORY_MB, MIN_MEMORY_MB
from batchmap.errors import ConfigError

ONE_VCPU_MB = 1769
"""Memory size at which a Lambda function gets one full vCPU."""



@dataclass(frozen=True, slots=True)
class HandlerProfile:
    """Measured (or stated) timings of one handler at ``reference_memory_mb``.

    ``t0_s`` is the fixed time per invocation, ``t1_s`` the time per record when
    records run one at a time; ``cpu_share_t0``/``cpu_share_t1`` say how much of
    each is CPU (0 = pure I/O, unaffected by memory). ``concurrency`` (c) is how
    many records the handler works on at once and ``sigma`` their contention
    (Amdahl-like). ``init_s`` is the cold start (INIT) time and
    ``cold_start_rate`` the share of invocations that pay it. ``memory_base_mb``
    and ``memory_per_record_mb`` model ``MaxMemoryUsed(n) = m0 + m1·n``.
    """

    t0_s: float
    t1_s: float
    reference_memory_mb: int = ONE_VCPU_MB
    cpu_share_t0: float = 0.0
    cpu_share_t1: float = 0.0
    concurrency: int = 1
    sigma: float = 0.0
    duration_cv: float = 0.0
    init_s: float = 0.0
    cold_start_rate: float = 0.0
    memory_base_mb: float | None = None
    memory_per_record_mb: float = 0.0

    def __post_init__(self) -> None:
        _check(self.t0_s >= 0 and math.isfinite(self.t0_s), "t0", self.t0_s, "seconds >= 0")
        _check(self.t1_s >= 0 and math.isfinite(self.t1_s), "t1", self.t1_s, "seconds >= 0")
        _check(self.t0_s + self.t1_s > 0, "t0 + t1", self.t0_s + self.t1_s, "a positive duration")
        _check(
            MIN_MEMORY_MB <= self.reference_memory_mb <= MAX_MEMORY_MB,
            "reference_memory_mb",
            self.reference_memory_mb,
            f"{MIN_MEMORY_MB}-{MAX_MEMORY_MB} MB",
        )
        for name in ("cpu_share_t0", "cpu_share_t1", "cold_start_rate"):
            value = getattr(self, name)
            _check(0.0 <= value <= 1.0, name, value, "a fraction between 0 and 1")
        _check(self.concurrency >= 1, "concurrency", self.concurrency, "an integer >= 1")
        _check(0.0 <= self.sigma <= 1.0, "sigma", self.sigma, "a contention between 0 and 1")
        _check(self.duration_cv >= 0, "duration_cv", self.duration_cv, "a coefficient of variation >= 0")
        _check(self.init_s >= 0, "init_s", self.init_s, "seconds >= 0")
        _check(self.memory_per_record_mb >= 0, "memory_per_record_mb", self.memory_per_record_mb, ">= 0 MB")

    @property
    def speedup(self) -> float:
        """S(c) = c / (1 + σ(c−1)): how much faster records go when c run at once."""
        c = self.concurrency
        return c / (1.0 + self.sigma * (c - 1))

    def times_at(self, memory_mb: int) -> tuple[float, float]:
        """(t0, t1/S(c)) at ``memory_mb``: the CPU share scales with the vCPU fraction."""
        scale = min(self.reference_memory_mb, ONE_VCPU_MB) / min(memory_mb, ONE_VCPU_MB)
        t0 = self.t0_s * (1.0 - self.cpu_share_t0 + self.cpu_share_t0 * scale)
        t1 = self.t1_s * (1.0 - self.cpu_share_t1 + self.cpu_share_t1 * scale)
        return t0, t1 / self.speedup

    def duration(self, n: float, memory_mb: int) -> float:
        """D(n) in seconds for a batch of ``n`` records at ``memory_mb``."""
        t0, t1 = self.times_at(memory_mb)
        return t0 + t1 * n

    def max_memory_mb(self, n: float) -> float | None:
        """Predicted ``MaxMemoryUsed`` for a batch of ``n``, when memory was measured."""
        if self.memory_base_mb is None:
            return None
        return self.memory_base_mb + self.memory_per_record_mb * n


def _check(ok: bool, field: str, value: object, allowed: str) -> None:
    if not ok:
        raise ConfigError(field, value, allowed)
