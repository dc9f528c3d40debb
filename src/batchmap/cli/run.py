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
import logging
import signal
import sys
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from batchmap.cli.connection import given_connection_flags, refuse_unused, require_embedded
from batchmap.cli.output import TerminalHandler, configure_logging
from batchmap.cli.parsing import plain
from batchmap.cli.progress import show_progress
from batchmap.cli.summary import write_summary
from batchmap.config import EventSourceMapping, add_mapping_arguments, mapping_from_args
from batchmap.config.arguments import source_extra
from batchmap.config.function import FunctionConfig
from batchmap.engine.adaptive import AdaptiveConfig
from batchmap.engine.api_guard import check_host_name
from batchmap.engine.heap import prepare_heap
from batchmap.engine.invokers import INVOKER_KINDS
from batchmap.engine.invokers.factory import resolve_kind
from batchmap.engine.leases import DEFAULT_LEASE_TTL_S
from batchmap.engine.service import Engine
from batchmap.errors import ConfigError, MappingFailedError
from batchmap.observe.sampler import Sampler
from batchmap.sources.registry import SourceOptions
from batchmap.templates.command import add_template_arguments

if TYPE_CHECKING:
    from batchmap.observe.server import Address, EndpointServer

log = logging.getLogger("batchmap.observe")

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
    group.add_argument("--log-file", metavar="PATH",
                       help="append the log lines to PATH (JSON unless --no-json-logs); the terminal keeps the "
                            "progress line")
    group.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="a live progress line (default: when stderr is a terminal)")
    group.add_argument("--summary-json", action="store_true", help="print the end summary as one JSON object")
    group.add_argument("--metrics-address", metavar="HOST:PORT",
                       help="serve /metrics (Prometheus), /healthz, /readyz and a live status page at / on this "
                            "address, e.g. 127.0.0.1:9100 (loopback only, unless --metrics-public)")
    group.add_argument("--metrics-public", action="store_true",
                       help="let --metrics-address be an address other machines reach (e.g. 0.0.0.0:9100)")
    group.add_argument("--metrics-allowed-host", action="append", default=[], metavar="NAME",
                       help="a host name the endpoints answer to besides their address (repeatable), "
                            "e.g. the name Prometheus scrapes them by")
    group.add_argument("--adaptive-latency-target", type=float, metavar="S",
                       help="queues: adjust BatchSize and the window at run time to hold this latency "
                            "(record arrival to batch success) while making as few invocations as possible")
    group.add_argument("--adaptive-statistic", choices=("p99", "mean"), default="p99",
                       help="which latency --adaptive-latency-target holds (default p99)")


def run(args: argparse.Namespace) -> int:
    """Build the mapping from the flags (or every mapping of the template), check its sources, and run it."""
    terminal = configure_logging(sys.stderr, args.log_level, args.json_logs, args.log_file)
    endpoints = _endpoint_address(args)  # a bad address fails before anything is opened
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
    return asyncio.run(run_mappings(mappings, args, terminal, endpoints))


def _endpoint_address(args: argparse.Namespace) -> Address | None:
    if args.metrics_address is None:
        if args.metrics_public or args.metrics_allowed_host:
            flag = "--metrics-public" if args.metrics_public else "--metrics-allowed-host"
            raise ConfigError(flag, True if args.metrics_public else args.metrics_allowed_host,
                              "used with --metrics-address HOST:PORT")
        return None
    for name in args.metrics_allowed_host:
        try:
            check_host_name(name)
        except ConfigError as exc:
            raise ConfigError("--metrics-allowed-host", name, exc.allowed) from None
    from batchmap.observe.server import parse_address  # the HTTP server's modules load only when asked for

    return parse_address(args.metrics_address, public=args.metrics_public)


def _check_connection_flags(given: dict[str, Any], mappings: list[EventSourceMapping], invoker: str) -> bool:
    """Refuse connection flags no source uses (``--region`` is always the functions' ``AWS_REGION``);
    returns whether a mapping invokes a Lambda function."""
    on_lambda = any(_invokes_lambda(m, invoker) for m in mappings)
    refuse_unused(given, [m.source for m in mappings], region_used=True)
    return on_lambda


def require_embedded_sources(mappings: list[EventSourceMapping]) -> None:
    """``run`` consumes what exists: an embedded queue or stream that is not there is named, not created."""
    for mapping in mappings:
        require_embedded(mapping.source)


