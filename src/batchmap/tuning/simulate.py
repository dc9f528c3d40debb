"""A discrete-event simulation of an event source mapping, driving the engine's own ``Batcher``.

Each lane of a stream or Kafka (shard × PF, poller) gets its share of the
arrivals and runs the real batching policy (``batchmap.engine.batcher``) on
simulated time: records that arrive while the lane's invocation runs wait, the
window opens when the lane is ready (or at the first record, for Kafka), and a
closed batch is invoked for D(n). Lanes are merged in time order, so a callback
(the adaptive controller) sees every completed batch before any lane starts a
batch after it. The lanes of a queue (SQS) share one line of messages: without
a callback they run in ``shared_queue.simulate_queue`` (a lane that is invoking
takes nothing; the others take what comes), as the model predicts them.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from operator import attrgetter
from typing import TYPE_CHECKING

from batchmap.config.batch_policy import BatchPolicy
from batchmap.engine.adaptive import AdaptiveController, BatchObservation
from batchmap.engine.batcher import Batch, Batcher, CloseReason
from batchmap.errors import ConfigError
from batchmap.tuning.candidate import Candidate
from batchmap.tuning.cost import (
    Cost,
    billed_seconds,
    lambda_cost,
    lambda_floor,
    source_cost,
    sqs_batch_requests,
)
from batchmap.tuning.extras import require
from batchmap.tuning.model import batch_caps, lane_count
from batchmap.tuning.prices import Prices
from batchmap.tuning.profile import HandlerProfile
from batchmap.tuning.shared_queue import Dealing, QueueSettings, simulate_queue
from batchmap.tuning.workload import Workload

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

WARMUP_SHARE = 0.05
"""Share of the horizon left out at each end: the lanes start empty, and the last batches close early."""


@dataclass(frozen=True, slots=True)
class BatchRun:
    """One simulated invocation: what a live engine would observe after a batch."""

    lane: int
    size: int
    reason: CloseReason
    opened_at: float
    closed_at: float
    started_at: float
    finished_at: float
    oldest_arrival: float
    mean_arrival: float
    policy: BatchPolicy

    @property
    def duration_s(self) -> float:
        return self.finished_at - self.started_at


OnBatch = Callable[[BatchRun], BatchPolicy | None]
"""Called after each batch completes; a returned policy applies from each lane's next batch."""


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """What the simulation observed after its warm-up (latencies in seconds, cost per million records)."""

    lanes: int
    records: int
    batches: int
    mean_batch: float
    mean_latency_s: float
    p50_latency_s: float
    p99_latency_s: float
    max_latency_s: float
    invocations_per_hour: float
    concurrency: float
    close_reasons: dict[str, int]
    cost: Cost
    runs: tuple[BatchRun, ...] = field(repr=False, compare=False, default=())


