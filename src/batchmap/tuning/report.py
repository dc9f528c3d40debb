"""Writing a tuning run to a folder: the plain-text table, PNG plots, a JSON summary and one HTML report."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batchmap.tuning.html_report import render_html
from batchmap.tuning.measure import Measurement
from batchmap.tuning.plots import plot_fit, plot_metric
from batchmap.tuning.recommend import Recommendation
from batchmap.tuning.search import Evaluation
from batchmap.tuning.table import format_table


@dataclass(frozen=True, slots=True)
class ReportFiles:
    """The files ``write_report`` created."""

    table: Path
    cost_png: Path
    latency_png: Path
    fit_png: Path | None
    summary_json: Path
    html: Path


def write_report(
    rec: Recommendation, out_dir: str | Path, measurement: Measurement | None = None
) -> ReportFiles:
    """Write every artefact of ``rec`` under ``out_dir`` (created if needed)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = out / "table.txt"
    table.write_text(format_table(rec) + "\n\n" + "\n".join(rec.reasoning) + "\n", encoding="utf-8")
    cost = plot_metric(rec, "cost", out / "cost.png")
    latency = plot_metric(rec, "p99", out / "latency.png")
    fit = plot_fit(measurement, out / "fit.png") if measurement is not None else None
    images = [
        ("Cost against batch size and window", cost),
        ("p99 latency against batch size and window", latency),
    ]
    if fit is not None:
        images.append(("Measured duration and the fit", fit))
    summary = out / "recommendation.json"
    summary.write_text(json.dumps(summarise(rec), indent=2) + "\n", encoding="utf-8")
    page = out / "report.html"
    page.write_text(render_html(rec, images, measurement), encoding="utf-8")
    return ReportFiles(table, cost, latency, fit, summary, page)


def summarise(rec: Recommendation) -> dict[str, Any]:
    """A JSON-ready summary: the chosen settings, their predictions, the reasoning and the front."""
    return {
        "target": rec.objective.describe(),
        "latency_margin": rec.objective.latency_margin,
        "price_region": rec.price_region,
        "rate": rec.workload.rate,
        "chosen": _evaluation(rec.chosen, rec) if rec.chosen else None,
        "current": _evaluation(rec.current, rec) if rec.current else None,
        "settings": rec.settings(),
        "reasoning": list(rec.reasoning),
        "front": [_evaluation(e, rec) for e in rec.front],
        "confirmations": [
            {
                "candidate": c.evaluation.candidate.label(),
                "meets_target": c.meets_target,
                "mean_latency_s": c.simulation.mean_latency_s,
                "p99_latency_s": c.simulation.p99_latency_s,
                "mean_batch": c.simulation.mean_batch,
                "total_usd_per_million": c.simulation.cost.total_usd,
            }
            for c in rec.confirmations
        ],
    }


def _evaluation(e: Evaluation, rec: Recommendation) -> dict[str, Any]:
    p, c = e.prediction, e.candidate
    return {
        "batch_size": c.batch_size,
        "maximum_batching_window_in_seconds": c.window_s,
        "memory_size": c.memory_size,
        "architecture": c.architecture,
        "maximum_concurrency": c.maximum_concurrency,
        "parallelization_factor": c.parallelization_factor,
        "lanes": p.lanes,
        "regime": p.regime,
        "mean_batch": p.mean_batch,
        "duration_s": p.duration_s,
        "invocations_per_hour": p.invocations_per_hour,
        "mean_latency_s": _finite(p.mean_latency_s),
        "p99_latency_s": _finite(p.p99_latency_s),
        "lambda_usd_per_million": p.cost.lambda_usd,
        "source_usd_per_million": p.cost.source_usd,
        "total_usd_per_million": p.cost.total_usd,
        "total_usd_per_month": rec.monthly_usd(e),
        "timeout_s": p.timeout_s,
        "meets_target": e.meets_target,
        "decided_by": e.decided_by,
        "simulated_mean_latency_s": e.simulated_mean_s,
        "simulated_p99_latency_s": e.simulated_p99_s,
    }


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None
