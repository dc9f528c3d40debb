"""``batchmap tune``: measure a handler, model cost and latency, recommend batching, concurrency and memory.

    batchmap tune --function app:handler --sample-event event.json --rate 50 --latency-p99 2 --out tune-report

measures ``app:handler`` on batches built from ``event.json``, predicts every
combination of ``--batch-size``, ``--maximum-batching-window-in-seconds``,
``--memory-size``, ``--architectures`` and concurrency at 50 records/s, picks the
cheapest meeting a p99 of 2 s, confirms it in a simulation, prints a table and
writes PNG plots and a self-contained HTML report. ``--t0-ms/--t1-ms`` skip
measuring. Exit status: 0 with a recommendation, 1 when nothing meets the target.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import IO, Any

from batchmap.cli.parsing import at_least, plain, positive_seconds
from batchmap.cli.tune_lists import architecture, parse_concurrency, parse_factor, parse_list, parse_memory
from batchmap.errors import ConfigError
from batchmap.records.shapes import MAPPING_KINDS

__all__ = ["add_parser", "parse_concurrency", "parse_list", "run", "tune"]

SOURCES = MAPPING_KINDS
FIELD_FLAGS = {
    "rate": "--rate", "record_bytes": "--record-size", "sqs_pollers": "--sqs-pollers",
    "poll_interval_s": "--poll-interval", "function_timeout_s": "--timeout",
    "visibility_timeout_s": "--visibility-timeout", "latency_p99_s": "--latency-p99",
    "latency_mean_s": "--latency-mean", "latency_margin": "--latency-margin", "horizon_s": "--horizon",
    "burst_s": "--burst-seconds",
    "amplitude": "--daily-amplitude", "period_s": "--daily-period", "trace_path": "--trace",
    "concurrency": "--record-concurrency", "cpu_share_t0": "--cpu-share", "cpu_share_t1": "--cpu-share",
    "batch_size": "--batch-size", "batch_sizes": "--measure-batch-sizes", "concurrencies": "--measure-concurrency",
    "memory_size": "--memory-size", "architecture": "--architectures", "reference_memory_mb": "--measured-memory-size",
    "validate": "--validate",
}
"""The tuner's fields (in its errors) -> the flags that fill them; the rest share their flag's name."""


def add_parser(subparsers: Any) -> None:
    """Register ``tune`` and its flags."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "tune",
        help="recommend BatchSize, window, concurrency and memory from a measured handler",
        description=plain(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "template", nargs="?", help="a SAM template (with --function-name) instead of --function"
    )
    _function_flags(parser.add_argument_group("function"))
    _traffic_flags(parser.add_argument_group("traffic and source"))
    _grid_flags(parser.add_argument_group("settings to try (lists: 10,100 or 10 100)"))
    _goal_flags(parser.add_argument_group("target"))
    _simulation_flags(parser.add_argument_group("simulation"))
    out = parser.add_argument_group("output")
    out.add_argument("--out", default="batchmap-tune", help="folder for the report (default: %(default)s)")
    out.add_argument("--prices", help="a TOML price file (default: the shipped us-east-1 prices)")
    out.add_argument("--json", action="store_true", help="print the summary as JSON instead of the table")
    parser.set_defaults(func=run, field_flags=FIELD_FLAGS)


