"""From a grid to one recommendation, with the reasoning a user can check.

``recommend`` evaluates the grid with the model, lets the simulator decide
the candidates near the target (``edge.settle_edge``), picks the best allowed
candidate (``search.select``), optionally confirms the top few in the
simulator under the real arrival pattern (reference §2.7 step 5: bursts and
daily cycles are what the steady-state formulas cannot see), and explains the
choice in plain sentences.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from batchmap.tuning.arrivals import ArrivalSpec, generate
from batchmap.tuning.candidate import Candidate
from batchmap.tuning.cost import monthly_usd
from batchmap.tuning.edge import EDGE_BATCHES, EDGE_RECORDS, edge_horizon_s, settle_edge
from batchmap.tuning.prices import Prices
from batchmap.tuning.profile import HandlerProfile
from batchmap.tuning.search import EDGE_BAND, Evaluation, Grid, Objective, evaluate, pareto_front, select
from batchmap.tuning.simulate import SimulationResult, simulate
from batchmap.tuning.workload import Workload

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class Confirmation:
    """A candidate re-checked in the simulator under the given arrivals."""

    evaluation: Evaluation
    simulation: SimulationResult
    meets_target: bool


@dataclass(frozen=True, slots=True)
class Recommendation:
    """The chosen settings (``chosen`` is ``None`` when nothing meets the target) and why."""

    profile: HandlerProfile
    workload: Workload
    objective: Objective
    evaluations: tuple[Evaluation, ...]
    chosen: Evaluation | None
    front: tuple[Evaluation, ...]
    confirmations: tuple[Confirmation, ...]
    arrivals: ArrivalSpec | None
    reasoning: tuple[str, ...]
    current: Evaluation | None = None
    price_region: str = "us-east-1"

    def monthly_usd(self, e: Evaluation) -> float:
        """``e``'s total cost over a month at the workload's rate."""
        return monthly_usd(e.prediction.cost.total_usd, self.workload.rate)

    def settings(self) -> dict[str, str]:
        """The chosen settings as AWS CLI flags: mapping flags and function flags."""
        if self.chosen is None:
            return {}
        c, p = self.chosen.candidate, self.chosen.prediction
        mapping = f"--batch-size {c.batch_size} --maximum-batching-window-in-seconds {c.window_s:g}"
        if c.maximum_concurrency is not None:
            mapping += f" --scaling-config MaximumConcurrency={c.maximum_concurrency}"
        if self.workload.is_stream:
            mapping += f" --parallelization-factor {c.parallelization_factor}"
        timeout = math.ceil(p.timeout_s)
        function = f"--memory-size {c.memory_size} --timeout {timeout} --architectures {c.architecture}"
        return {"event source mapping": mapping, "function": function}


def recommend(
    profile: HandlerProfile,
    workload: Workload,
    grid: Grid | Sequence[Candidate],
    objective: Objective,
    prices: Prices,
    *,
    arrivals: ArrivalSpec | None = None,
    confirm_top: int = 3,
    seed: int = 0,
    current: Candidate | None = None,
) -> Recommendation:
    """Evaluate, select, optionally confirm in the simulator, and explain.

    ``current`` is the mapping's present configuration (from a template, say):
    it is evaluated too, and the reasoning compares the choice with it.
    """
    evaluations = settle_edge(
        profile, workload, evaluate(profile, workload, grid, objective, prices), objective, prices, seed=seed
    )
    present = None
    if current is not None:
        judged = evaluate(profile, workload, [current], objective, prices)
        present = settle_edge(profile, workload, judged, objective, prices, seed=seed, every=True)[0]
    chosen = select(evaluations, objective)
    confirmations: tuple[Confirmation, ...] = ()
    if arrivals is not None and chosen is not None:
        confirmations = _confirm(
            profile, workload, evaluations, objective, prices, arrivals, confirm_top, seed
        )
        passed = [c for c in confirmations if c.meets_target]
        chosen = (
            passed[0].evaluation
            if passed
            else min(confirmations, key=lambda c: c.simulation.p99_latency_s).evaluation
        )
    front = tuple(pareto_front(evaluations))
    reasoning = _explain(profile, workload, objective, evaluations, chosen, confirmations, arrivals, prices.region)
    if present is not None:
        reasoning.append(_compare_current(present, chosen))
    return Recommendation(
        profile,
        workload,
        objective,
        tuple(evaluations),
        chosen,
        front,
        confirmations,
        arrivals,
        tuple(reasoning),
        present,
        prices.region,
    )


def _confirm(
    profile: HandlerProfile,
    workload: Workload,
    evaluations: Sequence[Evaluation],
    objective: Objective,
    prices: Prices,
    arrivals: ArrivalSpec,
    top: int,
    seed: int,
) -> tuple[Confirmation, ...]:
    """Simulate the ``top`` best candidates (by the model) under ``arrivals``, best first."""
    times = generate(arrivals, seed=seed)
    ranked: list[Evaluation] = []
    remaining = list(evaluations)
    while len(ranked) < top:
        best = select(remaining, objective)
        if best is None:
            break
        ranked.append(best)
        remaining = [e for e in remaining if e is not best]
    out = []
    for e in ranked:
        run_times = _edge_times(e, arrivals, workload, seed) if _settled_alike(e, arrivals, workload) else times
        sim = simulate(profile, workload, e.candidate, prices, run_times, seed=seed)
        meets = objective.met_by(sim.mean_latency_s, sim.p99_latency_s)
        out.append(Confirmation(e, sim, meets))
    return tuple(out)


def _settled_alike(e: Evaluation, arrivals: ArrivalSpec, workload: Workload) -> bool:
    """Whether the edge already simulated ``e`` under the same steady traffic, for longer."""
    return e.decided_by == "simulation" and arrivals.kind == "poisson" and arrivals.rate == workload.rate


def _edge_times(e: Evaluation, arrivals: ArrivalSpec, workload: Workload, seed: int) -> NDArray[np.float64]:
    """The edge's own arrivals (same seed, longer horizon), so a shorter run cannot overturn its verdict."""
    horizon = max(arrivals.horizon_s, edge_horizon_s(workload, e.prediction.mean_batch))
    return generate(replace(arrivals, horizon_s=horizon), seed=seed)


