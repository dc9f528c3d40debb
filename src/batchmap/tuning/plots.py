"""PNG plots of the search: cost and p99 latency against batch size and window, the chosen point marked.

Drawn with matplotlib's object API on an Agg canvas (no pyplot, no global
backend switch), at a fixed size so reports are comparable: 1100 × 420 pixels.
The chosen window's line and the chosen batch size's line are always drawn
(bold), and a vertical line marks the chosen window. Each PNG's
``Description`` text chunk lists the lines drawn on each panel, read back from
the figure, so a reader (or a test) can tell what the picture holds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from batchmap.tuning.extras import require
from batchmap.tuning.measure import Measurement
from batchmap.tuning.recommend import Recommendation
from batchmap.tuning.search import Evaluation

FIG_SIZE_IN = (11.0, 4.2)
DPI = 100
PNG_SIZE = (1100, 420)
"""Width and height in pixels of every PNG the tuner writes."""

MAX_LINES = 7


def plot_metric(rec: Recommendation, metric: str, path: Path) -> Path:
    """``metric`` is ``"cost"`` (total $/M) or ``"p99"``: left panel against B, right against W."""
    value: Callable[[Evaluation], float] = (
        (lambda e: e.cost_usd) if metric == "cost" else (lambda e: e.prediction.p99_latency_s)
    )
    ylabel = "total $ per million records" if metric == "cost" else "p99 latency (s)"
    fig = _figure()
    slice_ = _slice(rec)
    windows = sorted({e.candidate.window_s for e in slice_})
    sizes = sorted({e.candidate.batch_size for e in slice_})
    left, right = fig.subplots(1, 2)
    pick = rec.chosen.candidate if rec.chosen is not None else None
    for w in _spread(windows, pick.window_s if pick else None):
        by_size = [
            (float(e.candidate.batch_size), value(e))
            for e in slice_
            if e.candidate.window_s == w and e.allowed
        ]
        _line(left, by_size, f"W={w:g}s", chosen=pick is not None and w == pick.window_s)
    for b in _spread(sizes, pick.batch_size if pick else None):
        by_window = [
            (e.candidate.window_s, value(e)) for e in slice_ if e.candidate.batch_size == b and e.allowed
        ]
        _line(right, by_window, f"B={b}", chosen=pick is not None and b == pick.batch_size)
    if pick is not None:
        right.axvline(
            pick.window_s, color="black", linestyle=":", linewidth=1.2, label=f"chosen window {pick.window_s:g}s"
        )
    left.set_xscale("log")
    left.set_xlabel("BatchSize")
    right.set_xlabel("MaximumBatchingWindowInSeconds")
    for ax in (left, right):
        ax.set_ylabel(ylabel)
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        if metric == "p99" and rec.objective.latency_p99_s:
            ax.axhline(rec.objective.latency_p99_s, color="red", linestyle="--", linewidth=1, label="target")
    if rec.chosen is not None:
        c, y = rec.chosen.candidate, value(rec.chosen)
        left.plot(
            [c.batch_size], [y], marker="*", markersize=16, color="red", linestyle="none", label="chosen"
        )
        right.plot(
            [c.window_s], [y], marker="*", markersize=16, color="red", linestyle="none", label="chosen"
        )
    left.legend(fontsize=7, loc="best")
    right.legend(fontsize=7, loc="best")
    fig.suptitle(_title(rec, metric), fontsize=10)
    return _save(fig, path, _drawn(left, right))


def plot_fit(measurement: Measurement, path: Path) -> Path:
    """Measured duration against batch size, with the fitted line and its R²."""
    fig = _figure()
    ax, resid = fig.subplots(1, 2)
    xs = [s.batch_size for s in measurement.samples if s.concurrency == 1]
    ys = [s.wall_s * 1000 for s in measurement.samples if s.concurrency == 1]
    ax.plot(xs, ys, "o", alpha=0.6, label="measured")
    top = max(xs)
    fit = measurement.duration
    ax.plot(
        [0, top],
        [fit(0) * 1000, fit(top) * 1000],
        "-",
        color="red",
        label=f"{fit.intercept * 1000:.3g} ms + {fit.slope * 1000:.3g} ms x n (R² {fit.r_squared:.4f})",
    )
    ax.set_xlabel("records in the batch")
    ax.set_ylabel("duration (ms)")
    ax.legend(fontsize=8)
    resid.plot(xs, [r * 1000 for r in fit.residuals], "o", alpha=0.6)
    resid.axhline(0, color="grey", linewidth=1)
    resid.set_xlabel("records in the batch")
    resid.set_ylabel("residual (ms)")
    fig.suptitle(f"{measurement.handler}: duration fit", fontsize=10)
    return _save(fig, path)


def _figure() -> Any:
    """A figure on its own Agg canvas (no pyplot state), with fixed margins: a constrained layout measured every
    tick label again and took about half of the time each plot took."""
    figure_mod = require("matplotlib.figure")
    agg = require("matplotlib.backends.backend_agg")
    fig = figure_mod.Figure(figsize=FIG_SIZE_IN, dpi=DPI)
    fig.subplots_adjust(left=0.085, right=0.99, bottom=0.12, top=0.9, wspace=0.22)
    agg.FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: Path, description: str | None = None) -> Path:
    """Write the PNG: ``savefig`` lays the figure out and draws it once (a draw before it gave the same bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"Description": description} if description else None
    fig.savefig(path, format="png", dpi=DPI, metadata=metadata)
    return path