def _function_flags(g: argparse._ArgumentGroup) -> None:
    g.add_argument("--function", help="the handler to measure, module:callable")
    g.add_argument("--function-name", help="the function's logical ID in TEMPLATE")
    g.add_argument("--code-path", help="folder the handler is imported from (SAM CodeUri; default: .)")
    g.add_argument("--sample-event", help="JSON file: an event, a list of records, or one record")
    g.add_argument("--t0-ms", type=float, help="skip measuring: fixed time per invocation (ms)")
    g.add_argument("--t1-ms", type=float, help="skip measuring: time per record (ms)")
    g.add_argument(
        "--cpu-share", type=float, help="share of t0/t1 that is CPU (0-1) when stated with --t0-ms"
    )
    g.add_argument(
        "--measured-memory-size",
        type=int,
        default=1769,
        help="MB the measured times stand for (default 1769 = one vCPU; with --t0-ms: the first "
        "--memory-size)",
    )
    g.add_argument(
        "--measure-batch-sizes",
        nargs="+",
        default=["1,2,5,10,20,50,100"],
        help="batch sizes to time (default: 1,2,5,10,20,50,100)",
    )
    g.add_argument(
        "--measure-concurrency",
        nargs="+",
        default=["1"],
        help="in-batch concurrencies to time for the speed-up S(c) (e.g. 1,2,4,8; default 1)",
    )
    g.add_argument(
        "--record-concurrency",
        type=int,
        default=1,
        help="records the handler processes at once inside a batch (c; default 1)",
    )
    g.add_argument("--repeats", type=at_least(1), default=5, help="timed calls per batch size (default 5)")
    g.add_argument("--warmup", type=at_least(0), default=2, help="untimed calls per batch size first (default 2)")
    g.add_argument("--cold-starts", type=at_least(0), default=3, help="fresh interpreters to time INIT (default 3)")
    g.add_argument(
        "--cold-start-rate",
        type=float,
        default=0.005,
        help="share of invocations that start cold (default 0.005)",
    )
    g.add_argument("--init-duration-ms", type=float, default=0.0, help="INIT time with --t0-ms (default 0)")


def _traffic_flags(g: argparse._ArgumentGroup) -> None:
    g.add_argument("--rate", type=float, help="mean arrival rate, records per second (or --from-metrics)")
    g.add_argument(
        "--from-metrics",
        metavar="URL",
        help="a running engine's /metrics (batchmap run --metrics-address): arrival rate and D(n) from two "
        "scrapes; --t0-ms or --t1-ms splits D when the batches were all of one size",
    )
    g.add_argument(
        "--metrics-interval", type=float, default=10.0, help="seconds between the two scrapes (default 10)"
    )
    g.add_argument("--event-source-mapping-uuid", help="with --from-metrics: the mapping, when it serves several")
    g.add_argument("--source", choices=SOURCES, help="event source (default: the template's, else sqs)")
    g.add_argument(
        "--record-size", type=int, help="payload bytes per record (default: from the sample, else 1024)"
    )
    g.add_argument("--shards", type=int, help="Kinesis/DynamoDB shards (default: what the rate needs)")
    g.add_argument("--lanes", type=int, default=1, help="Kafka: concurrent pollers (default 1)")
    g.add_argument(
        "--sqs-pollers", type=int, default=5, help="SQS pollers at low traffic (AWS: 5, down to 2)"
    )
    g.add_argument(
        "--poll-interval", type=float, help="seconds between polls of an idle shard (Kinesis 1, DDB 0.25)"
    )
    g.add_argument("--producer-batch", type=int, default=1, help="messages per SendMessageBatch (1-10)")
    g.add_argument("--efo-consumers", type=int, default=0, help="Kinesis enhanced fan-out consumers")
    g.add_argument("--timeout", type=float, help="the function's Timeout in seconds (default: recommended)")
    g.add_argument("--visibility-timeout", type=float, help="the SQS queue's VisibilityTimeout, to check it")
    g.add_argument(
        "--platform",
        choices=("aws", "batchmap"),
        default="aws",
        help="aws: whole-second windows only; batchmap: the engine also takes fractions",
    )


def _grid_flags(g: argparse._ArgumentGroup) -> None:
    g.add_argument("--batch-size", nargs="+", help="default: 1,2,5,10,20,50,100,200,500,1000")
    g.add_argument("--maximum-batching-window-in-seconds", nargs="+", help="default: 0,1,2,5,10,20,30,60")
    g.add_argument("--memory-size", nargs="+", help="MB (default: 512)")
    g.add_argument("--architectures", nargs="+", help="x86_64 and/or arm64 (default: both)")
    g.add_argument("--maximum-concurrency", nargs="+", help="SQS ScalingConfig MaximumConcurrency values")
    g.add_argument("--parallelization-factor", nargs="+", help="Kinesis/DynamoDB values (1-10)")


