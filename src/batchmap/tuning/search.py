"""The candidate grid, what rules each candidate out, and how the best one is picked.

Every grid point is predicted by the model, then checked against AWS's rules
(``candidate.aws_rule_violations``), stability (records must not arrive faster
than a lane can process them), the function timeout limit and an optional
downstream limit on simultaneous calls. Among the rest, ``select`` returns the
cheapest that meets the latency target (reference §2.7), or Power Tuning's
balanced score; ``pareto_front`` the candidates no other beats on both cost and
latency.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from batchmap.errors import ConfigError
from batchmap.tuning.candidate import Candidate, aws_rule_violations
from batchmap.tuning.model import Prediction, for_architecture, predict
from batchmap.tuning.prices import ARCHITECTURES, Architecture, Prices
from batchmap.tuning.profile import HandlerProfile
from batchmap.tuning.workload import Workload

Goal = Literal["cost", "balanced", "pareto"]
DEFAULT_BATCH_SIZES = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
DEFAULT_WINDOWS_S = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0)
COST_TIE = 1e-4
"""Costs this close (relative) are equal: the tie goes to lower latency, then smaller B and W."""
EDGE_BAND = 0.10
"""A prediction this close (relative, either side) to the target is decided by the simulator, not the formula."""
DEFAULT_LATENCY_MARGIN = 0.0
"""Share of the target kept in reserve; 0: the simulator settles the edge, so a margin only covers the inputs."""
Decider = Literal["model", "simulation"]


@dataclass(frozen=True, slots=True)
class Grid:
    """The values to try for each setting; every combination is a candidate."""

    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES
    windows_s: tuple[float, ...] = DEFAULT_WINDOWS_S
    memory_sizes: tuple[int, ...] = (512,)
    architectures: tuple[Architecture, ...] = ARCHITECTURES
    maximum_concurrency: tuple[int | None, ...] = (None,)
    parallelization_factors: tuple[int, ...] = (1,)

    def __post_init__(self) -> None:
        for name in (
            "batch_sizes",
            "windows_s",
            "memory_sizes",
            "architectures",
            "maximum_concurrency",
            "parallelization_factors",
        ):
            if not getattr(self, name):
                raise ConfigError(name, getattr(self, name), "at least one value")

    def candidates(self) -> Iterator[Candidate]:
        """Every combination (invalid values raise ``ConfigError`` naming the field)."""
        for memory in self.memory_sizes:
            for arch in self.architectures:
                for conc in self.maximum_concurrency:
                    for factor in self.parallelization_factors:
                        for b in self.batch_sizes:
                            for w in self.windows_s:
                                yield Candidate(b, w, memory, arch, conc, factor)

    def __len__(self) -> int:
        return (
            len(self.batch_sizes)
            * len(self.windows_s)
            * len(self.memory_sizes)
            * len(self.architectures)
            * len(self.maximum_concurrency)
            * len(self.parallelization_factors)
        )


@dataclass(frozen=True, slots=True)
class Objective:
    """What "best" means: a latency target (p99 and/or mean, seconds) and the goal.

    ``goal="cost"`` picks the cheapest candidate meeting the target;
    ``"balanced"`` minimises ``w·cost/max + (1−w)·p99/max`` among those
    (AWS Lambda Power Tuning's score); ``"pareto"`` also picks the cheapest but
    the report leads with the cost/latency front. ``include_source_cost``
    counts SQS/Kinesis charges (on by default: leaving them out over-rewards
    huge batches). ``downstream_limit`` caps lanes × in-batch concurrency.
    ``latency_margin`` keeps that share of every target in reserve, for every
    candidate alike: with 0.05 a 2 s p99 target is met at 1.9 s.
    """

    latency_p99_s: float | None = None
    latency_mean_s: float | None = None
    goal: Goal = "cost"
    balanced_weight: float = 0.5
    include_source_cost: bool = True
    downstream_limit: int | None = None
    latency_margin: float = DEFAULT_LATENCY_MARGIN

    def __post_init__(self) -> None:
        for name in ("latency_p99_s", "latency_mean_s"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ConfigError(name, value, "a latency target in seconds > 0")
        if self.goal not in ("cost", "balanced", "pareto"):
            raise ConfigError("goal", self.goal, "'cost', 'balanced' or 'pareto'")
        if not 0.0 <= self.balanced_weight <= 1.0:
            raise ConfigError("balanced_weight", self.balanced_weight, "a weight between 0 and 1")
        if self.downstream_limit is not None and self.downstream_limit < 1:
            raise ConfigError("downstream_limit", self.downstream_limit, "an integer >= 1")
        if not (math.isfinite(self.latency_margin) and 0.0 <= self.latency_margin < 1.0):
            raise ConfigError("latency_margin", self.latency_margin, "a share of the target, 0 to below 1")

    @property
    def has_target(self) -> bool:
        return self.latency_p99_s is not None or self.latency_mean_s is not None

    def _limits(self, mean_latency_s: float, p99_latency_s: float) -> list[tuple[float, float]]:
        """(value, the target less the margin) for each target set."""
        keep = 1.0 - self.latency_margin
        pairs = [(p99_latency_s, self.latency_p99_s), (mean_latency_s, self.latency_mean_s)]
        return [(value, target * keep) for value, target in pairs if target is not None]

    def met_by(self, mean_latency_s: float, p99_latency_s: float) -> bool:
        """Whether these latencies meet the target, less the margin."""
        return all(value <= limit for value, limit in self._limits(mean_latency_s, p99_latency_s))

    def near(self, mean_latency_s: float, p99_latency_s: float) -> bool:
        """Whether a predicted latency lies within ``EDGE_BAND`` of its target (less the margin)."""
        return any(
            abs(value - limit) <= EDGE_BAND * limit for value, limit in self._limits(mean_latency_s, p99_latency_s)
        )

    def cost_of(self, prediction: Prediction) -> float:
        """The cost this objective minimises: total, or Lambda's alone."""
        return prediction.cost.total_usd if self.include_source_cost else prediction.cost.lambda_usd

    def describe(self) -> str:
        parts = [
            f"p99 <= {self.latency_p99_s:g} s" if self.latency_p99_s else "",
            f"mean <= {self.latency_mean_s:g} s" if self.latency_mean_s else "",
        ]
        text = " and ".join(p for p in parts if p) or "no latency target"
        if self.latency_margin > 0 and self.has_target:
            text += f" (margin {self.latency_margin:.0%})"
        return text


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A candidate, what the model predicts for it, and why it is ruled out (empty: allowed).

    ``decided_by`` says what settled ``meets_target``: the formula, or (near
    the target) the simulator, whose latencies are then kept beside the prediction.
    """

    prediction: Prediction
    rejected: tuple[str, ...]
    meets_target: bool
    cost_usd: float
    decided_by: Decider = "model"
    simulated_mean_s: float | None = None
    simulated_p99_s: float | None = None

    @property
    def candidate(self) -> Candidate:
        return self.prediction.candidate

    @property
    def allowed(self) -> bool:
        return not self.rejected

    @property
    def p99_latency_s(self) -> float:
        """The p99 the verdict rests on: simulated near the target, else predicted."""
        return self.prediction.p99_latency_s if self.simulated_p99_s is None else self.simulated_p99_s

    @property
    def mean_latency_s(self) -> float:
        """The mean latency the verdict rests on: simulated near the target, else predicted."""
        return self.prediction.mean_latency_s if self.simulated_mean_s is None else self.simulated_mean_s

    def verdict(self) -> str:
        """``meets`` or ``misses``, with ``(simulated)`` when the simulator decided."""
        word = "meets" if self.meets_target else "misses"
        return f"{word} (simulated)" if self.decided_by == "simulation" else word


def evaluate(
    profile: HandlerProfile,
    workload: Workload,
    grid: Grid | Sequence[Candidate],
    objective: Objective,
    prices: Prices,
) -> list[Evaluation]:
    """Predict and check every candidate; the x86/arm twins share one batching computation."""
    shared: dict[Candidate, Prediction] = {}
    out: list[Evaluation] = []
    for candidate in grid.candidates() if isinstance(grid, Grid) else grid:
        key = replace(candidate, architecture="x86_64")
        base = shared.get(key)
        if base is None:
            prediction = predict(profile, workload, candidate, prices)
            shared[key] = prediction
        else:
            prediction = for_architecture(base, candidate.architecture, profile, workload, prices)
        out.append(_judge(profile, workload, objective, prediction))
    return out


def _judge(profile: HandlerProfile, workload: Workload, objective: Objective, p: Prediction) -> Evaluation:
    c = p.candidate
    rejected = list(aws_rule_violations(c, workload))
    if p.regime == "impossible":
        rejected.append(f"no record fits one invocation (limit: {p.cap_reason})")
    elif p.regime == "unstable":
        rejected.append(
            f"unstable: {p.rate_per_lane:.3g} rec/s per lane >= lane capacity "
            f"{p.batch_cap / p.full_duration_s:.3g} rec/s ({p.lanes} lanes)"
        )
    limit = workload.traits.max_function_timeout_s
    if p.full_duration_s > 0.8 * limit:
        rejected.append(
            f"a full batch takes {p.full_duration_s:.3g} s, over 80% of the {limit:g} s timeout limit"
        )
    if objective.downstream_limit is not None and p.lanes * profile.concurrency > objective.downstream_limit:
        rejected.append(
            f"{p.lanes} lanes x {profile.concurrency} in-batch calls exceed the downstream limit "
            f"{objective.downstream_limit}"
        )
    if workload.visibility_timeout_s is not None and workload.is_sqs:
        needed = 6 * p.timeout_s + c.window_s
        if workload.visibility_timeout_s < needed:
            rejected.append(
                f"sqs: VisibilityTimeout {workload.visibility_timeout_s:g} s < 6 x Timeout + window "
                f"= {needed:g} s"
            )
    meets = objective.met_by(p.mean_latency_s, p.p99_latency_s)
    cost = objective.cost_of(p)
    return Evaluation(p, tuple(rejected), meets, cost)


def select(evaluations: Sequence[Evaluation], objective: Objective) -> Evaluation | None:
    """The best allowed candidate meeting ``objective``'s target, or ``None`` when none does.

    A candidate the simulator decided is judged on its simulated latencies.
    """
    scored = [
        (objective.cost_of(e.prediction), e)
        for e in evaluations
        if e.allowed and objective.met_by(e.mean_latency_s, e.p99_latency_s)
    ]
    if not scored:
        return None
    if objective.goal == "balanced":
        top_cost = max(cost for cost, _ in scored) or 1.0
        top_lat = max(e.prediction.p99_latency_s for _, e in scored) or 1.0
        w = objective.balanced_weight

        def score(item: tuple[float, Evaluation]) -> tuple[float, tuple[float, float, int, float]]:
            cost, e = item
            return w * cost / top_cost + (1 - w) * e.prediction.p99_latency_s / top_lat, _order(e)

        return min(scored, key=score)[1]
    cheapest = min(cost for cost, _ in scored)
    tied = [e for cost, e in scored if cost <= cheapest * (1.0 + COST_TIE)]
    return min(tied, key=_order)


def _order(e: Evaluation) -> tuple[float, float, int, float]:
    """Tie-breaks: lower p99, lower mean, smaller batch, shorter window."""
    p = e.prediction
    return (p.p99_latency_s, p.mean_latency_s, e.candidate.batch_size, e.candidate.window_s)


def pareto_front(evaluations: Sequence[Evaluation]) -> list[Evaluation]:
    """Allowed candidates that no other beats on both cost and p99 latency, cheapest first.

    Candidates equal to one already on the front (same cost and p99 within
    ``COST_TIE``, e.g. BatchSize 100 and 200 when the window closes every
    batch) are left out; the smaller settings stay.
    """
    allowed = sorted(
        (e for e in evaluations if e.allowed and math.isfinite(e.prediction.p99_latency_s)),
        key=lambda e: (e.cost_usd, _order(e)),
    )
    front: list[Evaluation] = []
    best = math.inf
    for e in allowed:
        if e.prediction.p99_latency_s < best * (1.0 - COST_TIE):
            front.append(e)
            best = e.prediction.p99_latency_s
    return front
