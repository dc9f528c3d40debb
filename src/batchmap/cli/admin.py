"""Queue and stream housekeeping: ``create-queue``, ``create-stream``, ``send``, ``inspect``, ``purge``.

Flags follow ``aws sqs create-queue`` / ``aws kinesis create-stream`` where
those exist. ``send`` works for every source that can produce (the embedded
queue and stream, and the brokers); the others manage the embedded source.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from batchmap.config import values
from batchmap.errors import ConfigError
from batchmap.sources.base import Producer, QueueSource
from batchmap.sources.registry import SourceOptions, open_source, scheme_of


def add_parser(subparsers: Any) -> None:
    """Register the housekeeping subcommands."""
    create = subparsers.add_parser("create-queue", help="create an embedded queue (as aws sqs create-queue)")
    _source(create)
    create.add_argument("--attributes", metavar="ATTRS",
                        help="VisibilityTimeout=30,DelaySeconds=0,... or JSON (RedrivePolicy as a JSON string)")
    create.set_defaults(func=create_queue)

    stream = subparsers.add_parser("create-stream", help="create an embedded stream (as aws kinesis create-stream)")
    _source(stream)
    stream.add_argument("--shard-count", type=int, default=1, help="shards (default 1)")
    stream.add_argument("--retention-period-hours", type=int, default=24, help="24 to 8760 (default 24)")
    stream.set_defaults(func=create_stream)

    send = subparsers.add_parser("send", help="send messages: BODY arguments, or one body per line from stdin")
    _source(send)
    send.add_argument("--partition-key", help="streams: the partition key (Kafka: the message key)")
    send.add_argument("--message-group-id", help="FIFO queues: the message group")
    send.add_argument("--message-deduplication-id", help="FIFO queues: the deduplication id")
    send.add_argument("--delay-seconds", type=int, help="queues: seconds before the messages become visible")
    send.add_argument("--endpoint-url", help="AWS sources: a local endpoint")
    send.add_argument("--region", help="AWS sources: the region")
    send.add_argument("bodies", nargs="*", metavar="BODY")
    _template(send)
    send.set_defaults(func=_from_template(send_messages))

    inspect = subparsers.add_parser("inspect", help="a queue's depth, in flight and dead letters; a stream's shards")
    _source(inspect)
    inspect.add_argument("--endpoint-url", help="AWS sources: a local endpoint")
    inspect.add_argument("--region", help="AWS sources: the region")
    _template(inspect)
    inspect.set_defaults(func=_from_template(inspect_source))

    purge = subparsers.add_parser("purge", help="delete every message of an embedded queue or stream")
    _source(purge)
    _template(purge)
    purge.set_defaults(func=_from_template(purge_source))


def _template(parser: argparse.ArgumentParser) -> None:
    """``--template`` (then ``--source`` is a logical id), ``--parameter-overrides``, ``--overrides``."""
    from batchmap.templates.command import add_template_arguments

    add_template_arguments(parser, with_flag=True)


def _from_template(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from batchmap.templates.command import source_from_template

        source_from_template(args)
        return command(args)

    return run


def _source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", "--queue-url", "--stream-name", dest="source", required=True, metavar="URI",
                        help="sqlite:///file.db?queue=NAME or ?stream=NAME (send: any source URI or ARN; "
                             "with --template: a logical id)")


def _embedded(uri: str) -> Any:
    if scheme_of(uri) != "sqlite":
        raise ConfigError("--source", uri, "an embedded source URI: sqlite:///file.db?queue=NAME or ?stream=NAME")
    from batchmap.sources.sqlite import admin

    return admin


def _print(value: Any) -> None:
    data = dataclasses.asdict(value) if dataclasses.is_dataclass(value) and not isinstance(value, type) else value
    print(json.dumps(data, indent=2, default=str))


def create_queue(args: argparse.Namespace) -> int:
    attributes: dict[str, str] = {}
    if args.attributes:
        parsed = values.structured("attributes", args.attributes, frozenset({"RedrivePolicy", "RedriveAllowPolicy"}))
        if not isinstance(parsed, dict):
            raise ConfigError("--attributes", args.attributes, "a map of attribute names to values")
        attributes = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in parsed.items()}
    _print(_embedded(args.source).create_queue(args.source, attributes))
    return 0


def create_stream(args: argparse.Namespace) -> int:
    _print(_embedded(args.source).create_stream(args.source, args.shard_count, args.retention_period_hours))
    return 0


def inspect_source(args: argparse.Namespace) -> int:
    if scheme_of(args.source) == "sqlite":
        _print(_embedded(args.source).inspect(args.source))
    else:
        _print(asyncio.run(_backlog_of(args)))
    return 0


async def _backlog_of(args: argparse.Namespace) -> dict[str, Any]:
    """Any queue source: its depth by state, as far as the broker can tell."""
    source = await open_source(args.source, SourceOptions(endpoint_url=args.endpoint_url, region=args.region))
    try:
        if not isinstance(source, QueueSource):
            raise ConfigError("--source", args.source, "a queue (streams: use the embedded stream's inspect)")
        backlog = await source.backlog()
        return {"arn": source.arn, **dataclasses.asdict(backlog), "total": backlog.total}
    finally:
        await source.close()


def purge_source(args: argparse.Namespace) -> int:
    deleted = _embedded(args.source).purge(args.source)
    _print({"deleted": deleted})
    return 0


def send_messages(args: argparse.Namespace) -> int:
    bodies: list[str] = list(args.bodies) or [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not bodies:
        raise ConfigError("BODY", None, "at least one message body, as arguments or lines on stdin")
    if scheme_of(args.source) == "sqlite":
        ids = _embedded(args.source).send(
            args.source, bodies, partition_key=args.partition_key, message_group_id=args.message_group_id,
            deduplication_id=args.message_deduplication_id, delay_s=args.delay_seconds,
        )
    else:
        ids = asyncio.run(_send_to(args, bodies))
    _print({"sent": len(ids), "ids": ids if len(ids) <= 20 else [*ids[:10], "...", *ids[-10:]]})
    return 0


async def _send_to(args: argparse.Namespace, bodies: Sequence[str]) -> list[str]:
    source = await open_source(args.source, SourceOptions(endpoint_url=args.endpoint_url, region=args.region))
    try:
        if not isinstance(source, Producer):
            raise ConfigError("--source", args.source, "a source batchmap can send to")
        return await source.send(
            bodies, partition_key=args.partition_key, message_group_id=args.message_group_id,
            deduplication_id=args.message_deduplication_id, delay_s=args.delay_seconds or 0,
        )
    finally:
        await source.close()