def simulate(
    profile: HandlerProfile,
    workload: Workload,
    candidate: Candidate,
    prices: Prices,
    arrivals: NDArray[np.float64],
    *,
    seed: int = 0,
    warmup_s: float | None = None,
    on_batch: OnBatch | None = None,
    keep_runs: bool = False,
) -> SimulationResult:
    """Run ``arrivals`` (sorted seconds) through ``candidate`` and measure what happens."""
    xp = require("numpy")
    if arrivals.size < 2:
        raise ConfigError("arrivals", int(arrivals.size), "at least two arrival times")
    rng = xp.random.default_rng(seed)
    caps = batch_caps(profile, workload, candidate)
    size_cap = min(value for name, value in caps.items() if name != "payload")
    if size_cap < 1 or caps["payload"] < 1:
        raise ConfigError(
            "batch_size", candidate.batch_size, f"room for at least one record (limits: {caps})"
        )
    lanes = lane_count(profile, workload, candidate, prices, min(caps.values()))
    if workload.is_sqs and lanes > 1 and on_batch is None:
        full: CloseReason = "payload" if caps["payload"] < size_cap else "size"
        return _shared_queue(profile, workload, candidate, prices, arrivals, lanes, (min(caps.values()), full),
                             rng, warmup_s, keep_runs)
    shares = rng.integers(0, lanes, size=arrivals.size) if lanes > 1 else xp.zeros(arrivals.size, dtype=int)
    lane_times = [arrivals[shares == lane] for lane in range(lanes)]
    current = [
        BatchPolicy(
            batch_size=size_cap, window_s=candidate.window_s, window_start=workload.traits.window_start
        )
    ]
    service = _service(profile, candidate.memory_size, rng)
    runs_by_lane: list[list[BatchRun]] = [[] for _ in range(lanes)]
    lane_runs = [
        _lane(
            lane,
            times.tolist(),
            lambda: current[0],
            service,
            workload.event_record_bytes,
            workload.poll_delay_s,
        )
        for lane, times in enumerate(lane_times)
    ]
    if on_batch is None:  # lanes are independent: no need to interleave them in time
        runs_by_lane = [list(gen) for gen in lane_runs]
    else:
        heap: list[tuple[float, int, BatchRun]] = []
        for lane, gen in enumerate(lane_runs):
            _push(heap, lane, gen)
        while heap:
            _, lane, run = heapq.heappop(heap)
            runs_by_lane[lane].append(run)
            update = on_batch(run)
            if update is not None:
                current[0] = update
            _push(heap, lane, lane_runs[lane])
    start, end = _measured_span(arrivals, warmup_s)
    latencies = []
    for runs, times in zip(runs_by_lane, lane_times, strict=True):
        finished = xp.repeat([r.finished_at for r in runs], [r.size for r in runs])
        arrived = times[: finished.size]
        lat = finished - arrived
        latencies.append(lat[(arrived >= start) & (arrived <= end)])
    lat_all = xp.concatenate(latencies) if latencies else xp.zeros(0)
    return _summarise(runs_by_lane, lat_all, start, end, profile, workload, candidate, prices, keep_runs)


def _shared_queue(
    profile: HandlerProfile,
    workload: Workload,
    candidate: Candidate,
    prices: Prices,
    arrivals: NDArray[np.float64],
    lanes: int,
    closing: tuple[int, CloseReason],
    rng: np.random.Generator,
    warmup_s: float | None,
    keep_runs: bool,
) -> SimulationResult:
    """Lanes that share one queue (SQS, the embedded engine): ``simulate_queue`` with the profile's jittered D(n),
    dealing records as the platform does (SQS at random, the engine's lanes in turns).

    ``closing`` is the most records a batch holds and what closes a full one (BatchSize or the 6 MB payload).
    """
    cap, full = closing
    policy = BatchPolicy(batch_size=cap, window_s=candidate.window_s, window_start=workload.traits.window_start)
    service = _service(profile, candidate.memory_size, rng)
    seed = int(rng.integers(2**31))
    dealing: Dealing = "turns" if workload.platform == "batchmap" else "random"
    run = simulate_queue(arrivals, 0.0, 0.0, QueueSettings(cap, candidate.window_s, lanes), seed=seed,
                         duration=service, dealing=dealing)
    start, end = _measured_span(arrivals, warmup_s)
    runs_by_lane: list[list[BatchRun]] = [[] for _ in range(lanes)]
    for b in run.batches:
        if keep_runs or start <= b.closed_at <= end:  # only the measured ones are summed
            reason: CloseReason = full if b.size >= cap else "window"
            runs_by_lane[b.lane].append(BatchRun(b.lane, b.size, reason, b.closed_at, b.closed_at, b.closed_at,
                                                 b.finished_at, b.oldest_arrival, b.mean_arrival, policy))
    lat = run.latency(start, end)
    lat = lat[~require("numpy").isnan(lat)]
    return _summarise(runs_by_lane, lat, start, end, profile, workload, candidate, prices, keep_runs)


def _measured_span(arrivals: NDArray[np.float64], warmup_s: float | None) -> tuple[float, float]:
    """The arrivals measured: after the warm-up (``warmup_s``, else the first ``WARMUP_SHARE``) and before the
    last ``WARMUP_SHARE`` (whose batches the end of the run cuts short)."""
    first, last = float(arrivals[0]), float(arrivals[-1])
    edge = WARMUP_SHARE * (last - first)
    return first + (edge if warmup_s is None else warmup_s), last - edge