def _goal_flags(g: argparse._ArgumentGroup) -> None:
    g.add_argument("--latency-p99", type=float, help="target p99 latency, seconds (arrival to batch success)")
    g.add_argument("--latency-mean", type=float, help="target mean latency, seconds")
    g.add_argument(
        "--latency-margin",
        type=float,
        help="share of the latency target kept in reserve, for every candidate alike (e.g. 0.05; "
        "default 0: candidates within 10%% of the target are decided by simulation)",
    )
    g.add_argument(
        "--goal",
        choices=("cost", "balanced", "pareto"),
        default="cost",
        help="cost: cheapest meeting the target; balanced: Power Tuning's score; pareto: show the front",
    )
    g.add_argument("--balanced-weight", type=float, default=0.5, help="weight of cost in the balanced score")
    g.add_argument("--lambda-only", action="store_true", help="leave the source's own cost out")
    g.add_argument("--downstream-limit", type=int, help="cap on lanes x record concurrency (calls at once)")


def _simulation_flags(g: argparse._ArgumentGroup) -> None:
    g.add_argument(
        "--simulate",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="confirm the best candidates in the simulator (default: on)",
    )
    g.add_argument("--arrivals", choices=("poisson", "bursty", "daily", "trace"), default="poisson")
    g.add_argument("--trace", help="file of arrival timestamps, one per line (with --arrivals trace)")
    g.add_argument("--trace-unit", choices=("s", "ms"), default="s")
    g.add_argument("--horizon", type=float, help="simulated seconds (default: 600, or one --daily-period)")
    g.add_argument("--burst-factor", type=float, default=5.0, help="bursty: peak rate / mean rate")
    g.add_argument("--burst-seconds", type=float, default=10.0, help="bursty: mean burst length")
    g.add_argument("--daily-amplitude", type=float, default=0.8, help="daily: swing around the mean (0-1)")
    g.add_argument("--daily-period", type=float, default=86400.0, help="daily: cycle length in seconds")
    g.add_argument("--confirm-top", type=at_least(1), default=3, help="candidates to simulate (default 3)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument(
        "--validate",
        type=positive_seconds,
        metavar="SECONDS",
        help="then run the recommendation on a temporary embedded queue under SECONDS of Poisson traffic at "
        "--rate (it goes on until the batches opened in them close) and print the measured p99 and "
        "invocations per record beside the prediction",
    )


def run(args: argparse.Namespace) -> int:
    """Measure (or take the stated timings), recommend, print and write the report."""
    return tune(args, sys.stdout)


def tune(args: argparse.Namespace, stream: IO[str]) -> int:
    """The whole command, writing to ``stream`` (the tuner's modules are imported only now)."""
    from batchmap.tuning import Objective, load_prices, recommend, summarise, write_report
    from batchmap.tuning.table import format_table

    current = _apply_template(args) if args.template else None
    if args.from_metrics:
        _apply_metrics(args, stream)
    elif args.rate is None:
        raise ConfigError("--rate", None, "the mean arrival rate in records/s, or --from-metrics URL")
    function = _function(args)
    samples = _samples(args, function is not None)
    measurement = (
        _measure(args, function, samples, stream) if function is not None and args.t0_ms is None else None
    )
    profile = _profile(args, measurement)
    workload = _workload(args, samples)
    margin = {} if args.latency_margin is None else {"latency_margin": args.latency_margin}
    objective = Objective(
        latency_p99_s=args.latency_p99,
        latency_mean_s=args.latency_mean,
        goal=args.goal,
        balanced_weight=args.balanced_weight,
        include_source_cost=not args.lambda_only,
        downstream_limit=args.downstream_limit,
        **margin,
    )
    prices = load_prices(args.prices)
    arrivals = _arrivals(args) if args.simulate else None
    rec = recommend(
        profile,
        workload,
        _grid(args),
        objective,
        prices,
        arrivals=arrivals,
        confirm_top=args.confirm_top,
        seed=args.seed,
        current=current,
    )
    files = write_report(rec, args.out, measurement)
    if args.json:
        stream.write(json.dumps(summarise(rec), indent=2) + "\n")
    else:
        stream.write(format_table(rec) + "\n\n")
        stream.write("\n".join(f"- {line}" for line in rec.reasoning) + "\n")
        for what, flags in rec.settings().items():
            stream.write(f"\n{what}: {flags}")
        stream.write(f"\n\nreport: {files.html}\nplots: {files.cost_png}, {files.latency_png}\n")
    if args.validate is not None and rec.chosen is not None:
        _validate(args, function, profile, workload, rec.chosen.candidate, prices, samples, stream)
    return 0 if rec.chosen is not None else 1


