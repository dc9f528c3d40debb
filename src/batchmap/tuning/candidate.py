"""One point of the search: the settings a user would put on the mapping and the function.

Field names are AWS's parameter names in snake_case, so a recommendation reads
like the ``aws lambda create-event-source-mapping`` call it becomes. Basic
ranges raise ``ConfigError`` at once; the rules that depend on the source (SQS:
``BatchSize`` > 10 needs a window of at least 1 s, FIFO takes at most 10 and no
window) are returned by ``aws_rule_violations`` so the search can show *why* a
grid point was discarded instead of refusing the whole grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from batchmap.config.function import MAX_MEMORY_MB, MIN_MEMORY_MB
from batchmap.config.parameters import (
    MAX_MAXIMUM_CONCURRENCY,
    MAX_PARALLELIZATION_FACTOR,
    MAX_WINDOW_S,
    MIN_MAXIMUM_CONCURRENCY,
)
from batchmap.errors import ConfigError
from batchmap.records.shapes import MIN_WINDOW_FOR_LARGE_BATCHES_S
from batchmap.tuning.prices import ARCHITECTURES, Architecture
from batchmap.tuning.workload import Workload

SQS_CONCURRENCY_RANGE = (MIN_MAXIMUM_CONCURRENCY, MAX_MAXIMUM_CONCURRENCY)
PARALLELIZATION_RANGE = (1, MAX_PARALLELIZATION_FACTOR)


@dataclass(frozen=True, slots=True)
class Candidate:
    """Batching, scaling and function settings to evaluate."""

    batch_size: int
    maximum_batching_window_in_seconds: float = 0.0
    memory_size: int = 512
    architecture: Architecture = "x86_64"
    maximum_concurrency: int | None = None  # SQS ScalingConfig.MaximumConcurrency
    parallelization_factor: int = 1  # Kinesis / DynamoDB Streams

    def __post_init__(self) -> None:
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ConfigError("batch_size", self.batch_size, "an integer >= 1")
        window = self.maximum_batching_window_in_seconds
        if not (math.isfinite(window) and 0 <= window <= MAX_WINDOW_S):
            raise ConfigError("maximum_batching_window_in_seconds", window, f"0-{MAX_WINDOW_S:g} seconds")
        if not MIN_MEMORY_MB <= self.memory_size <= MAX_MEMORY_MB:
            raise ConfigError("memory_size", self.memory_size, f"{MIN_MEMORY_MB}-{MAX_MEMORY_MB} MB")
        if self.architecture not in ARCHITECTURES:
            raise ConfigError("architecture", self.architecture, f"one of {', '.join(ARCHITECTURES)}")
        if self.maximum_concurrency is not None and self.maximum_concurrency < 1:
            raise ConfigError("maximum_concurrency", self.maximum_concurrency, "an integer >= 1")
        if self.parallelization_factor < 1:
            raise ConfigError("parallelization_factor", self.parallelization_factor, "an integer >= 1")

    @property
    def window_s(self) -> float:
        return self.maximum_batching_window_in_seconds

    def label(self) -> str:
        """A short human name: ``B=100 W=5s 512MB x86_64``."""
        parts = [f"B={self.batch_size}", f"W={self.window_s:g}s", f"{self.memory_size}MB", self.architecture]
        if self.maximum_concurrency is not None:
            parts.append(f"maxconc={self.maximum_concurrency}")
        if self.parallelization_factor != 1:
            parts.append(f"PF={self.parallelization_factor}")
        return " ".join(parts)


def aws_rule_violations(candidate: Candidate, workload: Workload) -> tuple[str, ...]:
    """The rules AWS would reject this candidate for, on this workload's source (empty: allowed)."""
    traits = workload.traits
    b, w = candidate.batch_size, candidate.window_s
    found: list[str] = []
    if b > traits.max_batch_size:
        found.append(f"{workload.source}: BatchSize {b} is over the maximum {traits.max_batch_size}")
    if not traits.window_allowed and w > 0:
        found.append(f"{workload.source}: no MaximumBatchingWindowInSeconds allowed (got {w:g})")
    above = workload.shape.window_needed_above
    if above is not None and b > above and w < MIN_WINDOW_FOR_LARGE_BATCHES_S:
        found.append(f"{workload.source}: BatchSize > {above} needs MaximumBatchingWindowInSeconds "
                     f">= {MIN_WINDOW_FOR_LARGE_BATCHES_S}")
    if workload.platform == "aws" and w != int(w):
        found.append(f"aws: MaximumBatchingWindowInSeconds takes whole seconds (got {w:g})")
    found.extend(_scaling_violations(candidate, workload))
    return tuple(found)


def _scaling_violations(candidate: Candidate, workload: Workload) -> list[str]:
    found: list[str] = []
    concurrency = candidate.maximum_concurrency
    if concurrency is not None:
        low, high = SQS_CONCURRENCY_RANGE
        if not workload.is_sqs:
            found.append(f"{workload.source}: MaximumConcurrency applies to SQS only")
        elif not low <= concurrency <= high:
            found.append(f"sqs: MaximumConcurrency {concurrency} is outside {low}-{high}")
    factor = candidate.parallelization_factor
    if factor != 1 and not workload.is_stream:
        found.append(f"{workload.source}: ParallelizationFactor applies to Kinesis and DynamoDB Streams only")
    elif not PARALLELIZATION_RANGE[0] <= factor <= PARALLELIZATION_RANGE[1]:
        found.append(f"ParallelizationFactor {factor} is outside {PARALLELIZATION_RANGE[0]}-{PARALLELIZATION_RANGE[1]}")
    return found
