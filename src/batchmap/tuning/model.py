"""The analytical model of reference §2: batch size, latency, throughput and cost of one candidate.

Each lane (SQS poller, Kinesis shard × ParallelizationFactor, Kafka poller)
sees Poisson arrivals at λ/k and collects its own batches. SQS lanes share one
queue: n̄ keeps the even split, but their latency counts that a lane which is
invoking takes nothing (the others collect faster, and cover its run) and
that a closed batch waits for any lane (``_size_bound``, ``_covered_run``). The mean batch n̄
is the fixed point of ``n̄ = E[min(X,B)] + e^(−m)(1 + E[min(Y,B−1)])`` with
``m = λp(D(n̄)+W)``; latency follows the size-bound (Erlang fill + Kingman
queue) or window-bound/idle formulas; cost is priced by ``cost``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from batchmap.records.shapes import MAX_PAYLOAD_BYTES
from batchmap.tuning import poisson
from batchmap.tuning.candidate import Candidate
from batchmap.tuning.cost import (
    Cost,
    billed_seconds,
    kinesis_shards,
    lambda_cost,
    lambda_floor,
    source_cost,
    sqs_batch_requests,
)
from batchmap.tuning.prices import Architecture, Prices
from batchmap.tuning.profile import HandlerProfile
from batchmap.tuning.workload import Workload

Regime = Literal["size", "window", "idle", "unstable", "impossible"]
_Duration = Callable[[float], float]
CapReason = Literal["batch_size", "payload", "timeout", "memory"]

TIMEOUT_MARGIN = 0.8  # keep a batch within 80 % of the function timeout
DEFAULT_TIMEOUT_S = 3  # Lambda's default; a recommended timeout is never shorter
MEMORY_MARGIN = 0.9  # and its memory within 90 % of the function's
P99_SHARE = 0.01  # the share of records above the p99
P99_COLD_SHARE = 0.01  # cold starts reach the p99 once more than 1 % of invocations are cold


@dataclass(frozen=True, slots=True)
class Prediction:
    """What the model expects from one candidate on one workload (latencies in seconds)."""

    candidate: Candidate
    lanes: int
    rate_per_lane: float
    batch_cap: int
    cap_reason: CapReason
    mean_batch: float
    duration_s: float
    full_duration_s: float
    regime: Regime
    utilisation: float
    mean_latency_s: float
    p99_latency_s: float
    invocations_per_hour: float
    concurrency: float
    timeout_s: float
    cost: Cost

    @property
    def stable(self) -> bool:
        return self.regime not in ("unstable", "impossible")


def predict(profile: HandlerProfile, workload: Workload, candidate: Candidate, prices: Prices) -> Prediction:
    """Evaluate ``candidate`` with the formulas of reference §2.3-2.6."""
    memory = candidate.memory_size
    cap, reason = batch_cap(profile, workload, candidate)
    lanes = lane_count(profile, workload, candidate, prices, cap)
    rate_p = workload.rate / lanes

    def duration(n: float) -> float:
        return profile.duration(n, memory)

    full = duration(max(cap, 1))
    utilisation = rate_p * full / cap if cap >= 1 else math.inf
    regime: Regime
    if cap < 1 or utilisation >= 1.0:
        n_bar, regime = float(max(cap, 1)), ("impossible" if cap < 1 else "unstable")
        mean = p99 = math.inf
    else:
        n_bar = mean_batch(rate_p, candidate.window_s, cap, duration, workload.traits.window_start)
        shared = lanes if workload.is_sqs else 1
        regime, mean, p99 = _latency(profile, workload, candidate, rate_p, cap, n_bar, duration, shared)
    d_bar = duration(n_bar)
    return Prediction(
        candidate=candidate,
        lanes=lanes,
        rate_per_lane=rate_p,
        batch_cap=cap,
        cap_reason=reason,
        mean_batch=n_bar,
        duration_s=d_bar,
        full_duration_s=full,
        regime=regime,
        utilisation=utilisation,
        mean_latency_s=mean,
        p99_latency_s=p99,
        invocations_per_hour=3600.0 * workload.rate / n_bar,
        concurrency=workload.rate * (d_bar + profile.cold_start_rate * profile.init_s) / n_bar,
        timeout_s=_timeout(workload, full),
        cost=_cost(profile, workload, candidate, prices, n_bar, lanes),
    )


def for_architecture(
    prediction: Prediction,
    architecture: Architecture,
    profile: HandlerProfile,
    workload: Workload,
    prices: Prices,
) -> Prediction:
    """The same prediction on another architecture: only the price differs, batching is shared."""
    candidate = replace(prediction.candidate, architecture=architecture)
    cost = _cost(profile, workload, candidate, prices, prediction.mean_batch, prediction.lanes)
    return replace(prediction, candidate=candidate, cost=cost)


def batch_caps(profile: HandlerProfile, workload: Workload, candidate: Candidate) -> dict[CapReason, int]:
    """Every limit on records per batch: BatchSize, 6 MB payload, timeout and memory (reference §2.2)."""
    caps: dict[CapReason, int] = {
        "batch_size": candidate.batch_size,
        "payload": MAX_PAYLOAD_BYTES // workload.event_record_bytes,
    }
    t0, t1 = profile.times_at(candidate.memory_size)
    if workload.function_timeout_s is not None and t1 > 0:
        caps["timeout"] = max(0, math.floor((TIMEOUT_MARGIN * workload.function_timeout_s - t0) / t1))
    if profile.memory_base_mb is not None:
        room = MEMORY_MARGIN * candidate.memory_size - profile.memory_base_mb
        per = profile.memory_per_record_mb
        caps["memory"] = max(
            0, math.floor(room / per) if per > 0 else (candidate.batch_size if room >= 0 else 0)
        )
    return caps


def batch_cap(profile: HandlerProfile, workload: Workload, candidate: Candidate) -> tuple[int, CapReason]:
    """B_eff = min(B, payload cap, timeout cap, memory cap), and which one binds."""
    caps = batch_caps(profile, workload, candidate)
    reason = min(caps, key=lambda name: caps[name])
    return caps[reason], reason


def lane_count(
    profile: HandlerProfile, workload: Workload, candidate: Candidate, prices: Prices, cap: int
) -> int:
    """k: concurrent batch collectors (reference §2.1).

    SQS keeps ``sqs_pollers`` at low traffic and scales up to what the rate
    needs, capped by MaximumConcurrency; streams run shards × PF; Kafka the
    configured pollers.
    """
    if workload.is_sqs:
        capacity = cap / profile.duration(cap, candidate.memory_size) if cap >= 1 else math.inf
        needed = math.floor(workload.rate / capacity) + 1
        lanes = max(workload.sqs_pollers, needed)
        if candidate.maximum_concurrency is not None:
            lanes = min(lanes, candidate.maximum_concurrency)
        return lanes
    if workload.source == "kinesis":
        return kinesis_shards(workload, prices) * candidate.parallelization_factor
    if workload.source == "dynamodb":
        return (workload.shards or 1) * candidate.parallelization_factor
    return workload.lanes


def mean_batch(rate_p: float, window_s: float, cap: int, duration: _Duration, window_start: str) -> float:
    """n̄ by damped fixed-point iteration (reference §2.3; Kafka's window opens at the first record)."""
    t0 = duration(0.0)
    t1 = duration(1.0) - t0
    load = rate_p * t1
    start = cap if load >= 1 else max(1 + rate_p * window_s, rate_p * (t0 + window_s) / (1 - load))
    n = min(float(cap), start)
    y_mean = rate_p * window_s
    idle_batch = 1.0 + poisson.expected_min(y_mean, cap - 1)
    for _ in range(500):
        busy = rate_p * duration(n)
        if window_start == "on_first_record":
            no_backlog = poisson.exp_neg(busy)
            new = (
                poisson.expected_min(busy + y_mean, cap)
                - no_backlog * poisson.expected_min(y_mean, cap)
                + no_backlog * idle_batch
            )
        else:
            m = busy + y_mean
            new = poisson.expected_min(m, cap) + poisson.exp_neg(m) * idle_batch
        step = 0.5 * (new - n)
        n += step
        if abs(step) < 1e-10 * max(1.0, n):
            break
    return min(float(cap), max(1.0, n))


def _latency(
    profile: HandlerProfile,
    workload: Workload,
    candidate: Candidate,
    rate_p: float,
    cap: int,
    n_bar: float,
    duration: _Duration,
    shared: int,
) -> tuple[Regime, float, float]:
    window = candidate.window_s
    d = duration(n_bar)
    m = rate_p * (d + window)
    regime: Regime
    p_full = 1.0 if cap == 1 else poisson.survival(cap - 1, m)
    if p_full > 0.5:  # a batch of one is always full: M/D/1
        regime = "size"
        late = rate_p * d / n_bar * (1.0 - p_full)  # arrived while the lane ran, and the window closes
        mean, p99 = _size_bound(rate_p, cap, window, duration(cap), profile.duration_cv, late, shared)
    else:
        regime = "idle" if m < 1 else "window"
        on_first = workload.traits.window_start == "on_first_record"
        mean = _window_mean_first_record(rate_p, window, d) if on_first else _window_mean(rate_p, window, d)
        p99 = _window_p99(rate_p, window, d, n_bar, m, shared)
        if shared > 1 and m >= 1 and window > 0:
            covered = _covered_run(rate_p, d, n_bar, shared)
            mean, p99 = mean - covered / 2.0, p99 - 0.99 * covered
    extra_mean, extra_p99 = workload.poll_delay_s / 2.0, workload.poll_delay_s
    if profile.cold_start_rate > 0:
        extra_mean += profile.cold_start_rate * profile.init_s
        extra_p99 += profile.init_s if profile.cold_start_rate > P99_COLD_SHARE else 0.0
    if regime == "idle" and window > 0 and workload.is_sqs:
        extra_mean += workload.sqs_idle_wait_s
        extra_p99 += workload.sqs_idle_wait_s
    return regime, mean + extra_mean, p99 + extra_p99


def _covered_run(rate_p: float, d: float, n_bar: float, shared: int) -> float:
    """How much of a lane's run D a record arriving in it no longer waits out, on a shared queue.

    On a lane of its own a record that arrives while the lane runs waits for
    the run, then a window: a cycle W + D. On a queue it goes to a lane that
    collects. Lanes whose runs are short beside W stay in step (they all run
    at once, and nobody collects then); once about one lane is always running
    (λ·D/n̄ lanes busy, up to 1) they take turns and a run is fully covered.
    """
    return min(1.0, shared * rate_p * d / n_bar) * d


def _size_bound(
    rate_p: float, b: int, window: float, d_full: float, cv: float, late: float, shared: int = 1
) -> tuple[float, float]:
    """Erlang(B) fill time, then a queue in front of the lanes' deterministic servers.

    ``late`` is the share of records that wait longer than W for their batch
    to close: they arrived while the lane ran, and the window closed the batch.
    ``shared`` lanes take from one queue (SQS): a lane that is invoking takes
    nothing, so the ``c = k − ρk`` lanes that collect fill at λ/c each (at
    least one lane collects), and a closed batch waits for any of the k
    lanes, not its own (Sakasegawa's M/G/k wait instead of k Kingman queues).
    """
    rho = rate_p * d_full / b
    rate = rate_p * shared
    fill_rate = rate / max(1.0, shared * (1.0 - rho))
    p_wait = rho ** (math.sqrt(2.0 * (shared + 1)) - 1.0)
    wq = p_wait / (shared * (1.0 - rho)) * (1.0 / b + cv * cv) / 2.0 * d_full
    mean = (b - 1) / (2.0 * fill_rate) + wq + d_full
    fill = min(poisson.fill_wait_quantile(0.99, b, fill_rate), _close_cap(window, d_full, late))
    tail = (wq / p_wait) * math.log(100.0 * p_wait) if p_wait > P99_SHARE else 0.0
    return mean, fill + d_full + max(0.0, tail)


def _close_cap(window: float, d_full: float, late: float) -> float:
    """The p99 of a record's wait for its batch to close, when the window caps it.

    The window closes a batch at most W after the lane became ready. Only a
    record that arrived while the lane ran waits longer, by what was left of
    that run (uniform up to D): when such records are more than 1 % of all,
    the p99 reaches into them; otherwise it is W. (Capping at W + D for every
    record and then adding the run counted D twice.) Without a window a
    record waits at most for the run in progress.
    """
    if window <= 0:
        return d_full
    return window + d_full * max(0.0, 1.0 - P99_SHARE / late) if late > P99_SHARE else window


def _window_mean(rate_p: float, w: float, d: float) -> float:
    m = rate_p * (d + w)
    idle = poisson.exp_neg(m)
    numerator = m * ((d + w) / 2.0 + d) + idle * (w + rate_p * w * w / 2.0 + (1.0 + rate_p * w) * d)
    return numerator / (m + idle * (1.0 + rate_p * w))


def _window_mean_first_record(rate_p: float, w: float, d: float) -> float:
    """The same accounting when the window opens at the first record available (Kafka, MQ)."""
    no_backlog = poisson.exp_neg(rate_p * d)
    numerator = rate_p * d * (1.5 * d + w) + rate_p * w * (w / 2.0 + d) + no_backlog * (w + d)
    return numerator / (rate_p * (d + w) + no_backlog)


def _window_p99(rate_p: float, w: float, d: float, n_bar: float, m: float, shared: int = 1) -> float:
    """A record waits up to a cycle W + D for its batch to close, then D.

    Without a window and at low traffic a record waits only while every lane
    runs: its own (ρ, M/D/1) or, ``shared`` lanes on one queue, all k of them
    (Sakasegawa's ρ^(√(2(k+1))−1)), and then for the first of them to finish.
    """
    if m >= 1:
        return 0.99 * (d + w) + d
    if w > 0:
        return w + d
    rho = rate_p * d / n_bar
    p_wait = rho ** (math.sqrt(2.0 * (shared + 1)) - 1.0)
    return d / shared * max(0.0, 1.0 - P99_SHARE / p_wait) + d if p_wait > 0 else d


def _timeout(workload: Workload, full_duration_s: float) -> float:
    if workload.function_timeout_s is not None:
        return workload.function_timeout_s
    wanted = math.ceil(full_duration_s / TIMEOUT_MARGIN) if math.isfinite(full_duration_s) else math.inf
    return float(min(max(DEFAULT_TIMEOUT_S, wanted), workload.traits.max_function_timeout_s))


def _cost(
    profile: HandlerProfile,
    workload: Workload,
    candidate: Candidate,
    prices: Prices,
    n_bar: float,
    lanes: int,
) -> Cost:
    memory, arch = candidate.memory_size, candidate.architecture
    low = math.floor(n_bar)
    frac = n_bar - low
    # Billing rounds each invocation up to 1 ms; real batches hold whole records.
    billed = (1 - frac) * billed_seconds(profile.duration(low, memory))
    billed += frac * billed_seconds(profile.duration(low + 1, memory)) if frac > 0 else 0.0
    billed += profile.cold_start_rate * billed_seconds(profile.init_s)
    lam = lambda_cost(
        records=n_bar,
        invocations=1.0,
        billed_s=billed,
        memory_mb=memory,
        architecture=arch,
        prices=prices,
        rate=workload.rate,
    )
    requests = sqs_batch_requests(n_bar, workload.record_bytes, prices.sqs.chunk_bytes)
    src = source_cost(records=n_bar, batch_requests=requests, lanes=lanes, workload=workload, prices=prices)
    floor = lambda_floor(t1_s=profile.times_at(memory)[1], memory_mb=memory, architecture=arch, prices=prices)
    return Cost(lambda_usd=lam, source_usd=src, lambda_floor_usd=floor)