def _drawn(left: Any, right: Any) -> str:
    """The labels of the lines each panel holds, as drawn: ``by BatchSize: ...; by window: ...``."""
    panels = (("by BatchSize", left), ("by window", right))
    return "; ".join(
        f"{name}: " + ", ".join(str(line.get_label()) for line in ax.get_lines()) for name, ax in panels
    )


def _slice(rec: Recommendation) -> list[Evaluation]:
    """The evaluations sharing the chosen (or cheapest) memory, architecture and concurrency."""
    anchor = rec.chosen or min(
        (e for e in rec.evaluations if e.allowed), key=lambda e: e.cost_usd, default=rec.evaluations[0]
    )
    a = anchor.candidate
    return [
        e
        for e in rec.evaluations
        if (
            e.candidate.memory_size,
            e.candidate.architecture,
            e.candidate.maximum_concurrency,
            e.candidate.parallelization_factor,
        )
        == (a.memory_size, a.architecture, a.maximum_concurrency, a.parallelization_factor)
    ]


def _spread(values: Sequence[Any], keep: Any = None) -> list[Any]:
    """At most ``MAX_LINES`` values, evenly spread, always keeping both ends and ``keep``."""
    if len(values) <= MAX_LINES:
        return list(values)
    step = (len(values) - 1) / (MAX_LINES - 1)
    picked = [values[round(i * step)] for i in range(MAX_LINES)]
    if keep in values and keep not in picked:
        nearest = min(range(1, MAX_LINES - 1), key=lambda i: abs(values.index(picked[i]) - values.index(keep)))
        picked[nearest] = keep
    return sorted(picked)


def _line(ax: Any, points: Sequence[tuple[float, float]], label: str, *, chosen: bool = False) -> None:
    pts = sorted((x, y) for x, y in points if math.isfinite(y) and y > 0)
    if pts:
        ax.plot(
            [p[0] for p in pts],
            [p[1] for p in pts],
            marker="o",
            markersize=4 if chosen else 3,
            linewidth=2.6 if chosen else 1,
            label=f"{label} (chosen)" if chosen else label,
            zorder=3 if chosen else 2,
        )


def _title(rec: Recommendation, metric: str) -> str:
    what = "Total cost" if metric == "cost" else "p99 latency"
    chosen = f"; chosen {rec.chosen.candidate.label()}" if rec.chosen else "; nothing meets the target"
    return f"{what} at {rec.workload.rate:g} records/s ({rec.workload.source}){chosen}"
