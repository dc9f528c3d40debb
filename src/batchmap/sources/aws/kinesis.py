"""Amazon Kinesis Data Streams as a ``StreamSource`` (and a ``Producer``), through boto3.

Records are exactly what Lambda delivers (reference §9.3): ``data`` in base64,
``approximateArrivalTimestamp`` in epoch seconds, ``eventID`` ``shardId:seq``.
``ParallelizationFactor`` is the engine's: it routes records of a shard by
partition key; this module only reads shards in order.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from batchmap.errors import ConfigError, SettleError
from batchmap.records import SourceKind
from batchmap.sources.aws.arn import Arn, client_region
from batchmap.sources.aws.client import AwsClient, open_client
from batchmap.sources.aws.shards import ShardedStream, ShardInfo, shard_info
from batchmap.sources.base import Delivery, Position
from batchmap.sources.bodies import Body, all_data, check_partition_key
from batchmap.sources.registry import SourceOptions

EXAMPLE_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/my-stream"
PUT_RECORDS_MAX = 500
PUT_RECORDS_MAX_BYTES = 5 * 1024 * 1024
PUT_ATTEMPTS = 4


def kinesis_record(
    raw: dict[str, Any], *, shard_id: str, arn: str, region: str, identity_arn: str
) -> dict[str, Any]:
    """The Lambda Kinesis record for one GetRecords result."""
    arrival: datetime = raw["ApproximateArrivalTimestamp"]
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": raw["PartitionKey"],
            "sequenceNumber": raw["SequenceNumber"],
            "data": base64.b64encode(raw["Data"]).decode("ascii"),
            "approximateArrivalTimestamp": round(arrival.timestamp(), 3),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{raw['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": identity_arn,
        "awsRegion": region,
        "eventSourceARN": arn,
    }


class KinesisStream(ShardedStream):
    """One Kinesis data stream: shards, reads from any iterator type, PutRecords."""

    shape: SourceKind = "kinesis"
    positions = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER")
    max_limit = 10_000

    def __init__(self, client: AwsClient, arn: str, region: str, *, identity_arn: str) -> None:
        super().__init__(client, arn, region)
        self.identity_arn = identity_arn
        self.records_params = {"StreamARN": arn}

    async def _list_shards(self) -> list[ShardInfo]:
        response = await self._client.call("list_shards", StreamARN=self.arn)
        raw = list(response.get("Shards", []))
        while response.get("NextToken"):
            # With NextToken the stream must not be named again (the token carries it).
            response = await self._client.call("list_shards", NextToken=response["NextToken"])
            raw.extend(response.get("Shards", []))
        return [shard_info(entry) for entry in raw]

    async def _get_iterator(self, shard_id: str, position: Position) -> str:
        params: dict[str, Any] = {"StreamARN": self.arn, "ShardId": shard_id, "ShardIteratorType": position.type}
        if position.sequence_number is not None and position.type.endswith("SEQUENCE_NUMBER"):
            params["StartingSequenceNumber"] = position.sequence_number
        if position.type == "AT_TIMESTAMP" and position.timestamp is not None:
            params["Timestamp"] = datetime.fromtimestamp(position.timestamp, tz=UTC)
        response = await self._client.call("get_shard_iterator", **params)
        return str(response["ShardIterator"])

    def _delivery(self, raw: dict[str, Any], shard_id: str) -> Delivery:
        record = kinesis_record(
            raw, shard_id=shard_id, arn=self.arn, region=self.region, identity_arn=self.identity_arn
        )
        return Delivery(
            record=record,
            id=raw["SequenceNumber"],
            key=raw["PartitionKey"],
            shard=shard_id,
            size=len(json.dumps(record, separators=(",", ":"))),
            arrival_ms=round(record["kinesis"]["approximateArrivalTimestamp"] * 1000),
        )

    async def send(
        self,
        bodies: Sequence[Body],
        *,
        partition_key: str | None = None,
        message_group_id: str | None = None,
        deduplication_id: str | None = None,
        delay_s: int = 0,
    ) -> list[str]:
        """PutRecords (500 per call) of the bodies (bytes as they are, text as UTF-8).

        Without ``partition_key`` each record gets a random one; an empty one is refused, as
        Kinesis does. Records Kinesis throttles are retried; any still failing raise
        ``SettleError``. Returns sequence numbers in the order of ``bodies``.
        """
        for name, value in (("MessageGroupId", message_group_id), ("MessageDeduplicationId", deduplication_id)):
            if value is not None:
                raise ConfigError(name, value, "not supported by Kinesis (use partition_key)")
        if delay_s:
            raise ConfigError("DelaySeconds", delay_s, "not supported by Kinesis")
        key = None if partition_key is None else check_partition_key(partition_key)
        entries = [{"Data": data, "PartitionKey": key or uuid.uuid4().hex} for data in all_data(bodies)]
        sequence_numbers: list[str] = []
        for chunk in _chunks(entries):
            sequence_numbers.extend(await self._put_chunk(chunk))
        return sequence_numbers

    async def _put_chunk(self, chunk: list[dict[str, Any]]) -> list[str]:
        results: list[str | None] = [None] * len(chunk)
        pending = list(range(len(chunk)))
        reasons: dict[int, str] = {}
        for attempt in range(PUT_ATTEMPTS):
            if attempt:
                await asyncio.sleep(0.1 * 2**attempt)
            response = await self._client.call(
                "put_records", StreamARN=self.arn, Records=[chunk[i] for i in pending]
            )
            still: list[int] = []
            for index, outcome in zip(pending, response["Records"], strict=True):
                if "SequenceNumber" in outcome and not outcome.get("ErrorCode"):
                    results[index] = outcome["SequenceNumber"]
                else:
                    still.append(index)
                    reasons[index] = f"{outcome.get('ErrorCode')}: {outcome.get('ErrorMessage', '')}"
            pending = still
            if not pending:
                return [r for r in results if r is not None]
        failed = {f"record #{i}": reasons[i] for i in pending}
        raise SettleError("PutRecords", failed, len(chunk) - len(pending))


def _chunks(entries: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    chunks: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = 0
    for entry in entries:
        entry_size = len(entry["Data"]) + len(entry["PartitionKey"].encode("utf-8"))
        if current and (len(current) == PUT_RECORDS_MAX or size + entry_size > PUT_RECORDS_MAX_BYTES):
            chunks.append(current)
            current, size = [], 0
        current.append(entry)
        size += entry_size
    if current:
        chunks.append(current)
    return chunks


def stream_arn(uri: str) -> Arn:
    """The stream's ARN; an enhanced fan-out consumer ARN is refused (moto cannot serve it either)."""
    arn = Arn.parse(uri, "kinesis", EXAMPLE_ARN)
    if not arn.resource.startswith("stream/") or len(arn.resource) <= len("stream/"):
        raise ConfigError("EventSourceArn", uri, f"a Kinesis stream ARN like {EXAMPLE_ARN}")
    if "/consumer/" in arn.resource:
        raise ConfigError("EventSourceArn", uri, "enhanced fan-out consumers are not supported yet; use the stream ARN")
    return arn


async def open_source(uri: str, options: SourceOptions) -> KinesisStream:
    """Open the stream an ``arn:aws:kinesis:REGION:ACCOUNT:stream/NAME`` names."""
    arn = stream_arn(uri)
    region = client_region(arn, options.region)
    identity = options.extra.get("invoke_identity_arn", f"arn:{arn.partition}:iam::{arn.account}:role/batchmap")
    if not isinstance(identity, str):
        raise ConfigError("invoke_identity_arn", identity, "an IAM role ARN")
    client = await open_client("kinesis", "kinesis", region=region, endpoint_url=options.endpoint_url)
    stream = KinesisStream(client, str(arn), region, identity_arn=identity)
    try:
        await stream.shards()
    except BaseException:
        client.close()
        raise
    return stream
