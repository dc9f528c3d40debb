"""The terminal table: the candidates worth reading, cheapest first, the chosen one marked."""

from __future__ import annotations

import math
from collections.abc import Sequence

from batchmap.tuning.cost import monthly_usd
from batchmap.tuning.recommend import Recommendation
from batchmap.tuning.search import COST_TIE, Evaluation

HEADERS = (
    "",
    "B",
    "W s",
    "MB",
    "arch",
    "lanes",
    "regime",
    "n̄",
    "D s",
    "inv/h",
    "mean s",
    "p99 s",
    "Lambda $/M",
    "source $/M",
    "total $/M",
    "$/month",
    "target",
)


def rows_to_show(rec: Recommendation, limit: int = 12) -> list[Evaluation]:
    """The chosen candidate, the cheapest ones meeting the target, and a spread of the cost/latency front.

    Rows that would only repeat another (same cost and latency, e.g. a window
    that never closes a batch because BatchSize fills first) are left out.
    """
    chosen = [rec.chosen] if rec.chosen else []
    front = list(rec.front)
    if rec.objective.goal == "pareto":  # the front is the answer: show it whole
        return _distinct([*chosen, *front], len(front) + 1)
    meeting = sorted((e for e in rec.evaluations if e.allowed and e.meets_target), key=lambda e: e.cost_usd)
    room = max(1, limit - limit // 2 - 1)
    if len(front) > room:
        step = (len(front) - 1) / max(1, room - 1)
        front = [front[round(i * step)] for i in range(room)]
    return _distinct([*chosen, *_distinct(meeting, limit // 2), *front], limit)


def _distinct(rows: list[Evaluation], limit: int) -> list[Evaluation]:
    """Up to ``limit`` rows, earlier ones first, dropping repeats; sorted by cost."""
    kept: list[Evaluation] = []
    for e in rows:
        if len(kept) >= limit:
            break
        if not any(_same(e, k) for k in kept):
            kept.append(e)
    return sorted(kept, key=lambda e: e.cost_usd)


def _same(a: Evaluation, b: Evaluation) -> bool:
    if a is b:
        return True
    pa, pb = a.prediction, b.prediction
    return (
        a.candidate.architecture == b.candidate.architecture
        and math.isclose(a.cost_usd, b.cost_usd, rel_tol=COST_TIE)
        and math.isclose(pa.p99_latency_s, pb.p99_latency_s, rel_tol=1e-3)
        and math.isclose(pa.mean_latency_s, pb.mean_latency_s, rel_tol=1e-3)
    )


def cells(e: Evaluation, chosen: Evaluation | None, rate: float) -> tuple[str, ...]:
    """One table row as text (``rate``: records/s, for the monthly total)."""
    p, c = e.prediction, e.candidate
    return (
        "*" if e is chosen else "",
        str(c.batch_size),
        f"{c.window_s:g}",
        str(c.memory_size),
        c.architecture,
        str(p.lanes),
        p.regime,
        f"{p.mean_batch:.3g}",
        _num(p.duration_s),
        f"{p.invocations_per_hour:,.0f}",
        _num(p.mean_latency_s),
        _num(p.p99_latency_s),
        f"{p.cost.lambda_usd:.4f}",
        f"{p.cost.source_usd:.4f}",
        f"{p.cost.total_usd:.4f}",
        f"{monthly_usd(p.cost.total_usd, rate):,.2f}",
        e.verdict(),
    )


def format_table(rec: Recommendation, limit: int = 12) -> str:
    """Aligned plain-text table for the terminal."""
    table = render([cells(e, rec.chosen, rec.workload.rate) for e in rows_to_show(rec, limit)])
    return f"{table}\n$/month: total at {rec.workload.rate:g} records/s over 30 days; prices: {rec.price_region}"


def render(rows: Sequence[Sequence[str]], headers: Sequence[str] = HEADERS) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in rows)
    return "\n".join(lines)


def _num(x: float) -> str:
    return f"{x:.3g}" if math.isfinite(x) else "inf"