def _push(heap: list[tuple[float, int, BatchRun]], lane: int, gen: Iterator[BatchRun]) -> None:
    run = next(gen, None)
    if run is not None:
        heapq.heappush(heap, (run.finished_at, lane, run))


def _service(profile: HandlerProfile, memory_mb: int, rng: np.random.Generator) -> Callable[[int], float]:
    """D(n), with lognormal jitter of the profile's CV and cold starts at the profile's rate."""
    t0, t1 = profile.times_at(memory_mb)
    cv, cold, init = profile.duration_cv, profile.cold_start_rate, profile.init_s
    sigma = math.sqrt(math.log1p(cv * cv))

    def duration(n: int) -> float:
        d = t0 + t1 * n
        if cv > 0:
            d *= float(rng.lognormal(-sigma * sigma / 2.0, sigma))
        if cold > 0 and float(rng.random()) < cold:
            d += init
        return d

    return duration


def _lane(
    lane: int,
    times: list[float],
    policy_of: Callable[[], BatchPolicy],
    service: Callable[[int], float],
    size: int,
    poll_s: float = 0.0,
) -> Iterator[BatchRun]:
    """One lane: collect with the ``Batcher``, invoke, wait D(n), become ready again.

    With a polling interval (Kinesis: 1 s), a record that arrives after the
    lane became ready is seen at the lane's next poll: ready, ready + poll_s, ...
    """
    i, free_at = 0, 0.0
    batcher: Batcher[int] = Batcher(policy_of(), free_at)
    while True:
        closed, now, i = _collect(batcher, times, i, free_at, size, poll_s)
        if not closed:
            return
        for batch in closed:
            items = batch.items
            n, first = len(items), items[0]
            started = now if now > free_at else free_at
            free_at = started + service(n)
            oldest = times[first]
            mean = oldest if n == 1 else math.fsum(times[first : first + n]) / n
            yield BatchRun(
                lane,
                n,
                batch.reason,
                batch.opened_at,
                batch.closed_at,
                started,
                free_at,
                oldest,
                mean,
                batcher.policy,
            )
        policy = policy_of()
        if policy is not batcher.policy:
            batcher = Batcher(policy, free_at)
        else:
            batcher.ready(free_at)


def _collect(
    batcher: Batcher[int], times: list[float], i: int, free_at: float, size: int, poll_s: float = 0.0
) -> tuple[list[Batch[int]], float, int]:
    """Feed records (available at max(arrival, free_at)) until a batch closes or they run out.

    A record added to a batch that already holds some cannot move its window,
    so ``due`` is asked again only after the first record of a batch. Once the
    window is known (and without a polling interval), the records arriving
    before it closes that fit the batch go in with one ``add_many``: the same
    batches as one ``add`` each, a large share of the simulation's time saved.
    """
    n = len(times)
    due = batcher.due()
    while True:
        if i < n:
            t = times[i]
            if t < free_at:
                t = free_at
            elif poll_s > 0.0 and t > free_at:
                t = free_at + math.ceil((t - free_at) / poll_s) * poll_s
        else:
            t = math.inf
        if due is not None and due < t:
            batch = batcher.poll(due)
            assert batch is not None
            return [batch], due, i
        if i >= n:
            return [], free_at, i
        if due is not None and poll_s == 0.0:
            count = _fitting(batcher, times, i, due, size)
            last = times[i + count - 1]
            t = last if last > free_at else free_at  # when the last of them arrives: a full batch closes then
            closed = batcher.add_many(range(i, i + count), [size] * count, t)
            i += count
        else:
            closed = batcher.add(i, size, t)
            i += 1
        if closed:
            return closed, t, i
        if due is None:
            due = batcher.due()


def _fitting(batcher: Batcher[int], times: list[float], i: int, due: float, size: int) -> int:
    """How many records from ``i`` on arrive by ``due`` and fit the open batch (``i`` itself does: at least 1).

    The batch holds records, so each one more adds ``size`` bytes and a separator.
    """
    policy = batcher.policy
    by_due = bisect.bisect_right(times, due, lo=i) - i
    by_size = policy.batch_size - len(batcher)
    by_payload = (policy.max_payload_bytes - batcher.payload_bytes) // (size + 2)
    return max(1, min(by_due, by_size, by_payload))