def _validate(args: argparse.Namespace, function: tuple[str, str | None] | None, profile: Any, workload: Any,
              candidate: Any, prices: Any, samples: Any, stream: IO[str]) -> None:
    """``--validate``: the recommendation on the embedded engine, measured beside the prediction."""
    from batchmap.tuning.validate import sample_body, validate

    stream.write(f"\nvalidating on the embedded engine for {args.validate:g} s ...\n")
    stream.flush()
    result = validate(function, profile, workload, candidate, prices, args.validate, body=sample_body(samples),
                      seed=args.seed, simulated=args.simulate)
    stream.write("\n".join(result.lines()) + "\n")


def _apply_template(args: argparse.Namespace) -> Any:
    """Fill what the flags leave open from TEMPLATE's function; return its current mapping settings."""
    from batchmap.tuning.template import function_from_template

    spec = function_from_template(args.template, args.function_name or "")
    args.function = args.function or spec.handler
    args.code_path = args.code_path or spec.code_path
    args.source = args.source or spec.source
    if args.memory_size is None and spec.memory_size:
        args.memory_size = [str(spec.memory_size)]
    if args.timeout is None:
        args.timeout = spec.timeout_s
    return spec.current_candidate()


def _apply_metrics(args: argparse.Namespace, stream: IO[str]) -> None:
    """Fill --rate, --t0-ms and --t1-ms from two scrapes of a running engine (stated flags win)."""
    from batchmap.tuning.scrape import scrape

    if args.json:  # stdout holds the JSON alone
        stream = sys.stderr
    stream.write(f"scraping {args.from_metrics} twice, {args.metrics_interval:g} s apart ...\n")
    stream.flush()
    live = scrape(args.from_metrics, args.metrics_interval, args.event_source_mapping_uuid)
    if args.rate is None:
        if live.rate <= 0:
            raise ConfigError("--from-metrics", args.from_metrics, "records arriving between the two scrapes")
        args.rate = live.rate
    if args.function is None and (args.t0_ms is None or args.t1_ms is None):
        t0, t1 = live.split(
            None if args.t0_ms is None else args.t0_ms / 1000, None if args.t1_ms is None else args.t1_ms / 1000
        )
        args.t0_ms, args.t1_ms = t0 * 1000, t1 * 1000
    p = live.recent
    stream.write(
        f"mapping {live.mapping_uuid}: {live.rate:.4g} records/s arriving, {p.mean_batch:.3g} records per "
        f"invocation, D = {p.mean_duration_s * 1000:.4g} ms on average over {live.interval_s:.3g} s; "
        f"using --rate {args.rate:.4g} --t0-ms {args.t0_ms:.4g} --t1-ms {args.t1_ms:.4g}\n\n"
    )


def _function(args: argparse.Namespace) -> tuple[str, str | None] | None:
    """(handler, code path) from --function (or TEMPLATE's function); ``None`` with stated timings."""
    if args.function:
        return args.function, args.code_path
    if args.t0_ms is None or args.t1_ms is None:
        raise ConfigError(
            "--function", None, "a handler to measure (module:callable), or both --t0-ms and --t1-ms"
        )
    return None


def _samples(args: argparse.Namespace, needed: bool) -> Any:
    from batchmap.tuning.samples import load_samples

    if args.sample_event:
        return load_samples(args.sample_event)
    if needed and args.t0_ms is None:
        raise ConfigError("--sample-event", None, "a JSON event or record to build sample batches from")
    return None


