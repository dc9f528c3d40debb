"""The batch tuner: measure a handler, model and simulate batching, recommend settings, report.

Needs the ``batchmap[tune]`` extra (numpy, scipy, matplotlib), imported only
when a computation needs it: importing this package costs nothing extra.

    profile = measure("app:handler", load_samples("event.json")).profile()
    rec = recommend(profile, Workload(rate=50), Grid(), Objective(latency_p99_s=2), load_prices())
    write_report(rec, "tune-report")
"""

from __future__ import annotations

from batchmap.engine.adaptive import AdaptiveConfig, AdaptiveController, AdaptiveSettings, BatchObservation
from batchmap.tuning.arrivals import ArrivalSpec, generate, read_trace
from batchmap.tuning.candidate import Candidate, aws_rule_violations
from batchmap.tuning.cost import Cost
from batchmap.tuning.fit import LinearFit, fit_contention, fit_line
from batchmap.tuning.measure import ColdStart, Measurement, MeasurePlan, Sample, cold_start, measure
from batchmap.tuning.model import Prediction, predict
from batchmap.tuning.prices import Prices, default_prices_path, load_prices
from batchmap.tuning.profile import HandlerProfile
from batchmap.tuning.recommend import Confirmation, Recommendation, recommend
from batchmap.tuning.report import ReportFiles, summarise, write_report
from batchmap.tuning.samples import SampleEvents, load_samples, samples_from
from batchmap.tuning.search import Evaluation, Grid, Objective, evaluate, pareto_front, select
from batchmap.tuning.shared_queue import QueueRun, QueueSettings, adaptive_lanes, simulate_queue
from batchmap.tuning.simulate import BatchRun, SimulationResult, adaptive_driver, simulate
from batchmap.tuning.table import format_table
from batchmap.tuning.template import TemplateFunction, function_from_template, register_template_reader
from batchmap.tuning.workload import Workload

__all__ = [
    "AdaptiveConfig",
    "AdaptiveController",
    "AdaptiveSettings",
    "ArrivalSpec",
    "BatchObservation",
    "BatchRun",
    "Candidate",
    "ColdStart",
    "Confirmation",
    "Cost",
    "Evaluation",
    "Grid",
    "HandlerProfile",
    "LinearFit",
    "MeasurePlan",
    "Measurement",
    "Objective",
    "Prediction",
    "Prices",
    "QueueRun",
    "QueueSettings",
    "Recommendation",
    "ReportFiles",
    "Sample",
    "SampleEvents",
    "SimulationResult",
    "TemplateFunction",
    "Workload",
    "adaptive_driver",
    "adaptive_lanes",
    "aws_rule_violations",
    "cold_start",
    "default_prices_path",
    "evaluate",
    "fit_contention",
    "fit_line",
    "format_table",
    "function_from_template",
    "generate",
    "load_prices",
    "load_samples",
    "measure",
    "pareto_front",
    "predict",
    "read_trace",
    "recommend",
    "register_template_reader",
    "samples_from",
    "select",
    "simulate",
    "simulate_queue",
    "summarise",
    "write_report",
]