def _summarise(
    runs_by_lane: list[list[BatchRun]],
    lat_all: NDArray[np.float64],
    start: float,
    end: float,
    profile: HandlerProfile,
    workload: Workload,
    candidate: Candidate,
    prices: Prices,
    keep_runs: bool,
) -> SimulationResult:
    xp = require("numpy")
    measured = [r for runs in runs_by_lane for r in runs if start <= r.closed_at <= end]
    if lat_all.size == 0 or not measured:
        raise ConfigError("horizon", end, "a horizon long enough for batches after the warm-up")
    sizes = [r.size for r in measured]
    records = sum(sizes)
    durations = [r.finished_at - r.started_at for r in measured]  # ``duration_s``, read once each
    span = max(end - start, 1e-9)
    reasons: dict[str, int] = {}
    for r in measured:
        reasons[r.reason] = reasons.get(r.reason, 0) + 1
    memory, arch = candidate.memory_size, candidate.architecture
    billed = math.fsum(map(billed_seconds, durations))
    requests = math.fsum(_sqs_requests(sizes, workload, prices)) if workload.is_sqs else 0.0
    cost = Cost(
        lambda_usd=lambda_cost(
            records=records,
            invocations=len(measured),
            billed_s=billed,
            memory_mb=memory,
            architecture=arch,
            prices=prices,
            rate=workload.rate,
        ),
        source_usd=source_cost(
            records=records,
            batch_requests=requests,
            lanes=len(runs_by_lane),
            workload=workload,
            prices=prices,
        ),
        lambda_floor_usd=lambda_floor(
            t1_s=profile.times_at(memory)[1], memory_mb=memory, architecture=arch, prices=prices
        ),
    )
    everything = (r for runs in runs_by_lane for r in runs)
    all_runs = tuple(sorted(everything, key=attrgetter("finished_at"))) if keep_runs else ()
    return SimulationResult(
        lanes=len(runs_by_lane),
        records=int(lat_all.size),
        batches=len(measured),
        mean_batch=records / len(measured),
        mean_latency_s=float(lat_all.mean()),
        p50_latency_s=float(xp.percentile(lat_all, 50)),
        p99_latency_s=float(xp.percentile(lat_all, 99)),
        max_latency_s=float(lat_all.max()),
        invocations_per_hour=3600.0 * len(measured) / span,
        concurrency=math.fsum(durations) / span,
        close_reasons=reasons,
        cost=cost,
        runs=all_runs,
    )


def _sqs_requests(sizes: list[int], workload: Workload, prices: Prices) -> list[float]:
    """Each batch's SQS requests (``sqs_batch_requests``), worked out once per batch size."""
    known: dict[int, float] = {}
    out = []
    for n in sizes:
        value = known.get(n)
        if value is None:
            value = known[n] = sqs_batch_requests(n, workload.record_bytes, prices.sqs.chunk_bytes)
        out.append(value)
    return out


def adaptive_driver(controller: AdaptiveController) -> OnBatch:
    """An ``on_batch`` callback that feeds each simulated batch to ``controller`` and applies its answer.

    The lanes here are dealt their arrivals up front, so the controller's lane count is not applied:
    ``shared_queue.adaptive_lanes`` drives lanes that share a queue and come and go.
    """

    def on_batch(run: BatchRun) -> BatchPolicy:
        seen = BatchObservation(
            size=run.size,
            duration_s=run.duration_s,
            oldest_latency_s=run.finished_at - run.oldest_arrival,
            mean_latency_s=run.finished_at - run.mean_arrival,
            finished_s=run.finished_at,
        )
        settings = controller.observe(seen)
        return BatchPolicy(
            batch_size=settings.batch_size,
            window_s=settings.window_s,
            window_start=run.policy.window_start,
            max_payload_bytes=run.policy.max_payload_bytes,
        )

    return on_batch
