"""One self-contained HTML report: inline CSS, images as ``data:`` URIs, no script, nothing fetched.

A single file can be attached to a ticket or opened from an air-gapped
machine; it renders the same everywhere and cannot raise console errors.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from pathlib import Path

from batchmap.tuning.measure import Measurement
from batchmap.tuning.recommend import Recommendation
from batchmap.tuning.table import HEADERS, cells, rows_to_show

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1150px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85em; } td, th { padding: 3px 8px; text-align: right; }
th { background: #f2f2f2; } tr:nth-child(even) td { background: #fafafa; }
tr.chosen td { background: #fff3c4; }
code { background: #f5f5f5; padding: 1px 4px; } img { max-width: 100%; border: 1px solid #eee; }
dl { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; } dt { font-weight: 600; }
.miss { color: #b00; } .ok { color: #070; }
"""


def render_html(
    rec: Recommendation,
    images: Sequence[tuple[str, Path]],
    measurement: Measurement | None = None,
    title: str = "batchmap tune report",
) -> str:
    """The report as one HTML string; ``images`` are (caption, PNG path) pairs to inline."""
    parts = [
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>',
        f"<style>{_CSS}</style></head><body><h1>{_e(title)}</h1>",
    ]
    parts.append(_summary(rec))
    parts.append("<h2>Why</h2><ol>" + "".join(f"<li>{_e(line)}</li>" for line in rec.reasoning) + "</ol>")
    parts.append("<h2>Candidates</h2>" + _table(rec))
    for caption, path in images:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        parts.append(f'<h2>{_e(caption)}</h2><img alt="{_e(caption)}" src="data:image/png;base64,{data}">')
    parts.append(_inputs(rec, measurement))
    parts.append("</body></html>")
    return "\n".join(parts)


def _summary(rec: Recommendation) -> str:
    if rec.chosen is None:
        return f'<p class="miss">No candidate meets {_e(rec.objective.describe())}. See <em>Why</em>.</p>'
    p = rec.chosen.prediction
    flags = "".join(f"<dt>{_e(k)}</dt><dd><code>{_e(v)}</code></dd>" for k, v in rec.settings().items())
    facts = [
        (
            "total",
            f"${p.cost.total_usd:.4f} per million records; ${rec.monthly_usd(rec.chosen):,.2f} a month at "
            f"{rec.workload.rate:g} records/s (30 days)",
        ),
        ("prices", f"{rec.price_region} (Lambda requests and GB-seconds, {rec.workload.source})"),
        ("latency", _latency(rec)),
        ("batches", f"{p.mean_batch:.3g} records on average, {p.invocations_per_hour:,.0f} invocations/h"),
        ("target", rec.objective.describe()),
    ]
    rows = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts)
    return f"<h2>Recommendation</h2><dl>{flags}{rows}</dl>"


def _latency(rec: Recommendation) -> str:
    assert rec.chosen is not None
    e = rec.chosen
    how = " (simulated: near the target)" if e.decided_by == "simulation" else ""
    return f"mean {e.mean_latency_s:.3g} s, p99 {e.p99_latency_s:.3g} s{how}"


def _table(rec: Recommendation) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in HEADERS)
    body = []
    for e in rows_to_show(rec, limit=20):
        row = cells(e, rec.chosen, rec.workload.rate)
        css = ' class="chosen"' if e is rec.chosen else ""
        tds = "".join(
            f'<td class="{"ok" if v.startswith("meets") else "miss" if v.startswith("misses") else ""}">{_e(v)}</td>'
            for v in row
        )
        body.append(f"<tr{css}>{tds}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _inputs(rec: Recommendation, m: Measurement | None) -> str:
    prof, wl = rec.profile, rec.workload
    facts = [
        (
            "handler model",
            f"D(n) = {prof.t0_s * 1000:.4g} ms + {prof.t1_s * 1000:.4g} ms x n at "
            f"{prof.reference_memory_mb} MB; CPU share {prof.cpu_share_t0:.0%} / "
            f"{prof.cpu_share_t1:.0%}; c = {prof.concurrency}, sigma = {prof.sigma:.3g}",
        ),
        ("cold start", f"{prof.init_s * 1000:.4g} ms INIT on {prof.cold_start_rate:.1%} of invocations"),
        ("traffic", f"{wl.rate:g} records/s of {wl.record_bytes} B from {wl.source}"),
        ("arrivals", rec.arrivals.kind if rec.arrivals else "Poisson (model only)"),
    ]
    if m is not None:
        facts.append(
            (
                "fit",
                f"R² {m.duration.r_squared:.4f}, residual sd {m.duration.residual_std * 1000:.3g} ms, "
                f"quadratic share {m.quadratic_share:.1%}, {len(m.samples)} timed calls",
            )
        )
        if m.speedups:
            facts.append(("speed-up", ", ".join(f"S({c}) = {s:.2f}" for c, s in m.speedups)))
        if m.cold_start is not None:
            cs = m.cold_start
            facts.append(
                (
                    "INIT",
                    f"interpreter {cs.interpreter_s * 1000:.3g} ms + import {cs.import_s * 1000:.3g} ms"
                    f", {cs.rss_mb:.0f} MB resident",
                )
            )
    rows = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts)
    return f"<h2>Inputs</h2><dl>{rows}</dl>"


def _e(value: object) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        value = "inf"
    return html.escape(str(value), quote=True)
