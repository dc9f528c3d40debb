"""``batchmap replay``: read again the stream or Kafka records an on-failure record names, to see or repair them.

The on-failure record comes from a file (one JSON object, a JSON array, or one
object per line; ``-`` is stdin) or from the destination it was sent to (a
queue URI: its messages are read and left in the queue; an S3 bucket, prefix or
object: its objects are read). Each batch is printed as the event the function
got, ``{"Records": [...]}`` for a stream, ``{"eventSource": ..., "records":
{...}}`` for Kafka, one per line, so it can be looked at or piped to a repair
script. A range the stream or topic no longer holds (whole or in part) is said
on stderr; when the on-failure record carries the whole event (``payload``, as
S3 and file destinations write it) that event is printed instead, else the
exit status is 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from batchmap.cli.admin import connection_flags
from batchmap.cli.connection import given_connection_flags, refuse_unused, require_embedded
from batchmap.errors import ConfigError
from batchmap.sources.base import QueueSource, StreamSource
from batchmap.sources.registry import SourceOptions, open_source
from batchmap.sources.stream_ranges import (
    BatchRange,
    KafkaBatch,
    OffsetReader,
    batch_range,
    kafka_batch,
    read_kafka_batch,
    read_range,
)

DESCRIPTION = ("Read again the Kinesis, DynamoDB Streams or Kafka records that on-failure records name "
               "(KinesisBatchInfo / DDBStreamBatchInfo / KafkaBatchInfo), while the stream or topic still holds "
               "them, and print each batch as the event the function got, one per line. --record is a file of "
               "on-failure records (- for stdin), the destination queue they were sent to (left as it is), or "
               "the S3 bucket, prefix or object they were written to. A part that is no longer held is named "
               "on stderr (exit status 1), and the whole batch is printed from the record's payload when it "
               "has one (S3 and file destinations). Kafka is read outside any consumer group: nothing is committed.")


def add_parser(subparsers: Any) -> None:
    """Register ``replay``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "replay", help="re-read the stream records an on-failure record names", description=DESCRIPTION)
    parser.add_argument("--record", required=True, metavar="FILE_OR_URI",
                        help="a file of on-failure records (- for stdin), the destination queue's URI, or "
                             "s3://BUCKET/KEY_OR_PREFIX")
    parser.add_argument("--source", metavar="URI",
                        help="the stream to read (default: the record's streamArn, or for Kafka "
                             "kafka://<bootstrapServers>/<topic>; the embedded stream needs "
                             "sqlite:///FILE?stream=NAME, since its ARN names no file)")
    connection_flags(parser)
    parser.set_defaults(func=replay)


def replay(args: argparse.Namespace) -> int:
    return asyncio.run(_replay(args))


async def _replay(args: argparse.Namespace) -> int:
    options = SourceOptions(endpoint_url=args.endpoint_url, region=args.region)
    records = await _on_failure_records(args.record, options)
    if not records:
        raise ConfigError("--record", args.record, "on-failure records to replay; it holds none")
    kafka = [where for where, record in records if isinstance(record, dict) and "KafkaBatchInfo" in record]
    if kafka and len(kafka) < len(records):
        raise ConfigError("--record", args.record, "on-failure records of one kind: Kafka ones (KafkaBatchInfo) "
                                                   "or stream ones, not both")
    if kafka:
        batches = [kafka_batch(record, where) for where, record in records]
        return await _replay_kafka(args, options, list(zip(batches, _payloads(records), strict=True)))
    ranges = [batch_range(record, where) for where, record in records]
    payloads = _payloads(records)
    uri = args.source or _stream_uri(ranges)
    refuse_unused(given_connection_flags(args), [uri])
    require_embedded(uri, "--source")
    stream = await open_source(uri, options)
    code = 0
    try:
        if not isinstance(stream, StreamSource):
            raise ConfigError("--source", uri, "a stream (Kinesis, DynamoDB Streams or sqlite:///FILE?stream=NAME)")
        for wanted, payload in zip(ranges, payloads, strict=True):
            found = await read_range(stream, wanted)
            event = {"Records": [d.record for d in found.deliveries]} if found.deliveries else None
            code |= _emit(event, found.missing, payload)
    finally:
        await stream.close()
    return code