def _measure(
    args: argparse.Namespace, function: tuple[str, str | None], samples: Any, stream: IO[str]
) -> Any:
    from batchmap.tuning.measure import MeasurePlan, measure

    plan = MeasurePlan(
        batch_sizes=parse_list(args.measure_batch_sizes, int, "--measure-batch-sizes") or (),
        concurrencies=parse_list(args.measure_concurrency, int, "--measure-concurrency") or (1,),
        repeats=args.repeats,
        warmup=args.warmup,
        cold_starts=args.cold_starts,
    )
    handler, code_path = function
    stream.write(f"measuring {handler} on batches of {', '.join(map(str, plan.batch_sizes))} ...\n")
    stream.flush()
    m = measure(handler, samples, plan, code_path=code_path, memory_mb=args.measured_memory_size)
    stream.write(
        f"fit: D(n) = {m.t0_s * 1000:.4g} ms + {m.t1_s * 1000:.4g} ms x n (R² {m.duration.r_squared:.4f})\n\n"
    )
    return m


def _profile(args: argparse.Namespace, measurement: Any) -> Any:
    from batchmap.tuning import HandlerProfile

    if measurement is not None:
        return measurement.profile(
            concurrency=args.record_concurrency,
            reference_memory_mb=args.measured_memory_size,
            cold_start_rate=args.cold_start_rate,
        )
    if args.t0_ms is None or args.t1_ms is None:
        raise ConfigError(
            "--t1-ms" if args.t0_ms is not None else "--t0-ms",
            None,
            "both --t0-ms and --t1-ms when not measuring",
        )
    stated = (("--t0-ms", args.t0_ms), ("--t1-ms", args.t1_ms), ("--init-duration-ms", args.init_duration_ms))
    for flag, value in stated:
        if not (math.isfinite(value) and value >= 0):
            raise ConfigError(flag, value, "milliseconds, 0 or more")
    memories = parse_list(args.memory_size, parse_memory, "--memory-size")
    share = args.cpu_share if args.cpu_share is not None else 0.0
    return HandlerProfile(
        t0_s=args.t0_ms / 1000,
        t1_s=args.t1_ms / 1000,
        reference_memory_mb=memories[0] if memories else args.measured_memory_size,
        cpu_share_t0=share,
        cpu_share_t1=share,
        concurrency=args.record_concurrency,
        init_s=args.init_duration_ms / 1000,
        cold_start_rate=args.cold_start_rate if args.init_duration_ms else 0.0,
    )


def _workload(args: argparse.Namespace, samples: Any) -> Any:
    from batchmap.tuning import Workload

    size = args.record_size or (samples.record_bytes if samples is not None else 1024)
    envelope = samples.envelope_bytes if samples is not None and args.record_size is None else None
    return Workload(
        rate=args.rate,
        source=args.source or "sqs",
        record_bytes=size,
        envelope_bytes=envelope,
        shards=args.shards,
        lanes=args.lanes,
        sqs_pollers=args.sqs_pollers,
        poll_interval_s=args.poll_interval,
        producer_batch=args.producer_batch,
        efo_consumers=args.efo_consumers,
        function_timeout_s=args.timeout,
        visibility_timeout_s=args.visibility_timeout,
        platform=args.platform,
    )


def _grid(args: argparse.Namespace) -> Any:
    from batchmap.tuning import Grid

    given: dict[str, Any] = {
        "batch_sizes": parse_list(args.batch_size, int, "--batch-size"),
        "windows_s": parse_list(
            args.maximum_batching_window_in_seconds, float, "--maximum-batching-window-in-seconds"
        ),
        "memory_sizes": parse_list(args.memory_size, parse_memory, "--memory-size"),
        "architectures": parse_list(args.architectures, architecture, "--architectures"),
        "maximum_concurrency": parse_list(
            args.maximum_concurrency, parse_concurrency, "--maximum-concurrency"
        ),
        "parallelization_factors": parse_list(args.parallelization_factor, parse_factor, "--parallelization-factor"),
    }
    return Grid(**{k: v for k, v in given.items() if v is not None})


def _arrivals(args: argparse.Namespace) -> Any:
    from batchmap.tuning import ArrivalSpec

    horizon = args.horizon or (args.daily_period if args.arrivals == "daily" else 600.0)
    return ArrivalSpec(
        kind=args.arrivals,
        rate=args.rate,
        horizon_s=horizon,
        burst_factor=args.burst_factor,
        burst_s=args.burst_seconds,
        amplitude=args.daily_amplitude,
        period_s=args.daily_period,
        trace_path=args.trace,
        trace_unit=args.trace_unit,
    )
