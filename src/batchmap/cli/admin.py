"""Queue and stream housekeeping: ``create-queue``, ``create-stream``, ``send``, ``inspect``, ``purge``.

Flags follow ``aws sqs create-queue`` / ``aws kinesis create-stream`` where
those exist. ``send`` works for every source that can produce (the embedded
queue and stream, and the brokers); the others manage the embedded source.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from batchmap.cli.connection import given_connection_flags, refuse_unused
from batchmap.config import values
from batchmap.errors import ConfigError
from batchmap.sources.base import Producer, QueueSource, StreamSource
from batchmap.sources.bodies import as_text
from batchmap.sources.registry import SourceOptions, open_source, scheme_of

DESCRIPTIONS = {
    "create-queue": "Create an embedded queue in a SQLite file, as aws sqs create-queue does: creating it again "
                    "with the same attributes changes nothing; different attributes are an error "
                    "(QueueAlreadyExists). The folder must exist; the file is created if needed.",
    "create-stream": "Create an embedded stream in a SQLite file, as aws kinesis create-stream does, with "
                     "evenly split shards. Creating it again with the same settings changes nothing.",
    "send": "Send messages to a queue or stream: each BODY argument is one message, or without BODY each "
            "non-blank line of stdin is one (its line ending removed). A stream stores the bytes exactly as "
            "given (data is their base64 in the record); a queue takes UTF-8 text. The embedded queue or "
            "stream named in the URI is created on first use. Nothing is sent when any message is refused.",
    "inspect": "Show a queue's depth (visible, in flight, delayed, dead-lettered) and attributes, or a "
               "stream's shards and record counts, as JSON. The embedded file is only read, never changed.",
    "purge": "Delete every message of an embedded queue (as aws sqs purge-queue) or every record of an "
             "embedded stream (its shards stay). Prints how many were deleted.",
}


def add_parser(subparsers: Any) -> None:
    """Register the housekeeping subcommands."""
    create = _command(subparsers, "create-queue", "create an embedded queue (as aws sqs create-queue)")
    _source(create)
    create.add_argument("--attributes", metavar="ATTRS",
                        help="VisibilityTimeout=30,DelaySeconds=0,... or JSON (RedrivePolicy as a JSON string)")
    create.set_defaults(func=create_queue)

    stream = _command(subparsers, "create-stream", "create an embedded stream (as aws kinesis create-stream)")
    _source(stream)
    stream.add_argument("--shard-count", type=int, default=1, help="shards, 1 to 10000 (default 1)")
    stream.add_argument("--retention-period-hours", type=int, default=24, help="24 to 8760 (default 24)")
    stream.set_defaults(func=create_stream)

    send = _command(subparsers, "send", "send messages: BODY arguments, or one body per line from stdin")
    _source(send)
    send.add_argument("--partition-key", help="streams: the partition key, 1 to 256 characters (Kafka: the key)")
    send.add_argument("--message-group-id", help="FIFO queues: the message group")
    send.add_argument("--message-deduplication-id", help="FIFO queues: the deduplication id")
    send.add_argument("--delay-seconds", type=int, help="queues: seconds before the messages become visible, 0 to 900")
    connection_flags(send)
    send.add_argument("bodies", nargs="*", metavar="BODY")
    _template(send)
    send.set_defaults(func=_from_template(send_messages, provision=True))

    inspect = _command(subparsers, "inspect", "a queue's depth, in flight and dead letters; a stream's shards")
    _source(inspect)
    connection_flags(inspect)
    _template(inspect)
    inspect.set_defaults(func=_from_template(inspect_source))

    purge = _command(subparsers, "purge", "delete every message of an embedded queue or stream")
    _source(purge)
    _template(purge)
    purge.set_defaults(func=_from_template(purge_source))


def _command(subparsers: Any, name: str, summary: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(name, help=summary, description=DESCRIPTIONS[name])
    return parser


def connection_flags(parser: argparse.ArgumentParser) -> None:
    """``--endpoint-url`` and ``--region``, for the commands that reach AWS sources."""
    parser.add_argument("--endpoint-url", help="AWS sources: a local endpoint")
    parser.add_argument("--region", help="AWS sources: the region")


def _template(parser: argparse.ArgumentParser) -> None:
    """``--template`` (then ``--source`` is a logical id), ``--parameter-overrides``, ``--overrides``."""
    from batchmap.templates.command import add_template_arguments

    add_template_arguments(parser, with_flag=True)


def _from_template(command: Callable[[argparse.Namespace], int], *,
                   provision: bool = False) -> Callable[[argparse.Namespace], int]:
    """With ``--template``, ``--source`` is a logical id; only ``send`` creates the template's queues and streams."""

    def run(args: argparse.Namespace) -> int:
        from batchmap.templates.command import provision_app, source_from_template

        given = given_connection_flags(args)
        app = source_from_template(args)
        refuse_unused(given, [args.source])
        if app is not None and provision:
            provision_app(app)
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
        import asyncio  # the embedded source's commands need no event loop (loading it costs them ~20 ms)

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
    bodies = [os.fsencode(body) for body in args.bodies] or read_lines()
    if not bodies:
        raise ConfigError("BODY", None, "at least one message body, as arguments or lines on stdin")
    if scheme_of(args.source) == "sqlite":
        ids = _embedded(args.source).send(
            args.source, _bodies_for(args.source, bodies), partition_key=args.partition_key,
            message_group_id=args.message_group_id, deduplication_id=args.message_deduplication_id,
            delay_s=args.delay_seconds,
        )
    else:
        import asyncio

        ids = asyncio.run(_send_to(args, bodies))
    _print({"sent": len(ids), "ids": ids if len(ids) <= 20 else [*ids[:10], "...", *ids[-10:]]})
    return 0


def read_lines() -> list[bytes]:
    """The non-blank lines of stdin as bytes, without their line endings (``\\n`` or ``\\r\\n``)."""
    lines = []
    for line in sys.stdin.buffer:
        body = line.removesuffix(b"\n").removesuffix(b"\r")
        if body.strip():
            lines.append(body)
    return lines


def _bodies_for(uri: str, bodies: list[bytes]) -> Sequence[str | bytes]:
    """An embedded stream takes the bytes; a queue takes text (a line that is not UTF-8 is named)."""
    from batchmap.sources.sqlite import parse_uri

    return bodies if parse_uri(uri).kind == "stream" else _texts(bodies)


def _texts(bodies: list[bytes]) -> list[str]:
    return [as_text(body, f"BODY (message {index})") for index, body in enumerate(bodies, 1)]


async def _send_to(args: argparse.Namespace, bodies: list[bytes]) -> list[str]:
    source = await open_source(args.source, SourceOptions(endpoint_url=args.endpoint_url, region=args.region))
    try:
        if not isinstance(source, Producer):
            raise ConfigError("--source", args.source, "a source batchmap can send to")
        # Streams (Kinesis, Kafka) take the bytes as they are; queues take text.
        messages: Sequence[Any] = bodies if isinstance(source, StreamSource) else _texts(bodies)
        return await source.send(
            messages, partition_key=args.partition_key, message_group_id=args.message_group_id,
            deduplication_id=args.message_deduplication_id, delay_s=args.delay_seconds or 0,
        )
    finally:
        await source.close()
