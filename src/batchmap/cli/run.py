"""``batchmap run``: run event source mappings, with the flags of ``aws lambda create-event-source-mapping``.

Everything that can be wrong with the settings, the function or the source is
checked before the first message is received (an embedded queue or stream must
exist: create-queue, create-stream or send creates one); then the engine runs until
SIGINT/SIGTERM (graceful: in-flight batches finish and are settled) or, with
``--until-idle``, until the source holds nothing at all. ``batchmap run TEMPLATE``
runs every mapping of a SAM/CloudFormation template instead (docs/templates.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from batchmap.cli.connection import given_connection_flags, refuse_unused
from batchmap.cli.output import configure_logging, show_progress, write_summary
from batchmap.cli.parsing import plain
from batchmap.config import EventSourceMapping, add_mapping_arguments, mapping_from_args
from batchmap.engine.heap import prepare_heap
from batchmap.engine.invocation import FunctionConfig
from batchmap.engine.invokers import INVOKER_KINDS
from batchmap.engine.invokers.factory import resolve_kind
from batchmap.engine.leases import DEFAULT_LEASE_TTL_S
from batchmap.engine.service import Engine
from batchmap.errors import ConfigError, MappingFailedError, SourceError
from batchmap.sources.base import QueueSource
from batchmap.sources.registry import SourceOptions
from batchmap.templates.command import add_template_arguments
from batchmap.tuning.adaptive import AdaptiveConfig

RUN_FAILED = 1
"""Exit status of a run that started and stopped on an error waiting cannot fix (2 is bad input, before
anything is consumed; 0 a run that ended as asked)."""


def add_parser(subparsers: Any) -> None:
    """Register ``run`` and its flags."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "run", help="poll a source, batch, invoke a function (an event source mapping you run yourself)",
        description=plain(__doc__), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("template", nargs="?", metavar="TEMPLATE",
                        help="a SAM/CloudFormation template: run every event source mapping in it")
    add_template_arguments(parser, with_flag=False)
    add_mapping_arguments(parser)
    add_engine_arguments(parser)
    parser.set_defaults(func=run)


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of the engine itself (not AWS settings)."""
    group = parser.add_argument_group("engine")
    group.add_argument("--until-idle", action="store_true",
                       help="drain: exit once the source holds nothing visible, in flight or waiting for a retry")
    group.add_argument("--invoker", choices=INVOKER_KINDS, default="auto",
                       help="how the function runs: in this process, in worker processes, over HTTP, on AWS Lambda")
    group.add_argument("--endpoint-url", help="the AWS endpoint for AWS sources (a local emulator)")
    group.add_argument("--region", help="the AWS region for AWS sources, and the functions' AWS_REGION "
                                        "(default: the source ARN's, then AWS_REGION, the AWS config, us-east-1)")
    group.add_argument("--source-option", action="append", default=[], metavar="KEY=VALUE",
                       help="a source setting the URI cannot carry, e.g. bootstrap_servers=... and topics=... "
                            "for an MSK cluster ARN (repeatable)")
    group.add_argument("--checkpoint-store", metavar="URI",
                       help="where stream checkpoints and shard leases live when engines share a stream: "
                            "sqlite:///file.db, redis://..., postgresql://... (default: the embedded stream's "
                            "file, else .batchmap/checkpoints.db)")
    group.add_argument("--shard-lease-seconds", type=float, default=DEFAULT_LEASE_TTL_S, metavar="S",
                       help="streams shared by several engines: how long a shard stays with an engine that stopped "
                            f"renewing its lease, so how soon another takes it over after a crash "
                            f"(default {DEFAULT_LEASE_TTL_S:g})")
    group.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    group.add_argument("--json-logs", action=argparse.BooleanOptionalAction, default=None,
                       help="JSON log lines (default: when stderr is not a terminal)")
    group.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="a live progress line (default: when stderr is a terminal)")
    group.add_argument("--summary-json", action="store_true", help="print the end summary as one JSON object")
    group.add_argument("--adaptive-latency-target", type=float, metavar="S",
                       help="queues: adjust BatchSize and the window at run time to hold this latency "
                            "(record arrival to batch success) while making as few invocations as possible")
    group.add_argument("--adaptive-statistic", choices=("p99", "mean"), default="p99",
                       help="which latency --adaptive-latency-target holds (default p99)")


def run(args: argparse.Namespace) -> int:
    """Build the mapping from the flags (or every mapping of the template), check its sources, and run it."""
    configure_logging(sys.stderr, args.log_level, args.json_logs)
    given = given_connection_flags(args)
    source_options(args)  # a malformed --source-option fails before a template is provisioned
    if args.template:
        from batchmap.templates.command import load_app, template_mappings

        _check_connection_flags(given, load_app(args).event_source_mappings, args.invoker)  # before provisioning
        mappings = template_mappings(args)
    else:
        mappings = [mapping_from_args(args)]
    if _check_connection_flags(given, mappings, args.invoker) and args.region:
        mappings = [_with_region(m, args.region) if _invokes_lambda(m, args.invoker) else m for m in mappings]
    require_embedded_sources(mappings)
    return asyncio.run(run_mappings(mappings, args))


def _check_connection_flags(given: dict[str, Any], mappings: list[EventSourceMapping], invoker: str) -> bool:
    """Refuse connection flags no source uses (``--region`` is always the functions' ``AWS_REGION``);
    returns whether a mapping invokes a Lambda function."""
    on_lambda = any(_invokes_lambda(m, invoker) for m in mappings)
    refuse_unused(given, [m.source for m in mappings], region_used=True)
    return on_lambda


def require_embedded_sources(mappings: list[EventSourceMapping]) -> None:
    """``run`` consumes what exists: an embedded queue or stream that is not there is named, not created."""
    from batchmap.sources.registry import scheme_of
    from batchmap.sources.sqlite import admin, parse_uri

    for mapping in mappings:
        if scheme_of(mapping.source) == "sqlite":
            admin.require(parse_uri(mapping.source))


def _invokes_lambda(mapping: EventSourceMapping, invoker: str) -> bool:
    function = mapping.function
    handler = function.handler if isinstance(function, FunctionConfig) else function
    return invoker == "lambda" or (invoker == "auto" and resolve_kind(handler) == "lambda")


def _with_region(mapping: EventSourceMapping, region: str) -> EventSourceMapping:
    """``--region`` is also the region of a Lambda function the mapping invokes (unless it names its own)."""
    function = mapping.function
    config = function if isinstance(function, FunctionConfig) else FunctionConfig(handler=function.strip())
    return replace(mapping, function=config if config.region else replace(config, region=region))


async def run_mappings(mappings: list[EventSourceMapping], args: argparse.Namespace) -> int:
    """Prepare (fail fast), then run with signal handling, progress and a summary."""
    engine = Engine(mappings, invoker=args.invoker, source_options=source_options(args),
                    checkpoint_store_uri=args.checkpoint_store, adaptive=_adaptive(args),
                    shard_lease_s=args.shard_lease_seconds)
    started = time.monotonic()
    await engine.prepare()
    prepare_heap()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, engine.stop)
    progress = None
    if args.progress or (args.progress is None and sys.stderr.isatty()):
        progress = asyncio.create_task(show_progress(lambda: _snapshot(engine), lambda: _backlog(engine), sys.stderr))
    try:
        report = await engine.run(until_idle=args.until_idle)
    except MappingFailedError as exc:  # the run started and met an error waiting cannot fix: one line, exit 1
        write_summary(_snapshot(engine), time.monotonic() - started, sys.stdout, as_json=args.summary_json)
        print(f"batchmap: error: {exc}", file=sys.stderr)
        return RUN_FAILED
    finally:
        if progress is not None:
            progress.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await progress
    write_summary(_combined(report.metrics), time.monotonic() - started, sys.stdout, as_json=args.summary_json)
    return 0


def source_options(args: argparse.Namespace) -> SourceOptions:
    """Connection settings from the flags; ``--source-option KEY=VALUE`` goes to ``SourceOptions.extra``."""
    extra: dict[str, Any] = {}
    for item in getattr(args, "source_option", []) or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError("--source-option", item, "KEY=VALUE")
        extra[key.strip()] = value
    return SourceOptions(endpoint_url=args.endpoint_url, region=args.region, extra=extra)


def _adaptive(args: argparse.Namespace) -> AdaptiveConfig | None:
    target = getattr(args, "adaptive_latency_target", None)
    return None if target is None else AdaptiveConfig(target_s=target, statistic=args.adaptive_statistic)


def _snapshot(engine: Engine) -> Mapping[str, Any]:
    return _combined({p.resolved.uuid: p.recorder.snapshot().as_dict() for p in engine.prepared})


def _combined(per_mapping: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Counters summed over mappings (one mapping: its own counters)."""
    if len(per_mapping) == 1:
        return dict(next(iter(per_mapping.values())))
    total: dict[str, Any] = {}
    for counters in per_mapping.values():
        for name, value in counters.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                total[name] = total.get(name, 0) + value
    return total


async def _backlog(engine: Engine) -> int | None:
    """The queues' depth for the progress line; unknown (``None``) for streams and while a source fails."""
    depth = 0
    for p in engine.prepared:
        if not isinstance(p.source, QueueSource):
            return None
        try:
            depth += (await p.source.backlog()).total
        except SourceError:
            return None
    return depth
