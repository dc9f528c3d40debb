"""``batchmap serve``: a local function behind the Lambda Invoke API, on 127.0.0.1.

    batchmap serve --function app:handler [--port 9001] [--timeout 3] [--memory-size 128]
                   [--auth-token TOKEN] [--allowed-host NAME ...]

Then invoke it as you would invoke Lambda or the Runtime Interface Emulator::

    curl -d '{"Records": []}' http://127.0.0.1:9001/2015-03-31/functions/function/invocations
    aws lambda invoke --endpoint-url http://127.0.0.1:9001 --function-name function out.json

Only requests whose Host header names this server (127.0.0.1, localhost, the IPv6
loopback, or a name given with --allowed-host) and that come from no other web
origin are answered. With --auth-token (or BATCHMAP_AUTH_TOKEN in the environment)
every request must also carry the token in X-Batchmap-Auth-Token; batchmap's
HTTP invoker sends it from BATCHMAP_AUTH_TOKEN (docs/security.md).

Flags follow ``aws lambda create-function`` (``--timeout``, ``--memory-size``,
``--environment``, ``--function-name``); ``--code-uri`` is SAM's ``CodeUri``.
The function gets Lambda's defined runtime variables (``AWS_REGION`` from
``--region``), as ``batchmap run`` gives them.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import Any

from batchmap.cli.parsing import plain
from batchmap.config import values
from batchmap.config.function import FunctionConfig
from batchmap.engine.api_guard import TOKEN_ENV, TOKEN_HEADER
from batchmap.engine.invokers import make_invoker
from batchmap.engine.lambda_api import LambdaApiServer
from batchmap.errors import ConfigError

DEFAULT_PORT = 9001


def parse_environment(text: str) -> dict[str, str]:
    """``--environment`` as ``batchmap run`` and the AWS CLI take it: ``Variables={K=V,...}``, JSON or ``file://``."""
    return values.environment(values.structured("environment", text))


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``batchmap serve`` and its flags."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="serve a local function over the Lambda Invoke API (127.0.0.1)",
        description=plain(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--function", required=True, help="handler: module:callable, module.callable or dir/module.fn")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; 0 picks one)"
    )
    parser.add_argument("--timeout", type=float, default=3.0, help="function timeout in seconds (default 3)")
    parser.add_argument("--memory-size", type=int, default=128, help="function memory in MB (default 128)")
    parser.add_argument("--function-name", default="function", help="name the function reports (default 'function')")
    parser.add_argument(
        "--code-uri", default=None, help="folder holding the code (SAM CodeUri; default: current folder)"
    )
    parser.add_argument(
        "--environment", default=None, help="Variables={KEY=value,...} or JSON, as the AWS CLI takes it"
    )
    parser.add_argument(
        "--region", default=None, help="the function's AWS_REGION (default: AWS_REGION, the AWS config, us-east-1)"
    )
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 1, help="worker processes (default: CPUs)")
    parser.add_argument(
        "--invoker",
        choices=("subprocess", "inprocess"),
        default="subprocess",
        help="how the function runs: isolated worker processes (default) or threads of this process",
    )
    parser.add_argument("--log-requests", action="store_true", help="log each HTTP request to stderr")
    parser.add_argument(
        "--auth-token",
        default=None,
        help=f"require this token in the {TOKEN_HEADER} header of every request "
        f"(default: ${TOKEN_ENV} when set; the variable keeps it out of the process list)",
    )
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests whose Host is NAME (repeatable; 127.0.0.1, localhost and the IPv6 "
             "loopback are always answered)",
    )
    parser.set_defaults(func=run)
    return parser


def build_function(args: argparse.Namespace) -> FunctionConfig:
    """The served function's settings from the flags (validated by ``FunctionConfig``)."""
    if not 0 <= args.port <= 65535:
        raise ConfigError("--port", args.port, "a TCP port from 0 to 65535")
    environment = parse_environment(args.environment) if args.environment else {}
    return FunctionConfig(
        handler=args.function,
        name=args.function_name,
        timeout_s=args.timeout,
        memory_mb=args.memory_size,
        environment=environment,
        code_path=args.code_uri,
        region=args.region,
    )


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; a function that cannot be loaded stops it before it listens."""
    function = build_function(args)
    invoker = make_invoker(function, args.invoker, args.concurrency)
    token = args.auth_token if args.auth_token is not None else os.environ.get(TOKEN_ENV) or None
    server = LambdaApiServer(
        invoker, function, args.port, log_requests=args.log_requests,
        allowed_hosts=tuple(args.allowed_host), auth_token=token,
    )
    server.start()
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        url = f"{server.url}/2015-03-31/functions/{function.name}/invocations"
        needs = f" (requests must carry {TOKEN_HEADER})" if server.guard.requires_token else ""
        print(f"batchmap: serving {function.handler} at {url}{needs}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.stop()
    print("batchmap: stopped", file=sys.stderr, flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``serve`` on its own (``python -m batchmap.cli.serve``), with batchmap's error reporting."""
    from batchmap.cli import run_command
    from batchmap.cli.parsing import CommandParser

    parser = CommandParser(prog="batchmap")
    command = add_parser(parser.add_subparsers(dest="command", required=True))
    command.set_defaults(command_parser=command)
    return run_command(parser, ["serve", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