async def _replay_kafka(
    args: argparse.Namespace, options: SourceOptions, batches: list[tuple[KafkaBatch, dict[str, Any] | None]]
) -> int:
    """Each batch's offsets read again, printed as the Kafka event the function got."""
    uri = args.source or _kafka_uri([batch for batch, _ in batches])
    source = await open_source(uri, options)
    code = 0
    try:
        if not isinstance(source, OffsetReader):
            raise ConfigError("--source", uri, "a Kafka source (kafka://HOST:PORT/TOPIC or an MSK ARN)")
        for batch, payload in batches:
            found = await read_kafka_batch(source, batch)
            code |= _emit(batch.event(found.records) if found.records else None, found.missing, payload)
    finally:
        await source.close()
    return code


def _emit(event: dict[str, Any] | None, missing: str | None, payload: dict[str, Any] | None) -> int:
    """Print what was read again as one event line, and what is gone on stderr.

    When part is gone and the on-failure record carries the whole event, that
    event is printed instead of the part still held: nothing is lost, so 0;
    else 1 when something is gone.
    """
    if missing and payload is not None:
        print(f"batchmap: {missing}; printed the whole batch from the on-failure record's payload instead",
              file=sys.stderr)
        event, missing = payload, None
    if event is not None:
        print(json.dumps(event, separators=(",", ":")))
    if missing:
        print(f"batchmap: {missing}", file=sys.stderr)
        return 1
    return 0


def _payloads(records: list[tuple[str, Any]]) -> list[dict[str, Any] | None]:
    """Each record's ``payload`` event (checked after its batch info, so that is named first when wrong)."""
    return [_payload_event(record, where) for where, record in records]


def _payload_event(record: Any, where: str) -> dict[str, Any] | None:
    """The invocation event an S3 or file destination keeps in ``payload`` (escaped JSON), if there is one."""
    payload = record.get("payload") if isinstance(record, dict) else None
    if payload is None:
        return None
    event = _json(payload, f"{where} payload") if isinstance(payload, str) else payload
    if not isinstance(event, dict) or not isinstance(event.get("Records", event.get("records")), list | dict):
        raise ConfigError("--record", f"{where} payload", "the invocation event (Records or records)")
    return event


def _kafka_uri(batches: list[KafkaBatch]) -> str:
    """``kafka://<bootstrapServers>/<topics>``: the cluster the records name (which must be one)."""
    servers = {batch.bootstrap_servers for batch in batches}
    if len(servers) != 1:
        several = ", ".join(sorted(servers))
        raise ConfigError("--source", None, f"required: the records name several clusters ({several})")
    topics = sorted({span.topic for batch in batches for span in batch.ranges})
    return f"kafka://{servers.pop()}/{','.join(topics)}"


def _stream_uri(ranges: list[BatchRange]) -> str:
    arns = {wanted.stream_arn for wanted in ranges}
    if len(arns) != 1:
        raise ConfigError("--source", None, f"required: the records name several streams ({', '.join(sorted(arns))})")
    arn = arns.pop()
    if ":local:000000000000:" in arn:
        raise ConfigError("--source", None, f"required for the embedded stream {arn}: sqlite:///FILE?stream=NAME")
    return arn


async def _on_failure_records(where: str, options: SourceOptions) -> list[tuple[str, Any]]:
    """Each on-failure record with where it came from (file and line, or queue and message id)."""
    if where == "-" or ("://" not in where and not where.startswith("arn:")):
        return _from_text(sys.stdin.read() if where == "-" else _read_file(where), where)
    if where.startswith(("s3://", "arn:aws:s3:")):
        from batchmap.sources.aws.s3 import read_records

        return await read_records(where, options)
    require_embedded(where, "--record")
    source = await open_source(where, options)
    try:
        if not isinstance(source, QueueSource):
            raise ConfigError("--record", where, "a file, -, or the URI of the queue the records were sent to")
        held = []
        while batch := await source.receive(10, 0.0):
            held += batch
        await source.release(held, 0.0)  # read, not consumed: the records stay in their destination
        return [(f"{where} message {d.id}", _json(d.record["body"], f"{where} message {d.id}")) for d in held]
    finally:
        await source.close()


def _read_file(path: str) -> str:
    with open(path, encoding="utf-8") as file:
        return file.read()


def _from_text(text: str, where: str) -> list[tuple[str, Any]]:
    stripped = text.strip()
    if stripped.startswith("["):
        items = _json(stripped, where)
        return [(f"{where} item {n}", item) for n, item in enumerate(items, 1)]
    if stripped.startswith("{") and "\n" in stripped:
        try:
            return [(where, json.loads(stripped))]
        except ValueError:
            pass  # not one object over several lines: one object per line
    return [(f"{where} line {n}", _json(line, f"{where} line {n}")) for n, line in enumerate(text.splitlines(), 1)
            if line.strip()]


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ConfigError("--record", where, f"JSON ({exc})") from None