def _explain(
    profile: HandlerProfile,
    workload: Workload,
    objective: Objective,
    evaluations: Sequence[Evaluation],
    chosen: Evaluation | None,
    confirmations: Sequence[Confirmation],
    arrivals: ArrivalSpec | None,
    region: str,
) -> list[str]:
    lines = [
        f"Evaluated {len(evaluations)} candidates at {workload.rate:g} records/s from {workload.source}, "
        f"D(n) = {profile.t0_s * 1000:.3g} ms + {profile.t1_s * 1000:.3g} ms x n "
        f"(at {profile.reference_memory_mb} MB)."
    ]
    reasons = Counter(
        r.split(":")[0] if r.startswith("unstable") else r for e in evaluations for r in e.rejected
    )
    if reasons:
        detail = "; ".join(f"{n} x {r}" for r, n in reasons.most_common(4))
        lines.append(f"Ruled out {sum(1 for e in evaluations if not e.allowed)}: {detail}.")
    allowed = [e for e in evaluations if e.allowed]
    meeting = [e for e in allowed if e.meets_target]
    if objective.latency_p99_s is None and objective.latency_mean_s is None:
        lines.append(f"No latency target: {len(allowed)} allowed candidates, the cheapest wins.")
    else:
        lines.append(f"{len(meeting)} of {len(allowed)} allowed candidates meet {objective.describe()}.")
        lines.extend(_edge_words(allowed))
    if chosen is None:
        lines.extend(_nothing_meets(allowed))
        return lines
    lines.extend(_why_chosen(chosen, allowed, objective, workload, region))
    if arrivals is not None and confirmations:
        lines.extend(_confirmed(chosen, confirmations, arrivals))
    return lines


def _latency_words(e: Evaluation) -> str:
    """Mean and p99 as the verdict saw them: simulated (with the formula's beside) or predicted."""
    p = e.prediction
    if e.decided_by == "simulation":
        return (
            f"mean {e.mean_latency_s:.3g} s, p99 {e.p99_latency_s:.3g} s simulated "
            f"(formula: {p.mean_latency_s:.3g} s, {p.p99_latency_s:.3g} s)"
        )
    return f"mean {p.mean_latency_s:.3g} s, p99 {p.p99_latency_s:.3g} s"


def _edge_words(allowed: Sequence[Evaluation]) -> list[str]:
    settled = [e for e in allowed if e.decided_by == "simulation"]
    if not settled:
        return []
    met = sum(1 for e in settled if e.meets_target)
    return [
        f"{len(settled)} predicted within {EDGE_BAND:.0%} of the target were decided by simulation "
        f"(Poisson arrivals, at least {EDGE_RECORDS:,} records and {EDGE_BATCHES:,} batches each): "
        f"{met} {'meets' if met == 1 else 'meet'} it."
    ]


