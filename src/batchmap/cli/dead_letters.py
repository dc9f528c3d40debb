"""Looking at and moving dead letters, with the AWS CLI's names: ``receive-message``, ``start-message-move-task``,
``list-message-move-tasks``, ``cancel-message-move-task``.

Each works on every queue source: the embedded queue and the brokers with a
dead-letter queue (SQS, Redis Streams, RabbitMQ, NATS JetStream, PostgreSQL).
``--source-arn`` takes what ``--source`` takes elsewhere: a URI or an ARN.
Output is the AWS CLI's JSON; ``receive-message`` prints nothing when no message came.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from typing import Any

from batchmap.cli.admin import connection_flags
from batchmap.cli.connection import given_connection_flags, refuse_unused, require_embedded
from batchmap.cli.message_shapes import cli_message
from batchmap.cli.parsing import at_least
from batchmap.clock import SystemClock
from batchmap.engine.backoff import Backoff, source_name
from batchmap.errors import ConfigError
from batchmap.metrics.hook import NullHook
from batchmap.redaction import redact_uri
from batchmap.sources.base import QueueSource, message_mover, visibility_extender
from batchmap.sources.message_moves import MoveTaskRunner
from batchmap.sources.registry import SourceOptions, open_source, scheme_of
from batchmap.sources.sqlite.move_tasks import MoveTask, MoveTaskLedger, default_ledger_path, ledger_of, new_handle

DESCRIPTIONS = {
    "receive-message": "Receive up to --max-number-of-messages messages from a queue (a dead-letter queue, say) and "
                       "print them as aws sqs receive-message does. The messages stay in the queue, hidden for its "
                       "visibility timeout (or --visibility-timeout); nothing is printed when none came.",
    "start-message-move-task": "Move the messages of a dead-letter queue back to the queue each came from (as SQS "
                               "redrive does), or to --destination-arn: body and attributes kept, receive count "
                               "reset. The task runs until done, then prints its TaskHandle; "
                               "list-message-move-tasks shows it, cancel-message-move-task stops it.",
    "list-message-move-tasks": "The most recent message move tasks on a queue, newest first, as aws sqs "
                               "list-message-move-tasks prints them.",
    "cancel-message-move-task": "Stop a running message move task; what it moved stays moved.",
}
log = logging.getLogger("batchmap.cli")


def add_parser(subparsers: Any) -> None:
    """Register the dead-letter subcommands."""
    receive = _command(subparsers, "receive-message", "print messages of a queue as aws sqs receive-message does")
    receive.add_argument("--source", "--queue-url", dest="source", required=True, metavar="URI",
                         help="the queue: any queue source URI or ARN")
    receive.add_argument("--max-number-of-messages", type=_within(1, 10), default=1, metavar="N",
                         help="1 to 10 (default 1)")
    receive.add_argument("--visibility-timeout", type=_within(0, 43_200), metavar="S",
                         help="seconds the messages stay hidden (default: the queue's)")
    receive.add_argument("--wait-time-seconds", type=_within(0, 20), default=0, metavar="S",
                         help="wait up to this long for a first message, 0 to 20 (default 0)")
    receive.add_argument("--attribute-names", "--message-system-attribute-names", dest="attribute_names",
                         nargs="+", metavar="NAME", help="system attributes to print: All, or names")
    receive.add_argument("--message-attribute-names", nargs="+", metavar="NAME",
                         help="message attributes to print: All, .*, prefix.*, or names")
    connection_flags(receive)
    receive.set_defaults(func=receive_message)

    start = _command(subparsers, "start-message-move-task", "move a dead-letter queue's messages back (redrive)")
    start.add_argument("--source-arn", required=True, metavar="URI", help="the dead-letter queue: a URI or ARN")
    start.add_argument("--destination-arn", metavar="URI",
                       help="where every message goes (default: back to the queue it was dead-lettered from)")
    start.add_argument("--max-number-of-messages-per-second", type=_within(1, 500), metavar="N",
                       help="1 to 500 (default: as fast as the broker takes them)")
    connection_flags(start)
    start.set_defaults(func=start_message_move_task)

    listing = _command(subparsers, "list-message-move-tasks", "the most recent message move tasks on a queue")
    listing.add_argument("--source-arn", required=True, metavar="URI", help="the queue the tasks moved from")
    listing.add_argument("--max-results", type=_within(1, 10), default=1, metavar="N", help="1 to 10 (default 1)")
    connection_flags(listing)
    listing.set_defaults(func=list_message_move_tasks)

    cancel = _command(subparsers, "cancel-message-move-task", "stop a running message move task")
    cancel.add_argument("--task-handle", required=True, help="the TaskHandle start-message-move-task printed")
    cancel.set_defaults(func=cancel_message_move_task)


def _command(subparsers: Any, name: str, summary: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(name, help=summary, description=DESCRIPTIONS[name])
    return parser


def _within(low: int, high: int) -> Any:
    """An ``argparse`` type: an integer from ``low`` to ``high`` (the AWS CLI's range for the flag)."""
    minimum = at_least(low)

    def convert(text: str) -> int:
        value = minimum(text)
        if value > high:
            raise argparse.ArgumentTypeError(f"invalid value {value} (an integer from {low} to {high})")
        return value

    return convert


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2))