def _invokes_lambda(mapping: EventSourceMapping, invoker: str) -> bool:
    function = mapping.function
    handler = function.handler if isinstance(function, FunctionConfig) else function
    return invoker == "lambda" or (invoker == "auto" and resolve_kind(handler) == "lambda")


def _with_region(mapping: EventSourceMapping, region: str) -> EventSourceMapping:
    """``--region`` is also the region of a Lambda function the mapping invokes (unless it names its own)."""
    function = mapping.function
    config = function if isinstance(function, FunctionConfig) else FunctionConfig(handler=function.strip())
    return replace(mapping, function=config if config.region else replace(config, region=region))


async def run_mappings(mappings: list[EventSourceMapping], args: argparse.Namespace,
                       terminal: TerminalHandler | None = None, endpoints: Address | None = None) -> int:
    """Prepare (fail fast), then run with signal handling, progress, the endpoints and a summary."""
    engine = Engine(mappings, invoker=args.invoker, source_options=source_options(args),
                    checkpoint_store_uri=args.checkpoint_store, adaptive=_adaptive(args),
                    shard_lease_s=args.shard_lease_seconds)
    started = time.monotonic()
    sampler = Sampler(engine)
    server = _serve(endpoints, sampler, args)
    try:
        await engine.prepare()
        prepare_heap()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, engine.stop)
        await sampler.sample()  # before anything is consumed: the dead-letter queues' starting depth
        return await _watched_run(engine, sampler, args, terminal, started)
    finally:
        if server is not None:
            server.stop()


async def _watched_run(engine: Engine, sampler: Sampler, args: argparse.Namespace,
                       terminal: TerminalHandler | None, started: float) -> int:
    """Run the engine with the sampler (and progress line) beside it; print the summary."""
    watchers: list[asyncio.Task[None]] = []
    progress = terminal is not None and (args.progress or (args.progress is None and sys.stderr.isatty()))
    sampling = asyncio.create_task(sampler.run(), name="status-sampler")
    watchers.append(sampling)
    if progress and terminal is not None:
        watchers.append(asyncio.create_task(show_progress(lambda: sampler.latest, terminal, started)))

    async def last_look() -> None:
        """The sampler's rounds end before the sources close (a round then asked a closed queue for its depth
        and logged the failure), and one last sample feeds the summary."""
        sampling.cancel()
        await asyncio.gather(sampling, return_exceptions=True)
        await sampler.sample()

    failed: MappingFailedError | None = None
    try:
        await engine.run(until_idle=args.until_idle, before_close=last_look)
    except MappingFailedError as exc:  # the run started and met an error waiting cannot fix: one line, exit 1
        failed = exc
    finally:
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
    write_summary(sampler.latest, time.monotonic() - started, sys.stdout, as_json=args.summary_json,
                  retry_wait_s=sampler.retry_wait_s)
    if failed is not None:
        print(f"batchmap: error: {failed}", file=sys.stderr)
        return RUN_FAILED
    return 0


def _serve(address: Address | None, sampler: Sampler, args: argparse.Namespace) -> EndpointServer | None:
    """Start the endpoints (before the sources open: a port in use fails first) and say where they are."""
    if address is None:
        return None
    from batchmap.observe.server import EndpointServer, Views

    views = Views(lambda: sampler.latest, lambda: sampler.sampled_at, sampler.metrics_text)
    server = EndpointServer(address, views, public=args.metrics_public, allowed_hosts=args.metrics_allowed_host)
    server.start()
    log.info("status page %s; Prometheus metrics at %smetrics, health at /healthz and /readyz", server.url, server.url)
    return server


def source_options(args: argparse.Namespace) -> SourceOptions:
    """Connection settings from the flags; ``--source-option KEY=VALUE`` goes to ``SourceOptions.extra``."""
    extra: dict[str, Any] = {}
    for item in getattr(args, "source_option", []) or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError("--source-option", item, "KEY=VALUE")
        extra[key.strip()] = value
    if not getattr(args, "template", None):
        for key, value in source_extra(args).items():  # an MSK ARN's --topics and consumer group
            if key in extra:
                raise ConfigError("--source-option", f"{key}={extra[key]}",
                                  f"given by {'--topics' if key == 'topics' else 'the consumer group flag'} too")
            extra[key] = value
    return SourceOptions(endpoint_url=args.endpoint_url, region=args.region, extra=extra)


def _adaptive(args: argparse.Namespace) -> AdaptiveConfig | None:
    target = getattr(args, "adaptive_latency_target", None)
    return None if target is None else AdaptiveConfig(target_s=target, statistic=args.adaptive_statistic)