def _compare_current(present: Evaluation, chosen: Evaluation | None) -> str:
    line = (
        f"Current settings {present.candidate.label()}: ${present.cost_usd:.4f}/M, "
        f"{_latency_words(present)} ({present.verdict()} the target"
    )
    line += f"; not allowed: {'; '.join(present.rejected)})" if present.rejected else ")"
    if chosen is not None and present.cost_usd > 0 and math.isfinite(present.cost_usd):
        change = chosen.cost_usd / present.cost_usd - 1.0
        line += f"; the recommendation costs {abs(change):.0%} {'less' if change < 0 else 'more'}"
    return line + "."


def _nothing_meets(allowed: Sequence[Evaluation]) -> list[str]:
    if not allowed:
        return ["No candidate is allowed: widen the grid (batch sizes, windows, concurrency) or add lanes."]
    fastest = min(allowed, key=lambda e: e.prediction.p99_latency_s)
    p = fastest.prediction
    return [
        f"Nothing meets the target. The lowest p99 on this grid is {p.p99_latency_s:.3g} s "
        f"(mean {p.mean_latency_s:.3g} s) with {fastest.candidate.label()}: relax the target, give more "
        "memory, or process records concurrently inside the batch."
    ]


def _why_chosen(
    chosen: Evaluation, allowed: Sequence[Evaluation], objective: Objective, workload: Workload, region: str
) -> list[str]:
    p, c = chosen.prediction, chosen.candidate
    month = monthly_usd(p.cost.total_usd, workload.rate)
    lines = [
        f"Chosen: {c.label()} at ${p.cost.total_usd:.4f} per million records (Lambda "
        f"${p.cost.lambda_usd:.4f} + {workload.source} ${p.cost.source_usd:.4f}), ${month:,.2f} a month "
        f"at {workload.rate:g} records/s, {region} prices; batches average "
        f"{p.mean_batch:.3g} records, closed mostly by {_regime_words(p.regime)}; "
        f"{_latency_words(chosen)}; {p.invocations_per_hour:,.0f} invocations/h."
    ]
    cheaper = [e for e in allowed if e.cost_usd < chosen.cost_usd and not e.meets_target]
    if cheaper:
        best = max(cheaper, key=lambda e: e.cost_usd)
        lines.append(
            f"The next cheaper setting misses the target: {best.candidate.label()} would cost "
            f"${best.cost_usd:.4f}/M but {_latency_words(best)}."
        )
    floor = p.cost.lambda_floor_usd
    if floor > 0:
        lines.append(
            f"Lambda's floor (infinitely large batches) is ${floor:.4f}/M; the chosen Lambda cost is "
            f"{p.cost.lambda_usd / floor:.3g}x that floor."
        )
    if p.mean_batch < 0.5 * c.batch_size and p.regime != "size":
        lines.append(
            f"Batches average {p.mean_batch:.3g}, not {c.batch_size}: {p.lanes} lanes each see "
            f"{p.rate_per_lane:.3g} records/s, and the window closes them first."
        )
    if p.cap_reason != "batch_size":
        lines.append(f"The {p.cap_reason} limit caps a batch at {p.batch_cap} records.")
    if workload.is_sqs and p.regime == "idle" and c.window_s > 0:
        lines.append(
            "At this low traffic AWS may wait up to 20 s before invoking an SQS mapping with a window."
        )
    if workload.is_sqs:
        lines.append(
            f"Set the queue's VisibilityTimeout to at least 6 x Timeout + window = "
            f"{6 * math.ceil(p.timeout_s) + c.window_s:g} s."
        )
    return lines


def _confirmed(chosen: Evaluation, confirmations: Sequence[Confirmation], arrivals: ArrivalSpec) -> list[str]:
    lines = []
    for conf in confirmations:
        s = conf.simulation
        verdict = "meets" if conf.meets_target else "misses"
        lines.append(
            f"Simulated {arrivals.kind} arrivals ({s.records:,} records): "
            f"{conf.evaluation.candidate.label()} "
            f"{verdict} the target (mean {s.mean_latency_s:.3g} s, p99 {s.p99_latency_s:.3g} s, "
            f"batches {s.mean_batch:.3g}, ${s.cost.total_usd:.4f}/M)."
        )
    if not any(c.meets_target for c in confirmations):
        lines.append(
            f"None of the top {len(confirmations)} meets the target under these arrivals; kept "
            f"{chosen.candidate.label()}, the lowest simulated p99."
        )
    return lines


def _regime_words(regime: str) -> str:
    return {
        "size": "size (BatchSize fills first)",
        "window": "the batching window",
        "idle": "the window on a lone record (idle traffic)",
    }.get(regime, regime)
