"""The edge: candidates whose predicted latency lands near the target are decided by the simulator.

The formulas of reference §2.5 are bounds and approximations: a few percent
either way is enough to rule out a cheaper setting that meets the target, or to
let through one that misses it. Within ``EDGE_BAND`` of the target the
verdict is therefore the simulator's (steady Poisson arrivals at the
workload's rate, seeded, long enough for a stable p99); further away the
formula's error cannot change it. Only the candidates that can still change
the choice are simulated: in order of cost, up to the first that meets the
target (for the balanced goal, every candidate near the target).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from batchmap.tuning.arrivals import ArrivalSpec, generate
from batchmap.tuning.candidate import Candidate
from batchmap.tuning.prices import Prices
from batchmap.tuning.profile import HandlerProfile
from batchmap.tuning.search import COST_TIE, Evaluation, Objective
from batchmap.tuning.simulate import WARMUP_SHARE, SimulationResult, simulate
from batchmap.tuning.workload import Workload

EDGE_RECORDS = 20_000
"""Records measured per edge simulation: the p99 rests on the slowest 200 of them."""
EDGE_BATCHES = 1_000
"""Batches measured at least, so that large batches (whose records share one fate) still give a stable p99."""


def settle_edge(
    profile: HandlerProfile,
    workload: Workload,
    evaluations: Sequence[Evaluation],
    objective: Objective,
    prices: Prices,
    *,
    seed: int = 0,
    every: bool = False,
) -> list[Evaluation]:
    """``evaluations`` with the verdict of each near-target candidate that matters taken from a simulation.

    ``every`` (and the balanced goal) settles every near-target candidate;
    otherwise the walk stops at the first candidate, by cost, that meets the
    target (and its equals in cost), since nothing dearer can be chosen.
    """
    out = list(evaluations)
    if not objective.has_target:
        return out
    every = every or objective.goal == "balanced"
    runs: dict[Candidate, SimulationResult] = {}
    stop_at: float | None = None
    for i in sorted(range(len(out)), key=lambda i: out[i].cost_usd):
        e = out[i]
        if stop_at is not None and e.cost_usd > stop_at:
            break
        if not e.allowed:
            continue
        p = e.prediction
        if objective.near(p.mean_latency_s, p.p99_latency_s):
            sim = _simulate(profile, workload, e, prices, seed, runs)
            out[i] = e = replace(
                e,
                meets_target=objective.met_by(sim.mean_latency_s, sim.p99_latency_s),
                decided_by="simulation",
                simulated_mean_s=sim.mean_latency_s,
                simulated_p99_s=sim.p99_latency_s,
            )
        if e.meets_target and stop_at is None and not every:
            stop_at = e.cost_usd * (1.0 + COST_TIE)
    return out


def edge_horizon_s(workload: Workload, mean_batch: float) -> float:
    """Simulated seconds for ``EDGE_RECORDS`` records and ``EDGE_BATCHES`` batches after the warm-up."""
    records = max(EDGE_RECORDS, EDGE_BATCHES * mean_batch)
    return records / workload.rate / (1.0 - 2.0 * WARMUP_SHARE)


def _simulate(
    profile: HandlerProfile,
    workload: Workload,
    e: Evaluation,
    prices: Prices,
    seed: int,
    runs: dict[Candidate, SimulationResult],
) -> SimulationResult:
    """One seeded simulation per batching setting: the x86_64/arm64 twins share it."""
    key = replace(e.candidate, architecture="x86_64")
    if key not in runs:
        horizon = edge_horizon_s(workload, e.prediction.mean_batch)
        times = generate(ArrivalSpec(rate=workload.rate, horizon_s=horizon), seed=seed)
        runs[key] = simulate(profile, workload, e.candidate, prices, times, seed=seed)
    return runs[key]