async def _open_queue(uri: str, args: argparse.Namespace, flag: str) -> QueueSource:
    """The queue a URI names; an embedded one must exist already (a typo must not create a queue)."""
    refuse_unused(given_connection_flags(args), [uri])
    if scheme_of(uri) == "sqlite":
        from batchmap.sources.sqlite import parse_uri

        if parse_uri(uri).kind != "queue":
            raise ConfigError(flag, uri, "a queue URI (?queue=NAME); streams: see batchmap replay")
        require_embedded(uri, "--source")
    source = await open_source(uri, SourceOptions(endpoint_url=args.endpoint_url, region=args.region))
    if not isinstance(source, QueueSource):
        await source.close()
        raise ConfigError(flag, uri, "a queue (streams: see batchmap replay)")
    return source


# -- receive-message ------------------------------------------------------------------------


def receive_message(args: argparse.Namespace) -> int:
    messages = asyncio.run(_receive(args))
    if messages:
        _print({"Messages": messages})
    return 0


async def _receive(args: argparse.Namespace) -> list[dict[str, Any]]:
    source = await _open_queue(args.source, args, "--source")
    try:
        deliveries = await source.receive(args.max_number_of_messages, float(args.wait_time_seconds))
        if deliveries and args.visibility_timeout is not None:
            await _hide_for(source, deliveries, args.visibility_timeout)
        return [cli_message(d.record, args.attribute_names, args.message_attribute_names) for d in deliveries]
    finally:
        await source.close()


async def _hide_for(source: QueueSource, deliveries: Any, seconds: int) -> None:
    """``--visibility-timeout``: 0 gives the messages back at once; more keeps them hidden that long."""
    if seconds == 0:
        await source.release(deliveries, 0.0)
        return
    extender = visibility_extender(source)
    if extender is None:
        raise ConfigError("--visibility-timeout", seconds, "0 or the queue's own: this source cannot change it")
    await extender.extend_visibility(deliveries, float(seconds))


# -- message move tasks ---------------------------------------------------------------------


def _ledger_path(uri: str) -> str:
    """An embedded queue's tasks live in its own file; a broker's in the user's state folder."""
    if scheme_of(uri) == "sqlite":
        from batchmap.sources.sqlite import parse_uri

        return parse_uri(uri).path
    return default_ledger_path()


def start_message_move_task(args: argparse.Namespace) -> int:
    task = asyncio.run(_start(args))
    _print({"TaskHandle": task.handle})
    if task.status == "FAILED":
        print(f"batchmap: error: the message move task failed after moving {task.moved} messages: {task.failure}",
              file=sys.stderr)
        return 1
    return 0


async def _start(args: argparse.Namespace) -> MoveTask:
    source = await _open_queue(args.source_arn, args, "--source-arn")
    try:
        mover = message_mover(source)
        if mover is None:
            raise ConfigError("--source-arn", args.source_arn, "a queue batchmap can move messages out of")
        if args.destination_arn is not None:
            await mover.move([], args.destination_arn)  # checks the destination before anything is received
        ledger = MoveTaskLedger(_ledger_path(args.source_arn))
        try:
            clock = SystemClock()
            now_ms = clock.wall_ms()
            destination = None if args.destination_arn is None else redact_uri(args.destination_arn)
            task = MoveTask(new_handle(ledger.path, source.arn), source.arn, destination,
                            args.max_number_of_messages_per_second, "RUNNING", 0, None, None, now_ms, now_ms)
            ledger.start(task)
            retry = Backoff(source_name(source), NullHook(), asyncio.Event())
            runner = MoveTaskRunner(source, mover, ledger, task, retry, destination=args.destination_arn, clock=clock)
            return await runner.run()
        finally:
            ledger.close()
    finally:
        await source.close()


def list_message_move_tasks(args: argparse.Namespace) -> int:
    arn = asyncio.run(_arn_of(args))
    ledger = MoveTaskLedger(_ledger_path(args.source_arn))
    try:
        tasks = ledger.list(arn, args.max_results, SystemClock().wall_ms())
    finally:
        ledger.close()
    _print({"Results": [task.to_aws() for task in tasks]})
    return 0


async def _arn_of(args: argparse.Namespace) -> str:
    source = await _open_queue(args.source_arn, args, "--source-arn")
    await source.close()
    return source.arn


def cancel_message_move_task(args: argparse.Namespace) -> int:
    ledger = MoveTaskLedger(ledger_of(args.task_handle))
    try:
        task = ledger.cancel(args.task_handle, SystemClock().wall_ms())
    finally:
        ledger.close()
    _print({"ApproximateNumberOfMessagesMoved": task.moved})
    return 0
